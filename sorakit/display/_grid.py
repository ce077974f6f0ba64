"""A grid of video tiles as ONE anywidget: the gallery's and the comparison's widget.

A tile is not a widget: it is a dict in the grid's ``tiles`` list (poster data URI, label,
caption), so a 12-video gallery is one widget model (one comm) instead of ~11 per tile as a
composition of ipywidgets was (``bench/display.py`` prints both). Each tile follows its job live
(the engine's change callbacks, like a card) and plays through the grid's own comm: the view asks
for the tile's file in chunks (``Streamer``: a long MP4 streamed through MSE, other files as a
Blob), the bytes never enter the synced state.

Updates are coalesced: a running batch's progress changes push the ``tiles`` list at most every
``PUSH_INTERVAL`` seconds; a tile reaching its final state pushes at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional

import anywidget
import traitlets

from ._base import StaticFallback, shared
from ._text import progress_text, usual_text
from ._format import esc, is_missing, model_at
from ._live import Follower, ticker
from ._player import Streamer, _local, player_css, player_esm
from ._player import playable as playable_row
from ._poster import data_uri, poster
from ._rows import Item

__all__ = ["Tile", "TileGrid", "PUSH_INTERVAL"]

PUSH_INTERVAL = 0.25
"""Seconds between two pushes of the tiles while jobs run (final states go at once)."""


class Tile(Follower):
    """One job in a grid: its row, kept current from the engine's thread while the job runs."""

    def __init__(self, item: Item, on_change: Callable[["Tile", bool], None], *, caption: Callable[[dict], str],
                 poster_width: int = 320, poster_bytes: int = 12_000):
        self.job = item.job
        self.studio = item.studio
        self._row: dict = dict(item.row)
        self.job_id: str = str(self._row.get("job_id") or getattr(item.job, "id", ""))
        self._notify = on_change
        self._caption = caption
        self._poster_width, self._poster_bytes = poster_width, poster_bytes
        self._lock = threading.RLock()
        self._listening = False
        self._usual = ""
        """The model's usual latency ("usually ~48 s"), shown while the job waits without progress."""
        if not self.terminal:
            job = self.job
            if job is None and self.studio is not None and hasattr(self.studio, "job") and self.job_id:
                try:
                    job = self.studio.job(self.job_id)
                except Exception:  # a row the Studio cannot load: the tile still shows it
                    job = None
            self._usual = usual_text(job, brief=True)

    @property
    def row(self) -> dict:
        return dict(self._row)

    def _changed(self) -> None:
        self._notify(self, self.terminal)

    def tick(self) -> None:
        """Ticker thread: the elapsed time of a running job moves."""
        if self.terminal:
            ticker.discard(self)
        else:
            self._notify(self, False)

    # -- what the view shows ----------------------------------------------------------------------
    @property
    def path(self) -> Optional[str]:
        """The video as a local file (a store URL fetched into the read-through cache), or None."""
        return _local(self._row)

    def data(self) -> dict:
        """The tile's entry in the grid's synced ``tiles`` list."""
        r = self._row
        status = str(r.get("status") or "pending")
        playable = playable_row(r)  # a store URL is fetched on play, not to draw the grid
        p = (poster(r, max_width=self._poster_width, max_bytes=self._poster_bytes, fmt="webp")
             if playable else None)
        if playable:
            label = "" if p is not None else "no poster"
        elif status == "completed":
            label = "video file not in the cache"
        elif status == "failed":
            label = "failed" + (f" · {r.get('error_code')}" if not is_missing(r.get("error_code")) else "")
        elif status == "cancelled":
            label = "cancelled"
        else:
            label = progress_text(r, usual=self._usual) or "rendering…"
        caption = self._caption(r)
        if status == "failed" and not is_missing(r.get("error_message")):
            caption += f'<div class="sk-err">{esc(r.get("error_message"))}</div>'
        return {"poster": data_uri(p) if p is not None else "", "label": label, "playable": playable,
                "tip": f"Play · {model_at(r)}" if playable else "", "note": "", "caption": caption}


class TileGrid(StaticFallback, Streamer, anywidget.AnyWidget):
    """One widget showing ``cells`` (html and/or tiles) in a CSS grid of ``template`` columns."""

    _esm = traitlets.Unicode(player_esm()).tag(sync=True)
    _css = traitlets.Unicode(player_css()).tag(sync=True)
    _kind = traitlets.Unicode("grid").tag(sync=True)
    header = traitlets.Unicode("").tag(sync=True)
    template = traitlets.Unicode("repeat(4, minmax(0, 1fr))").tag(sync=True)
    cells = traitlets.List().tag(sync=True)
    """``[{"html": str, "tiles": [index, ...], "cls": str}, ...]`` in reading order."""
    tiles = traitlets.List().tag(sync=True)
    """``[{"poster", "label", "playable", "tip", "note", "caption"}, ...]``: one per tile."""

    def __init__(self, **kwargs: Any):
        super().__init__(layout=shared("full"), **kwargs)
        self.tile_list: list[Tile] = []
        self._push_lock = threading.Lock()
        self._last_push = 0.0
        self._timer: Optional[threading.Timer] = None
        self.on_msg(self._on_front_end)
        self.add_class("sk-gallery-grid")

    def _make_tiles(self, items: list[Item], caption: Callable[[dict], str], **poster: int) -> list[Tile]:
        tiles = [Tile(it, self._tile_changed, caption=caption, **poster) for it in items]
        self.tile_list.extend(tiles)
        return tiles

    def _start(self) -> None:
        """Push the first state and follow the running jobs."""
        self.push()
        for t in self.tile_list:
            t._listen()

    def push(self) -> None:
        """Send every tile's current data to the views now."""
        with self._push_lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._last_push = time.monotonic()
        self.tiles = [self._tile_data(t) for t in self.tile_list]
        self._render_header()

    def _tile_data(self, tile: Tile) -> dict:
        """One entry of the synced ``tiles`` list (a subclass may add fields)."""
        return tile.data()

    def _tile_changed(self, _tile: Tile, final: bool) -> None:
        """Engine or ticker thread: push now if final or quiet for a while, else soon."""
        with self._push_lock:
            wait = self._last_push + PUSH_INTERVAL - time.monotonic()
            if not final and wait > 0:
                if self._timer is None:
                    self._timer = threading.Timer(wait, self.push)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self.push()

    def _render_header(self) -> None:  # pragma: no cover - overridden
        pass

    def _path_for(self, content: dict) -> Optional[str]:
        i = content.get("tile")
        if not isinstance(i, int) or not 0 <= i < len(self.tile_list):
            return None
        return self.tile_list[i].path

    @property
    def loaded(self) -> bool:
        """True once a view fetched a video through this grid."""
        return self.chunks_sent > 0

    def close(self) -> None:
        for t in self.tile_list:
            t._stop()
        with self._push_lock:
            if self._timer is not None:
                self._timer.cancel()
        super().close()
