// sorakit's video player (anywidget ESM; no imports, no CDN).
// Synced state is small: a poster data URI, a label, a tooltip, a note. The video's bytes never
// enter the state: on play the view asks the kernel for the file in chunks (custom messages with
// binary buffers), a few in flight at a time, and plays the assembled Blob.
function el_(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text) e.textContent = text;
  return e;
}

function render({ model, el }) {
  const view = Math.random().toString(36).slice(2);
  const stage = el_("div", "sk-stage");
  const note = el_("div", "sk-note");
  el.classList.add("sk-player-view");
  el.append(stage, note);
  let url = null, video = null, loading = null, size = 0, parts = [], got = 0;

  function draw() {
    note.textContent = model.get("note") || "";
    note.hidden = !note.textContent;
    if (video || loading) return;
    stage.replaceChildren();
    const playable = model.get("playable");
    stage.classList.toggle("sk-empty", !playable);
    const poster = model.get("poster");
    if (poster) {
      const img = el_("img", "sk-poster");
      img.src = poster;
      img.alt = model.get("tip") || "poster";
      stage.append(img);
    } else {
      stage.append(el_("div", "sk-placeholder", model.get("label") || ""));
    }
    if (playable) {
      const b = el_("button", "sk-play", "\u25B6");
      b.title = model.get("tip") || "Play";
      b.onclick = () => load(true);
      stage.append(b);
    }
  }

  function ask(content) { model.send({ ...content, view }); }

  function load(autoplay) {
    if (video || loading) return;
    loading = { autoplay };
    stage.replaceChildren(el_("div", "sk-placeholder sk-loading", "loading\u2026"));
    ask({ type: "open" });
  }

  function fail(text) {
    loading = null;
    draw();
    note.textContent = text;
    note.hidden = false;
  }

  function next(meta) {  // keep `inflight` chunk requests outstanding until the file is covered
    while (loading && loading.offset < size && loading.pending < meta.inflight) {
      ask({ type: "chunk", offset: loading.offset, length: meta.chunk });
      loading.offset += meta.chunk;
      loading.pending += 1;
    }
  }

  function finish(mime) {
    const blob = new Blob(parts, { type: mime });
    parts = [];
    url = URL.createObjectURL(blob);
    video = el_("video", "sk-video");
    video.controls = true;
    video.loop = false;
    video.playsInline = true;
    video.src = url;
    const autoplay = loading.autoplay;
    loading = null;
    stage.replaceChildren(video);
    stage.classList.remove("sk-empty");
    if (autoplay) video.play().catch(() => {});
  }

  function unload() {
    if (url) URL.revokeObjectURL(url);
    url = null; video = null; loading = null; parts = [];
    draw();
  }

  function onMsg(msg, buffers) {
    if (!msg || (msg.view && msg.view !== view)) return;
    if (msg.type === "load") return load(!!msg.autoplay);
    if (msg.type === "unload") return unload();
    if (!loading) return;
    if (msg.type === "error") return fail(msg.text);
    if (msg.type === "meta") {
      size = msg.size; got = 0;
      parts = new Array(Math.ceil(size / msg.chunk));
      loading.meta = msg; loading.offset = 0; loading.pending = 0;
      if (size === 0) return fail("the video file is empty");
      return next(msg);
    }
    if (msg.type === "chunk") {
      const meta = loading.meta;
      const buf = buffers && buffers[0];
      if (!buf) return fail("a chunk of the video arrived without its bytes");
      parts[Math.floor(msg.offset / meta.chunk)] = buf;
      got += buf.byteLength;
      loading.pending -= 1;
      const s = stage.querySelector(".sk-loading");
      if (s) s.textContent = `loading ${Math.floor(100 * got / size)}%`;
      if (got >= size) return finish(meta.mime);
      next(meta);
    }
  }

  model.on("msg:custom", onMsg);
  model.on("change", draw);
  draw();
  return () => {
    model.off("msg:custom", onMsg);
    model.off("change", draw);
    if (url) URL.revokeObjectURL(url);
  };
}

export default { render };
