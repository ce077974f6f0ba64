"""The video player: a small poster that streams the video from the kernel when played.

The player is an anywidget (``player.js`` with ``stage.js``, shipped in the package: no CDN; see
``_esm``). Its synced state is small: a poster (a JPEG data URI at thumbnail size), a label, a
tooltip and a note. The video's bytes never enter the synced state, so a notebook saved with widget
state never grows with the videos played: on play, the view asks the kernel for the video in chunks
(custom messages with a binary buffer each, like HTTP range requests; base64 text in the message
where binary buffers do not arrive). Which front ends this was verified in is in the README's
front-end table. Loop is off, controls are on; nothing starts by itself (the click on the poster is
the play).

The protocol (``view`` and ``tile`` in every message route the answer to the asking stage):

``{type: "open", mse}`` (``mse``: the browser has ``MediaSource``)
    -> ``{type: "meta", size, mime, chunk, inflight, ahead, stall, [stream], [note]}``. ``stream`` =
    ``{size, mime, seconds}`` is offered when the file is an H.264(/AAC) MP4 of at least
    ``MSE_MIN_BYTES``: a fragmented copy made by :func:`sorakit.media.fragment` (a remux, cached),
    ``mime`` with its codecs (``video/mp4; codecs="avc1.64001f, mp4a.40.2"``). ``note`` says why
    it is not offered when the remux broke.
``{type: "chunk", offset, length, src, b64}`` (``src``: ``"stream"`` for the copy, ``"file"``)
    -> ``{type: "chunk", offset, src}`` + the bytes (at most ``CHUNK``) as its one binary buffer,
    or, with ``b64: true``, ``{type: "chunk", offset, src, b64: "<the bytes in base64>"}`` and no
    buffer; or ``{type: "error", text}``.
``{type: "ping"}`` (sent once by every view when it is rendered)
    -> ``{type: "pong", view, tile}`` + ``PROBE`` (four bytes) as its buffer.

Video without binary buffers: some widget managers drop the binary buffers of custom messages or
turn them into something else (Colab's: googlecolab/colab-cdn-widget-manager#33, "buffers not
supported?", open since 2023; the Colab VS Code extension parsed ArrayBuffers as JSON:
googlecolab/colab-vscode#328). A view learns which kind it is from the ``ping`` round trip: the
``PROBE`` bytes back mean binary chunks; a ``pong`` without them, or a ``meta`` before any ``pong``
(answers come in order, so the ``pong`` was dropped), mean base64 chunks in the JSON content (a
third more bytes on the wire, the same MSE and Blob paths after decoding). A binary chunk that
still arrives without its bytes switches the view to base64 and is asked for again.

The view keeps ``INFLIGHT`` requests outstanding. When ``MediaSource.isTypeSupported(mime)`` it
streams: chunks go to a ``SourceBuffer`` strictly in offset order (one append at a time, the next
on ``updateend``, ``endOfStream()`` after the last), so the video starts once its first fragments
are in, and requests pause while ``ahead`` seconds are buffered in front of the playhead (memory
stays bounded; no Blob copy is kept). Otherwise (no MSE, another codec or container, a small file,
``mse = False``) it assembles the file into a Blob and plays it once complete. A stream that fails
(the browser rejects a chunk, a chunk never comes within ``stall`` seconds, a decode error) is said
under the poster and replaced by the Blob path, which resumes at the same time, rather than left
hanging.

Measured by ``python bench/stream.py`` (JupyterLab on 127.0.0.1, headless Chromium, a 90 s 12 MB
H.264/AAC clip, medians of 5 clicks): click to first frame 0.18 s streamed vs 0.83 s through the
Blob (which has all bytes at 0.74 s; the stream without its read-ahead limit at 0.95 s); the first
streamed click, which also remuxes the file, 0.43 s. With ``--seconds 300`` (40 MB, 3 clicks):
0.34 s vs 2.37 s. The Blob path's wait grows with the file (and with a slower link than
loopback), the stream's does not.

anywidget's custom messages: ``model.send(content)`` in the front end reaches ``on_msg`` here;
``self.send(content, buffers)`` reaches ``model.on("msg:custom", (content, buffers) => ...)``
(https://anywidget.dev/en/jupyter-widgets-the-good-parts/ and anywidget/widget.py). Media Source
Extensions: https://www.w3.org/TR/media-source-2/ (``appendBuffer``, ``updateend``,
``endOfStream``, ``isTypeSupported``).
"""

from __future__ import annotations

import base64
import os
from typing import Any, Mapping, Optional

import anywidget
import traitlets

from ..media._fragment import Fragment, NotFragmentable, fragment
from ..media._store import is_url, try_local_copy
from . import _frontend
from ._base import StaticFallback, row_of, shared
from ._esm import css, esm
from ._format import duration, esc, is_missing, model_at, size_text, truncate
from ._poster import Poster, data_uri, poster

__all__ = ["VideoPlayer", "Streamer", "CHUNK", "INFLIGHT", "PROBE", "MSE_MIN_BYTES", "AHEAD_SECONDS", "STALL_SECONDS", "player", "static_figure", "player_esm", "player_css"]

CHUNK = 512 * 1024
"""Bytes per chunk message: small enough that the websocket never carries one huge frame."""
INFLIGHT = 4
"""Chunk requests a view keeps outstanding (pipelining, so latency does not add up per chunk)."""
MSE_MIN_BYTES = INFLIGHT * CHUNK
"""Smaller files take the Blob path: the view's first round of requests already covers the whole
file, so a fragmented copy could not start it any sooner (it would only cost a remux and disk)."""
AHEAD_SECONDS = 30
"""While streaming, a view stops asking for chunks once this many seconds are buffered ahead of the
playhead (memory stays bounded for a long clip; it asks again as the video plays)."""
STALL_SECONDS = 20
"""A view that waited this long for an outstanding chunk gives up: a stream falls back to the Blob
path, the Blob path says the kernel stopped sending."""
PROBE = bytes([0, 255, 115, 107])
"""The buffer of the ``pong`` answer: a view that gets these four bytes back knows binary buffers
reach it (``PROBE`` in ``stage.js``; a 0 and a 255 so that a text or JSON mangling cannot pass)."""


def _file(row: Mapping[str, Any]) -> Optional[str]:
    """The row's video as recorded: a local path or a shared store URL (``s3://...``)."""
    fp = row.get("file_path")
    return None if is_missing(fp) else str(fp)


def _local(row: Mapping[str, Any]) -> Optional[str]:
    """The video as a file on this machine (a store URL is fetched into the read-through cache
    once, sha256 checked), or None."""
    return try_local_copy(_file(row))


def playable(row: Mapping[str, Any]) -> bool:
    """True when the row's video can be played: a local file, or a store URL (fetched on play)."""
    fp = _file(row)
    return bool(fp and (is_url(fp) or os.path.isfile(fp)))


def player_esm() -> str:
    """The ES module of the player and the tile grid (``stage.js``, ``player.js``, ``main.js``
    assembled by ``_esm``): every player model saves a copy of it in a notebook's widget state."""
    return esm("player")


def player_css() -> str:
    return css("player")


def static_figure(row: Mapping[str, Any], *, width: int = 320, max_bytes: int = 24_000,
                  caption: Optional[str] = None, embed: bool = False) -> str:
    """HTML for exports: the poster as a data URI (or the whole video with ``embed=True``) + caption."""
    p = poster(row, max_width=width, max_bytes=max_bytes)
    cap = caption if caption is not None else esc(truncate(row.get("prompt"), 120))
    fp = _local(row) if embed else None
    if fp:
        with open(fp, "rb") as fh:
            data = base64.b64encode(fh.read()).decode("ascii")
        fmt = _frontend.video_format(fp)
        attrs = f' poster="{data_uri(p)}"' if p else ""
        media = (f'<video controls preload="metadata" width="{width}"{attrs} '
                 f'src="data:video/{fmt};base64,{data}"></video>')
    elif p is not None:
        size = (f'width="{min(width, p.width)}"' if p.width >= p.height  # portrait: fit the same box
                else f'height="{min(width, p.height)}"')
        media = (f'<img src="{data_uri(p)}" {size} '
                 f'alt="{esc(truncate(row.get("prompt"), 80))}" style="border-radius:6px;display:block"/>')
    else:
        media = (f'<div style="width:{width}px;height:{width * 9 // 16}px;background:#101418;color:#9aa4ae;'
                 f'display:flex;align-items:center;justify-content:center;border-radius:6px;font:12px sans-serif">'
                 f'{esc(row.get("status") or "no video")}</div>')
    return (f'<figure style="margin:4px 0;display:inline-block;vertical-align:top;max-width:{width}px">{media}'
            f'<figcaption style="font:12px/1.35 sans-serif;color:#57606a;margin-top:4px">{cap}</figcaption></figure>')


class Streamer:
    """Mixin for an anywidget that streams cached video files to its views on request.

    Subclasses implement ``_path_for(content)``: the file a view's message is about (or None).
    ``bytes_sent`` and ``chunks_sent`` count what went over the comm (``b64_chunks_sent``: as
    base64). ``mse = False`` (or ``SORAKIT_MSE=0`` in the kernel's environment) never offers the
    fragmented copy: every view then takes the Blob path.
    """

    bytes_sent = 0
    chunks_sent = 0
    b64_chunks_sent = 0
    """Of ``chunks_sent``, those sent as base64 text (views whose binary buffers do not arrive)."""
    mse = os.environ.get("SORAKIT_MSE", "1").strip() not in ("0", "false", "no", "off")
    ahead = AHEAD_SECONDS
    """Seconds a streaming view buffers ahead of the playhead before it pauses its requests (0: no limit)."""
    stall = STALL_SECONDS
    """Seconds a view waits for an outstanding chunk before it gives up (the stream for the Blob path)."""

    def _path_for(self, content: dict) -> Optional[str]:  # pragma: no cover - overridden
        return None

    def _fragment(self, fp: str) -> Optional[Fragment]:
        """The fragmented copy of ``fp`` made for this widget's views (None if there is none)."""
        return getattr(self, "_fragments", {}).get(fp)

    def _offer(self, fp: str, size: int) -> tuple[Optional[Fragment], str]:
        """The fragmented copy to offer a view that can play MSE, and a note when making it failed."""
        if not self.mse or size < MSE_MIN_BYTES:
            return None, ""
        try:
            frag = fragment(fp)
        except NotFragmentable as e:  # webm, HEVC, ...: the Blob path; a broken file/remux: say so
            return None, (f"streaming unavailable ({e.reason}); loading the whole file" if e.broken else "")
        if not hasattr(self, "_fragments"):
            self._fragments: dict[str, Fragment] = {}
        self._fragments[fp] = frag
        return frag, ""

    def _on_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """A view's request: ``ping`` (the transport probe), ``open`` (size and type) or ``chunk``
        (``offset``, ``length``, ``src``, ``b64``)."""
        if not isinstance(content, dict) or content.get("type") not in ("ping", "open", "chunk"):
            return
        reply = {"view": str(content.get("view", "")), "tile": content.get("tile", -1)}
        if content["type"] == "ping":
            self.send({"type": "pong", **reply}, [PROBE])  # type: ignore[attr-defined]
            return
        fp = self._path_for(content)
        if not fp or not os.path.isfile(fp):
            self.send({"type": "error", **reply,  # type: ignore[attr-defined]
                       "text": "the video file is not in the cache and could not be fetched"})
            return
        if content["type"] == "open":
            size = os.path.getsize(fp)
            meta = {"type": "meta", **reply, "size": size, "chunk": CHUNK, "inflight": INFLIGHT,
                    "ahead": self.ahead, "stall": self.stall, "mime": f"video/{_frontend.video_format(fp)}"}
            frag, note = self._offer(fp, size) if content.get("mse") else (None, "")
            if frag is not None:
                meta["stream"] = {"size": frag.bytes, "mime": frag.mime, "seconds": frag.seconds}
            if note:
                meta["note"] = note
            self.send(meta)  # type: ignore[attr-defined]
            return
        offset, length, src = content.get("offset"), content.get("length"), content.get("src", "file")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0 \
                or src not in ("file", "stream"):
            self.send({"type": "error", **reply,  # type: ignore[attr-defined]
                       "text": f"bad chunk request offset={offset!r} length={length!r} src={src!r}"})
            return
        if src == "stream":
            frag = self._fragment(fp)
            if frag is None or not frag.path.is_file():
                frag, _ = self._offer(fp, os.path.getsize(fp))
            if frag is None:
                self.send({"type": "error", **reply, "src": src,  # type: ignore[attr-defined]
                           "text": "the streamable copy of the video is gone"})
                return
            fp = str(frag.path)
        with open(fp, "rb") as fh:
            fh.seek(offset)
            data = fh.read(min(length, CHUNK))
        self.bytes_sent += len(data)
        self.chunks_sent += 1
        if content.get("b64") is True:  # a front end that loses binary buffers: the bytes as JSON text
            self.b64_chunks_sent += 1
            self.send({"type": "chunk", **reply, "offset": offset, "src": src,  # type: ignore[attr-defined]
                       "b64": base64.b64encode(data).decode("ascii")})
            return
        self.send({"type": "chunk", **reply, "offset": offset, "src": src}, [data])  # type: ignore[attr-defined]


class VideoPlayer(StaticFallback, Streamer, anywidget.AnyWidget):
    """A poster with a play button; pressing it streams the cached file to the front end.

    ``set_row`` only changes traits, so the engine's thread may call it. ``bytes_sent`` and
    ``chunks_sent`` count what went over the comm (nothing before the first play).
    """

    _esm = traitlets.Unicode(player_esm()).tag(sync=True)
    _css = traitlets.Unicode(player_css()).tag(sync=True)
    _kind = traitlets.Unicode("player").tag(sync=True)
    """Which view of the module renders this model (``main.js``)."""
    poster = traitlets.Unicode("").tag(sync=True)
    """The poster as a ``data:image/jpeg;base64,...`` URI ('' while there is none)."""
    label = traitlets.Unicode("").tag(sync=True)
    playable = traitlets.Bool(False).tag(sync=True)
    tip = traitlets.Unicode("").tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    def __init__(self, row: Optional[Mapping[str, Any]] = None, *, poster_width: int = 480,
                 poster_bytes: int = 40_000, embed: bool = False, preload: bool = False):
        super().__init__(layout=shared("full"))  # a shared Layout model, not one per player
        self._row: dict = {}
        self._poster_width, self._poster_bytes = poster_width, poster_bytes
        self._embed = embed
        self.add_class("sk-player")
        self.on_msg(self._on_front_end)
        if row is not None:
            self.set_row(row)
            if preload:
                self.load(autoplay=False)

    # -- state ------------------------------------------------------------------------------
    @property
    def row(self) -> dict:
        return dict(self._row)

    @property
    def ready(self) -> bool:
        """True when a video file is there to play."""
        return playable(self._row)

    @property
    def loaded(self) -> bool:
        """True once a front end fetched the whole video at least once."""
        return self.chunks_sent > 0

    def set_row(self, row: Mapping[str, Any]) -> None:
        """Show what the row has: a placeholder while running, the poster once the file exists."""
        self._row = dict(row)
        status = str(self._row.get("status") or "")
        ready = self.ready
        p: Optional[Poster] = (poster(self._row, max_width=self._poster_width,
                                      max_bytes=self._poster_bytes, fmt="webp")
                               if ready else None)
        uri = data_uri(p) if p is not None else ""
        if uri != self.poster:
            self.poster = uri
        if ready:
            label = "" if p is not None else "no poster"
        else:
            label = {"completed": "video file not in the cache", "failed": "no video",
                     "cancelled": "cancelled"}.get(status, "rendering…")
        self.label = label
        self.tip = self._play_tooltip() if ready else ""
        self.playable = ready
        self.note = _frontend.audio_note(self._row)

    def _play_tooltip(self) -> str:
        parts = ["Play", size_text(self._row.get("size"), self._row.get("width"), self._row.get("height")),
                 duration(self._row.get("seconds"))]
        return " · ".join(p for p in parts if p)

    # -- streaming --------------------------------------------------------------------------
    def load(self, autoplay: bool = False) -> bool:
        """Ask every open view to fetch the video and show it (``autoplay`` for a user's play).

        Returns False (and says why under the poster) when the file is not in the cache.
        """
        if not self.ready:
            self.note = f"the video file is not in the cache ({_file(self._row) or 'no path'})"
            return False
        self.send({"type": "load", "autoplay": bool(autoplay)})
        return True

    def unload(self) -> None:
        """Every view drops its video (back to the poster) and frees its memory."""
        self.send({"type": "unload"})

    def _path_for(self, content: dict) -> Optional[str]:
        return _local(self._row)

    # -- static fallback --------------------------------------------------------------------
    def _static_html(self) -> str:
        return static_figure(self._row, embed=self._embed)

    def _static_text(self) -> str:
        fp = _file(self._row) or "no file yet"
        return f"<sorakit video {model_at(self._row)}: {truncate(self._row.get('prompt'), 60)!r} -> {fp}>"


def player(job: Any, *, embed: bool = False, preload: bool = False) -> VideoPlayer:
    """A player for a Job (or a ledger row): poster first, the video streamed on play.

    ``embed=True`` also writes the whole video as base64 into the notebook's static fallback, so
    exports play it without a kernel (makes the .ipynb as big as the video). ``preload=True`` asks
    the view to fetch the video as soon as it is shown instead of on the first click.
    """
    row = row_of(job)
    return VideoPlayer(row, embed=embed, preload=preload)
