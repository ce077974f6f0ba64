// sorakit's job cards (JobCard, JobCards: kind "card"; RequestForm lists its jobs with them). This
// file follows stage.js in the module (see there): el_, rid, makeLink and makeStage come from it.
// A card only renders its entry of the synced `tiles` (Python's JobCards._card_data: plain text,
// set as textContent) and reports clicks as custom messages: cancel, rate, tag, note, remix, poll.

// A list of cards in `list`, drawn from tile data; `link` is the view's transport.
function makeCards(model, view, link, list) {
  let stages = [],
    cards = [],
    tiles = [],
    timer = null;
  const send = (content) => model.send({ ...content, view });
  function show(node, yes) {
    node.hidden = !yes;
  }
  // An input that sends its text on Enter (and clears itself).
  function entry(cls, placeholder, onText) {
    const i = el_("input", cls);
    i.type = "text";
    i.placeholder = placeholder;
    i.setAttribute("aria-label", placeholder);
    i.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || !i.value.trim()) return;
      e.preventDefault();
      e.stopPropagation(); // not also "run the cell"
      onText(i.value);
      i.value = "";
    });
    return i;
  }
  // Card `i`: head, prompt, progress with Cancel, how it ended, a message, the stage, facts, actions.
  function card(i) {
    const s = makeStage(model, view, i, link);
    const c = el_("div", "sk-card");
    c.dataset.tile = String(i);
    const head = el_("div", "sk-card-head");
    const prompt = el_("div", "sk-prompt");
    const bar = el_("progress", "sk-bar");
    bar.max = 100;
    const text = el_("span", "sk-progress-text");
    const cancel = el_("button", "sk-cancel", "Cancel");
    cancel.type = "button";
    cancel.addEventListener("click", () => {
      cancel.disabled = true;
      send({ type: "cancel", tile: i });
    });
    const prog = el_("div", "sk-progress-row");
    prog.append(bar, text, cancel);
    const box = el_("div", "sk-outcome");
    const said = el_("div", "sk-message");
    const meta = el_("div", "sk-meta");
    const starBox = el_("span", "sk-stars");
    const stars = [1, 2, 3, 4, 5].map((n) => {
      const b = el_("button", "sk-star", "\u2606");
      b.type = "button";
      b.title = `Rate ${n} of 5`;
      b.onclick = () => send({ type: "rate", tile: i, n });
      starBox.append(b);
      return b;
    });
    const tags = el_("span", "sk-tags");
    const tag = entry("sk-tag-input", "add a tag \u23CE", (t) => send({ type: "tag", tile: i, text: t }));
    const note = entry("sk-note-input", "note \u23CE", (t) => send({ type: "note", tile: i, text: t }));
    const remix = entry("sk-remix-input", "remix: describe the change \u23CE", (t) =>
      send({ type: "remix", tile: i, prompt: t }),
    );
    const actions = el_("div", "sk-actions");
    actions.append(starBox, tag, tags, note, remix);
    c.append(head, prompt, prog, box, said, s.box, s.note, meta, actions);
    stages[i] = s;
    return { c, head, prompt, prog, bar, text, cancel, box, said, meta, actions, stars, tags, note, remix };
  }
  // Draw card `i` from its tile data, making it the first time.
  function drawCard(i, t) {
    let k = cards[i];
    if (!k) {
      k = cards[i] = card(i);
      if (model.get("newest_first")) list.prepend(k.c);
      else list.append(k.c);
    }
    k.c.dataset.status = t.status;
    const shown = t.shown_status || t.status;
    const [label, colour] = t.chip || [shown.replace(/_/g, " "), "grey"];
    const chip = el_("span", "sk-chip sk-chip-" + colour, label);
    chip.title = "status: " + shown;
    const head = [chip, el_("b", "sk-title", t.title), el_("span", "sk-muted", t.specs)];
    if (t.emulated) head.push(el_("span", "sk-chip sk-chip-emu", "emulated"));
    head.push(el_("span", "sk-id", t.short));
    k.head.replaceChildren(...head);
    k.head.lastChild.title = t.id;
    k.prompt.textContent = t.prompt;
    show(k.prog, t.active);
    if (t.progress === null || t.progress === undefined) k.bar.removeAttribute("value");
    else k.bar.value = t.status === "downloading" ? 100 : t.progress;
    k.text.textContent = t.text || "";
    show(k.cancel, !!t.cancellable);
    k.cancel.disabled = false;
    if (t.cancel_label && k.cancel.textContent !== t.cancel_label) k.cancel.textContent = t.cancel_label;
    if (t.cancel_tip) k.cancel.title = t.cancel_tip;
    // how it ended: [kind, head, code, detail] (failed, cancelled, or a cancel the provider refused)
    const o = t.outcome || [];
    k.box.className = "sk-outcome" + (o[0] === "failed" ? " sk-error-box" : o.length ? " sk-cancel-box" : "");
    k.box.classList.toggle("sk-cancel-refused", o[0] === "refused");
    k.box.replaceChildren();
    if (o.length) {
      k.box.append(el_("b", "", o[1]));
      if (o[2]) k.box.append(" \u00B7 ", el_("code", "", o[2]));
      k.box.append(el_("div", "", o[3]));
    }
    show(k.box, o.length > 0);
    const m = t.said || {};
    k.said.textContent = m.text || "";
    k.said.className = "sk-message" + (m.kind ? " sk-msg-" + m.kind : "");
    show(k.said, !!m.text);
    const playing = t.status !== "failed" && t.status !== "cancelled" && shown !== "not_cancelled";
    show(stages[i].box, playing);
    stages[i].draw(t);
    k.meta.replaceChildren(...(t.meta || []).map((x) => el_("span", "", x)));
    show(k.meta, (t.meta || []).length > 0);
    show(k.actions, t.status === "completed");
    k.stars.forEach((b, n) => {
      b.textContent = n < t.rating ? "\u2605" : "\u2606";
      b.classList.toggle("sk-on", n < t.rating);
    });
    k.tags.replaceChildren(...(t.tags || []).map((x) => el_("span", "sk-tag", x)));
    k.note.placeholder = t.notes ? "note: " + t.notes : "note \u23CE";
    k.note.title = t.notes || "Write a note (Enter saves it)";
    show(k.remix, !!t.remixable);
  }
  function draw(fresh) {
    if (fresh) tiles = fresh.slice();
    tiles.forEach((t, i) => drawCard(i, t));
    schedule();
  }
  // While a job runs, ask for its state every poll_ms (live updates wherever trait pushes are lost).
  function running() {
    return tiles.map((t, i) => (t.active ? i : -1)).filter((i) => i >= 0);
  }
  function schedule() {
    if (timer || !running().length) return;
    timer = setTimeout(
      () => {
        timer = null;
        const still = running();
        if (still.length) send({ type: "poll", tiles: still });
      },
      model.get("poll_ms") || 1000,
    );
  }
  // A poll's answer (`jobs`) or a message for one of the stages.
  function onMsg(m, buffers) {
    if (m && m.type === "jobs") {
      if (m.view && m.view !== view) return;
      for (const [i, t] of Object.entries(m.tiles || {})) tiles[Number(i)] = t;
      return draw();
    }
    for (const s of stages) if (s) s.onMsg(m, buffers);
  }
  function dispose() {
    clearTimeout(timer);
    stages.forEach((s) => s && s.dispose());
  }
  return { draw, onMsg, dispose };
}

// JobCard / JobCards: the cards alone.
function renderCards(model, el) {
  const view = rid();
  const link = makeLink(model, view);
  const list = el_("div", "sk-jobs");
  el.classList.add("sk-player-view", "sk-cards-view");
  el.append(list);
  const cards = makeCards(model, view, link, list);
  const onTiles = () => cards.draw(model.get("tiles") || []);
  const onMsg = (m, buffers) => link.onMsg(m, buffers) || cards.onMsg(m, buffers);
  onTiles();
  model.on("change:tiles", onTiles);
  model.on("msg:custom", onMsg);
  return () => {
    model.off("change:tiles", onTiles);
    model.off("msg:custom", onMsg);
    cards.dispose();
  };
}

VIEWS.card = renderCards;
