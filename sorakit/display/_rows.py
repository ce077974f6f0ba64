"""Turn whatever the user passes (a Studio, Jobs, job ids, ledger rows, a DataFrame) into items."""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from ._base import row_of, studio_of

__all__ = ["Item", "items_of", "is_studio"]


class Item:
    """One job to show: its row, the Job object when there is one, and the Studio."""

    __slots__ = ("row", "job", "studio")

    def __init__(self, row: dict, job: Any = None, studio: Any = None):
        self.row, self.job, self.studio = row, job, studio

    @property
    def source(self) -> Any:
        """What a JobCard takes: the Job when known, else the row."""
        return self.job if self.job is not None else self.row


def is_studio(obj: Any) -> bool:
    return hasattr(obj, "ledger") and hasattr(obj, "submit")


def _df_rows(df: Any) -> list[dict]:
    out = []
    for rec in df.to_dict("records"):
        out.append({k: (None if _na(v) else v) for k, v in rec.items()})
    return out


def _na(v: Any) -> bool:
    try:
        import pandas as pd

        r = pd.isna(v)
        return bool(r) if getattr(r, "shape", ()) == () else False
    except (TypeError, ValueError):
        return False


def items_of(obj: Any, studio: Any = None, *, status: Optional[str] = "completed",
             limit: Optional[int] = None, **filters: Any) -> tuple[list[Item], int]:
    """Items to show and how many matched before ``limit`` (newest ``limit`` kept, oldest first)."""
    items: list[Item] = []
    if is_studio(obj):
        studio = obj
        f = {k: v for k, v in filters.items() if v is not None}
        if status is not None:
            f.setdefault("status", status)
        rows = obj.ledger.rows(**f)
        items = [Item(r, None, obj) for r in rows]
    elif hasattr(obj, "to_dict") and hasattr(obj, "columns"):  # a DataFrame (e.g. ledger.df)
        items = [Item(r, None, studio) for r in _df_rows(obj)]
    else:
        seq: Iterable[Any] = obj if isinstance(obj, (list, tuple)) or hasattr(obj, "__iter__") and not isinstance(obj, (str, Mapping)) else [obj]
        for x in seq:
            if isinstance(x, str):
                if studio is None:
                    raise TypeError(f"job id {x!r} given without a studio: pass studio=...")
                job = studio.job(x)
                items.append(Item(row_of(job), job, studio))
            elif isinstance(x, Mapping):
                items.append(Item(dict(x), None, studio))
            else:
                items.append(Item(row_of(x), x, studio if studio is not None else studio_of(x)))
    total = len(items)
    if limit is not None and total > limit:
        items = items[-limit:]
    return items, total
