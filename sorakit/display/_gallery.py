"""A grid of videos with captions (prompt, model@provider, seed, cost, latency).

Each tile is a poster until played; tiles of jobs still running follow them live and turn into
posters when done. A saved notebook keeps one small poster per tile (the ``text/html`` fallback).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import ipywidgets as widgets

from ._base import StaticFallback, html, style_widget, with_class
from ._card import JobCard
from ._live import LiveDisplay, mark_live, shown_live
from ._format import duration, esc, is_missing, model_at, money, truncate
from ._player import static_figure
from ._rows import Item, items_of

__all__ = ["Gallery", "gallery", "show_batch"]


def caption_html(row: dict, *, prompt: bool = True, model: bool = True) -> str:
    """The static caption of one video: prompt, then model@provider · seed · cost · latency.

    A comparison grid already names the prompt (row) and model (column), so it leaves them out.
    """
    facts = [model_at(row)] if model else []
    if not is_missing(row.get("seed")):
        facts.append(f"seed {int(row['seed'])}")
    cost = row.get("billed_cost")
    facts.append(money(cost if not is_missing(cost) else row.get("estimated_cost")))
    if not is_missing(row.get("latency_s")):
        facts.append(duration(row.get("latency_s")))
    head = f"{esc(truncate(row.get('prompt'), 90))}<br/>" if prompt else ""
    return head + f"<span style='color:#8c959f'>{esc(' · '.join(facts))}</span>"


def totals_text(rows: list[dict]) -> str:
    """``12 videos · estimated $9.60 · billed $9.60`` (unknown prices said, never summed as 0)."""
    est = [r.get("estimated_cost") for r in rows]
    billed = [r.get("billed_cost") for r in rows]
    known_est = [float(x) for x in est if not is_missing(x)]
    known_billed = [float(x) for x in billed if not is_missing(x)]
    parts = [f"{len(rows)} video{'s' if len(rows) != 1 else ''}"]
    if known_est:
        parts.append(f"estimated {money(sum(known_est))}"
                     + (f" + {len(est) - len(known_est)} unknown" if len(known_est) < len(est) else ""))
    elif rows:
        parts.append("estimated cost unknown")
    if known_billed:
        parts.append(f"billed {money(sum(known_billed))}")
    if rows and all(r.get("emulated") is True for r in rows):
        parts.append("emulated: nothing was charged")
    return " · ".join(parts)


class Gallery(StaticFallback, widgets.VBox):
    """Tiles in a grid of ``columns`` columns."""

    def __init__(self, items: list[Item], *, columns: int = 4, total: Optional[int] = None,
                 title: Optional[str] = None, embed: bool = False,
                 eta: Optional[Callable[[], str]] = None):
        self.items = items
        self._eta = eta
        """The batch's expected finish as text (``batch.eta().describe()``), for a live batch."""
        self.columns = max(1, int(columns))
        self._embed = embed
        self._title = title
        self._total = total
        self.header = html("")
        self.tiles: list[JobCard] = []
        self.tiles = [JobCard(it.source, studio=it.studio, compact=True, on_terminal=self._on_tile_done)
                      for it in items]
        self.grid = with_class(widgets.GridBox(self.tiles, layout=widgets.Layout(
            grid_template_columns=f"repeat({self.columns}, minmax(0, 1fr))", width="100%")), "sk-grid")
        self._render_header()
        super().__init__(children=[style_widget(), self.header, self.grid], layout=widgets.Layout(width="100%"))
        self.add_class("sk-root")
        self.add_class("sk-gallery")

    def _render_header(self) -> None:
        head = esc(self._title) + " · " if self._title else ""
        n = len(self.items)
        more = (f" · showing the newest {n} of {self._total} (pass limit=)"
                if self._total is not None and self._total > n else "")
        empty = "" if n else " — nothing to show yet: completed jobs appear here"
        rows = [t.row for t in getattr(self, "tiles", [])]
        running = sum(1 for r in rows if r.get("status") not in ("completed", "failed", "cancelled"))
        live = f" · {running} still running" if running else ""
        if running and self._eta is not None:
            try:
                eta = self._eta()
            except Exception:  # history is a nicety: the gallery must still show
                eta = ""
            live += f" · {eta}" if eta else ""
        self.header.value = (f'<div class="sk-faint">{head}{esc(totals_text(rows))}{esc(live)}'
                             f'{esc(more)}{esc(empty)}</div>')

    def _on_tile_done(self, _row: dict) -> None:
        """A tile's job finished (engine thread): refresh the totals line."""
        self._render_header()

    def _static_html(self) -> str:
        rows = [t.row for t in self.tiles]
        cells = [f"<td style='vertical-align:top;padding:4px'>"
                 f"{static_figure(r, width=220, max_bytes=10_000, caption=caption_html(r), embed=self._embed)}</td>"
                 for r in rows]
        trs = "".join("<tr>" + "".join(cells[i:i + self.columns]) + "</tr>"
                      for i in range(0, len(cells), self.columns))
        return (f"<div><p style='font:12px sans-serif;color:#57606a'>{esc(totals_text(rows))}</p>"
                f"<table style='border-collapse:collapse'>{trs}</table></div>")

    def _static_text(self) -> str:
        rows = [t.row for t in self.tiles]
        lines = [f"<sorakit gallery: {totals_text(rows)}>"]
        lines += [f"  {model_at(r):<28} {truncate(r.get('prompt'), 50)!r} {r.get('file_path') or ''}" for r in rows]
        return "\n".join(lines)


def gallery(jobs: Any, columns: int = 4, *, studio: Any = None, limit: Optional[int] = 48,
            embed: bool = False, title: Optional[str] = None, **filters: Any) -> Gallery:
    """A grid of videos with captions.

    Args:
        jobs: a Studio (its completed jobs; ``filters`` as in ``ledger.query``: model=, provider=,
            tag=, since=, until=...), a list of Jobs / job ids / ledger rows, or a DataFrame
            such as ``ledger.query(...)``.
        columns: tiles per row.
        limit: show at most this many (the newest); None for all.
        embed: also write every video as base64 into the saved notebook (large!).
    """
    items, total = items_of(jobs, studio, limit=limit, **filters)
    return Gallery(items, columns=columns, total=total, title=title, embed=embed)


def show_batch(batch: Any, columns: int = 4) -> Optional[LiveDisplay]:
    """Display a live gallery of a Batch's jobs (``studio.batch(progress=True)`` calls this).

    Tiles show each job's progress and turn into posters as they finish. Returns the live display
    (its ``close()`` saves the final state), or None when this cell already shows it.
    """
    key = "batch:" + ",".join(str(getattr(j, "id", j)) for j in batch)
    if shown_live(key):
        return None  # the live gallery of ``studio.batch(...)`` is already above in this cell
    items, total = items_of(batch, None, status=None, limit=None)
    eta = getattr(batch, "eta", None)
    live = LiveDisplay(Gallery(items, columns=min(columns, max(1, len(items))), total=total,
                               eta=(lambda: eta().describe()) if callable(eta) else None))
    mark_live(key)
    return live
