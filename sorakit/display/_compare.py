"""Prompts × models: one row per prompt, one column per model@provider, live while jobs run."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from ._base import error_text
from ._format import esc, model_at, plural, truncate
from ._grid import Tile, TileGrid
from ._gallery import caption_html, totals_text
from ._player import static_figure
from ._report import _studio_of, value_section, write_report
from ._rows import Item, is_studio, items_of

__all__ = ["CompareGrid", "compare"]


class CompareGrid(TileGrid):
    """A matrix of tiles in one widget: ``tiles_at[(prompt, column)]`` lists the cell's tiles.

    ``entries[(prompt, column)]`` is what the cell was given: items, or error texts for requests
    that could not be sent.
    """

    def __init__(self, prompts: Sequence[str], columns: Sequence[str],
                 cells: dict[tuple[str, str], list[Any]], *, title: Optional[str] = None):
        super().__init__()
        self.prompts, self.columns, self.entries = list(prompts), list(columns), cells
        self._title = title
        self.tiles_at: dict[tuple[str, str], list[Tile]] = {}
        layout: list[dict] = [{"html": "prompt ╲ model", "cls": "sk-colhead sk-faint"}]
        layout += [{"html": esc(col), "cls": "sk-colhead"} for col in self.columns]
        cap = lambda r: caption_html(r, prompt=False, model=False)  # noqa: E731 - the row and column say those
        for prompt in self.prompts:
            layout.append({"html": f'<span title="{esc(prompt)}">{esc(truncate(prompt, 140))}</span>',
                           "cls": "sk-rowhead"})
            for col in self.columns:
                entries = cells.get((prompt, col), [])
                items = [e for e in entries if isinstance(e, Item)]
                errors = "".join(f'<div class="sk-err">{esc(e)}</div>' for e in entries if not isinstance(e, Item))
                first = len(self.tile_list)
                tiles = self._make_tiles(items, cap)
                if tiles:
                    self.tiles_at[(prompt, col)] = tiles
                layout.append({"html": errors or ("" if tiles else '<span class="sk-faint">—</span>'),
                               "tiles": list(range(first, first + len(tiles)))})
        # the prompt column as wide as its text, at most 200 px ("a fox" took a third of the width)
        self.template = f"fit-content(200px) repeat({len(self.columns)}, minmax(0, 1fr))"
        self.cells = layout
        self.add_class("sk-compare")
        self._start()

    def _render_header(self) -> None:
        rows = [t.row for t in self.tile_list]
        value = (esc(self._title) + " · " if self._title else "") + esc(
            f"{plural(len(self.prompts), 'prompt')} × {plural(len(self.columns), 'model')} · {totals_text(rows)}")
        if value != self.header:
            self.header = value

    @property
    def jobs(self) -> list[Any]:
        """The Jobs (or rows) shown, row by row."""
        return [t.job if t.job is not None else t.row for p in self.prompts for col in self.columns
                for t in self.tiles_at.get((p, col), [])]

    def _table(self, embed: bool, width: int = 200, max_bytes: int = 10_000) -> str:
        head = "<tr><th></th>" + "".join(
            f"<th style='font:600 12px sans-serif;text-align:left;padding:4px'>{esc(c)}</th>" for c in self.columns) + "</tr>"
        body = ""
        for p in self.prompts:
            body += f"<tr><td style='font:12px sans-serif;vertical-align:top;padding:4px;max-width:180px'>{esc(truncate(p, 140))}</td>"
            for col in self.columns:
                figs = "".join(static_figure(t.row, width=width, max_bytes=max_bytes, embed=embed,
                                             caption=caption_html(t.row, prompt=False, model=False))
                               for t in self.tiles_at.get((p, col), []))
                errors = "".join(f"<div style='color:#c4242f;font:12px sans-serif'>{esc(e)}</div>"
                                 for e in self.entries.get((p, col), []) if not isinstance(e, Item))
                body += f"<td style='vertical-align:top;padding:4px'>{figs or errors or '—'}</td>"
            body += "</tr>"
        return f"<table style='border-collapse:collapse'>{head}{body}</table>"

    def _static_html(self) -> str:
        return self._table(False)

    def to_html(self, path: Any, embed: bool = False, *, title: Optional[str] = None,
                usable: Any = None) -> Path:
        """Write the comparison as ONE self-contained HTML file (see ``Gallery.to_html``)."""
        rows = [t.row for t in self.tile_list]
        return write_report(path, title=title or self._title or "sorakit comparison",
                            subtitle=f"{plural(len(self.prompts), 'prompt')} × {plural(len(self.columns), 'model')}"
                                     f" · {totals_text(rows)}",
                            body=self._table(embed, width=300, max_bytes=24_000), rows=rows, embed=embed,
                            value=value_section(rows, _studio_of(self.tile_list), usable))

    def _static_text(self) -> str:
        return (f"<sorakit compare: {plural(len(self.prompts), 'prompt')} × {plural(len(self.columns), 'model')}: "
                f"{', '.join(self.columns)}>")


def compare(studio_or_jobs: Any, prompts: Optional[Iterable[str]] = None,
            models: Optional[Iterable[str]] = None, *, studio: Any = None, limit: Optional[int] = None,
            blind: bool = False, seed: Optional[int] = None, **request_fields: Any) -> Any:
    """Compare models side by side: rows are prompts, columns are ``model@provider``.

    ``compare(studio, prompts=[...], models=["veo-3-fast", "kling-3-standard@runware"], seconds=5)``
    submits every prompt to every model as ONE ``studio.batch`` (one budget check, one ledger
    transaction; returns at once, tiles fill in live). A request a model cannot take shows its
    validation message in its cell, the others still run; over budget, nothing is sent and every
    cell says why.
    ``compare(jobs)`` (Jobs, rows or a DataFrame) or ``compare(studio)`` arranges existing jobs.
    ``blind=True`` is the blind arena (`sorakit.display.Arena`) over the completed clips instead:
    two of one prompt at a time, labels hidden, each vote a ledger record (nothing is submitted).
    """
    if blind:
        from ._arena import arena

        if request_fields:
            raise ValueError("compare(blind=True) judges clips already made; it takes no request fields "
                             f"({', '.join(sorted(request_fields))})")
        return arena(studio_or_jobs, prompts, models, studio=studio, seed=seed, limit=limit)
    if is_studio(studio_or_jobs) and prompts is not None:
        return _run(studio_or_jobs, list(prompts), list(models or []), request_fields)

    items, _total = items_of(studio_or_jobs, studio, limit=limit,
                             status="completed" if is_studio(studio_or_jobs) else None)
    prompts_seen: list[str] = []
    columns = []
    cells = {}
    for it in items:
        p = str(it.row.get("prompt") or "")
        c = model_at(it.row)
        if p not in prompts_seen:
            prompts_seen.append(p)
        if c not in columns:
            columns.append(c)
        cells.setdefault((p, c), []).append(it)
    if prompts is not None:
        wanted = list(prompts)
        prompts_seen = [p for p in wanted if p in prompts_seen]
    if models is not None:
        wanted_cols = [m if "@" in m else None for m in models]
        bare = {m for m in models if "@" not in m}
        columns = [c for c in columns if c in wanted_cols or c.split("@")[0] in bare]
    return CompareGrid(prompts_seen, columns, cells)


def _run(st: Any, prompts: list[str], specs: list[str], request_fields: dict) -> CompareGrid:
    """The grid of a new comparison, submitted through the Studio's public batch call."""
    if not specs:
        raise ValueError("compare(studio, prompts=..., models=[...]) needs at least one model")
    cells: dict[tuple[str, str], list[Any]] = {}
    for prompt in prompts:  # every cell in request order, filled below
        for spec in specs:
            cells.setdefault((prompt, str(spec).strip()), [])
    try:
        batch = st.batch(prompts, models=specs, wait=False, progress=False, skip_invalid=True, **request_fields)
    except Exception as exc:  # over budget or a bad argument: nothing was sent; every cell says why
        for key in cells:
            cells[key].append(error_text(exc))
        return CompareGrid(prompts, list(dict.fromkeys(c for _, c in cells)), cells)
    for r in batch.rejected:
        cells.setdefault((r.prompt, str(r.model).strip()), []).append(error_text(r.error))
    items, _ = items_of(list(batch), st, status=None, limit=None)
    for item in items:
        spec = _spec_of(item.row, specs)
        cells.setdefault((str(item.row.get("prompt")), spec), []).append(item)
    # a column for a model without provider shows the provider the catalog picked
    final: dict[tuple[str, str], list[Any]] = {}
    for (p, c), entries in cells.items():
        col = c
        if "@" not in c:
            picked = {model_at(e.row) for e in entries if isinstance(e, Item)}
            if len(picked) == 1:
                col = picked.pop()
        final.setdefault((p, col), []).extend(entries)
    columns = list(dict.fromkeys(c for _, c in final))
    return CompareGrid(prompts, columns, {k: v for k, v in final.items() if v})


def _spec_of(row: dict, specs: list[str]) -> str:
    """The column (as the user wrote it) a job's row belongs to."""
    at = model_at(row)
    for spec in specs:
        s = str(spec).strip()
        if s == at or s == row.get("model"):
            return s
    return at
