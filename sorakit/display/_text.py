"""Words about a job that the widgets show: progress, usual latency, what a Cancel will do, how a
job ended. The job cards (``_card``, also under the form) and the tile grid (``_grid``) send them
to the page as plain text. Plain functions of a ledger row (or a Job handle): no widget code here.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional

from .._types import NOT_CANCELLED, TERMINAL
from ._format import clock, duration, is_missing, timestamp
from ._live import log

__all__ = ["progress_text", "usual_text", "plain_reason", "cancel_words", "stopped_waiting", "outcome",
           "outcome_text", "check_text"]

_WAITING = {"pending", "submitted", "queued"}


def _elapsed(row: Mapping[str, Any], now: Optional[float] = None) -> Optional[float]:
    """Seconds from submit (or creation) to completion, or to now while running."""
    if not is_missing(row.get("latency_s")) and row.get("status") in TERMINAL:
        return float(row["latency_s"])
    start = timestamp(row.get("submitted_at")) or timestamp(row.get("created_at"))
    if start is None:
        return None
    end = timestamp(row.get("completed_at")) if row.get("status") in TERMINAL else None
    return max(0.0, (end or now or time.time()) - start)


def _progress(row: Mapping[str, Any]) -> Optional[int]:
    p = row.get("progress")
    return None if is_missing(p) else max(0, min(100, int(p)))


def progress_text(row: Mapping[str, Any], now: Optional[float] = None, usual: str = "") -> str:
    """``42% · 0:12 elapsed · about 17 s left`` (words a user reads, not raw status names).

    ``usual`` (the model's history, ``Latency.describe()``: "usually ready in ~N s (median of K
    runs, p90 M s)" or "no history for this model yet") is added while the job waits or runs
    without a progress figure."""
    status = str(row.get("status") or "")
    if status == "timed_out_waiting" and row.get("error_code") == NOT_CANCELLED:
        return "not cancelled: sorakit stopped waiting (studio.resume() finishes it)"  # no clock: nobody waits
    if status == "unknown" and row.get("error_code"):  # the engine stopped reconciling: a person settles it
        return ("outcome of the submit unknown: check the provider, then job.settle_unknown(video_id=...) "
                "or job.settle_unknown(absent=True, resend=True)")
    el = _elapsed(row, now)
    p = _progress(row)
    parts: list[str] = []
    if status in _WAITING:
        parts.append("waiting in the provider's queue" if status == "queued" else "sending")
    elif status == "downloading":
        parts.append("downloading the video")
    elif status == "timed_out_waiting":
        parts.append("still running remotely; studio.resume() finishes it")
    elif status == "unknown":
        parts.append("outcome of the submit unknown; it will be reconciled")
    elif p is not None:
        parts.append(f"{p}%")
    if el is not None:
        parts.append(f"{clock(el)} elapsed")
    if status == "in_progress" and p is not None and 3 <= p < 100 and el:
        parts.append(f"about {duration(el * (100 - p) / p)} left")
    elif usual and (status in _WAITING or (status == "in_progress" and not p)):
        parts.append(usual)
    return " · ".join(parts)


def usual_text(job: Any, *, brief: bool = False) -> str:
    """The job's model's usual latency from the ledger, as text (``Latency.describe()``, or
    ``.brief()`` for a tile); "" without a Job handle or when the ledger cannot be read."""
    try:
        if job is None:
            return ""
        latency = job.usual_latency
        return latency.brief() if brief else latency.describe()
    except Exception:  # history is a nicety: a card or tile must still show its job
        log.warning("sorakit.display: no latency history for %s", getattr(job, "id", job), exc_info=True)
        return ""


_SOURCE_MARKS = (".py", ".md", "§", "sdk", "SDK", "spec", "openapi", "OpenAPI", "docs")


def plain_reason(text: str) -> str:
    """A cancel's reason as a user reads it: without the parenthesised sources (``(runware-sdk
    1.8.0 client.py ...; PROTOCOLS.md §2 ...)``) the engine records for developers, and without
    its "cancel requested, but" lead."""
    out, depth, start, keep = [], 0, 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            if depth == 0:
                group = text[start:i + 1]
                if any(m in group for m in _SOURCE_MARKS):
                    out.append(text[keep:start].rstrip())
                    keep = i + 1
    out.append(text[keep:])
    plain = "".join(out).strip()
    for lead in ("cancel requested, but ", "cancel requested: "):
        if plain.startswith(lead):
            plain = plain[len(lead):]
            plain = plain[:1].upper() + plain[1:]
    return plain


def cancel_words(job: Any) -> tuple[str, str]:
    """The Cancel button's ``(label, tooltip)`` before the click: "Stop waiting" where the job's
    provider cannot stop a job it was sent (Runware, Runcrate, relays, Veo operations)."""
    try:
        support = getattr(job, "cancel_support", None)
    except Exception:  # a nicety: the button still works
        support = None
    if support is not None and getattr(support, "how", None) == "none":
        name = getattr(job, "row", {}).get("provider") if job is not None else ""
        return ("Stop waiting",
                f"{name or 'This provider'} cannot stop a job once it is sent: this only stops sorakit "
                f"waiting. The job still runs and is billed; it stays in the ledger (job.wait() or "
                f"studio.resume() fetches it).")
    if support is not None and getattr(support, "how", None) == "delete":
        return "Cancel", "Ask the provider to delete this job (the card says whether it could, and what is billed)"
    return "Cancel", "Stop this job (the card says whether it is billed)"


def stopped_waiting(row: Mapping[str, Any]) -> bool:
    """A cancel the provider could not carry out: sorakit stopped waiting, the job runs on there."""
    return row.get("error_code") == NOT_CANCELLED and row.get("status") not in TERMINAL \
        and row.get("status") != "completed"


def outcome(row: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """What ended (or could not stop) a job, as plain text: ``(kind, head, code, detail)``, kind
    ``"failed"``, ``"cancelled"`` or ``"refused"`` (a cancel the provider could not carry out),
    ``("", "", "", "")`` otherwise. Cards render it as HTML, the anywidget form as text."""
    msg = row.get("error_message")
    msg = "" if is_missing(msg) else str(msg)
    status = row.get("status")
    if status == "failed":
        code = row.get("error_code")
        return ("failed", "The provider reported a failure", "" if is_missing(code) else str(code),
                msg or "no message was given")
    if status == "cancelled":
        billed = ((row.get("extra") or {}).get("cancel") or {}).get("billed")
        return "cancelled", "Cancelled" + (f" · billed: {billed}" if billed else ""), "", plain_reason(msg)
    if row.get("error_code") == NOT_CANCELLED:
        return "refused", "Not cancelled: sorakit stopped waiting, the job may still run and bill", "", \
            plain_reason(msg)
    return "", "", "", ""


def outcome_text(row: Mapping[str, Any]) -> str:
    """`outcome` in one line: ``The provider reported a failure · code: message``."""
    _kind, head, code, detail = outcome(row)
    return head + (f" · {code}" if code else "") + (f": {detail}" if detail else "")


def _scores(row: Mapping[str, Any]) -> dict:
    v = row.get("scores")
    if isinstance(v, str) and v:
        import json

        try:
            v = json.loads(v)
        except ValueError:
            return {}
    return v if isinstance(v, dict) else {}


def check_text(row: Mapping[str, Any]) -> str:
    """The clip checks in one line: ``checks ok · motion 0.2`` or ``⚠ frozen 2.7 s · seconds 4
    (asked 8)``, then your scorers' numbers (``brightness 0.42``); "" before the checks ran."""
    parts: list[str] = []
    defects = row.get("check_defects")
    if not is_missing(row.get("check_error")) and row.get("check_error"):
        parts.append(f"not checked: {row.get('check_error')}")
    elif defects == "" or not is_missing(defects):  # "" = checked, nothing found
        found = [d for d in str(defects).split(",") if d]
        if not found:
            motion = row.get("check_motion")
            parts.append("checks ok" + (f" · motion {float(motion):.2g}" if not is_missing(motion) else ""))
        else:
            said = []
            for d in found:
                if d == "mismatch":
                    said.append(str(row.get("check_mismatch") or "not as asked"))
                elif d in ("black", "frozen") and not is_missing(row.get(f"check_{d}_s")):
                    said.append(f"{d} {float(row.get(f'check_{d}_s')):.1f}\u00a0s")
                else:
                    said.append(d)
            parts.append("\u26a0 " + " · ".join(said))
    scores = _scores(row)
    for name, v in scores.items():
        if name == "errors":
            continue
        if isinstance(v, dict):
            parts.extend(f"{name}.{k} {x:.3g}" for k, x in v.items() if isinstance(x, (int, float)))
        elif isinstance(v, (int, float)):
            parts.append(f"{name} {v:.3g}")
    for name in (scores.get("errors") or {}):
        parts.append(f"{name}: error")
    return " · ".join(parts)
