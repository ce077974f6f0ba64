// sorakit's player and tile grid (one anywidget ESM for VideoPlayer, Gallery and CompareGrid;
// no imports, no CDN). Synced state is small: posters (data URIs), labels, captions. Video bytes
// never enter the state: on play a stage asks the kernel for the file in chunks (custom messages
// with one binary buffer each, a few requests in flight) and streams them through Media Source
// Extensions (playing while the rest arrives) or plays the assembled Blob.
function el_(tag, cls, text) {
const e = document.createElement(tag);
if (cls) e.className = cls;
if (text) e.textContent = text;
return e;
}

// One playable stage: a poster (or a label) with a play button, then the streamed video.
// `tile` is the tile's index in a grid, -1 for a lone player.
// Two ways to play (the kernel offers `stream` in its `meta` answer for a long H.264/AAC MP4):
// MSE: a fragmented copy is appended chunk by chunk, in offset order, to a SourceBuffer, so the
// video starts once its first fragments are in; requests pause while `ahead` seconds are buffered.
// Blob: the file's chunks are assembled into one Blob that plays once complete (no MSE, another
// codec or container, a small file, or after any streaming error).
// The <video> records what happened in data-* attributes: mode, size, appended (bytes handed to
// the decoder), playing-at / received-at (bytes appended / received when `playing` first fired),
// t-open / t-playing / t-loaded (performance.now() of the click, first frame, last byte).
function makeStage(model, view, tile) {
const box = el_("div", "sk-stage");
const note = el_("div", "sk-note");
let t = {}, shown = "", url = null, video = null, L = null, extra = "", noMSE = false, resumeAt = 0;
function showNote() {
note.textContent = [t.note, extra].filter(Boolean).join(" \u00B7 ");
note.hidden = !note.textContent;
}
function draw(data) {
if (data) t = data;
showNote();
const key = [t.poster, t.label, t.playable, t.tip].join("\u0000");
if (video || L || key === shown) return;
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
function canMSE() { return !noMSE && typeof MediaSource !== "undefined"; }
function load(autoplay) {
if (video || L) return;
L = { autoplay, t0: performance.now() };
box.replaceChildren(el_("div", "sk-placeholder sk-loading", "loading\u2026"));
ask({ type: "open", mse: canMSE() });
}
function release() {  // drop the video and everything it holds
if (L && L.timer) clearTimeout(L.timer);
if (video) { video.removeAttribute("src"); video.load(); }
if (url) URL.revokeObjectURL(url);
url = null; video = null; L = null; shown = "";
}
function fail(text) {
release();
extra = text;
draw();
}
function fallback(text) {  // streaming failed: say so and load the whole file instead
const autoplay = L ? L.autoplay : false;
resumeAt = video ? video.currentTime : 0;  // the Blob picks up where the stream stopped
release();
noMSE = true;
extra = text + "; loading the whole file instead";
draw();
load(autoplay);
}
function watch() {  // a chunk that never comes must not leave the stage loading forever
if (L.timer) clearTimeout(L.timer);
L.timer = L.pending > 0 ? setTimeout(() => {
if (!L) return;
if (L.src === "stream") fallback("the video stream stalled (a chunk never arrived)");
else fail("the kernel stopped sending the video (a chunk never arrived)");
}, 1000 * (L.meta.stall || 20)) : null;
}
function ahead() {  // enough buffered in front of the playhead: wait before asking for more
if (L.src !== "stream" || !L.meta.ahead || !video) return false;
const b = video.buffered;
return b.length > 0 && b.end(b.length - 1) - video.currentTime > L.meta.ahead;
}
function next() {  // keep `inflight` chunk requests outstanding until the file is covered
if (!L || !L.meta) return;
const m = L.meta;
while (L.offset < L.size && L.pending < m.inflight && L.queue.size < m.inflight && !ahead()) {
ask({ type: "chunk", offset: L.offset, length: m.chunk, src: L.src });
L.offset += m.chunk;
L.pending += 1;
}
watch();
}
function newVideo(mode) {
const v = video = el_("video", "sk-video");
v.controls = true;
v.loop = false;
v.playsInline = true;
v.muted = tile >= 0;  // in a gallery or comparison: muted until the viewer unmutes it
if (t.poster) v.poster = t.poster;
v.addEventListener("play", () => {  // one sorakit video plays at a time on the page
for (const o of document.querySelectorAll("video.sk-video")) if (o !== v && !o.paused) o.pause();
});
const d = v.dataset;
Object.assign(d, { mode, size: String(L.size), appended: "0", tOpen: String(L.t0) });
v.addEventListener("playing", () => {
if (d.tPlaying) return;
d.tPlaying = String(performance.now());
d.playingAt = d.appended;
d.receivedAt = String(L && v === video ? L.got : d.size);
});
v.addEventListener("error", () => {
if (v !== video) return;  // an element already given up
const code = v.error ? v.error.code : "?";
if (mode === "mse" && L) fallback(`the browser could not decode the stream (media error ${code})`);
else fail(`the browser cannot play this video (media error ${code})`);
});
box.replaceChildren(v);
box.classList.remove("sk-empty");
return v;
}
function loaded() {
video.dataset.tLoaded = String(performance.now());
if (L.timer) clearTimeout(L.timer);
L = null;
}
function finish() {  // Blob path: every chunk is in
const v = newVideo("blob"), autoplay = L.autoplay;
url = URL.createObjectURL(new Blob(L.parts, { type: L.meta.mime }));
L.parts = [];
v.dataset.appended = String(L.got);
v.src = url;
if (resumeAt > 0) v.currentTime = resumeAt;
resumeAt = 0;
loaded();
if (autoplay) v.play().catch(() => {});
}
function stream(s) {  // MSE path: a MediaSource fed in offset order
const ms = new MediaSource(), v = newVideo("mse");
L.ms = ms;
url = URL.createObjectURL(ms);
ms.addEventListener("sourceopen", () => {
if (!L || L.ms !== ms) return;
try {
L.sb = ms.addSourceBuffer(s.mime);
if (s.seconds > 0) ms.duration = s.seconds;
} catch (e) { return fallback(`this browser cannot stream ${s.mime} (${e.name})`); }
L.sb.addEventListener("updateend", () => {
if (!L || L.ms !== ms) return;
v.dataset.appended = String(+v.dataset.appended + L.last);
pump();
});
L.sb.addEventListener("error", () => L && L.ms === ms && fallback("the browser rejected a piece of the stream"));
v.addEventListener("timeupdate", next);
next();
}, { once: true });
v.src = url;
if (L.autoplay) v.play().catch(() => {});
}
function pump() {  // append the next chunk in offset order; end the stream after the last
if (!L || !L.sb || L.sb.updating) return;
const buf = L.queue.get(L.index);
if (buf) {
L.queue.delete(L.index);
L.index += 1;
L.last = buf.byteLength;
try { L.sb.appendBuffer(buf); } catch (e) { return fallback(`the browser refused a chunk of the stream (${e.name})`); }
return next();
}
if (L.index * L.meta.chunk >= L.size && L.ms.readyState === "open") {
try { L.ms.endOfStream(); } catch (e) { /* already ended */ }
return loaded();
}
next();
}
function dispose() { release(); extra = ""; noMSE = false; resumeAt = 0; }
function onMsg(msg, buffers) {
if (!msg || (msg.view && msg.view !== view) || (msg.tile ?? -1) !== tile) return;
if (msg.type === "load") return load(!!msg.autoplay);
if (msg.type === "unload") { dispose(); return draw(); }
if (!L) return;
if (msg.src && msg.src !== L.src) return;  // a late answer for a stream that was given up
if (msg.type === "error") return L.src === "stream" ? fallback(msg.text) : fail(msg.text);
if (msg.type === "meta") {
if (L.meta) return;
const s = msg.stream, mse = !!s && canMSE() && MediaSource.isTypeSupported(s.mime);
if (msg.note) { extra = msg.note; showNote(); }
Object.assign(L, { meta: msg, src: mse ? "stream" : "file", size: mse ? s.size : msg.size,
offset: 0, pending: 0, got: 0, index: 0, last: 0, queue: new Map() });
if (L.size === 0) return fail("the video file is empty");
if (mse) return stream(s);
L.parts = new Array(Math.ceil(L.size / msg.chunk));
return next();
}
if (msg.type === "chunk") {
const buf = buffers && buffers[0];
if (!buf) return L.src === "stream" ? fallback("a chunk of the stream arrived without its bytes")
: fail("a chunk of the video arrived without its bytes");
const i = Math.floor(msg.offset / L.meta.chunk);
L.got += buf.byteLength;
L.pending -= 1;
if (L.src === "stream") { L.queue.set(i, buf); pump(); return; }
L.parts[i] = buf;
const s = box.querySelector(".sk-loading");
if (s) s.textContent = `loading ${Math.floor(100 * L.got / L.size)}%`;
if (L.got >= L.size) return finish();
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
