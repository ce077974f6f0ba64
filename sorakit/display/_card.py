"""Job cards as ONE anywidget: status, progress with elapsed time and ETA, Cancel, how the job ended,
its cost and seed, the video (streamed on play), rating, tags, a note and a remix.

``JobCards`` is a list of job cards in one widget model (kind ``"card"``: ``card.js`` after
``stage.js``); `JobCard` is the card of one job (what ``job`` as a cell's last line shows, and
``show_job``); the request form (``RequestForm``) is a ``JobCards`` too, with its panel above the
list, so the cards under the form are the same cards in JupyterLab, Notebook 7, VS Code, Colab and
marimo. A card is not a widget: it is a dict in the synced ``tiles`` list (``_card_data``), built
from the job's ledger row by plain functions (``_text``); the page only renders it and reports
clicks as custom messages (``cancel``, ``rate``, ``tag``, ``note``, ``remix``, and ``poll``: while
a job runs the page asks for its state every ``poll_ms``, for front ends whose comm drops sends
from the engine's thread). Each card follows its job from the engine's thread (a ``Tile``) and
stops listening once the job is terminal; the elapsed time moves once a second (the ticker).
The video streams through the widget's comm on play (``Streamer``), never through synced state.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Optional

import traitlets
from IPython.display import display

from .._types import NOT_CANCELLED, TERMINAL
from ..ledger._rowcodec import seed_used
from . import _frontend
from ._base import as_jobs, catalog_of, error_text, offer_of, row_of, studio_of
from ._esm import css, esm
from ._format import (STATUS_LABELS, clock, duration, esc, is_missing, local_time, model_at, money, short_id,
                      size_text, tags_of, truncate)
from ._grid import Tile, TileGrid
from ._live import LiveDisplay, mark_live, shown_live
from ._player import static_figure
from ._rows import Item
from ._text import (_elapsed, cancel_words, check_text, outcome, outcome_text, plain_reason, progress_text,
                    stopped_waiting, usual_text)

__all__ = ["JobCards", "JobCard", "show_job", "show_progress", "job_card", "POLL_MS", "plain_reason",
           "progress_text"]

POLL_MS = 1000
"""How often (ms) a view asks for its running jobs' state while any is running."""


def _specs(r: Mapping[str, Any]) -> str:
    parts = [size_text(r.get("size"), r.get("width"), r.get("height")),
             duration(r.get("seconds")) if not is_missing(r.get("seconds")) else "",
             str(r.get("action")) if r.get("action") not in (None, "generate") else ""]
    return " · ".join(p for p in parts if p)


def meta_items(r: Mapping[str, Any]) -> list[str]:
    """The card's facts line: estimate, what was billed, the seed used, how long it took, when,
    then the clip checks and your scorers (once they ran)."""
    items = [f"estimated {money(r.get('estimated_cost'))}"]
    billed = r.get("billed_cost")
    if not is_missing(billed):
        items.append(f"billed {money(billed)}" + (" (emulated: not charged)" if r.get("emulated") is True else ""))
    elif r.get("status") in TERMINAL:
        items.append("billed not reported")
    seed = seed_used(r)  # the one that made the video: the provider's, else the one asked for
    if seed is not None:
        items.append(f"seed\u00a0{seed}")  # never "seed" at a line end, its number below
    elif r.get("status") == "completed":
        items.append("seed not reported")
    el = _elapsed(r)
    if r.get("status") in TERMINAL and el is not None:
        items.append(f"took {clock(el)}")
    if not is_missing(r.get("created_at")):
        same_day = local_time(r.get("created_at"), "%Y-%m-%d") == local_time(time.time(), "%Y-%m-%d")
        items.append(local_time(r.get("created_at"), "%H:%M" if same_day else "%Y-%m-%d %H:%M"))
    checked = check_text(r)
    if checked:
        items.append(checked)
    return items


class JobCards(TileGrid):
    """Job cards in one widget model, newest first when ``newest_first``.

    Args:
        studio: the Studio (for a card built from a ledger row, and for remixes).
        on_new_job: called with each Job a card starts (a remix), e.g. by the form.
        on_terminal: called with the final row of each job when it is done, failed or cancelled.
        on_edit: called with the row after a rating, tag or note was written.
    """

    _esm = traitlets.Unicode(esm("card")).tag(sync=True)
    _css = traitlets.Unicode(css("card")).tag(sync=True)
    _kind = traitlets.Unicode("card").tag(sync=True)
    poll_ms = traitlets.Int(POLL_MS).tag(sync=True)
    """While a job runs, the page asks for its state this often (ms)."""
    newest_first = traitlets.Bool(False).tag(sync=True)

    def __init__(self, *, studio: Any = None, on_new_job: Optional[Callable[[Any], None]] = None,
                 on_terminal: Optional[Callable[[dict], None]] = None,
                 on_edit: Optional[Callable[[dict], None]] = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.studio = studio
        self.catalog = catalog_of(studio)
        self.polls = 0
        """Poll messages answered (the page's second path for live updates)."""
        self._on_new_job = on_new_job
        self._on_terminal = on_terminal
        self._on_edit = on_edit
        self._said: dict[str, tuple[str, str]] = {}  # job id -> what its Cancel (or an edit) did
        self._cancel_words: dict[str, tuple[Any, tuple[str, str]]] = {}  # job id -> (provider job id, words)
        self._usual: dict[str, str] = {}
        self._ended: set[str] = set()  # jobs whose on_terminal was called
        self.add_class("sk-cards")

    # -- the cards ------------------------------------------------------------------------------
    def add_jobs(self, jobs: list[Any]) -> list[Tile]:
        """Add a card per Job (or ledger row), push, and follow the running ones."""
        items = []
        for j in jobs:
            job = None if isinstance(j, Mapping) else j
            items.append(Item(row_of(j), job, self.studio if self.studio is not None else studio_of(j)))
            if job is not None and not getattr(job, "done", False):
                self._usual[str(getattr(job, "id", ""))] = usual_text(job)
        tiles = self._make_tiles(items, lambda _r: "", poster_width=640, poster_bytes=40_000)
        for t in tiles:
            if not t.terminal and t.job_id not in self._usual:
                self._usual[t.job_id] = usual_text(self._job(t))
        self.push()
        for t in tiles:
            t._listen()
        return tiles

    def _job(self, tile: Tile) -> Any:
        """The tile's Job (the Studio's public handle), or None."""
        if tile.job is not None:
            return tile.job
        studio = tile.studio if tile.studio is not None else self.studio
        if studio is not None and hasattr(studio, "job") and tile.job_id:
            try:
                return studio.job(tile.job_id)
            except Exception:  # a row the Studio cannot load: the card still shows it
                return None
        return None

    def _tile(self, which: Any) -> Optional[Tile]:
        if isinstance(which, int) and not isinstance(which, bool):
            return self.tile_list[which] if 0 <= which < len(self.tile_list) else None
        key = str(getattr(which, "id", which))
        return next((t for t in self.tile_list if t.job_id == key), None)

    def _tile_data(self, tile: Tile) -> dict:
        return self._card_data(tile)

    def _card_data(self, tile: Tile) -> dict:
        """One card's entry of the synced ``tiles`` list: what the page shows, as plain text."""
        r = tile.row
        status = str(r.get("status") or "pending")
        data = tile.data()
        p = r.get("progress")
        kind, said = self._said.get(tile.job_id, ("", ""))
        refused = stopped_waiting(r)
        running = not tile.terminal and status != "completed" and not refused
        ended = outcome_text(r)  # plain text: the page sets it as textContent
        okind, head, code, detail = outcome(r)
        label, tip = self._words(tile)
        offer = offer_of(self.catalog, r.get("model"), r.get("provider"))
        rating = r.get("rating")
        data.update(
            id=tile.job_id, short=short_id(tile.job_id), title=model_at(r), status=status, specs=_specs(r),
            prompt=str(r.get("prompt") or ""), active=running, emulated=r.get("emulated") is True,
            progress=None if is_missing(p) else max(0, min(100, int(p))),
            text=progress_text(r, usual=self._usual.get(tile.job_id, "")) if running else "",
            cancellable=running and status != "downloading" and r.get("error_code") != NOT_CANCELLED,
            cancel_label=label, cancel_tip=tip,
            shown_status="not_cancelled" if refused else status,
            chip=list(STATUS_LABELS.get("not_cancelled" if refused else status, (status, "grey"))),
            said={"kind": kind, "text": said} if said else {},
            cancelled=ended if status != "failed" else "",
            failed=ended if status == "failed" else "",
            outcome=[okind, head, code, detail] if okind else [],
            meta=meta_items(r) if status in TERMINAL or status == "completed" else [],
            rating=0 if is_missing(rating) else int(rating), tags=list(tags_of(r.get("tags"))),
            notes="" if is_missing(r.get("notes")) else str(r.get("notes")),
            remixable=bool(status == "completed" and offer is not None and "remix" in offer.capabilities
                           and (tile.studio or self.studio) is not None),
            note=_frontend.audio_note(r) if data["playable"] else "", caption="")
        return data

    def _words(self, tile: Tile) -> tuple[str, str]:
        """The Cancel button's words for this job (chosen again once it is sent)."""
        pjid = tile.row.get("provider_job_id")
        known = self._cancel_words.get(tile.job_id)
        if known is None or known[0] != pjid:
            known = self._cancel_words[tile.job_id] = (pjid, cancel_words(self._job(tile)))
        return known[1]

    coalesce = True
    """Push a running job's changes at most every ``PUSH_INTERVAL`` (a long list); False: at once."""

    def _tile_changed(self, tile: Tile, final: bool) -> None:
        super()._tile_changed(tile, final or not self.coalesce)
        if final and tile.job_id not in self._ended:
            self._ended.add(tile.job_id)
            if self._on_terminal is not None:
                self._on_terminal(tile.row)

    # -- what a user does on a card ---------------------------------------------------------------
    def cancel(self, which: Any = 0) -> Any:
        """Cancel a listed job (its index, its id or the Job) through ``job.cancel()``; its card says
        what happened (cancelled, billed or not, or why the provider cannot stop it: sorakit stops
        waiting, the job stays in the ledger). Returns the `CancelResult` (None if it failed)."""
        tile = self._tile(which)
        if tile is None:
            return None
        result = None
        job = self._job(tile)
        if job is None or not hasattr(job, "cancel"):
            self._said[tile.job_id] = ("warn", "This card has no Studio to cancel through.")
        else:
            try:
                result = job.cancel()
            except Exception as exc:
                self._said[tile.job_id] = ("error", error_text(exc))
        fresh = tile._fresh_row()
        if fresh:
            tile._apply(fresh)
        if result is not None:
            if outcome_text(tile.row):  # the job's own box says it: no second one
                self._said.pop(tile.job_id, None)
            else:
                self._said[tile.job_id] = ("ok" if result.cancelled else "warn",
                                           ("Cancelled: " if result.cancelled else "Not cancelled: ")
                                           + plain_reason(result.reason))
        self.push()
        return result

    def play(self, which: Any = 0) -> bool:
        """Ask every open view to fetch a listed job's video and play it (as a click on its poster).
        Returns False when the video is not there to play."""
        tile = self._tile(which)
        if tile is None or not self._card_data(tile)["playable"]:
            return False
        self.send({"type": "load", "autoplay": True, "tile": self.tile_list.index(tile)})
        return True

    def _edit(self, tile: Tile, name: str, *args: Any, **fallback: Any) -> bool:
        """Write a rating, tags or a note to the ledger now (the Job's method, else the ledger's)."""
        method = getattr(tile.job, name, None) if tile.job is not None else None
        try:
            if method is not None:
                method(*args)
            else:
                studio = tile.studio if tile.studio is not None else self.studio
                getattr(getattr(studio, "ledger", None), name)(tile.job_id, *args)
        except Exception as exc:
            self._said[tile.job_id] = ("error", error_text(exc))
            self.push()
            return False
        self._said.pop(tile.job_id, None)
        fresh = tile._fresh_row()
        tile._row.update(fresh if fresh else fallback)
        self.push()
        if self._on_edit is not None:
            self._on_edit(tile.row)
        return True

    def rate_job(self, which: Any, n: int) -> bool:
        """Write a 1–5 rating of a listed job to the ledger now."""
        tile = self._tile(which)
        return tile is not None and self._edit(tile, "rate", int(n), rating=int(n))

    def tag_job(self, which: Any, *tags: str) -> bool:
        """Add tags to a listed job in the ledger now (``"a, b"`` is two tags)."""
        tile = self._tile(which)
        tags = tuple(t.strip() for text in tags for t in str(text).split(",") if t.strip())
        if tile is None or not tags:
            return False
        return self._edit(tile, "tag", *tags, tags=tuple(dict.fromkeys(tags_of(tile.row.get("tags")) + tags)))

    def note_job(self, which: Any, text: str) -> bool:
        """Save the note of a listed job in the ledger now."""
        tile = self._tile(which)
        return tile is not None and self._edit(tile, "note", str(text), notes=str(text))

    def remix_job(self, which: Any, prompt: str) -> Any:
        """Start a remix of a listed job (returns at once); its card joins the list."""
        tile = self._tile(which)
        if tile is None:
            return None
        prompt = (prompt or "").strip()
        if not prompt:
            self._said[tile.job_id] = ("warn", "Describe the change you want in the remix box first.")
            self.push()
            return None
        try:
            job = tile.job
            if job is not None and hasattr(job, "remix"):
                new = job.remix(prompt, wait=False, progress=False)
            else:
                studio = tile.studio if tile.studio is not None else self.studio
                new = studio.remix(tile.job_id, prompt, wait=False, progress=False)
        except Exception as exc:
            self._said[tile.job_id] = ("error", error_text(exc))
            self.push()
            return None
        self._said.pop(tile.job_id, None)
        jobs = as_jobs(new)
        self.add_jobs(jobs)
        for j in jobs:
            if self._on_new_job is not None:
                self._on_new_job(j)
        return new

    # -- messages from the page -------------------------------------------------------------------
    def _on_front_end(self, widget: Any, content: Any, buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        tile = content.get("tile") if isinstance(content, dict) else None
        if kind == "cancel":
            self.cancel(tile)
        elif kind == "rate":
            self.rate_job(tile, content.get("n") or 0)
        elif kind == "tag":
            self.tag_job(tile, str(content.get("text") or ""))
        elif kind == "note":
            self.note_job(tile, str(content.get("text") or ""))
        elif kind == "remix":
            self.remix_job(tile, str(content.get("prompt") or ""))
        elif kind == "poll":
            self._answer_poll(content)
        else:
            super()._on_front_end(widget, content, buffers)

    def _poll_extra(self) -> dict:
        return {}

    def _answer_poll(self, content: dict) -> None:
        """The page's running jobs (``tiles``: their indexes) as they are now."""
        self.polls += 1
        asked = [i for i in content.get("tiles") or () if isinstance(i, int) and 0 <= i < len(self.tile_list)]
        self.send({"type": "jobs", "view": str(content.get("view", "")),
                   "tiles": {str(i): self._tile_data(self.tile_list[i]) for i in asked}, **self._poll_extra()})

    # -- static fallback ----------------------------------------------------------------------------
    def _static_html(self) -> str:
        return "".join(_static_card(t.row) for t in self.tile_list)

    def _static_text(self) -> str:
        return "\n".join(_static_line(t.row) for t in self.tile_list)


def _static_card(r: Mapping[str, Any], embed: bool = False) -> str:
    status = str(r.get("status") or "")
    cap = (f"<b>{esc(model_at(r))}</b> · {esc(_specs(r))} · {esc(status)}<br/>"
           f"{esc(truncate(r.get('prompt'), 160))}")
    if status == "failed":
        cap += f"<br/><span style='color:#c4242f'>{esc(r.get('error_code') or '')}: {esc(r.get('error_message') or '')}</span>"
    elif status == "completed" and check_text(r):
        cap += f"<br/>{esc(check_text(r))}"
    elif status != "completed":
        cap += f"<br/><i>was {esc(status)} when this output was saved</i>"
    return static_figure(r, width=320, max_bytes=24_000, caption=cap, embed=embed)


def _static_line(r: Mapping[str, Any]) -> str:
    return (f"<sorakit job {r.get('job_id')} {r.get('status')} {model_at(r)} "
            f"{truncate(r.get('prompt'), 50)!r} estimated={money(r.get('estimated_cost'))} "
            f"file={r.get('file_path') or '-'}>")


class JobCard(JobCards):
    """The card of one job (and of the remixes started from it, below it).

    Args:
        job: a sorakit ``Job`` (or a ledger row mapping together with ``studio``).
        studio: the Studio (taken from the job when omitted).
        embed: the saved ``text/html`` fallback carries the whole video (base64), not only a poster.
        on_new_job, on_terminal, on_edit: see `JobCards`.
    """

    coalesce = False  # one job: each change is shown at once

    def __init__(self, job: Any, *, studio: Any = None, embed: bool = False,
                 on_new_job: Optional[Callable[[Any], None]] = None,
                 on_terminal: Optional[Callable[[dict], None]] = None,
                 on_edit: Optional[Callable[[dict], None]] = None):
        super().__init__(studio=studio if studio is not None else studio_of(job), on_new_job=on_new_job,
                         on_terminal=on_terminal, on_edit=on_edit)
        self._embed = embed
        [self.tile] = self.add_jobs([job])
        self.job = self.tile.job
        self.job_id = self.tile.job_id

    @property
    def row(self) -> dict:
        """The card's current copy of the job's ledger row."""
        return self.tile.row

    @property
    def terminal(self) -> bool:
        return self.tile.terminal

    @property
    def shown(self) -> dict:
        """What the page shows of the job now (its entry of the synced ``tiles``)."""
        return self.tiles[0]

    def rate(self, n: int) -> bool:
        """Write a 1–5 rating to the ledger now."""
        return self.rate_job(0, n)

    def tag(self, *tags: str) -> bool:
        """Add tags in the ledger now."""
        return self.tag_job(0, *tags)

    def note(self, text: str) -> bool:
        """Save the note in the ledger now."""
        return self.note_job(0, text)

    def remix(self, prompt: str) -> Any:
        """Start a remix of this job (returns at once); its card appears below."""
        return self.remix_job(0, prompt)

    def _static_html(self) -> str:
        return _static_card(self.tile.row, embed=self._embed) + "".join(
            _static_card(t.row) for t in self.tile_list[1:])


def job_card(job: Any, **kwargs: Any) -> JobCard:
    """The card widget of a Job, not displayed (for placing it in your own layout)."""
    return JobCard(job, **kwargs)


def show_job(job: Any, **kwargs: Any) -> None:
    """Display a Job's card: what ``job`` as the last line of a cell shows.

    The card follows the job live until it is done; then it plays the video, or shows the provider's
    error code and message. Rate, tag, note and remix from it. Returns None (so the card is not
    shown twice when this is a cell's last line); use :func:`job_card` for the widget itself.
    """
    key = str(getattr(job, "id", ""))
    if key and shown_live(key):
        return  # this cell already shows the job's live card (``studio.generate(...)``)
    display(JobCard(job, **kwargs))


def show_progress(job: Any, **kwargs: Any) -> LiveDisplay:
    """Display a live card for a running Job (``studio.generate(progress=True)`` calls this).

    Returns the live display; its ``close()`` (called when the wait ends) saves the final state.
    """
    live = LiveDisplay(JobCard(job, **kwargs))
    mark_live(str(getattr(job, "id", "")))
    return live
