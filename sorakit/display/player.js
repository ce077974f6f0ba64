// sorakit's player views (VideoPlayer: kind "player"; Gallery and CompareGrid: kind "grid"). This
// file follows stage.js in the module (see there): makeStage, makeLink, el_ and rid come from it.

// A lone player: one stage showing the model's poster, label, tip and note.
function renderPlayer(model, el) {
  const view = rid();
  const link = makeLink(model, view);
  const s = makeStage(model, view, -1, link);
  const keys = ["poster", "label", "playable", "tip", "note"];
  const redraw = () => s.draw(Object.fromEntries(keys.map((k) => [k, model.get(k)])));
  el.classList.add("sk-player-view");
  el.append(s.box, s.note);
  redraw();
  for (const k of keys) model.on(`change:${k}`, redraw);
  const onMsg = (msg, buffers) => link.onMsg(msg, buffers) || s.onMsg(msg, buffers);
  model.on("msg:custom", onMsg);
  return () => {
    for (const k of keys) model.off(`change:${k}`, redraw);
    model.off("msg:custom", onMsg);
    s.dispose();
  };
}

// A grid of cells; a cell has optional html (a header, a prompt, an error) and tiles (indexes into
// the synced `tiles` list). Every tile is a stage of this one view; they share its transport.
function renderGrid(model, el) {
  const view = rid();
  const link = makeLink(model, view);
  const head = el_("div", "sk-ghead");
  const grid = el_("div", "sk-gridbox");
  let stages = [];
  el.classList.add("sk-player-view", "sk-grid-view");
  el.append(head, grid);
  function header() {
    head.innerHTML = model.get("header") || "";
  }
  // (Re)build every cell and its stages: when the grid's layout changes.
  function build() {
    stages.forEach((s) => s && s.dispose());
    stages = [];
    const tiles = model.get("tiles") || [];
    grid.style.gridTemplateColumns = model.get("template");
    const frag = document.createDocumentFragment();
    for (const cell of model.get("cells") || []) {
      const c = el_("div", "sk-cell " + (cell.cls || ""));
      if (cell.html) {
        const h = el_("div", "sk-cellhtml");
        h.innerHTML = cell.html;
        c.append(h);
      }
      for (const i of cell.tiles || []) {
        const s = makeStage(model, view, i, link);
        s.cap = el_("div", "sk-cap");
        stages[i] = s;
        const tileEl = el_("div", "sk-tile");
        tileEl.append(s.box, s.note, s.cap);
        c.append(tileEl);
      }
      frag.append(c);
    }
    grid.replaceChildren(frag);
    update();
  }
  // Redraw the tiles from the synced `tiles` (posters, labels, captions change as jobs run).
  function update() {
    (model.get("tiles") || []).forEach((t, i) => {
      const s = stages[i];
      if (!s) return;
      s.draw(t);
      if (s.cap.innerHTML !== (t.caption || "")) s.cap.innerHTML = t.caption || "";
    });
  }
  function onMsg(msg, buffers) {
    if (link.onMsg(msg, buffers)) return;
    for (const s of stages) if (s) s.onMsg(msg, buffers);
  }
  header();
  build();
  model.on("change:header", header);
  model.on("change:tiles", update);
  model.on("change:cells", build);
  model.on("msg:custom", onMsg);
  return () => {
    model.off("change:header", header);
    model.off("change:tiles", update);
    model.off("change:cells", build);
    model.off("msg:custom", onMsg);
    stages.forEach((s) => s && s.dispose());
  };
}

VIEWS.player = renderPlayer;
VIEWS.grid = renderGrid;
