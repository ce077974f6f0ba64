"""The ledger browser: filter by model, provider, status, tag, user (who asked) and dates; sort; cost totals;
pick a row to watch its video and read every detail."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ipywidgets as widgets

from ._base import StaticFallback, error_text, html, style_widget, with_class
from ._card import JobCard
from ._format import clock, duration, esc, is_missing, local_time, model_at, money, stars, tags_of, truncate

__all__ = ["LedgerBrowser", "browse"]

_ALL = "(all)"
_ICON = {"completed": "✓", "failed": "✗", "cancelled": "⊘", "timed_out_waiting": "⧗", "unknown": "?"}
SORTS = {
    "newest first": ("created_at", False),
    "oldest first": ("created_at", True),
    "highest cost": ("_cost", False),
    "best rated": ("rating", False),
    "slowest": ("latency_s", False),
    "fastest": ("latency_s", True),
}
_DETAILS = ("job_id", "batch_id", "status", "provider", "model", "provider_model", "provider_job_id",
            "action", "size", "seconds", "fps", "audio", "seed", "provider_seed", "variations", "negative_prompt",
            "source_video_id", "created_at", "submitted_at", "completed_at", "latency_s",
            "estimated_cost", "billed_cost", "billed_cost_source", "file_path", "poster_path", "sha256",
            "bytes", "error_code", "error_message", "tags", "rating", "notes", "emulated", "attempts",
            "user", "lease_owner", "lease_until")


def _clean(value: Any) -> Any:
    return None if is_missing(value) else value


def row_label(row: dict) -> str:
    """One fixed-width line per job for the list."""
    status = str(row.get("status") or "")
    icon = _ICON.get(status, "…")
    cost = row.get("billed_cost")
    cost = money(cost if not is_missing(cost) else row.get("estimated_cost"), unknown="?")
    rating = stars(row.get("rating")) or "·····"
    return (f"{icon} {local_time(row.get('created_at'), '%m-%d %H:%M'):<11} {truncate(model_at(row), 26):<26} "
            f"{cost:>8}  {rating}  {truncate(row.get('prompt'), 70)}")


HEADER = f"  {'created':<11} {'model@provider':<26} {'cost':>8}  {'rated':<5}  prompt"


class LedgerBrowser(StaticFallback, widgets.VBox):
    """Browse a Studio's ledger. ``refresh()`` re-reads it."""

    def __init__(self, studio: Any, *, limit: int = 500):
        self.studio = studio
        self.limit = limit
        lay = widgets.Layout(width="150px")
        self.model = widgets.Dropdown(description="model", options=[_ALL], layout=lay)
        self.provider = widgets.Dropdown(description="provider", options=[_ALL], layout=lay)
        self.status = widgets.Dropdown(description="status", options=[_ALL], layout=lay)
        self.tag = widgets.Dropdown(description="tag", options=[_ALL], layout=lay)
        self.user = widgets.Dropdown(description="user", options=[_ALL], layout=lay,
                                     tooltip="who asked for the job ($SORAKIT_USER, else the OS user)")
        self.since = widgets.DatePicker(description="from", layout=widgets.Layout(width="170px"))
        self.until = widgets.DatePicker(description="to", layout=widgets.Layout(width="170px"))
        self.sort = widgets.Dropdown(description="sort", options=list(SORTS), layout=widgets.Layout(width="170px"))
        for w in (self.model, self.provider, self.status, self.tag, self.user, self.since, self.until, self.sort):
            w.style.description_width = "initial"
            w.observe(lambda _c: self.refresh(), "value")
        self.refresh_button = with_class(widgets.Button(description="↻ Refresh", tooltip="Read the ledger again"),
                                         "sk-small")
        self.refresh_button.on_click(lambda _b: self.refresh())
        filters = with_class(widgets.HBox([self.model, self.provider, self.status, self.tag, self.user, self.since,
                                           self.until, self.sort, self.refresh_button]), "sk-filters")
        self.totals = html("", "sk-totals")
        self.list_head = html(f'<div class="sk-list-head">{esc(HEADER)}</div>')
        self.list = with_class(widgets.Select(options=[], rows=12, layout=widgets.Layout(width="100%")), "sk-list")
        self.list.observe(self._on_select, "value")
        self.detail = widgets.VBox([], layout=widgets.Layout(width="100%"))
        self.details = html("", "sk-details")
        self.message = html("", "sk-message")
        self.rows: list[dict] = []
        super().__init__(children=[style_widget(), filters, self.totals, self.message, self.list_head, self.list,
                                   with_class(widgets.HBox([self.detail, self.details]), "sk-detail-row")])
        self.add_class("sk-root")
        self.add_class("sk-browser")
        self._refreshing = False
        self._keep_detail = False
        self.refresh()

    # -- data ---------------------------------------------------------------------------------
    def _filters(self) -> dict:
        f: dict[str, Any] = {}
        for name in ("model", "provider", "status", "tag", "user"):
            v = getattr(self, name).value
            if v and v != _ALL:
                f[name] = v
        if self.since.value:
            f["since"] = dt.datetime.combine(self.since.value, dt.time(), tzinfo=dt.timezone.utc)
        if self.until.value:
            f["until"] = dt.datetime.combine(self.until.value + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)
        return f

    def refresh(self) -> None:
        """Read the ledger, apply filters and sort, redraw the list and totals."""
        if self._refreshing:
            return
        self._refreshing = True
        try:
            ledger = self.studio.ledger
            everything = ledger.df
            self._set_options(self.model, everything, "model")
            self._set_options(self.provider, everything, "provider")
            self._set_options(self.status, everything, "status")
            self._set_options(self.user, everything, "user")
            tags = sorted({t for v in everything.get("tags", []) for t in tags_of(v)})
            self._set_choices(self.tag, tags)
            df = ledger.query(**self._filters())
            df = df.assign(_cost=df["billed_cost"].fillna(df["estimated_cost"]))
            key, ascending = SORTS[self.sort.value]
            df = df.sort_values(key, ascending=ascending, na_position="last", kind="stable")
            self.rows = [{k: _clean(v) for k, v in rec.items()} for rec in df.head(self.limit).to_dict("records")]
            self.totals.value = self._totals_html(df)
            selected = self.list.value
            ids = {r["job_id"] for r in self.rows}
            self._keep_detail = True  # re-listing must not rebuild (and stop) the card on show
            try:
                self.list.options = [(row_label(r), r["job_id"]) for r in self.rows]
                self.list.value = selected if selected in ids else None
            finally:
                self._keep_detail = False
            if selected in ids:
                self.details.value = self._details_html(next(r for r in self.rows if r["job_id"] == selected))
            else:
                self.detail.children = ()
                self.details.value = ""
            self.message.value = ""
        except Exception as exc:  # shown in place, never a traceback
            self.message.value = f'<div class="sk-msg sk-msg-error">{esc(error_text(exc))}</div>'
        finally:
            self._refreshing = False

    @staticmethod
    def _set_options(dropdown: widgets.Dropdown, df: Any, column: str) -> None:
        values = sorted({str(v) for v in df[column].dropna().unique()}) if column in df else []
        LedgerBrowser._set_choices(dropdown, values)

    @staticmethod
    def _set_choices(dropdown: widgets.Dropdown, values: list[str]) -> None:
        options = [_ALL, *values]
        if list(dropdown.options) != options:
            current = dropdown.value
            dropdown.options = options
            dropdown.value = current if current in options else _ALL

    def _totals_html(self, df: Any) -> str:
        n = len(df)
        est = df["estimated_cost"]
        billed = df["billed_cost"]
        unknown = int(est.isna().sum())
        shown = df["_cost"] if "_cost" in df else billed.fillna(est)  # what the list's cost column shows
        # the sum of the amounts as the list shows them (money() keeps sub-cent digits): the total
        # a reader adds up is the total printed
        listed = sum(float(money(v, unknown="nan").replace("$", "").replace(",", "")) for v in shown.dropna())
        parts = [f"<b>{n}</b> job{'s' if n != 1 else ''}",
                 f"cost <b class='sk-cost-total'>{esc(money(listed))}</b>"
                 f" <span class='sk-faint'>(the cost column: billed where reported, else estimated"
                 + (f"; {int(shown.isna().sum())} unknown" if shown.isna().any() else "") + ")</span>",
                 f"estimated <b>{esc(money(float(est.sum())))}</b>"
                 + (f" <span class='sk-faint'>(+{unknown} with unknown price)</span>" if unknown else ""),
                 f"billed <b>{esc(money(float(billed.sum())))}</b>"
                 + (f" <span class='sk-faint'>({int(billed.isna().sum())} not reported)</span>" if billed.isna().any() else "")]
        if "emulated" in df and n and bool(df["emulated"].fillna(False).all()):
            parts.append("<span class='sk-faint'>all emulated: nothing was charged</span>")
        if n > self.limit:
            parts.append(f"<span class='sk-faint'>listing the first {self.limit}</span>")
        return "<div>" + " · ".join(parts) + "</div>"

    # -- selection ----------------------------------------------------------------------------
    def _on_select(self, change: dict) -> None:
        if self._keep_detail:
            return
        job_id = change.get("new")
        if not job_id:
            self.detail.children = ()
            self.details.value = ""
            return
        try:
            job = self.studio.job(job_id)
            self.detail.children = (JobCard(job, studio=self.studio, on_edit=lambda _row: self.refresh()),)
            row = next((r for r in self.rows if r["job_id"] == job_id), {})
            self.details.value = self._details_html(row)
        except Exception as exc:
            self.message.value = f'<div class="sk-msg sk-msg-error">{esc(error_text(exc))}</div>'

    @staticmethod
    def _details_html(row: dict) -> str:
        trs = []
        for k in _DETAILS:
            v = row.get(k)
            if is_missing(v):
                continue
            if k.endswith("_at"):
                v = local_time(v, "%Y-%m-%d %H:%M:%S")
            elif k.endswith("_cost"):
                v = money(v)
            elif k == "latency_s":
                v = clock(v)
            elif k == "tags":
                v = ", ".join(tags_of(v))
            trs.append(f"<tr><td class='sk-faint' style='padding:1px 10px 1px 0;vertical-align:top'>{esc(k)}</td>"
                       f"<td style='word-break:break-all'>{esc(v)}</td></tr>")
        return f"<table style='font-size:12px;border-collapse:collapse'>{''.join(trs)}</table>"

    # -- static fallback ----------------------------------------------------------------------
    def _static_html(self) -> str:
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
                       for h in ("created", "model@provider", "status", "cost", "rating", "prompt"))
        body = "".join(
            "<tr>" + "".join(f"<td style='padding:2px 8px'>{esc(v)}</td>" for v in (
                local_time(r.get("created_at")), model_at(r), r.get("status"),
                money(r.get("billed_cost") if not is_missing(r.get("billed_cost")) else r.get("estimated_cost")),
                stars(r.get("rating")), truncate(r.get("prompt"), 80))) + "</tr>"
            for r in self.rows[:25])
        more = f"<p>… and {len(self.rows) - 25} more</p>" if len(self.rows) > 25 else ""
        return (f"<div style='font:12px sans-serif'>{self.totals.value}"
                f"<table style='border-collapse:collapse'><tr>{head}</tr>{body}</table>{more}</div>")

    def _static_text(self) -> str:
        return f"<sorakit ledger browser: {len(self.rows)} jobs shown>"


def browse(studio: Any, **kwargs: Any) -> LedgerBrowser:
    """Browse the Studio's ledger: filters, sorting, cost totals; pick a row to watch its video."""
    return LedgerBrowser(studio, **kwargs)
