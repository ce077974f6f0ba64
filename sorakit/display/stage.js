// sorakit's widgets in the page: the shared part (this file) of the ES module every sorakit
// anywidget loads. No imports, no CDN.
//
// The module is assembled by sorakit/display/_esm.py, which concatenates whole files in a fixed
// order: this file, then the views a widget needs (player.js: the lone player and the tile grid;
// form.js: the request form), then main.js (the `render` entry point and the export). Each view
// file registers its render functions in VIEWS under a kind; `render` calls the one named by the
// model's `_kind` trait. When the module is shipped, lines that are only a `//` comment, blank
// lines and indentation are dropped (every model saves a copy of its module in a notebook's widget
// state); so write comments as `//` lines and keep every string and template literal on one line.
//
// Synced state is small: posters (data URIs), labels, captions. Video bytes never enter the state:
// on play a stage asks the kernel for the file in chunks (custom messages, a few requests in
// flight) and streams them through Media Source Extensions (playing while the rest arrives) or
// plays the assembled Blob. The protocol is described in sorakit/display/_player.py.

// kind -> render(model, el) (returns its cleanup); filled by the view files.
const VIEWS = {};

// An element with a class and text (both optional).
function el_(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

// A random id for one view of a model: the kernel's answers carry it back, so a model shown twice
// (two outputs of the same widget) routes each answer to the view that asked.
function rid() {
  return Math.random().toString(36).slice(2);
}

// --- how the kernel's bytes reach the page ------------------------------------------------------
// A chunk normally comes as a custom message with one binary buffer (no encoding cost). Some widget
// managers drop binary buffers or pass them on as something else (Colab's widget manager:
// googlecolab/colab-cdn-widget-manager#33; the Colab VS Code extension parsed them as JSON:
// googlecolab/colab-vscode#328). So each view asks once, when it is rendered: it sends `ping` and
// the kernel answers `pong` with the four bytes of PROBE as its buffer (Streamer.PROBE in Python).
// Those bytes back: the view asks for binary chunks. The pong without them, or a `meta` answer
// before any pong (the kernel answers in order, so a meta first means the pong was dropped): the
// view asks for base64 text in the JSON content instead (`b64: true` in its chunk requests).
const PROBE = [0, 255, 115, 107];

// The bytes of one message buffer as a Uint8Array (an ArrayBuffer or a view of one), else null.
function bytesOf(b) {
  if (!b) return null;
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (Object.prototype.toString.call(b) === "[object ArrayBuffer]") return new Uint8Array(b);
  return null;
}

// Base64 text as bytes (null if it is not base64).
function fromBase64(text) {
  if (typeof text !== "string") return null;
  try {
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text);
    const s = atob(text);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  } catch (e) {
    return null;
  }
}

// The transport of one view: `mode` is "" until known, then "binary" or "base64". `onMsg` takes the
// pong (returns true for it, false for any other message).
function makeLink(model, view) {
  const link = { mode: "", onMsg };
  function onMsg(msg, buffers) {
    if (!msg || msg.type !== "pong" || msg.view !== view) return false;
    if (!link.mode) {
      const b = bytesOf(buffers && buffers[0]);
      const ok = !!b && b.length === PROBE.length && PROBE.every((x, i) => b[i] === x);
      link.mode = ok ? "binary" : "base64";
    }
    return true;
  }
  try {
    model.send({ type: "ping", view });
  } catch (e) {
    // no kernel (a saved notebook opened without one): nothing will play anyway
  }
  return link;
}

// --- one playable stage ---------------------------------------------------------------------------
// A poster (or a label) with a play button, then the streamed video. `tile` is the tile's index in
// a grid, -1 for a lone player; `link` is its view's transport (makeLink).
// Two ways to play (the kernel offers `stream` in its `meta` answer for a long H.264/AAC MP4):
// MSE: a fragmented copy is appended chunk by chunk, in offset order, to a SourceBuffer, so the
// video starts once its first fragments are in; requests pause while `ahead` seconds are buffered.
// Blob: the file's chunks are assembled into one Blob that plays once complete (no MSE, another
// codec or container, a small file, or after any streaming error).
// The <video> records what happened in data-* attributes: mode, transport (binary or base64), size,
// appended (bytes handed to the decoder), playing-at / received-at (bytes appended / received when
// `playing` first fired), t-open / t-playing / t-loaded (performance.now() of the click, first
// frame, last byte).
function makeStage(model, view, tile, link) {
  const box = el_("div", "sk-stage");
  const note = el_("div", "sk-note");
  let t = {}; // what to show: poster, label, playable, tip, note
  let shown = ""; // the key of what is drawn (redraw only on a change)
  let url = null; // the object URL of the Blob or MediaSource
  let video = null; // the <video>, once loading ends or streaming starts
  let L = null; // the load under way: meta, offsets, outstanding requests, received parts
  let extra = ""; // a note of ours (why streaming stopped...) after the kernel's
  let noMSE = false; // streaming failed once: this stage uses the Blob path from now on
  let resumeAt = 0; // where the Blob path picks up after a failed stream

  function showNote() {
    note.textContent = [t.note, extra].filter(Boolean).join(" \u00B7 ");
    note.hidden = !note.textContent;
  }

  // The poster (or label) and the play button; nothing changes while a video is shown or loading.
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

  function ask(content) {
    model.send({ ...content, view, tile });
  }

  function canMSE() {
    return !noMSE && typeof MediaSource !== "undefined";
  }

  function load(autoplay) {
    if (video || L) return;
    L = { autoplay, t0: performance.now() };
    box.replaceChildren(el_("div", "sk-placeholder sk-loading", "loading\u2026"));
    ask({ type: "open", mse: canMSE() });
  }

  // Drop the video and everything it holds.
  function release() {
    if (L && L.timer) clearTimeout(L.timer);
    if (video) {
      video.removeAttribute("src");
      video.load();
    }
    if (url) URL.revokeObjectURL(url);
    url = null;
    video = null;
    L = null;
    shown = "";
  }

  function fail(text) {
    release();
    extra = text;
    draw();
  }

  // Streaming failed: say so and load the whole file instead, from where the stream stopped.
  function fallback(text) {
    const autoplay = L ? L.autoplay : false;
    resumeAt = video ? video.currentTime : 0;
    release();
    noMSE = true;
    extra = text + "; loading the whole file instead";
    draw();
    load(autoplay);
  }

  // A chunk that never comes must not leave the stage loading forever.
  function watch() {
    if (L.timer) clearTimeout(L.timer);
    L.timer = null;
    if (L.pending <= 0) return;
    L.timer = setTimeout(
      () => {
        if (!L) return;
        if (L.src === "stream") fallback("the video stream stalled (a chunk never arrived)");
        else fail("the kernel stopped sending the video (a chunk never arrived)");
      },
      1000 * (L.meta.stall || 20),
    );
  }

  // Enough buffered in front of the playhead: wait before asking for more.
  function ahead() {
    if (L.src !== "stream" || !L.meta.ahead || !video) return false;
    const b = video.buffered;
    return b.length > 0 && b.end(b.length - 1) - video.currentTime > L.meta.ahead;
  }

  function askChunk(offset) {
    ask({ type: "chunk", offset, length: L.meta.chunk, src: L.src, b64: link.mode === "base64" });
  }

  // Keep `inflight` chunk requests outstanding until the file is covered.
  function next() {
    if (!L || !L.meta) return;
    const m = L.meta;
    while (L.offset < L.size && L.pending < m.inflight && L.queue.size < m.inflight && !ahead()) {
      askChunk(L.offset);
      L.offset += m.chunk;
      L.pending += 1;
    }
    watch();
  }

  function newVideo(mode) {
    const v = (video = el_("video", "sk-video"));
    v.controls = true;
    v.loop = false;
    v.playsInline = true;
    v.muted = tile >= 0; // in a gallery or comparison: muted until the viewer unmutes it
    if (t.poster) v.poster = t.poster;
    // one sorakit video plays at a time on the page
    v.addEventListener("play", () => {
      for (const o of document.querySelectorAll("video.sk-video")) if (o !== v && !o.paused) o.pause();
    });
    const d = v.dataset;
    Object.assign(d, {
      mode,
      transport: link.mode,
      size: String(L.size),
      appended: "0",
      tOpen: String(L.t0),
    });
    v.addEventListener("playing", () => {
      if (d.tPlaying) return;
      d.tPlaying = String(performance.now());
      d.playingAt = d.appended;
      d.receivedAt = String(L && v === video ? L.got : d.size);
    });
    v.addEventListener("error", () => {
      if (v !== video) return; // an element already given up
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

  // Blob path: every chunk is in.
  function finish() {
    const v = newVideo("blob");
    const autoplay = L.autoplay;
    url = URL.createObjectURL(new Blob(L.parts, { type: L.meta.mime }));
    L.parts = [];
    v.dataset.appended = String(L.got);
    v.src = url;
    if (resumeAt > 0) v.currentTime = resumeAt;
    resumeAt = 0;
    loaded();
    if (autoplay) v.play().catch(() => {});
  }

  // MSE path: a MediaSource fed in offset order.
  function stream(s) {
    const ms = new MediaSource();
    const v = newVideo("mse");
    L.ms = ms;
    url = URL.createObjectURL(ms);
    function opened() {
      if (!L || L.ms !== ms) return;
      try {
        L.sb = ms.addSourceBuffer(s.mime);
        if (s.seconds > 0) ms.duration = s.seconds;
      } catch (e) {
        return fallback(`this browser cannot stream ${s.mime} (${e.name})`);
      }
      L.sb.addEventListener("updateend", () => {
        if (!L || L.ms !== ms) return;
        v.dataset.appended = String(+v.dataset.appended + L.last);
        pump();
      });
      L.sb.addEventListener("error", () => {
        if (L && L.ms === ms) fallback("the browser rejected a piece of the stream");
      });
      v.addEventListener("timeupdate", next);
      next();
    }
    ms.addEventListener("sourceopen", opened, { once: true });
    v.src = url;
    if (L.autoplay) v.play().catch(() => {});
  }

  // Append the next chunk in offset order; end the stream after the last.
  function pump() {
    if (!L || !L.sb || L.sb.updating) return;
    const buf = L.queue.get(L.index);
    if (buf) {
      L.queue.delete(L.index);
      L.index += 1;
      L.last = buf.byteLength;
      try {
        L.sb.appendBuffer(buf);
      } catch (e) {
        return fallback(`the browser refused a chunk of the stream (${e.name})`);
      }
      return next();
    }
    if (L.index * L.meta.chunk >= L.size && L.ms.readyState === "open") {
      try {
        L.ms.endOfStream();
      } catch (e) {
        // already ended
      }
      return loaded();
    }
    next();
  }

  function dispose() {
    release();
    extra = "";
    noMSE = false;
    resumeAt = 0;
  }

  // The kernel's `meta` answer: choose the path (MSE or Blob) and start asking for chunks.
  function onMeta(msg) {
    if (L.meta) return;
    if (!link.mode) link.mode = "base64"; // the pong never came: binary messages are lost here
    const s = msg.stream;
    const mse = !!s && canMSE() && MediaSource.isTypeSupported(s.mime);
    if (msg.note) {
      extra = msg.note;
      showNote();
    }
    Object.assign(L, {
      meta: msg,
      src: mse ? "stream" : "file",
      size: mse ? s.size : msg.size,
      offset: 0, // the next offset to ask for
      pending: 0, // requests outstanding
      got: 0, // bytes received
      index: 0, // MSE: the next chunk to append
      last: 0, // MSE: the size of the chunk being appended
      queue: new Map(), // MSE: chunks received, not yet appended (index -> bytes)
      retried: new Set(), // offsets asked for again as base64 after their binary bytes were lost
    });
    if (L.size === 0) return fail("the video file is empty");
    if (mse) return stream(s);
    L.parts = new Array(Math.ceil(L.size / msg.chunk));
    return next();
  }

  // One chunk: its bytes are the message's buffer, or its `b64` text.
  function onChunk(msg, buffers) {
    const b64 = typeof msg.b64 === "string";
    const buf = b64 ? fromBase64(msg.b64) : bytesOf(buffers && buffers[0]);
    if (!buf || !buf.byteLength) {
      if (!b64 && !L.retried.has(msg.offset)) {
        // the probe said binary, yet these bytes were lost: from now on (and for this chunk) as text
        L.retried.add(msg.offset);
        link.mode = "base64";
        return askChunk(msg.offset);
      }
      return L.src === "stream"
        ? fallback("a chunk of the stream arrived without its bytes")
        : fail("a chunk of the video arrived without its bytes");
    }
    const i = Math.floor(msg.offset / L.meta.chunk);
    L.got += buf.byteLength;
    L.pending -= 1;
    if (L.src === "stream") {
      L.queue.set(i, buf);
      pump();
      return;
    }
    L.parts[i] = buf;
    const s = box.querySelector(".sk-loading");
    if (s) s.textContent = `loading ${Math.floor((100 * L.got) / L.size)}%`;
    if (L.got >= L.size) return finish();
    next();
  }

  // A message from the kernel; answers for another view or tile are ignored.
  function onMsg(msg, buffers) {
    if (!msg || (msg.view && msg.view !== view) || (msg.tile ?? -1) !== tile) return;
    if (msg.type === "load") return load(!!msg.autoplay);
    if (msg.type === "unload") {
      dispose();
      return draw();
    }
    if (!L) return;
    if (msg.src && msg.src !== L.src) return; // a late answer for a stream that was given up
    if (msg.type === "error") return L.src === "stream" ? fallback(msg.text) : fail(msg.text);
    if (msg.type === "meta") return onMeta(msg);
    if (msg.type === "chunk") return onChunk(msg, buffers);
  }

  return { box, note, draw, onMsg, dispose };
}
