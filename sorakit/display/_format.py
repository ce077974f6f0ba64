"""Small, pure formatting helpers shared by every widget: money, durations, times, status chips.

Everything here takes plain values (ledger row fields) and returns text or escaped HTML, so it can
be tested without a front-end.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from typing import Any, Iterable, Mapping, Optional

__all__ = [
    "esc",
    "is_missing",
    "money",
    "duration",
    "timestamp",
    "local_time",
    "tags_of",
    "status_chip",
    "STATUS_LABELS",
    "clock",
    "plural",
    "short_id",
    "size_text",
    "stars",
    "model_at",
    "truncate",
]

STATUS_LABELS: Mapping[str, tuple[str, str]] = {
    # status: (label a user reads, chip colour class)
    "pending": ("waiting", "grey"),
    "submitted": ("submitted", "blue"),
    "queued": ("queued", "blue"),
    "in_progress": ("rendering", "blue"),
    "downloading": ("downloading", "teal"),
    "completed": ("done", "green"),
    "failed": ("failed", "red"),
    "cancelled": ("cancelled", "grey"),
    "timed_out_waiting": ("still running", "amber"),
    "not_cancelled": ("not cancelled", "amber"),  # a cancel the provider could not carry out
    "unknown": ("unknown", "amber"),
}


def esc(value: Any) -> str:
    """HTML-escape anything (None becomes the empty string)."""
    return "" if value is None else html.escape(str(value), quote=True)


def is_missing(value: Any) -> bool:
    """None, NaN, pandas NA/NaT or the empty string."""
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, (list, tuple, dict, set, bytes)):
        return False
    try:  # pandas NA / NaT, numpy nan
        import pandas as pd

        result = pd.isna(value)
    except (TypeError, ValueError):  # pragma: no cover - odd objects
        return False
    return bool(result) if getattr(result, "shape", ()) == () else False


def money(value: Any, *, unknown: str = "unknown", currency: Optional[str] = "USD") -> str:
    """``$0.80``, ``$0.484``, ``$0.0968``: cents, plus the sub-cent digits the amount has (up to
    four decimals), so a total reads as the sum of the amounts shown and a price times seconds as
    the estimate beside it ($0.484 × 4 = $1.936, not four "$0.48" under "$1.94"). A missing value
    is *unknown* (never ``$0``)."""
    if is_missing(value):
        return unknown
    amount = round(float(value), 4)
    symbol = "$" if currency in (None, "", "USD") else f"{currency} "
    text = f"{abs(amount):,.4f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{abs(amount):,.2f}"
    return f"{'-' if amount < 0 else ''}{symbol}{text}"


def plural(n: int, word: str) -> str:
    """``1 prompt``, ``2 prompts`` (never "prompt(s)")."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def clock(seconds: Any) -> str:
    """Elapsed time, always as a clock: ``0:09``, ``1:38``, ``1:02:05`` (missing -> empty string).
    One format from the first second to the last: a counter never switches from "9.1 s" to "1:38"."""
    if is_missing(seconds):
        return ""
    s = int(round(max(0.0, float(seconds))))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def duration(seconds: Any) -> str:
    """``42 s``, ``3:07``, ``1:02:05`` (missing -> empty string)."""
    if is_missing(seconds):
        return ""
    s = max(0.0, float(seconds))
    if s < 60:
        if abs(s - round(s)) < 0.05 or s >= 10:
            return f"{round(s):.0f} s"
        return f"{s:.1f} s"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def timestamp(value: Any) -> Optional[float]:
    """Unix seconds from a float, a datetime (naive = UTC), a pandas Timestamp or ISO text."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
    if hasattr(value, "to_pydatetime"):
        return timestamp(value.to_pydatetime())
    if isinstance(value, str):
        try:
            return timestamp(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A ledger time shown in the kernel's local time zone (missing -> empty string)."""
    ts = timestamp(value)
    if ts is None:
        return ""
    return dt.datetime.fromtimestamp(ts).strftime(fmt)


def tags_of(value: Any) -> tuple[str, ...]:
    """Tags from a row: a list/tuple, or text joined by ',' (as ``Ledger.df`` shows them)."""
    if is_missing(value):
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                import json

                return tuple(str(t) for t in json.loads(text))
            except ValueError:
                pass
        return tuple(t.strip() for t in text.split(",") if t.strip())
    if isinstance(value, Iterable):
        return tuple(str(t) for t in value)
    return (str(value),)


def status_chip(status: Any, *, extra: str = "") -> str:
    """A small coloured pill naming the status in words a user reads."""
    label, colour = STATUS_LABELS.get(str(status), (str(status), "grey"))
    return f'<span class="sk-chip sk-chip-{colour}" title="status: {esc(status)}">{esc(label)}{esc(extra)}</span>'


def short_id(job_id: Any) -> str:
    """``job_01hx…`` shortened for display (the full id stays in tooltips)."""
    text = "" if job_id is None else str(job_id)
    return text if len(text) <= 14 else text[:9] + "…" + text[-4:]


def size_text(size: Any = None, width: Any = None, height: Any = None) -> str:
    """``1280×720`` from ``"1280x720"`` or width/height."""
    if not is_missing(size):
        return str(size).replace("x", "×")
    if not is_missing(width) and not is_missing(height):
        return f"{int(width)}×{int(height)}"
    return ""


def stars(rating: Any) -> str:
    """``★★★☆☆`` for 3; empty when unrated."""
    if is_missing(rating):
        return ""
    n = max(0, min(5, int(rating)))
    return "★" * n + "☆" * (5 - n)


def model_at(row: Mapping[str, Any]) -> str:
    """``sora-2@openai``: the column title used by galleries and comparisons."""
    model = row.get("model") or "?"
    provider = row.get("provider")
    return f"{model}@{provider}" if provider else str(model)


def truncate(text: Any, limit: int) -> str:
    """Text cut to ``limit`` characters with an ellipsis."""
    s = "" if is_missing(text) else " ".join(str(text).split())
    return s if len(s) <= limit else s[: max(0, limit - 1)].rstrip() + "…"
