// sorakit's player and tile grid (one anywidget ESM for VideoPlayer, Gallery and CompareGrid;
// no imports, no CDN). Synced state is small: posters (data URIs), labels, captions. Video bytes
// never enter the state: on play a stage asks the kernel for the file in chunks (custom messages
// with one binary buffer each, a few requests in flight) and plays the assembled Blob.
function el_(tag, cls, text) {
const e = document.createElement(tag);
if (cls) e.className = cls;
if (text) e.textContent = text;
return e;
}

// One playable stage: a poster (or a label) with a play button, then the streamed video.
// `tile` is the tile's index in a grid, -1 for a lone player.
function makeStage(model, view, tile) {
const box = el_("div", "sk-stage");
const note = el_("div", "sk-note");
let t = {}, shown = "", url = null, video = null, loading = null, parts = [], got = 0, size = 0;
function draw(data) {
if (data) t = data;
note.textContent = t.note || "";
note.hidden = !note.textContent;
const key = [t.poster, t.label, t.playable, t.tip].join("\u0000");
if (video || loading || key === shown) return;
shown = key;
box.replaceChildren();
box.classList.toggle("sk-empty", !t.playable);
if (t.poster) {
const img = el_("img", "sk-poster");
img.decoding = "async";
img.src = t.poster;
img.alt = t.tip || "poster";
box.append(img);
} else {
box.append(el_("div", "sk-placeholder", t.label || ""));
}
if (t.playable) {
const b = el_("button", "sk-play", "\u25B6");
b.title = t.tip || "Play";
b.onclick = () => load(true);
box.append(b);
}
}
function ask(content) { model.send({ ...content, view, tile }); }
function load(autoplay) {
if (video || loading) return;
loading = { autoplay };
box.replaceChildren(el_("div", "sk-placeholder sk-loading", "loading\u2026"));
ask({ type: "open" });
}
function fail(text) {
loading = null; shown = "";
draw();
note.textContent = text;
note.hidden = false;
}
function next() {  // keep `inflight` chunk requests outstanding until the file is covered
const m = loading.meta;
while (loading.offset < size && loading.pending < m.inflight) {
ask({ type: "chunk", offset: loading.offset, length: m.chunk });
loading.offset += m.chunk;
loading.pending += 1;
}
}
function finish(mime) {
url = URL.createObjectURL(new Blob(parts, { type: mime }));
parts = [];
video = el_("video", "sk-video");
video.controls = true;
video.loop = false;
video.playsInline = true;
video.src = url;
const autoplay = loading.autoplay;
loading = null;
box.replaceChildren(video);
box.classList.remove("sk-empty");
if (autoplay) video.play().catch(() => {});
}
function dispose() {
if (url) URL.revokeObjectURL(url);
url = null; video = null; loading = null; parts = []; shown = "";
}
function onMsg(msg, buffers) {
if (!msg || (msg.view && msg.view !== view) || (msg.tile ?? -1) !== tile) return;
if (msg.type === "load") return load(!!msg.autoplay);
if (msg.type === "unload") { dispose(); return draw(); }
if (!loading) return;
if (msg.type === "error") return fail(msg.text);
if (msg.type === "meta") {
size = msg.size; got = 0;
parts = new Array(Math.ceil(size / msg.chunk));
Object.assign(loading, { meta: msg, offset: 0, pending: 0 });
if (size === 0) return fail("the video file is empty");
return next();
}
if (msg.type === "chunk") {
const buf = buffers && buffers[0];
if (!buf) return fail("a chunk of the video arrived without its bytes");
parts[Math.floor(msg.offset / loading.meta.chunk)] = buf;
got += buf.byteLength;
loading.pending -= 1;
const s = box.querySelector(".sk-loading");
if (s) s.textContent = `loading ${Math.floor(100 * got / size)}%`;
if (got >= size) return finish(loading.meta.mime);
next();
}
}
return { box, note, draw, onMsg, dispose };
}

function rid() { return Math.random().toString(36).slice(2); }

function renderPlayer(model, el) {
const s = makeStage(model, rid(), -1);
const keys = ["poster", "label", "playable", "tip", "note"];
const redraw = () => s.draw(Object.fromEntries(keys.map(k => [k, model.get(k)])));
el.classList.add("sk-player-view");
el.append(s.box, s.note);
redraw();
for (const k of keys) model.on(`change:${k}`, redraw);
model.on("msg:custom", s.onMsg);
return () => { for (const k of keys) model.off(`change:${k}`, redraw); model.off("msg:custom", s.onMsg); s.dispose(); };
}

// A grid of cells; a cell has optional html (a header, a prompt, an error) and tiles (indexes).
function renderGrid(model, el) {
const view = rid();
const head = el_("div", "sk-ghead");
const grid = el_("div", "sk-gridbox");
let stages = [];
el.classList.add("sk-player-view", "sk-grid-view");
el.append(head, grid);
function header() { head.innerHTML = model.get("header") || ""; }
function build() {
stages.forEach(s => s && s.dispose());
stages = [];
const tiles = model.get("tiles") || [];
grid.style.gridTemplateColumns = model.get("template");
const frag = document.createDocumentFragment();
for (const cell of model.get("cells") || []) {
const c = el_("div", "sk-cell " + (cell.cls || ""));
if (cell.html) { const h = el_("div", "sk-cellhtml"); h.innerHTML = cell.html; c.append(h); }
for (const i of cell.tiles || []) {
const s = makeStage(model, view, i);
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
function update() {
(model.get("tiles") || []).forEach((t, i) => {
const s = stages[i];
if (!s) return;
s.draw(t);
if (s.cap.innerHTML !== (t.caption || "")) s.cap.innerHTML = t.caption || "";
});
}
function onMsg(msg, buffers) { for (const s of stages) if (s) s.onMsg(msg, buffers); }
header();
build();
model.on("change:header", header);
model.on("change:tiles", update);
model.on("change:cells", build);
model.on("msg:custom", onMsg);
return () => {
model.off("change:header", header); model.off("change:tiles", update);
model.off("change:cells", build); model.off("msg:custom", onMsg);
stages.forEach(s => s && s.dispose());
};
}

function render({ model, el }) {
return model.get("cells") === undefined ? renderPlayer(model, el) : renderGrid(model, el);
}

export default { render };
