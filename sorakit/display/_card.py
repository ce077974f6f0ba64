"""Job cards: status, live progress, cost, the player once done, the error if it failed, and actions.

A card follows its job through the engine's change callbacks (on the engine's thread; only
widget traits change). When the job is terminal the card stops listening. Rating, tags and
notes are written to the ledger at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping, Optional

import ipywidgets as widgets
from IPython.display import display

from .._types import NOT_CANCELLED, TERMINAL
from ..ledger._rowcodec import seed_used
from ._base import (StaticFallback, as_jobs, catalog_of, error_text, html,
                    model_title, offer_of, row_of, shared, studio_of, style_widget, visible, with_class)
from ._format import (clock, duration, esc, is_missing, model_at, money, short_id, size_text, stars,
                      status_chip, tags_of, timestamp, truncate, local_time)
from ._live import Follower, LiveDisplay, mark_live, shown_live, ticker
from ._player import VideoPlayer, static_figure
from ._text import (_elapsed, _progress, cancel_words, outcome, plain_reason, progress_text, stopped_waiting,
                    usual_text)

__all__ = ["JobCard", "show_job", "show_progress", "job_card"]

def cancel_html(row: Mapping[str, Any]) -> str:
    """The note of a cancelled job, or of a cancel the provider could not carry out."""
    kind, head, _code, detail = outcome(row)
    if kind not in ("cancelled", "refused"):
        return ""
    cls = "sk-cancel-box" + (" sk-cancel-refused" if kind == "refused" else "")
    return f'<div class="{cls}"><b>{esc(head)}</b><div>{esc(detail)}</div></div>'


def failure_html(row: Mapping[str, Any]) -> str:
    """The error box of a failed job."""
    kind, head, code, detail = outcome(row)
    if kind != "failed":
        return ""
    return (f'<div class="sk-error-box"><b>{esc(head)}</b>' + (f" · <code>{esc(code)}</code>" if code else "")
            + f"<div>{esc(detail)}</div></div>")


class JobCard(StaticFallback, Follower, widgets.VBox):
    """One job as a card. ``compact=True`` is the gallery tile: poster, caption, live status only.

    Args:
        job: a sorakit ``Job`` (or a ledger row mapping together with ``studio``).
        studio: the Studio (taken from the job when omitted).
        compact: gallery tile layout, no action row.
        on_new_job: called with each Job this card starts (a remix), e.g. by the form.
        on_terminal: called with the final row when the job is done, failed or cancelled.
        on_edit: called with the row after a rating, tag or note was written.
    """

    def __init__(self, job: Any, *, studio: Any = None, compact: bool = False, embed: bool = False,
                 on_new_job: Optional[Callable[[Any], None]] = None,
                 on_terminal: Optional[Callable[[dict], None]] = None,
                 on_edit: Optional[Callable[[dict], None]] = None):
        self.job = None if isinstance(job, Mapping) else job
        self.studio = studio if studio is not None else studio_of(job)
        self._row: dict = row_of(job)
        self.job_id: str = str(self._row.get("job_id") or getattr(job, "id", ""))
        self.compact = compact
        self._embed = embed
        self._on_new_job = on_new_job
        self._on_terminal = on_terminal
        self._on_edit = on_edit
        self._listening = False
        self._lock = threading.RLock()
        self._catalog = catalog_of(self.studio)

        live = not self.terminal
        failed = self._row.get("status") in ("failed", "cancelled")
        # A finished job's tile creates only what it shows; a live card creates up front every
        # widget the engine's thread will later fill (it only ever changes traits).
        self.header = html("", "sk-head-html")
        self.caption = html("", "sk-caption")
        self.progress: Optional[widgets.IntProgress] = None
        self.progress_label: Optional[widgets.HTML] = None
        self.progress_row: Optional[widgets.Box] = None
        self.cancel_button: Optional[widgets.Button] = None
        self._usual = ""
        self._cancel_for: Any = False
        """The provider job id the Cancel button's words were chosen for (they change once sent)."""
        if live or not compact:
            self.progress = widgets.IntProgress(value=0, min=0, max=100, layout=shared("auto"))
            self.progress_label = html("", "sk-progress-text")
            row_children = [self.progress, self.progress_label]
            if not compact:
                self.cancel_button = with_class(widgets.Button(
                    description="Cancel", icon="stop", tooltip="Stop this job (the card says what the provider "
                                                               "allows and whether it is billed)"),
                    "sk-small", "sk-cancel")
                self.cancel_button.on_click(lambda _b: self.cancel())
                row_children.append(self.cancel_button)
            self.progress_row = with_class(widgets.HBox(row_children, layout=shared("plain")), "sk-progress-row")
            if live:
                self._usual = self._usual_latency()
        self.player = VideoPlayer(poster_width=360 if compact else 640,
                                  poster_bytes=20_000 if compact else 40_000, compact=True, live=live)
        self.error: Optional[widgets.HTML] = html("", "sk-error") if (live or failed or not compact) else None
        self.message = html("", "sk-message")
        self.remixes = with_class(widgets.VBox([]), "sk-jobs")
        self.actions: Optional[widgets.Box] = None
        if compact:
            self.meta = self.caption
            children = [w for w in (self.player, self.caption, self.progress_row, self.error) if w is not None]
        else:
            self.meta = html("", "sk-meta-html")
            self.actions = self._build_actions()
            children = [style_widget(), self.header, self.caption, self.progress_row, self.player,
                        self.error, self.meta, self.actions, self.message, self.remixes]
        super().__init__(children=children, layout=shared("plain") if compact else widgets.Layout())
        self.add_class("sk-card")
        if compact:
            self.add_class("sk-compact")
        else:
            self.add_class("sk-root")
        self._render()
        self._listen()

    # -- live updates -------------------------------------------------------------------------
    @property
    def row(self) -> dict:
        """The card's current copy of the job's ledger row."""
        return dict(self._row)

    def _changed(self) -> None:
        """After each accepted change (``Follower``): refresh traits; tell once when terminal."""
        self._render()
        if self.terminal and self._on_terminal is not None:
            callback, self._on_terminal = self._on_terminal, None
            callback(dict(self._row))

    def tick(self) -> None:
        """Ticker thread: refresh the elapsed time of a running job."""
        if self.terminal:
            ticker.discard(self)
            return
        text = esc(progress_text(self._row, usual=self._usual))
        if self.progress_label is not None and self.progress_label.value != text:
            self.progress_label.value = text

    def close(self) -> None:
        self._stop()
        super().close()

    # -- rendering (traits only) ----------------------------------------------------------------
    def _title(self) -> str:
        r = self._row
        title = model_title(self._catalog, r.get("model"))
        provider = r.get("provider") or ""
        return f"{esc(title)} <span class='sk-muted'>@ {esc(provider)}</span>"

    def _specs(self) -> str:
        r = self._row
        parts = [size_text(r.get("size"), r.get("width"), r.get("height")),
                 duration(r.get("seconds")) if not is_missing(r.get("seconds")) else ""]
        if r.get("action") and r.get("action") != "generate":
            parts.append(str(r.get("action")))
        return " · ".join(p for p in parts if p)

    def _render(self) -> None:
        r = self._row
        status = str(r.get("status") or "pending")
        emu = '<span class="sk-chip sk-chip-emu" title="made by the built-in emulator: no spend">emulated</span>' \
            if r.get("emulated") is True else ""
        refused = stopped_waiting(r)
        running = status not in TERMINAL and status != "completed" and not refused

        # progress
        if self.progress_row is not None:
            if running:
                p = _progress(r)
                self.progress.value = 100 if status == "downloading" else (p or 0)
                self.progress.bar_style = "warning" if status in ("timed_out_waiting", "unknown") else "info"
                self.progress_label.value = esc(progress_text(r, usual=self._usual))
            visible(self.progress_row, running)
            if self.cancel_button is not None:
                cancellable = running and status != "downloading" and r.get("error_code") != NOT_CANCELLED
                visible(self.cancel_button, cancellable)
                if cancellable and r.get("provider_job_id") != self._cancel_for:
                    self._cancel_for = r.get("provider_job_id")  # once sent: what its provider can do
                    label, tip = cancel_words(self._handle())
                    if (self.cancel_button.description, self.cancel_button.tooltip) != (label, tip):
                        self.cancel_button.description, self.cancel_button.tooltip = label, tip

        # player
        self.player.set_row(r)
        visible(self.player, status not in ("failed", "cancelled") and not refused)  # nothing to wait for

        # error
        if self.error is not None:
            self.error.value = failure_html(r) if status == "failed" else cancel_html(r)
            visible(self.error, status == "failed" or bool(self.error.value))

        if self.compact:
            self._render_caption(status, emu)
            return

        self.header.value = (
            f'<div class="sk-head">{status_chip("not_cancelled" if refused else status)} '
            f'<span class="sk-title">{self._title()}</span>'
            f'<span class="sk-muted">{esc(self._specs())}</span>{emu}'
            f'<span class="sk-right sk-faint" title="{esc(self.job_id)}">{esc(short_id(self.job_id))}</span></div>')
        prompt = r.get("prompt")
        self.caption.value = f'<div class="sk-prompt">{esc(prompt)}</div>' if not is_missing(prompt) else ""
        self.meta.value = f'<div class="sk-meta">{self._meta_html()}</div>'
        if self.actions is not None:
            self.actions.layout.display = "" if status == "completed" else "none"
            self._render_actions()

    def _meta_html(self) -> str:
        r = self._row
        items = [f"estimated <b>{esc(money(r.get('estimated_cost')))}</b>"]
        billed = r.get("billed_cost")
        if not is_missing(billed):
            items.append(f"billed <b>{esc(money(billed))}</b>"
                         + (" <span class='sk-faint'>(emulated: not charged)</span>" if r.get("emulated") is True else ""))
        elif r.get("status") in TERMINAL:
            items.append("billed <b>not reported</b>")
        seed = seed_used(r)  # the provider's when it reported one, else the one asked for
        if seed is not None:
            items.append(f"seed\u00a0<b>{esc(seed)}</b>")
        elif r.get("status") == "completed":
            items.append("seed <b>not reported</b>")
        el = _elapsed(r)
        if r.get("status") in TERMINAL and el is not None:
            items.append(f"took <b>{esc(clock(el))}</b>")
        if not is_missing(r.get("created_at")):
            same_day = local_time(r.get("created_at"), "%Y-%m-%d") == local_time(time.time(), "%Y-%m-%d")
            items.append(esc(local_time(r.get("created_at"), "%H:%M" if same_day else "%Y-%m-%d %H:%M")))
        return "".join(f"<span>{i}</span>" for i in items)

    def _render_caption(self, status: str, emu: str) -> None:
        r = self._row
        facts = []
        seed = seed_used(r)
        if seed is not None:
            facts.append(f"seed\u00a0{seed}")  # never "seed" at a line's end, its number below
        cost = r.get("billed_cost")
        facts.append(money(cost if not is_missing(cost) else r.get("estimated_cost")))
        el = _elapsed(r)
        if el is not None and status in TERMINAL:
            facts.append(clock(el))
        chip = "" if status == "completed" else status_chip(status) + " "
        rating = stars(r.get("rating"))
        title = (f"{r.get('prompt') or ''}\n{model_at(r)} · {self._specs()}\njob {self.job_id}")
        self.caption.value = (
            f'<div class="sk-tilecap" title="{esc(title)}"><div class="sk-clamp">{chip}{esc(r.get("prompt") or "")}</div>'
            f'<div class="sk-tile-model">{esc(model_at(r))}</div>'
            f'<div class="sk-tile-facts"><span>{esc(" · ".join(facts))}</span>'
            + (f'<span class="sk-tile-stars">{rating}</span>' if rating else "")
            + "</div></div>")

    # -- actions --------------------------------------------------------------------------------
    def _build_actions(self) -> widgets.Box:
        self.star_buttons = []
        for n in range(1, 6):
            b = with_class(widgets.Button(description="☆", tooltip=f"Rate {n} of 5",
                                          layout=widgets.Layout(width="24px")), "sk-star")
            b.on_click(lambda _b, n=n: self.rate(n))
            self.star_buttons.append(b)
        stars_box = with_class(widgets.HBox(self.star_buttons), "sk-stars")
        self.tag_input = widgets.Text(placeholder="add a tag ⏎", continuous_update=False,
                                      layout=widgets.Layout(width="130px"))
        self.tag_input.observe(self._on_tag_input, "value")
        self.tags_html = html("", "sk-tags")
        self.note_toggle = with_class(widgets.Button(description="✎ Note", tooltip="Write a note"),
                                      "sk-small", "sk-link")
        self.remix_toggle = with_class(widgets.Button(description="↻ Remix", tooltip="Remix this video"),
                                       "sk-small", "sk-link")
        self.note_input = widgets.Textarea(placeholder="What worked, what didn't…", rows=2,
                                           layout=widgets.Layout(width="100%"))
        self.note_save = with_class(widgets.Button(description="Save note", button_style=""), "sk-small")
        self.note_save.on_click(lambda _b: self.note(self.note_input.value))
        self.note_panel = with_class(widgets.VBox([self.note_input, self.note_save],
                                                  layout=widgets.Layout(display="none", width="100%")), "sk-panel")
        self.remix_input = widgets.Text(placeholder="Describe the change, e.g. “same scene at night”",
                                        layout=widgets.Layout(width="100%"))
        self.remix_button = with_class(widgets.Button(description="Remix", button_style="primary"), "sk-small")
        self.remix_button.on_click(lambda _b: self.remix(self.remix_input.value))
        self.remix_panel = with_class(widgets.HBox([self.remix_input, self.remix_button],
                                                   layout=widgets.Layout(display="none", width="100%")), "sk-panel")
        self.note_toggle.on_click(lambda _b: self._toggle(self.note_panel))
        self.remix_toggle.on_click(lambda _b: self._toggle(self.remix_panel))
        row = with_class(widgets.HBox([stars_box, self.tag_input, self.tags_html, self.note_toggle,
                                       self.remix_toggle]), "sk-actions")
        return widgets.VBox([row, self.note_panel, self.remix_panel], layout=widgets.Layout(width="100%"))

    @staticmethod
    def _toggle(panel: widgets.Box) -> None:
        panel.layout.display = "none" if panel.layout.display != "none" else ""

    def _render_actions(self) -> None:
        r = self._row
        rating = 0 if is_missing(r.get("rating")) else int(r["rating"])
        for n, b in enumerate(self.star_buttons, start=1):
            b.description = "★" if n <= rating else "☆"
            (b.add_class if n <= rating else b.remove_class)("sk-on")
        self.tags_html.value = "".join(f'<span class="sk-tag">{esc(t)}</span>' for t in tags_of(r.get("tags")))
        notes = r.get("notes")
        if not is_missing(notes) and not self.note_input.value:
            self.note_input.value = str(notes)
        self.note_toggle.description = "✎ Note" + (" •" if not is_missing(notes) else "")
        offer = offer_of(self._catalog, r.get("model"), r.get("provider"))
        can_remix = offer is not None and "remix" in offer.capabilities and self.studio is not None
        self.remix_toggle.layout.display = "" if can_remix else "none"

    def _handle(self) -> Any:
        """The card's Job (the Studio's public handle), or None without a Studio."""
        if self.job is not None:
            return self.job
        if self.studio is not None and hasattr(self.studio, "job"):
            return self.studio.job(self.job_id)
        return None

    def _usual_latency(self) -> str:
        return usual_text(self._handle())

    def cancel(self) -> Any:
        """Cancel the job (``job.cancel()``) and say what happened: cancelled (billed or not, with
        the source), or why the provider cannot stop it (sorakit stops waiting; the job stays in
        the ledger). Returns the `CancelResult` (None when it could not be asked)."""
        job = self._handle()
        if job is None or not hasattr(job, "cancel"):
            self._say("This card has no Studio to cancel through.", "warn")
            return None
        if self.cancel_button is not None:
            self.cancel_button.disabled = True
        try:
            result = job.cancel()
        except Exception as exc:
            self._say(esc(error_text(exc)), "error")
            if self.cancel_button is not None:
                self.cancel_button.disabled = False
            return None
        fresh = self._fresh_row()
        if fresh:
            self._apply(fresh)
        # the card's own box says what happened (cancelled / not cancelled, billed, what next);
        # a second message would repeat it
        self._say("" if cancel_html(self._row) else esc(
            ("Cancelled: " if result.cancelled else "Not cancelled: ") + plain_reason(result.reason)),
            "ok" if result.cancelled else "warn")
        if self.cancel_button is not None:
            self.cancel_button.disabled = False
        return result

    def _say(self, text: str, kind: str = "ok") -> None:
        self.message.value = f'<div class="sk-msg sk-msg-{kind}">{text}</div>' if text else ""

    def _ledger_call(self, name: str, *args: Any) -> None:
        method = getattr(self.job, name, None) if self.job is not None else None
        if method is not None:
            method(*args)
            return
        ledger = getattr(self.studio, "ledger", None)
        getattr(ledger, name)(self.job_id, *args)

    def _reload(self, **fallback: Any) -> None:
        fresh = self._fresh_row()
        self._row.update(fresh if fresh else fallback)
        self._render()
        if self._on_edit is not None:
            self._on_edit(dict(self._row))

    def rate(self, n: int) -> None:
        """Write a 1–5 rating to the ledger now."""
        try:
            self._ledger_call("rate", int(n))
        except Exception as exc:
            self._say(esc(error_text(exc)), "error")
            return
        self._say("")
        self._reload(rating=int(n))

    def tag(self, *tags: str) -> None:
        """Add tags in the ledger now."""
        tags = tuple(t.strip() for t in tags if t and t.strip())
        if not tags:
            return
        try:
            self._ledger_call("tag", *tags)
        except Exception as exc:
            self._say(esc(error_text(exc)), "error")
            return
        self._say("")
        self._reload(tags=tuple(dict.fromkeys(tags_of(self._row.get("tags")) + tags)))

    def _on_tag_input(self, change: dict) -> None:
        text = (change.get("new") or "").strip()
        if text:
            self.tag(*[t for t in text.split(",")])
            self.tag_input.value = ""

    def note(self, text: str) -> None:
        """Save the note in the ledger now."""
        try:
            self._ledger_call("note", text)
        except Exception as exc:
            self._say(esc(error_text(exc)), "error")
            return
        self._say("Note saved.", "ok")
        self._reload(notes=text)

    def remix(self, prompt: str) -> Any:
        """Start a remix of this job (returns at once) and show its card below."""
        prompt = (prompt or "").strip()
        if not prompt:
            self._say("Describe the change you want in the remix box first.", "warn")
            return None
        try:
            if self.job is not None and hasattr(self.job, "remix"):
                new = self.job.remix(prompt, wait=False, progress=False)
            else:
                new = self.studio.remix(self.job_id, prompt, wait=False, progress=False)
        except Exception as exc:
            self._say(esc(error_text(exc)), "error")
            return None
        self._say("")
        self.remix_input.value = ""
        self.remix_panel.layout.display = "none"
        jobs = as_jobs(new)
        self.remixes.children = tuple(JobCard(j, studio=self.studio, on_new_job=self._on_new_job)
                                      for j in jobs) + tuple(self.remixes.children)
        for j in jobs:
            if self._on_new_job is not None:
                self._on_new_job(j)
        return new

    # -- static fallback ------------------------------------------------------------------------
    def _static_html(self) -> str:
        r = self._row
        status = str(r.get("status") or "")
        cap = (f"<b>{esc(model_at(r))}</b> · {esc(self._specs())} · {esc(status)}<br/>"
               f"{esc(truncate(r.get('prompt'), 160))}")
        if status == "failed":
            cap += f"<br/><span style='color:#c4242f'>{esc(r.get('error_code') or '')}: {esc(r.get('error_message') or '')}</span>"
        elif status != "completed":
            cap += f"<br/><i>was {esc(status)} when this output was saved</i>"
        return static_figure(r, width=220 if self.compact else 320,
                             max_bytes=12_000 if self.compact else 24_000, caption=cap, embed=self._embed)

    def _static_text(self) -> str:
        r = self._row
        return (f"<sorakit job {self.job_id} {r.get('status')} {model_at(r)} "
                f"{truncate(r.get('prompt'), 50)!r} estimated={money(r.get('estimated_cost'))} "
                f"file={r.get('file_path') or '-'}>")


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
