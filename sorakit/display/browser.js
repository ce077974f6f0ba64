// sorakit's ledger browser (LedgerBrowser: kind "browser"): a DataTables grid whose rows stay in
// the kernel. This file follows stage.js in the module (see there): makeStage, makeLink, el_ and
// rid come from it. The DataTables bundle (from the itables wheel) is not part of this module: the
// first view on a page asks the kernel for it once (`lib`) and imports it from a Blob URL, so the
// saved notebook never carries it. Pages come from the kernel too (DataTables' server-side mode:
// its `ajax` option as a function that asks with a `page` message). See sorakit/display/_browser.py.

// DataTables' style sheet, once per document or shadow root (marimo draws each widget in a shadow
// root, where the page's own style sheets do not reach).
function gridStyle(el) {
  const root = el.getRootNode ? el.getRootNode() : document;
  const home = root instanceof ShadowRoot ? root : document.head;
  if (!window.__sorakitGridCss || home.querySelector(":scope > style.sk-grid-css")) return;
  const style = el_("style", "sk-grid-css");
  style.textContent = window.__sorakitGridCss;
  home.append(style);
}

// The grid library, one copy per page (a promise every view of every browser shares).
function gridLibrary(model, view) {
  if (!window.__sorakitGrid) {
    window.__sorakitGrid = new Promise((resolve, reject) => {
      const on = (msg) => {
        if (!msg || msg.type !== "lib" || msg.view !== view) return;
        model.off("msg:custom", on);
        window.__sorakitGridCss = msg.css;
        const url = URL.createObjectURL(new Blob([msg.js], { type: "text/javascript" }));
        import(url).then(
          (m) => {
            URL.revokeObjectURL(url);
            resolve(m);
          },
          (e) => {
            window.__sorakitGrid = null;
            reject(e);
          },
        );
      };
      model.on("msg:custom", on);
      model.send({ type: "lib", view });
    });
  }
  return window.__sorakitGrid;
}

const FILTER_KEYS = ["model", "provider", "status", "tag", "user"];

function renderBrowser(model, el) {
  const view = rid();
  const link = makeLink(model, view);
  el.classList.add("sk-player-view", "sk-browser-view");
  const bar = el_("div", "sk-bfilters");
  const totals = el_("div", "sk-btotals");
  const message = el_("div", "sk-bmessage");
  const selbar = el_("div", "sk-bsel");
  const holder = el_("div", "sk-bgrid", "loading the grid\u2026");
  const detail = el_("div", "sk-bdetail");
  const stageBox = el_("div", "sk-bstage");
  const details = el_("div", "sk-bdetails");
  detail.append(stageBox, details);
  el.append(bar, totals, message, selbar, holder, detail);
  const stage = makeStage(model, view, -1, link);
  stageBox.append(stage.box, stage.note);

  // --- filters: dropdowns, dates, words in the prompt ---
  const inputs = {};
  function labelled(name, input) {
    const l = el_("label", "sk-bfilter");
    l.append(el_("span", "", name), input);
    bar.append(l);
    inputs[name] = input;
    return input;
  }
  for (const k of FILTER_KEYS) {
    const s = labelled(k, el_("select"));
    s.dataset.filter = k;
    s.onchange = () => setFilter(k, s.value);
  }
  for (const [k, name] of [["since", "from"], ["until", "to"]]) {
    const d = labelled(name, el_("input"));
    d.type = "date";
    d.dataset.filter = k;
    d.onchange = () => setFilter(k, d.value);
  }
  const text = labelled("prompt", el_("input"));
  text.type = "search";
  text.placeholder = "words in the prompt";
  text.dataset.filter = "text";
  let typing = null;
  text.oninput = () => {
    clearTimeout(typing);
    typing = setTimeout(() => setFilter("text", text.value), 250);
  };
  const refresh = el_("button", "sk-bbutton", "\u21BB");
  refresh.title = "Read the ledger again";
  refresh.onclick = () => model.send({ type: "refresh", view });
  bar.append(refresh);

  function setFilter(k, v) {
    const f = { ...(model.get("filters") || {}) };
    if (v) f[k] = v;
    else delete f[k];
    model.set("filters", f);
    model.save_changes();
  }
  function drawChoices() {
    const c = model.get("choices") || {};
    const f = model.get("filters") || {};
    for (const k of FILTER_KEYS) {
      const s = inputs[k];
      const opts = ["", ...(c[k] || [])];
      const now = [...s.options].map((o) => o.value);
      if (now.join("\u0000") !== opts.join("\u0000")) {
        s.replaceChildren(...opts.map((v) => { const o = el_("option", "", v || "(all)"); o.value = v; return o; }));
      }
      s.value = f[k] || "";
    }
    inputs.from.value = f.since || "";
    inputs.to.value = f.until || "";
    if (document.activeElement !== text) text.value = f.text || "";
  }

  // --- selection: the set of job ids, synced as `selected_ids` ---
  let sel = new Set(model.get("selected_ids") || []);
  const selText = el_("span", "sk-faint");
  const all = el_("button", "sk-bbutton", "select all filtered");
  all.onclick = () => model.send({ type: "select_all", view });
  const none = el_("button", "sk-bbutton", "clear selection");
  none.onclick = () => model.send({ type: "select_none", view });
  selbar.append(selText, all, none);
  function showSel() {
    selText.textContent = `${sel.size} selected (browser.selected)`;
  }
  function pushSel() {
    model.set("selected_ids", [...sel]);
    model.save_changes();
    showSel();
  }

  // --- the grid ---
  let dt = null;
  let dark = () => {};
  const themes = new MutationObserver(() => dark());
  let quiet = false; // re-selecting rows after a draw: not a user's choice
  let draw = 0;
  const pending = new Map(); // draw -> DataTables' callback
  function ask(data, callback) {
    draw += 1;
    pending.set(draw, callback);
    const cols = data.columns || [];
    const order = (data.order || []).map((o) => [cols[o.column] ? cols[o.column].data : "", o.dir]);
    model.send({ type: "page", view, draw, start: data.start, length: data.length, order });
  }
  function onPage(msg) {
    const cb = pending.get(msg.draw);
    if (!cb) return;
    pending.delete(msg.draw);
    for (const d of [...pending.keys()]) if (d < msg.draw) pending.delete(d);
    if (msg.error) message.textContent = msg.error;
    cb({ draw: msg.draw, recordsTotal: msg.total, recordsFiltered: msg.filtered, data: msg.rows });
  }
  function reselect() {
    if (!dt) return;
    quiet = true;
    dt.rows((i, d) => sel.has(d.DT_RowId)).select();
    dt.rows((i, d) => !sel.has(d.DT_RowId)).deselect();
    quiet = false;
  }
  function build(lib) {
    gridStyle(el);
    const DataTable = lib.default;
    const table = el_("table", "display compact sk-btable");
    holder.replaceChildren(table);
    const columns = (model.get("columns") || []).map((c) => ({
      data: c.data,
      title: c.title,
      orderable: c.orderable,
      className: `sk-c-${c.data}` + (c.orderable ? "" : " sk-nosel"),
    }));
    dt = new DataTable(table, {
      columns,
      serverSide: true,
      processing: true,
      ajax: ask,
      searching: false,
      pageLength: model.get("page_length") || 25,
      lengthMenu: [10, 25, 50, 100],
      order: [[columns.findIndex((c) => c.data === "created_at"), "desc"]],
      select: { style: "os", selector: "td:not(.sk-c-poster):not(.sk-c-rating):not(.sk-c-tags)" },
      autoWidth: false,
      deferRender: true,
    });
    dt.on("draw", reselect);
    // DataTables' dark styles follow the page's theme (itables' helper reads JupyterLab, VS Code, ...)
    dark = () => {
      try {
        if (lib.set_or_remove_dark_class) lib.set_or_remove_dark_class();
      } catch (e) {
        // an unknown page: the light styles
      }
    };
    dark();
    themes.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "data-vscode-theme-kind", "class"] });
    dt.on("select", (e, api, type, idx) => {
      if (quiet || type !== "row") return;
      api.rows(idx).data().each((d) => sel.add(d.DT_RowId));
      pushSel();
    });
    dt.on("deselect", (e, api, type, idx) => {
      if (quiet || type !== "row") return;
      api.rows(idx).data().each((d) => sel.delete(d.DT_RowId));
      pushSel();
    });
    table.addEventListener("click", onCellClick);
  }

  // Clicks inside cells: play, a star, the tags.
  function onCellClick(ev) {
    const t = ev.target;
    if (t.classList.contains("sk-rowplay")) {
      ev.stopPropagation();
      return model.send({ type: "play", view, job_id: t.dataset.id });
    }
    if (t.classList.contains("sk-star")) {
      ev.stopPropagation();
      const cur = +t.parentNode.dataset.rating;
      const n = +t.dataset.n;
      return model.send({ type: "rate", view, job_id: t.dataset.id, rating: n === cur ? 0 : n });
    }
    if (t.classList.contains("sk-tagcell")) {
      ev.stopPropagation();
      const input = el_("input", "sk-tagedit");
      input.value = t.dataset.tags || "";
      input.placeholder = "tag, tag";
      const id = t.dataset.id;
      let done = false;
      const save = () => {
        if (done) return;
        done = true;
        model.send({ type: "tags", view, job_id: id, tags: input.value });
      };
      input.onkeydown = (e) => {
        if (e.key === "Enter") save();
        if (e.key === "Escape") { done = true; dt && dt.draw(false); }
      };
      input.onblur = save;
      t.replaceWith(input);
      input.focus();
    }
  }

  function drawStage() {
    const s = model.get("stage") || {};
    detail.hidden = !s.job_id;
    if (stageBox.dataset.job !== (s.job_id || "")) {
      stage.dispose();
      stageBox.dataset.job = s.job_id || "";
    }
    stage.draw(s);
    details.innerHTML = model.get("details") || "";
  }
  const showTotals = () => { totals.innerHTML = model.get("totals") || ""; };
  const showMessage = () => { message.textContent = model.get("message") || ""; };
  const onSelIds = () => {
    sel = new Set(model.get("selected_ids") || []);
    showSel();
    reselect();
  };
  function onMsg(msg, buffers) {
    if (link.onMsg(msg, buffers)) return;
    if (msg && msg.type === "page" && msg.view === view) return onPage(msg);
    if (msg && msg.type === "reload") {
      if (dt) dt.ajax.reload(null, !!msg.reset);
      return;
    }
    stage.onMsg(msg, buffers);
  }
  // every model event this view listens to, subscribed here and released by the cleanup below
  const listeners = [["msg:custom", onMsg], ["change:choices", drawChoices], ["change:filters", drawChoices],
    ["change:totals", showTotals], ["change:message", showMessage], ["change:selected_ids", onSelIds],
    ["change:stage", drawStage], ["change:details", drawStage]];
  for (const [name, fn] of listeners) model.on(name, fn);
  drawChoices();
  showTotals();
  showMessage();
  showSel();
  drawStage();
  gridLibrary(model, view).then(build, (e) => {
    holder.textContent = `the grid could not load (${e && e.message ? e.message : e})`;
  });
  return () => {
    for (const [name, fn] of listeners) model.off(name, fn);
    stage.dispose();
    themes.disconnect();
    if (dt) dt.destroy();
  };
}

VIEWS.browser = renderBrowser;
