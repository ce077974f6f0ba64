"""A grid of videos with captions (prompt, model@provider, seed, cost, latency).

The gallery is one anywidget (``_grid.TileGrid``): each tile is a poster until played (the video
streams from the kernel on play, never into the saved state); tiles of jobs still running follow
them live and turn into posters when done. A saved notebook keeps one small poster per tile (the
``text/html`` fallback). ``to_html(path, embed=...)`` writes a shareable report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from ..ledger._rowcodec import seed_used
from ._grid import TileGrid
from ._live import LiveDisplay, mark_live, shown_live
from ._format import clock, esc, is_missing, model_at, money, truncate
from ._player import static_figure
from ._text import check_text
from ._report import _studio_of, value_section, write_report
from ._rows import Item, items_of

__all__ = ["Gallery", "gallery", "show_batch"]


def caption_html(row: dict, *, prompt: bool = True, model: bool = True) -> str:
    """The static caption of one video: prompt, then model@provider · seed · cost · latency.

    A comparison grid already names the prompt (row) and model (column), so it leaves them out.
    """
    facts = [model_at(row)] if model else []
    seed = seed_used(row)  # the one that made the video: the provider's, else the one asked for
    if seed is not None:
        facts.append(f"seed\u00a0{seed}")  # never "seed" at a line's end, its number below
    cost = row.get("billed_cost")
    facts.append(money(cost if not is_missing(cost) else row.get("estimated_cost")))
    if not is_missing(row.get("latency_s")):
        facts.append(clock(row.get("latency_s")))
    head = f"{esc(truncate(row.get('prompt'), 90))}<br/>" if prompt else ""
    checked = check_text(row)
    tail = f"<br/><span class='sk-checks' style='color:#8c959f'>{esc(checked)}</span>" if checked else ""
    return head + f"<span style='color:#8c959f'>{esc(' · '.join(facts))}</span>" + tail


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
    if known_billed and len(known_billed) < len(rows):  # the tiles mix billed and estimated amounts
        shown = [b if not is_missing(b) else e for b, e in zip(billed, est)]
        known_shown = [float(x) for x in shown if not is_missing(x)]
        parts.append(f"tiles total {money(sum(known_shown))} (billed where reported, else estimated)")
    if rows and all(r.get("emulated") is True for r in rows):
        parts.append("emulated: nothing was charged")
    return " · ".join(parts)


def rejected_text(rejected: Any) -> str:
    """What ``batch(..., skip_invalid=True)`` left out, in one line: ``4 combinations left out:
    Runware accepts no seed for kling-3-standard (seed=1, 2 is not allowed; allowed: None (the
    provider picks))`` (each distinct reason once; its count when there are several)."""
    from .._exceptions import ValidationError, _allowed_text, _show

    rejected = list(rejected or ())
    if not rejected:
        return ""
    groups: dict[tuple, list] = {}
    for r in rejected:
        exc = getattr(r, "error", r)
        if isinstance(exc, ValidationError):
            allowed = _allowed_text(exc.allowed)
            text = str(exc)
            cut = text.find(f"({exc.field}=")
            key = (text[:cut].strip() if cut > 0 else "", exc.field, allowed)
            value = _show(exc.value)
        else:
            key, value = (str(exc), None, None), None
        values = groups.setdefault(key, [])
        if value is not None and value not in values:
            values.append(value)
    parts = []
    for (why, field, allowed), values in groups.items():
        if field is None:
            parts.append(why)
            continue
        detail = f"{field}={', '.join(values)} is not allowed; allowed: {allowed}"
        parts.append(f"{why} ({detail})" if why else detail)
    n = len(rejected)
    return f"{n} combination{'s' if n != 1 else ''} left out: " + "; ".join(parts)


class Gallery(TileGrid):
    """Tiles in a grid of ``columns`` columns: one widget (see ``_grid``), posters until played."""

    def __init__(self, items: list[Item], *, columns: int = 4, total: Optional[int] = None,
                 title: Optional[str] = None, embed: bool = False,
                 eta: Optional[Callable[[], str]] = None, rejected: Any = ()):
        super().__init__()
        self.items = items
        self.rejected = list(rejected or ())
        """The combinations the batch left out (``batch.rejected``): the header says how many and why."""
        self._eta = eta
        """The batch's expected finish as text (``batch.eta().describe()``), for a live batch."""
        self.columns = max(1, int(columns))
        self._embed = embed
        self._title = title
        self._total = total
        self._make_tiles(items, caption_html)
        self.template = f"repeat({self.columns}, minmax(0, 1fr))"
        self.cells = [{"tiles": [i]} for i in range(len(items))]
        self.add_class("sk-gallery")
        self._start()

    @property
    def rows(self) -> list[dict]:
        """The current ledger row of every tile, in order."""
        return [t.row for t in self.tile_list]

    def _render_header(self) -> None:
        head = esc(self._title) + " · " if self._title else ""
        n = len(self.items)
        more = (f" · showing the newest {n} of {self._total} (pass limit=)"
                if self._total is not None and self._total > n else "")
        empty = "" if n else " — nothing to show yet: completed jobs appear here"
        rows = self.rows
        running = sum(1 for r in rows if r.get("status") not in ("completed", "failed", "cancelled"))
        live = f" · {running} still running" if running else ""
        if running and self._eta is not None:
            try:
                eta = self._eta()
            except Exception:  # history is a nicety: the gallery must still show
                eta = ""
            live += f" · {eta}" if eta else ""
        value = f'{head}{esc(totals_text(rows))}{esc(live)}{esc(more)}{esc(empty)}'
        left_out = rejected_text(self.rejected)
        if left_out:
            value += f'<div class="sk-left-out">{esc(left_out)}</div>'
        if value != self.header:
            self.header = value

    def _figures(self, embed: bool, width: int = 220, max_bytes: int = 10_000) -> str:
        cells = [f"<td style='vertical-align:top;padding:4px'>"
                 f"{static_figure(r, width=width, max_bytes=max_bytes, caption=caption_html(r), embed=embed)}</td>"
                 for r in self.rows]
        trs = "".join("<tr>" + "".join(cells[i:i + self.columns]) + "</tr>"
                      for i in range(0, len(cells), self.columns))
        return f"<table style='border-collapse:collapse'>{trs}</table>"

    def _static_html(self) -> str:
        left_out = rejected_text(self.rejected)
        left_out = f" · {esc(left_out)}" if left_out else ""
        return (f"<div><p style='font:12px sans-serif;color:#57606a'>{esc(totals_text(self.rows))}{left_out}</p>"
                f"{self._figures(self._embed)}</div>")

    def to_html(self, path: Any, embed: bool = False, *, title: Optional[str] = None,
                usable: Any = None) -> Path:
        """Write the gallery as ONE self-contained HTML file: posters, captions and a cost table.

        ``embed=True`` writes the videos in too (data URIs: plays anywhere, no kernel, no server)
        and warns above ``EMBED_WARN_BYTES``. Once clips are rated or voted on, a "cost per usable
        second" section (chart and table, `sorakit.engine._value`) comes before the costs; ``usable``
        is its rule (default: rating ≥ 4, else arena-preferred). Returns the file's path.
        """
        rows = self.rows
        left_out = rejected_text(self.rejected)
        subtitle = totals_text(rows) + (f" · {left_out}" if left_out else "")
        return write_report(path, title=title or self._title or "sorakit gallery", subtitle=subtitle,
                            body=self._figures(embed, width=320, max_bytes=24_000), rows=rows, embed=embed,
                            value=value_section(rows, _studio_of(self.tile_list), usable))

    def _static_text(self) -> str:
        rows = self.rows
        left_out = rejected_text(self.rejected)
        lines = [f"<sorakit gallery: {totals_text(rows)}{' · ' + left_out if left_out else ''}>"]
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
    return Gallery(items, columns=columns, total=total, title=title, embed=embed,
                   rejected=getattr(jobs, "rejected", ()))


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
                               eta=(lambda: eta().describe()) if callable(eta) else None,
                               rejected=getattr(batch, "rejected", ())))
    mark_live(key)
    return live
