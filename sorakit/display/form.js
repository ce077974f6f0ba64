// sorakit's request form (RequestForm: kind "form"). This file follows stage.js and card.js in the
// module (see there): el_, rid, makeLink and makeCards come from them. The form only renders the synced state Python computes (choices,
// errors, estimate, jobs) and reports what the user did: entries go into the synced `value`,
// Submit and the image go as custom messages (a card's clicks: card.js). No validation and no job logic here.
// A labelled field with the place for its error (Python's `errors` names the field).
function fieldBox(label, control, name) {
  const box = el_("div", "skf-field");
  box.append(el_("span", "skf-label", label), control);
  const err = el_("div", "skf-error");
  err.dataset.field = name;
  box.append(err);
  return box;
}

// Fill a <select> with `[[label, value], ...]` (only when the options changed) and select `value`.
function fillSelect(sel, options, value) {
  const key = JSON.stringify(options);
  if (sel.dataset.key !== key) {
    sel.replaceChildren(
      ...options.map(([label, v]) => {
        const o = el_("option", "", label);
        o.value = String(v);
        return o;
      }),
    );
    sel.dataset.key = key;
  }
  sel.value = String(value ?? "");
}

// The form: the request panel, then the jobs it started (newest first) as job cards.
function renderForm(model, el) {
  const view = rid();
  const link = makeLink(model, view);
  // -- the panel: built once; drawValue and drawState fill it from the synced state
  const root = el.getRootNode ? el.getRootNode() : document;
  el.classList.add("skf", "sk-player-view");
  const head = el_("div", "skf-head");
  head.append(el_("span", "skf-title", "New video"));
  const badge = el_("span", "skf-chip", "emulator \u00b7 no spend");
  badge.title = "requests go to the built-in emulator";
  head.append(badge);

  const prompt = el_("textarea", "skf-prompt");
  prompt.rows = 3;
  prompt.placeholder = "Describe the shot: subject, action, camera, light, style\u2026";
  prompt.setAttribute("aria-label", "Prompt");
  const counter = el_("div", "skf-counter");
  const promptBox = fieldBox("Prompt", prompt, "prompt");
  promptBox.insertBefore(counter, promptBox.lastChild);

  const modelSel = el_("select", "skf-model");
  modelSel.setAttribute("aria-label", "Model");
  const providerSel = el_("select", "skf-provider");
  providerSel.setAttribute("aria-label", "Provider");
  const row1 = el_("div", "skf-row");
  row1.append(fieldBox("Model", modelSel, "model"), fieldBox("Provider", providerSel, "provider"));
  const notice = el_("div", "skf-msg");

  const sizeSel = el_("select", "skf-size");
  sizeSel.setAttribute("aria-label", "Size");
  const secondsSel = el_("select", "skf-seconds");
  secondsSel.setAttribute("aria-label", "Duration");
  const variations = el_("input", "skf-variations");
  variations.type = "number";
  variations.min = "1";
  variations.step = "1";
  variations.setAttribute("aria-label", "Variations");
  const seed = el_("input", "skf-seed");
  seed.type = "text";
  seed.setAttribute("aria-label", "Seed");
  const audio = el_("input", "skf-audio");
  audio.type = "checkbox";
  const audioBox = el_("label", "skf-check");
  audioBox.append(audio, document.createTextNode(" with audio"));
  const audioNote = el_("span", "skf-hint");
  const audioField = el_("div", "skf-field");
  audioField.append(el_("span", "skf-label", "Audio"), audioBox, audioNote);
  const audioErr = el_("div", "skf-error");
  audioErr.dataset.field = "audio";
  audioField.append(audioErr);
  const row2 = el_("div", "skf-row");
  row2.append(
    fieldBox("Size", sizeSel, "size"),
    fieldBox("Duration", secondsSel, "seconds"),
    fieldBox("Variations", variations, "variations"),
    fieldBox("Seed", seed, "seed"),
    audioField,
  );

  const negative = el_("textarea", "skf-negative");
  negative.rows = 1;
  negative.placeholder = "What to avoid (optional)";
  negative.setAttribute("aria-label", "Negative prompt");
  const negBox = fieldBox("Negative prompt", negative, "negative_prompt");

  const file = el_("input", "skf-file");
  file.type = "file";
  file.accept = "image/*";
  file.setAttribute("aria-label", "First frame");
  const clear = el_("button", "skf-link", "remove");
  clear.type = "button";
  const imageInfo = el_("span", "skf-hint");
  const imageRow = el_("div", "skf-inline");
  imageRow.append(file, clear, imageInfo);
  const imageBox = fieldBox("First frame (image-to-video)", imageRow, "input_image");

  const remixSel = el_("select", "skf-remix");
  remixSel.setAttribute("aria-label", "Remix an earlier video");
  const remixBox = fieldBox("Remix an earlier video", remixSel, "source_video_id");

  const cost = el_("div", "skf-cost");
  const submit = el_("button", "skf-submit", "Generate");
  submit.type = "button";
  const message = el_("div", "skf-msg");
  const panel = el_("div", "skf-panel");
  panel.append(head, promptBox, row1, notice, row2, negBox, imageBox, remixBox, cost, submit, message);
  const list = el_("div", "sk-jobs");
  el.append(panel, list);

  // -- what the user did -> the synced value (Python normalises it and writes it back)
  function entries() {
    return {
      ...model.get("value"),
      prompt: prompt.value,
      model: modelSel.value,
      provider: providerSel.value,
      size: sizeSel.value,
      seconds: Number(secondsSel.value),
      variations: Number(variations.value) || 1,
      seed: seed.value,
      audio: audio.checked,
      negative_prompt: negative.value,
      remix_from: remixSel.value,
    };
  }
  function save() {
    model.set("value", entries());
    model.save_changes();
  }
  let typing = null;
  function saveSoon() {
    clearTimeout(typing);
    typing = setTimeout(save, 250);
  }
  prompt.addEventListener("input", saveSoon);
  negative.addEventListener("input", saveSoon);
  seed.addEventListener("input", saveSoon);
  for (const c of [modelSel, providerSel, sizeSel, secondsSel, variations, audio, remixSel, seed])
    c.addEventListener("change", () => {
      clearTimeout(typing);
      save();
    });
  submit.title = "Generate (Ctrl+Enter, \u2318+Enter on a Mac)";
  panel.addEventListener(
    "keydown",
    (e) => {
      // Ctrl/Cmd+Enter anywhere in the form submits it
      if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
      e.preventDefault();
      e.stopPropagation(); // not also "run the cell"
      if (!submit.disabled) submit.click();
    },
    true,
  );
  submit.addEventListener("click", () => {
    clearTimeout(typing);
    save();
    model.send({ type: "submit", value: entries(), view }); // the value rides along: no ordering assumed
  });
  file.addEventListener("change", () => {
    const f = file.files && file.files[0];
    if (!f) return;
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      model.send({ type: "image", name: f.name, data: url.slice(url.indexOf(",") + 1), view });
    };
    reader.readAsDataURL(f);
  });
  clear.addEventListener("click", () => {
    file.value = "";
    model.send({ type: "image", clear: true, view });
  });

  // -- synced state -> the page
  function focused(c) {
    return root.activeElement === c;
  }
  function show(node, yes) {
    node.hidden = !yes;
  }
  function msg(node, m) {
    node.textContent = (m && m.text) || "";
    node.className = "skf-msg" + (m && m.kind ? " skf-" + m.kind : "");
    show(node, !!(m && m.text));
  }
  // The entries and what the chosen offer allows (options, hidden and disabled fields).
  function drawValue() {
    const v = model.get("value") || {};
    const c = model.get("choices") || {};
    if (!focused(prompt) && prompt.value !== (v.prompt || "")) prompt.value = v.prompt || "";
    if (!focused(negative) && negative.value !== (v.negative_prompt || ""))
      negative.value = v.negative_prompt || "";
    if (!focused(seed) && seed.value !== (v.seed || "")) seed.value = v.seed || "";
    fillSelect(modelSel, model.get("models") || [], v.model);
    fillSelect(providerSel, model.get("providers") || [], v.provider);
    fillSelect(sizeSel, c.sizes || [], v.size);
    fillSelect(secondsSel, c.seconds || [], v.seconds);
    fillSelect(remixSel, model.get("remixes") || [], v.remix_from || "");
    variations.max = String(c.max_variations || 1);
    variations.value = String(v.variations || 1);
    variations.disabled = (c.max_variations || 1) <= 1;
    seed.disabled = !c.seed;
    seed.placeholder = c.seed ? "random" : "not taken here";
    audio.checked = !!v.audio;
    show(audioBox, c.audio === "optional");
    audioNote.textContent = c.audio_note || "";
    const remixing = !!v.remix_from;
    modelSel.disabled = providerSel.disabled = remixing;
    show(row2, !remixing);
    show(negBox, !!c.negative_prompt && !remixing);
    show(imageBox, !!c.image && !remixing);
    show(remixBox, (model.get("remixes") || []).length > 1);
    submit.textContent = remixing ? "Remix" : "Generate";
  }
  // Everything Python computed about the entries: counter, errors, notices, estimate, Submit.
  function drawState() {
    show(badge, !!model.get("emulated"));
    counter.textContent = model.get("counter") || "";
    counter.classList.toggle("skf-over", !!model.get("over"));
    const errors = model.get("errors") || {};
    for (const e of el.querySelectorAll(".skf-error")) {
      e.textContent = errors[e.dataset.field] || "";
      show(e, !!e.textContent);
    }
    msg(notice, model.get("notice"));
    msg(message, model.get("message"));
    cost.innerHTML = model.get("cost") || "";
    submit.disabled = !model.get("can_submit");
    imageInfo.textContent = model.get("image_info") || "";
    show(clear, !!(file.files && file.files.length));
  }

  // -- the jobs it started: job cards (card.js), newest first
  const cards = makeCards(model, view, link, list);
  // The transport's pong, a poll's answer (`jobs`: also the remix list and the estimate), or a
  // message for a card's stage.
  function onMsg(m, buffers) {
    if (link.onMsg(m, buffers)) return;
    if (m && m.type === "jobs" && (!m.view || m.view === view)) {
      if (m.cost !== undefined) cost.innerHTML = m.cost;
      if (m.remixes) {
        fillSelect(remixSel, m.remixes, remixSel.value);
        show(remixBox, m.remixes.length > 1);
      }
    }
    cards.onMsg(m, buffers);
  }
  const valueKeys = ["value", "models", "providers", "choices", "remixes"];
  const stateKeys = [
    "counter",
    "over",
    "errors",
    "notice",
    "message",
    "cost",
    "can_submit",
    "image_info",
    "emulated",
  ];
  const onTiles = () => cards.draw(model.get("tiles") || []);
  drawValue();
  drawState();
  onTiles();
  for (const k of valueKeys) model.on(`change:${k}`, drawValue);
  for (const k of stateKeys) model.on(`change:${k}`, drawState);
  model.on("change:tiles", onTiles);
  model.on("msg:custom", onMsg);
  return () => {
    clearTimeout(typing);
    for (const k of valueKeys) model.off(`change:${k}`, drawValue);
    for (const k of stateKeys) model.off(`change:${k}`, drawState);
    model.off("change:tiles", onTiles);
    model.off("msg:custom", onMsg);
    cards.dispose();
  };
}

VIEWS.form = renderForm;
