"""The video player: a small poster that becomes a ``<video>`` when clicked.

The video's bytes are read from the cached file and sent over the widget comm (``ipywidgets.Video``),
so it plays in JupyterLab, Notebook 7, VS Code and Colab alike, whatever the server serves. They
are sent only when the user presses play: a gallery of twelve shows twelve small posters, not
twelve videos pushed through the websocket, and a notebook saved with widget state keeps only the
videos that were actually played. Loop is off, controls are on; nothing starts by itself (the
click on the poster is the play).
"""

from __future__ import annotations

import base64
import os
from typing import Any, Mapping, Optional

import ipywidgets as widgets

from ..media._store import is_url, try_local_copy
from . import _frontend
from ._base import StaticFallback, html, row_of, shared, style_widget, visible, with_class
from ._format import duration, esc, is_missing, model_at, size_text, truncate
from ._poster import Poster, data_uri, poster

__all__ = ["VideoPlayer", "player", "static_figure"]


def _file(row: Mapping[str, Any]) -> Optional[str]:
    """The row's video as recorded: a local path or a shared store URL (``s3://...``)."""
    fp = row.get("file_path")
    return None if is_missing(fp) else str(fp)


def _local(row: Mapping[str, Any]) -> Optional[str]:
    """The video as a file on this machine (a store URL is fetched into the read-through cache
    once, sha256 checked), or None."""
    return try_local_copy(_file(row))


def static_figure(row: Mapping[str, Any], *, width: int = 320, max_bytes: int = 24_000,
                  caption: Optional[str] = None, embed: bool = False) -> str:
    """HTML for exports: the poster as a data URI (or the whole video with ``embed=True``) + caption."""
    p = poster(row, max_width=width, max_bytes=max_bytes)
    cap = caption if caption is not None else esc(truncate(row.get("prompt"), 120))
    fp = _local(row) if embed else None
    if fp:
        data = base64.b64encode(open(fp, "rb").read()).decode("ascii")
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


class VideoPlayer(StaticFallback, widgets.VBox):
    """A poster with a play button; pressing it swaps in an ``ipywidgets.Video`` of the cached file.

    ``set_row`` only changes widget traits, so the engine's thread may call it.
    """

    def __init__(self, row: Optional[Mapping[str, Any]] = None, *, poster_width: int = 480,
                 poster_bytes: int = 40_000, embed: bool = False, preload: bool = False,
                 compact: bool = False, live: bool = True):
        self._row: dict = {}
        self._poster_width, self._poster_bytes = poster_width, poster_bytes
        self._embed = embed
        self.video: Optional[widgets.Video] = None
        """The ``ipywidgets.Video`` once the video was loaded (None before)."""
        self._img = widgets.Image(format="jpeg", layout=shared("full"))
        self.play_button = with_class(widgets.Button(description="▶", tooltip="Play", layout=shared("plain"),
                                                     style=shared("button")), "sk-play")
        self.play_button.on_click(lambda _b: self.load(autoplay=True))
        # Widgets the engine's thread may need later exist from the start when the job is live;
        # a finished job's player creates only what it shows (fewer models in saved widget state).
        self._placeholder: Optional[widgets.HTML] = html("", "sk-placeholder") if live else None
        self._note: Optional[widgets.HTML] = html("", "sk-note", "sk-hidden") if live else None
        self._stage = with_class(widgets.Box(children=[], layout=shared("full")), "sk-stage", "sk-empty")
        super().__init__(children=[self._stage], layout=shared("full"))
        if self._note is not None:
            self.children = (self._stage, self._note)
        self.add_class("sk-player")
        if not compact:
            self.add_class("sk-root")
            self.children = (style_widget(), *self.children)
        if row is not None:
            self.set_row(row)
            if preload:
                self.load(autoplay=False)

    def _placeholder_widget(self) -> widgets.HTML:
        if self._placeholder is None:
            self._placeholder = html("", "sk-placeholder")
        return self._placeholder

    def _say(self, text: str) -> None:
        if not text and self._note is None:
            return
        if self._note is None:
            self._note = html("", "sk-note")
            self.children = (*self.children, self._note)
        self._note.value = esc(text)
        visible(self._note, bool(text))

    # -- state ------------------------------------------------------------------------------
    @property
    def row(self) -> dict:
        return dict(self._row)

    @property
    def ready(self) -> bool:
        """True when a video file is there to play."""
        fp = _file(self._row)
        return bool(fp and (is_url(fp) or os.path.isfile(fp)))  # a store URL is fetched on play

    def set_row(self, row: Mapping[str, Any]) -> None:
        """Show what the row has: a placeholder while running, the poster once the file exists."""
        self._row = dict(row)
        if self.video is not None:
            return
        status = str(self._row.get("status") or "")
        p: Optional[Poster] = poster(self._row, max_width=self._poster_width, max_bytes=self._poster_bytes)
        if self.ready:
            self.play_button.tooltip = self._play_tooltip()
            if p is not None:
                self._img.format = p.format
                self._img.value = p.data
                self._stage.children = (self._img, self.play_button)
            else:
                ph = self._placeholder_widget()
                ph.value = '<span class="sk-faint">no poster</span>'
                self._stage.children = (ph, self.play_button)
            self._stage.remove_class("sk-empty")
        else:
            label = {"completed": "video file not in the cache", "failed": "no video",
                     "cancelled": "cancelled"}.get(status, "rendering…")
            ph = self._placeholder_widget()
            ph.value = f'<span class="sk-faint">{esc(label)}</span>'
            self._stage.children = (ph,)
            self._stage.add_class("sk-empty")
        self._say(_frontend.audio_note(self._row))

    def _play_tooltip(self) -> str:
        parts = ["Play", size_text(self._row.get("size"), self._row.get("width"), self._row.get("height")),
                 duration(self._row.get("seconds"))]
        return " · ".join(p for p in parts if p)

    # -- loading ----------------------------------------------------------------------------
    def load(self, autoplay: bool = False) -> Optional[widgets.Video]:
        """Read the cached file and show it in a ``<video>`` with controls (loop off).

        ``autoplay`` is only used for the click on the poster, which is itself the user's play.
        """
        if self.video is not None:
            return self.video
        fp = _local(self._row)
        if not fp:
            self._say(f"the video file is not in the cache and could not be fetched "
                      f"({_file(self._row) or 'no path'})")
            return None
        with open(fp, "rb") as fh:
            data = fh.read()
        self.video = widgets.Video(value=data, format=_frontend.video_format(fp), autoplay=autoplay,
                                   loop=False, controls=True, layout=shared("full"))
        self._stage.children = (self.video,)
        self._stage.remove_class("sk-empty")
        return self.video

    def unload(self) -> None:
        """Drop the video bytes (back to the poster): frees the front-end's memory."""
        if self.video is not None:
            video, self.video = self.video, None
            video.close()
            self.set_row(self._row)

    # -- static fallback --------------------------------------------------------------------
    def _static_html(self) -> str:
        return static_figure(self._row, embed=self._embed)

    def _static_text(self) -> str:
        fp = _file(self._row) or "no file yet"
        return f"<sorakit video {model_at(self._row)}: {truncate(self._row.get('prompt'), 60)!r} -> {fp}>"


def player(job: Any, *, embed: bool = False, preload: bool = False) -> VideoPlayer:
    """A player for a Job (or a ledger row): poster first, the video on play.

    ``embed=True`` also writes the whole video as base64 into the notebook's static fallback, so
    exports play it without a kernel (makes the .ipynb as big as the video). ``preload=True`` loads
    the video right away instead of on the first click.
    """
    row = row_of(job)
    return VideoPlayer(row, embed=embed, preload=preload, live=row.get("status") != "completed")
