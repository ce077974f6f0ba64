"""The ledger browser: a data grid of the ledger (DataTables, the grid that ``itables`` ships) with
filters (model, provider, status, tag, user, dates, text in prompts), sort on any column, cost totals
of what is filtered, a poster per row, inline rating and tags written to the ledger, a row played in
place, and the selection as a DataFrame (``browser.selected``) for ``studio.gallery``, ``compare``,
re-run and ``to_html``.

Why this shape (the figures are in the README and ``bench/browser_grid.py``): the grid library is
DataTables 2 with its Select extension, from the ``itables`` wheel (``itables/html/dt_bundle.js``,
619 KB, no CDN). Its own anywidget (``itables.widget.ITable``) puts the rows in the synced state
(downsampled to ``maxBytes``, or all of them) and its 619 KB module in every saved notebook; so
this widget keeps both out of the state:

- the ES module is sorakit's (``stage.js`` + ``browser.js`` + ``main.js``, a few KB): the view asks
  the kernel once per page for the DataTables bundle (``{type: "lib"}``, answered in one JSON
  message) and imports it from a Blob URL, as itables' own offline mode does;
- rows live in the kernel (DataTables' server-side processing, its ``ajax`` function option): the
  view asks for one page (``{type: "page", start, length, order}``) and the kernel filters and
  sorts the cached ledger frame with pandas and answers with that page's cells (posters as small
  WebP data URIs), so 100,000 rows cost one page on the wire and nothing in the saved state.

Other messages from a view: ``rate`` (job_id, rating), ``tags`` (job_id, tags), ``play`` (job_id:
the detail stage shows that job and streams its video, as the player does), ``select_all`` /
``select_none``, and the player's ``ping``/``open``/``chunk`` (``Streamer``). The filters
(``filters``) and the selection (``selected_ids``) are synced traits, so Python sees what the user
chose and may set them.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping, Optional, Sequence

import anywidget
import traitlets

from .._exceptions import ValidationError
from ._base import StaticFallback, error_text, shared
from ._esm import css, esm
from ._format import clock, esc, is_missing, local_time, model_at, money, stars, tags_of, truncate
from ._player import Streamer, _local, playable
from ._poster import data_uri, poster
from ._text import check_text

__all__ = ["LedgerBrowser", "browse", "FILTERS", "COLUMNS"]

FILTERS = ("model", "provider", "status", "tag", "user", "since", "until", "text")
"""The filters of the browser (``since``/``until``: ISO dates, both inclusive, UTC days; ``text``:
words in the prompt, any case)."""

COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("poster", "", False),
    ("created_at", "created", True),
    ("model", "model", True),
    ("status", "status", True),
    ("cost", "cost", True),
    ("rating", "rating", True),
    ("tags", "tags", True),
    ("prompt", "prompt", True),
    ("seconds", "s", True),
    ("user", "user", True),
    ("latency_s", "took", True),
    ("check_defects", "checks", True),
    ("scores", "scores", False),
)
"""(key, title, sortable) of each grid column, in order. ``checks`` shows the clip checks' defects
("ok" when clean, empty before they ran; the whole line, motion included, as its tooltip),
``scores`` your scorers' (only once a scorer is added or a row has scores: the grid must fit a
notebook's width). ``cost`` sorts on billed-else-estimated,
``model`` on model then provider (the cell shows both, as ``model@provider`` everywhere else)."""
_SORT_KEY = {"cost": ("_cost",), "model": ("model", "provider")}
_THUMB_WIDTH, _THUMB_BYTES = 80, 3_000
_DETAILS = ("job_id", "batch_id", "status", "provider", "model", "provider_model", "provider_job_id",
            "action", "size", "seconds", "fps", "audio", "seed", "provider_seed", "variations", "negative_prompt",
            "source_video_id", "created_at", "submitted_at", "completed_at", "latency_s",
            "estimated_cost", "billed_cost", "billed_cost_source", "file_path", "poster_path", "sha256",
            "bytes", "error_code", "error_message", "tags", "rating", "notes", "emulated", "attempts",
            "user", "lease_owner", "lease_until", "check_defects", "check_mismatch", "check_seconds", "check_size",
            "check_fps", "check_audio", "check_black_s", "check_frozen_s", "check_cuts", "check_flicker",
            "check_motion", "check_phash", "check_error", "checked_at", "scores")


def _any_scores(studio: Any) -> bool:
    """Whether any job in the ledger has scorer numbers."""
    try:
        frame = studio.ledger.df
        return "scores" in frame.columns and bool(frame["scores"].notna().any())
    except Exception:
        return False


def _check_cells(r: dict) -> dict:
    """The clip-check columns' cells: defects (with the full line, motion included, as a tooltip), scores."""
    full = check_text({k: v for k, v in r.items() if k != "scores"})
    defects = r.get("check_defects")
    if r.get("check_error"):
        shown = '<span class="sk-faint">not checked</span>'
    elif defects is None:
        shown = ""
    elif defects == "":
        shown = "ok"
    else:
        shown = "\u26a0 " + esc(str(defects).replace(",", ", "))
    scored = check_text({"scores": r.get("scores")})
    return {
        "check_defects": f'<span title="{esc(full)}">{shown}</span>' if shown else "",
        "scores": esc(scored),
    }


def _clean(value: Any) -> Any:
    return None if is_missing(value) else value


@lru_cache(maxsize=1)
def grid_library() -> tuple[str, str]:
    """The DataTables bundle that the ``itables`` wheel ships (JS, CSS): DataTables 2 with Select,
    loaded by the view from the kernel, never saved in a notebook."""
    try:
        base = resources.files("itables").joinpath("html")
    except ModuleNotFoundError as exc:  # pragma: no cover - itables is a dependency
        raise ModuleNotFoundError("the ledger browser needs itables (pip install 'itables>=2.9')") from exc
    return base.joinpath("dt_bundle.js").read_text("utf-8"), base.joinpath("dt_bundle.css").read_text("utf-8")


def _day(value: Any, name: str) -> Optional[dt.datetime]:
    """An ISO date (or a date/datetime) as UTC midnight of that day; '' or None as None."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value[:10])
        except ValueError:
            raise ValidationError(name, value, "an ISO date such as '2026-12-07'") from None
    if not isinstance(value, dt.date):
        raise ValidationError(name, value, "an ISO date such as '2026-12-07'")
    return dt.datetime.combine(value, dt.time(), tzinfo=dt.timezone.utc)


class LedgerBrowser(StaticFallback, Streamer, anywidget.AnyWidget):
    """Browse a Studio's ledger in a data grid. ``refresh()`` re-reads it.

    ``filters`` (a dict of ``FILTERS``), ``selected_ids`` (job ids) and ``page_length`` are synced
    with the page; ``df`` is what the filters keep (newest first), ``selected`` the chosen rows.
    """

    _esm = traitlets.Unicode(esm("browser")).tag(sync=True)
    _css = traitlets.Unicode(css("browser")).tag(sync=True)
    _kind = traitlets.Unicode("browser").tag(sync=True)
    columns = traitlets.List().tag(sync=True)
    filters = traitlets.Dict().tag(sync=True)
    choices = traitlets.Dict().tag(sync=True)
    """Values each dropdown offers (model, provider, status, tag, user), from the whole ledger."""
    totals = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)
    selected_ids = traitlets.List(traitlets.Unicode()).tag(sync=True)
    page_length = traitlets.Int(25).tag(sync=True)
    stage = traitlets.Dict().tag(sync=True)
    """What the detail stage shows (poster, label, playable, tip, note) for the row played."""
    details = traitlets.Unicode("").tag(sync=True)

    def __init__(self, studio: Any, *, limit: Optional[int] = None, page_length: int = 25, **filters: Any):
        super().__init__(layout=shared("full"))
        self.studio = studio
        self.limit = limit
        scored = bool(len(getattr(studio, "scorers", ()) or ())) or _any_scores(studio)
        self.columns = [{"data": k, "title": t, "orderable": s} for k, t, s in COLUMNS if k != "scores" or scored]
        self.page_length = page_length
        self.playing: Optional[str] = None
        self._all = None  # the ledger frame as read (newest first), with _cost and _tags
        self._view = None  # (filters key, frame)
        self._sorted: dict = {}
        self.pages_served = 0
        self.add_class("sk-browser")
        self.on_msg(self._on_message)
        self.observe(self._on_filters, "filters")
        self._checked(filters)
        self.refresh()
        if filters:
            self.filters = {**self.filters, **filters}

    # -- data ---------------------------------------------------------------------------------
    @staticmethod
    def _checked(filters: Mapping[str, Any]) -> dict:
        for name, value in filters.items():
            if name not in FILTERS:
                raise ValidationError(name, value, list(FILTERS), message=f"the browser has no filter {name!r}")
            if name in ("since", "until"):
                _day(value, name)
        return dict(filters)

    def refresh(self) -> None:
        """Read the ledger again (new jobs, changed ratings), then redraw the grid and totals."""
        try:
            df = self.studio.ledger.df
            if self.limit is not None:
                df = df.tail(self.limit)
            df = df.iloc[::-1].reset_index(drop=True)  # newest first
            df["_cost"] = df["billed_cost"].fillna(df["estimated_cost"])
            df["_tags"] = "," + df["tags"].fillna("").astype(str) + ","
            self._all = df
            self._view, self._sorted = None, {}
            choices = {c: sorted({str(v) for v in df[c].dropna().unique()}) if c in df else []
                       for c in ("model", "provider", "status", "user")}
            choices["tag"] = sorted({t for v in df["tags"].dropna().unique() for t in tags_of(v)})
            self.choices = choices
            self._apply()
        except Exception as exc:  # shown in place, never a traceback
            self.message = error_text(exc)

    def filter(self, **filters: Any) -> "LedgerBrowser":
        """Set filters (``None`` or '' clears one): ``browser.filter(model="veo-3-fast", tag="keeper")``."""
        new = {**self.filters, **self._checked(filters)}
        self.filters = {k: v for k, v in new.items() if v not in (None, "")}
        return self

    def _on_filters(self, _change: Any) -> None:
        self._apply()

    def _key(self) -> tuple:
        return tuple(sorted((k, str(v)) for k, v in self.filters.items() if v not in (None, "")))

    @property
    def df(self):
        """The rows the filters keep, newest first (the ledger's columns)."""
        return self._filtered().drop(columns=["_cost", "_tags"])

    @property
    def rows(self) -> list[dict]:
        """``df`` as dicts (missing values as None)."""
        return [{k: _clean(v) for k, v in rec.items()} for rec in self.df.to_dict("records")]

    def _filtered(self):
        key = self._key()
        if self._view is not None and self._view[0] == key:
            return self._view[1]
        df = self._all
        f = self.filters
        mask = None

        def both(m):
            return m if mask is None else mask & m

        for name in ("model", "provider", "status", "user"):
            value = f.get(name)
            if value not in (None, ""):
                mask = both(df[name].astype("string") == str(value))
        if f.get("tag"):
            mask = both(df["_tags"].str.contains(f",{f['tag']},", regex=False))
        since, until = _day(f.get("since"), "since"), _day(f.get("until"), "until")
        if since is not None:
            mask = both(df["created_at"] >= since)
        if until is not None:
            mask = both(df["created_at"] < until + dt.timedelta(days=1))  # 'to' keeps its whole day
        text = str(f.get("text") or "").strip()
        if text:
            prompts = df["prompt"].fillna("").astype(str)
            for word in text.split():
                mask = both(prompts.str.contains(word, case=False, regex=False))
        out = df if mask is None else df[mask.fillna(False).to_numpy(dtype=bool)]
        self._view, self._sorted = (key, out), {}
        return out

    def _apply(self) -> None:
        """The filters changed (or the ledger was read): totals, then every view reloads page 1."""
        try:
            df = self._filtered()
            self.totals = self._totals_html(df)
            self.message = ""
        except Exception as exc:
            self.message = error_text(exc)
            return
        self.send({"type": "reload", "reset": True})

    def sorted(self, order: Sequence[tuple[str, str]] = (("created_at", "desc"),)):
        """The filtered rows sorted by (column, "asc"|"desc") pairs (missing values last)."""
        df = self._filtered()
        key = tuple((str(c), str(d)) for c, d in order)
        if key in self._sorted:
            return self._sorted[key]
        by, asc = [], []
        names = {k for k, _t, s in COLUMNS if s}
        for col, direction in key:
            if col not in names:
                raise ValidationError("order", col, sorted(names), message=f"cannot sort on {col!r}")
            for name in _SORT_KEY.get(col, (col,)):
                by.append(name)
                asc.append(direction != "desc")
        out = df.sort_values(by, ascending=asc, na_position="last", kind="stable") if by else df
        self._sorted = {key: out}  # one sort kept: the grid asks for pages of one order at a time
        return out

    def page(self, start: int = 0, length: int = 25, order: Sequence[tuple[str, str]] = (("created_at", "desc"),)
             ) -> dict:
        """What the grid shows for one page: ``{total, filtered, rows}``; each row has ``DT_RowId``
        (the job id) and one HTML cell per column."""
        df = self.sorted(order)
        start, length = max(0, int(start)), int(length)
        part = df.iloc[start:] if length < 0 else df.iloc[start:start + max(0, length)]
        rows = [self._cells({k: v if k == "check_defects" and v == "" else _clean(v)  # "" = checked, clean
                             for k, v in rec.items()}) for rec in part.to_dict("records")]
        return {"total": len(self._all), "filtered": len(df), "rows": rows}

    def _cells(self, r: dict) -> dict:
        job_id = str(r["job_id"])
        thumb = ""
        if not is_missing(r.get("poster_path")) or not is_missing(r.get("file_path")):
            p = poster(r, max_width=_THUMB_WIDTH, max_bytes=_THUMB_BYTES, fmt="webp")
            if p is not None:
                thumb = f'<img class="sk-thumb" alt="" src="{data_uri(p)}">'
        play = (f'<button class="sk-rowplay" data-id="{esc(job_id)}" title="Play here">\u25B6</button>'
                if playable(r) else "")
        rating = int(r["rating"]) if r.get("rating") is not None else 0
        star = "".join(f'<span class="sk-star{" sk-on" if n <= rating else ""}" data-id="{esc(job_id)}" '
                       f'data-n="{n}" title="rate {n}">{"★" if n <= rating else "☆"}</span>'
                       for n in range(1, 6))
        tags = ", ".join(tags_of(r.get("tags")))
        cost = money(r.get("_cost"), unknown="?")
        return {
            "DT_RowId": job_id,
            "poster": f'<div class="sk-thumbbox">{thumb or "<span class=sk-faint>no poster</span>"}{play}</div>',
            "created_at": esc(local_time(r.get("created_at"), "%Y-%m-%d %H:%M")),
            "model": (f'{esc(r.get("model") or "")}<br><span class="sk-faint">@{esc(r.get("provider"))}</span>'
                      if r.get("provider") else esc(r.get("model") or "")),
            "status": esc(r.get("status") or ""),
            "cost": f'<span class="sk-bcost">{esc(cost)}</span>',
            "rating": f'<span class="sk-stars" data-rating="{rating}">{star}</span>',
            "tags": (f'<span class="sk-tagcell" data-id="{esc(job_id)}" data-tags="{esc(tags)}" '
                     f'title="click to edit the tags (comma separated)">{esc(tags) or "+"}</span>'),
            "prompt": f'<span title="{esc(r.get("prompt") or "")}">{esc(truncate(r.get("prompt"), 90))}</span>',
            "seconds": esc(r.get("seconds") if r.get("seconds") is not None else ""),
            "user": esc(r.get("user") or ""),
            "latency_s": esc(clock(r.get("latency_s")) if r.get("latency_s") is not None else ""),
            **_check_cells(r),
        }

    def _totals_html(self, df: Any) -> str:
        n = len(df)
        est = df["estimated_cost"]
        billed = df["billed_cost"]
        unknown = int(est.isna().sum())
        shown = df["_cost"]  # what the cost column shows
        # the sum of the amounts as the grid shows them (money() keeps sub-cent digits): the total
        # a reader adds up is the total printed; past 20,000 rows (nobody adds those up, and
        # formatting each costs ~0.1 s per 10,000) the plain sum
        listed = sum(float(money(v, unknown="nan").replace("$", "").replace(",", "")) for v in shown.dropna()) \
            if n <= 20_000 else float(shown.sum())
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
        return "<div>" + " · ".join(parts) + "</div>"

    # -- selection ----------------------------------------------------------------------------
    @property
    def selected(self):
        """The selected rows as a DataFrame (the ledger's columns, in the order they were chosen)."""
        df = self._all.drop(columns=["_cost", "_tags"])
        order = {j: i for i, j in enumerate(self.selected_ids)}
        out = df[df["job_id"].isin(order)]
        return out.iloc[out["job_id"].map(order).argsort()].reset_index(drop=True)

    def select(self, job_ids: Iterable[str]) -> "LedgerBrowser":
        ids = [str(j) for j in job_ids]
        known = set(self._all["job_id"])
        for j in ids:
            if j not in known:
                raise ValidationError("job_ids", j, "job ids of this ledger")
        self.selected_ids = list(dict.fromkeys(ids))
        return self

    def select_all(self) -> "LedgerBrowser":
        """Select every row the filters keep."""
        self.selected_ids = [str(j) for j in self._filtered()["job_id"]]
        return self

    def gallery(self, **kwargs: Any):
        """``studio.gallery(browser.selected)``."""
        return self.studio.gallery(self.selected, **kwargs)

    def compare(self, **kwargs: Any):
        """``studio.compare(browser.selected)``: prompts × models of the chosen rows."""
        return self.studio.compare(self.selected, **kwargs)

    def to_html(self, path: Any, **kwargs: Any):
        """A shareable report of the selected videos (``gallery(...).to_html``)."""
        return self.gallery().to_html(path, **kwargs)

    def rerun(self, **changes: Any) -> list:
        """Submit every selected row's request again (``changes`` override fields, e.g. ``seed=3``);
        returns the new Jobs."""
        jobs = []
        for r in self.selected.to_dict("records"):
            r = {k: _clean(v) for k, v in r.items()}
            fields = {k: r.get(k) for k in ("size", "seconds", "seed", "negative_prompt", "audio")
                      if r.get(k) is not None}
            fields.update(changes)
            jobs.append(self.studio.submit(r.get("prompt") or "", r.get("model"), r.get("provider"), **fields))
        return jobs

    # -- writes ---------------------------------------------------------------------------------
    def rate(self, job_id: str, rating: Optional[int]) -> None:
        """Rate a row (1-5, None clears): written to the ledger through the Studio's Job."""
        self.studio.job(job_id).rate(rating)
        self._patch(job_id, rating=rating)

    def set_tags(self, job_id: str, tags: Iterable[str]) -> None:
        """Make a row's tags exactly ``tags`` (added and removed in the ledger)."""
        new = [t.strip() for t in tags if t and t.strip()]
        job = self.studio.job(job_id)
        old = list(tags_of(job.row.get("tags")))
        gone = [t for t in old if t not in new]
        if gone:
            job.untag(*gone)
        added = [t for t in new if t not in old]
        if added:
            job.tag(*added)
        row = self.studio.ledger.get(job_id)
        self._patch(job_id, tags=",".join(tags_of(row.get("tags"))) or None)
        if any(t not in self.choices.get("tag", []) for t in new):
            self.choices = {**self.choices, "tag": sorted({*self.choices.get("tag", []), *new})}

    def _patch(self, job_id: str, **fields: Any) -> None:
        """The cached frame follows a write (no re-read of a 100k-row ledger), views redraw."""
        idx = self._all.index[self._all["job_id"] == job_id]
        for k, v in fields.items():
            self._all.loc[idx, k] = v
        if "tags" in fields:
            self._all.loc[idx, "_tags"] = "," + (fields["tags"] or "") + ","
        self._view, self._sorted = None, {}
        self._apply_keep()

    def _apply_keep(self) -> None:
        self.totals = self._totals_html(self._filtered())
        self.send({"type": "reload", "reset": False})

    # -- play in place --------------------------------------------------------------------------
    def play(self, job_id: str, autoplay: bool = True) -> bool:
        """Show the row in the detail stage and stream its video to the views (as the player does)."""
        rows = self._all[self._all["job_id"] == job_id]
        if rows.empty:
            raise ValidationError("job_id", job_id, "a job id listed by this browser")
        row = {k: _clean(v) for k, v in rows.iloc[0].to_dict().items()}
        self.playing = job_id
        ok = playable(row)
        p = poster(row, max_width=480, max_bytes=16_000, fmt="webp") if ok else None
        self.stage = {"poster": data_uri(p) if p is not None else "", "playable": ok,
                      "label": "" if ok else ("no video" if row.get("status") != "completed" else "video file not in the cache"),
                      "tip": "Play", "note": "", "job_id": job_id}
        self.details = self._details_html(row)
        if ok:
            self.send({"type": "load", "autoplay": bool(autoplay)})
        return ok

    def _path_for(self, content: dict) -> Optional[str]:
        if not self.playing:
            return None
        rows = self._all[self._all["job_id"] == self.playing]
        return None if rows.empty else _local({k: _clean(v) for k, v in rows.iloc[0].to_dict().items()})

    @staticmethod
    def _details_html(row: dict) -> str:
        trs = []
        for k in _DETAILS:
            v = row.get(k)
            if is_missing(v):
                continue
            if k.endswith("_at") or k == "lease_until":
                v = local_time(v, "%Y-%m-%d %H:%M:%S")
            elif k.endswith("_cost"):
                v = money(v)
            elif k == "latency_s":
                v = clock(v)
            elif k == "tags":
                v = ", ".join(tags_of(v))
            trs.append(f"<tr><td class='sk-faint'>{esc(k)}</td><td>{esc(v)}</td></tr>")
        return f"<table class='sk-details'>{''.join(trs)}</table>"

    # -- messages from a view ---------------------------------------------------------------------
    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        reply = {"view": str(content.get("view", ""))}
        try:
            if kind == "lib":
                js, sheet = grid_library()
                self.send({"type": "lib", **reply, "js": js, "css": sheet})
            elif kind == "page":
                order = [tuple(o) for o in content.get("order") or [] if isinstance(o, (list, tuple)) and len(o) == 2]
                page = self.page(content.get("start", 0), content.get("length", self.page_length),
                                 order or (("created_at", "desc"),))
                self.pages_served += 1
                self.send({"type": "page", **reply, "draw": content.get("draw"), **page})
            elif kind == "rate":
                n = content.get("rating")
                self.rate(str(content.get("job_id")), None if n in (None, 0) else int(n))
            elif kind == "tags":
                self.set_tags(str(content.get("job_id")), str(content.get("tags") or "").split(","))
            elif kind == "play":
                self.play(str(content.get("job_id")))
            elif kind == "refresh":
                self.refresh()
            elif kind == "select_all":
                self.select_all()
            elif kind == "select_none":
                self.selected_ids = []
            else:
                self._on_front_end(widget, content, buffers)  # the stage: ping, open, chunk
        except Exception as exc:  # a bad request or a failed write: said in place, never a traceback
            self.message = error_text(exc)
            if kind == "page":
                self.send({"type": "page", **reply, "draw": content.get("draw"), "total": 0, "filtered": 0,
                           "rows": [], "error": error_text(exc)})

    # -- static fallback ----------------------------------------------------------------------
    def _static_html(self) -> str:
        rows = self.sorted().head(25).to_dict("records")
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
                       for h in ("created", "model@provider", "status", "cost", "rating", "prompt"))
        body = "".join(
            "<tr>" + "".join(f"<td style='padding:2px 8px'>{esc(v)}</td>" for v in (
                local_time(r.get("created_at")), model_at(r), r.get("status"), money(_clean(r.get("_cost"))),
                stars(_clean(r.get("rating"))), truncate(r.get("prompt"), 80))) + "</tr>"
            for r in rows)
        n = len(self._filtered())
        more = f"<p>… and {n - 25} more</p>" if n > 25 else ""
        return (f"<div style='font:12px sans-serif'>{self.totals}"
                f"<table style='border-collapse:collapse'><tr>{head}</tr>{body}</table>{more}</div>")

    def _static_text(self) -> str:
        return f"<sorakit ledger browser: {len(self._filtered())} of {len(self._all)} jobs>"


def browse(studio: Any, **kwargs: Any) -> LedgerBrowser:
    """Browse the Studio's ledger in a data grid: filters, sort, cost totals, posters, rating and
    tags in place, play a row; ``browser.selected`` is the chosen rows as a DataFrame."""
    return LedgerBrowser(studio, **kwargs)
