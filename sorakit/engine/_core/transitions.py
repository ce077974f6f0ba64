"""Pure transitions: what a provider's answer does to a ledger row, and when to ask again.

No event loop, no I/O, no clock of their own: each function takes a row (a dict), what the
provider said (`JobState`) and the time, and returns the changes to write and the next step. The
phases (`create`, `poll`, `download`) do the I/O and hand these changes to the job book
(`book.Book`, the only writer); the driver acts on the next step. Property-tested in
``tests/engine/test_transitions.py``.

Poll states -> ledger status: ``queued`` / ``in_progress`` are copied; ``completed`` -> the row goes
``downloading`` (with the provider's URL, seed and cost) and the next step is a download;
``failed`` -> ``failed`` with the provider's code, and the cost it reported (else nothing is
billed); ``cancelled`` -> ``cancelled``. A progress figure alone is written at most every
``progress_write_interval`` seconds (it is shown live in between).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from ..._exceptions import ValidationError
from ..._types import TERMINAL, JobState
from .._policy import Policy

__all__ = ["DOWNLOAD_FAILED", "POLL_STATUSES", "CREATE_STATUSES", "Step", "phase", "assign", "on_state",
           "fail_changes", "completed_changes", "token_cost", "next_delay", "backoff", "jitter"]

UTC = dt.timezone.utc
DOWNLOAD_FAILED = "download_failed"
"""``error_code`` of a job whose video was made but could not be fetched (``job.retry_download()``)."""
POLL_STATUSES = frozenset({"submitted", "queued", "in_progress", "timed_out_waiting"})
CREATE_STATUSES = frozenset({"pending", "unknown"})


def known(value: Any) -> bool:
    """A number that is not None/NaN (an estimate the catalog knows)."""
    return isinstance(value, (int, float)) and value == value


def token_cost(row: dict, tokens: int) -> dict:
    """What a job's reported output video tokens cost at the per-token rate its row was priced
    with (``extra.price.usd_per_video_token``): ``{output_video_tokens, usd_per_video_token,
    billed_cost, source, as_of}``; no ``billed_cost`` when the rate is unknown (an id the catalog
    lacks: the tokens are kept, the cost stays unknown, never 0)."""
    price = (row.get("extra") or {}).get("price") or {}
    rate = price.get("usd_per_video_token")
    out: dict[str, Any] = {"output_video_tokens": int(tokens)}
    if isinstance(rate, (int, float)) and rate > 0:
        out.update(usd_per_video_token=float(rate), billed_cost=round(int(tokens) * float(rate), 6),
                   source=price.get("source"), as_of=price.get("as_of"))
    return out


def phase(statuses: Iterable[Optional[str]]) -> str:
    """Which phase the rows of one task are in: ``create``, ``poll``, ``download`` or ``done``."""
    found = {s or "pending" for s in statuses}
    if found & CREATE_STATUSES:
        return "create"
    if found & POLL_STATUSES:
        return "poll"
    if "downloading" in found:
        return "download"
    return "done"


def assign(rows: Sequence[dict], states: Sequence[JobState]) -> dict[str, JobState]:
    """Which provider state speaks for which row of one create (``variations=n``: n rows, one
    request). A finished video goes to the row that already names it, else to the first free row;
    a failure with nothing left running fails every free row; running rows share the most
    advanced running state."""
    if not states:
        return {}
    done = [s for s in states if s.status in ("completed", "failed")]
    running = [s for s in states if s.status not in ("completed", "failed")]
    assigned: dict[str, JobState] = {}
    if len(rows) == 1:
        assigned[rows[0]["job_id"]] = states[0]
        return assigned
    taken = {(r.get("extra") or {}).get("video_id"): r["job_id"] for r in rows
             if (r.get("extra") or {}).get("video_id")}
    free = [r["job_id"] for r in rows if r.get("status") in POLL_STATUSES | CREATE_STATUSES
            and not (r.get("extra") or {}).get("video_id")]
    for s in done:
        if s.provider_video_id and s.provider_video_id in taken:
            assigned[taken[s.provider_video_id]] = s
        elif s.status == "completed" and free:
            assigned[free.pop(0)] = s
    failed = [s for s in done if s.status == "failed" and s not in assigned.values()]
    if failed and not running:
        for jid in list(free):
            assigned[jid] = failed[0]
        free = []
    elif failed:
        for s in failed:
            if free:
                assigned[free.pop(0)] = s
    if running:
        best = max(running, key=lambda s: s.progress or 0)
        for jid in free:
            assigned[jid] = best
    return assigned


@dataclass(frozen=True)
class Step:
    """What one provider state does to one row: ``changes`` to write (empty: nothing), then
    ``next`` — ``"stay"`` (keep polling), ``"download"`` (the video is ready) or ``"end"`` (the row
    is terminal). ``progress``: a figure to show live even when it is not written yet."""

    changes: dict = field(default_factory=dict)
    next: str = "stay"
    progress: Optional[int] = None


def completed_changes(row: dict, s: JobState) -> dict:
    """The update of a row whose video the provider reports finished (status ``downloading``)."""
    changes: dict[str, Any] = {"status": "downloading", "progress": 100}
    if s.video_url:
        changes["video_url"] = s.video_url
    if s.video_url_expires_at:
        changes["video_url_expires_at"] = dt.datetime.fromtimestamp(s.video_url_expires_at, UTC)
    if s.seed is not None and s.seed != row.get("provider_seed"):
        changes["provider_seed"] = s.seed  # what the provider used (variations differ); seed = asked
    extra_changes: dict[str, Any] = {}
    if s.billed_cost is not None:
        changes["billed_cost"] = s.billed_cost
        changes["billed_cost_source"] = "provider"
    elif s.output_video_tokens is not None:
        usage = token_cost(row, s.output_video_tokens)
        extra_changes["usage"] = usage
        if usage.get("billed_cost") is not None:
            changes["billed_cost"] = usage["billed_cost"]
            changes["billed_cost_source"] = "usage"
    if s.provider_video_id:
        extra_changes["video_id"] = s.provider_video_id
    if extra_changes:
        changes["extra"] = {**(row.get("extra") or {}), **extra_changes}
    return changes


def fail_changes(row: dict, code: str, message: str, now: dt.datetime, billed: Optional[float] = None,
                 generated: bool = False) -> dict:
    """The update that marks a row failed. ``generated``: the provider finished the video (it was
    billed) but it could not be fetched, so the cost stays on the books at the catalog price."""
    submitted = row.get("submitted_at")
    cost: dict[str, Any] = {}
    if billed is not None:
        cost = {"billed_cost": billed, "billed_cost_source": "provider"}
    elif row.get("billed_cost_source") in ("provider", "usage"):  # keep a charge the provider reported
        pass
    elif generated and known(row.get("estimated_cost")):
        cost = {"billed_cost": row["estimated_cost"], "billed_cost_source": "catalog"}
    else:
        cost = {"billed_cost": 0.0, "billed_cost_source": "none"}
    return dict(status="failed", error_code=str(code)[:200], error_message=str(message)[:2000],
                completed_at=now,
                latency_s=(now - submitted).total_seconds() if isinstance(submitted, dt.datetime) else None,
                **cost)


NOT_CREATED = "not_created"
"""``error_code`` of a job settled by hand as never made by its provider (nothing billed)."""


def absent_through(row: dict) -> int:
    """How many of the row's create attempts a person confirmed made nothing (`settle_changes`):
    attempts up to this count are not reconciled again."""
    return int((row.get("extra") or {}).get("absent_through") or 0)


def settle_changes(row: dict, video_id: Optional[str], absent: bool, resend: bool, now: dt.datetime,
                   who: Optional[str]) -> dict:
    """The update of a row whose create's outcome is unknown, settled by a person who checked the
    provider (its dashboard, its support): ``video_id`` — it made the job under that id (the row
    goes ``submitted`` and is polled, then downloaded); ``absent`` — it has no such job, so the
    row fails ``not_created`` with nothing billed, or with ``resend`` goes back to ``pending`` to be
    sent again (the attempts so far are recorded as made nothing: `absent_through`). Who settled
    it, when, and how stand in ``extra.settled``. Raises `ValidationError` naming the argument (or
    the row's ``status``) when the call or the row does not fit."""
    if video_id is not None and (not isinstance(video_id, str) or not video_id.strip()):
        raise ValidationError("video_id", video_id, "the provider's id of the job, a non-empty string")
    if not isinstance(absent, bool) or not isinstance(resend, bool):
        field_, value = ("absent", absent) if not isinstance(absent, bool) else ("resend", resend)
        raise ValidationError(field_, value, "True or False")
    one_of = "either video_id='<the provider's id>' (it made the job) or absent=True (it has none)"
    if video_id is not None and absent:
        raise ValidationError("absent", absent, one_of + ", not both")
    if video_id is None and not absent:
        raise ValidationError("video_id", video_id, one_of)
    if resend and not absent:
        raise ValidationError("resend", resend, "True only with absent=True")
    status, attempts = row.get("status"), int(row.get("attempts") or 0)
    if status not in CREATE_STATUSES or (status != "unknown" and attempts <= absent_through(row)):
        raise ValidationError("status", status, "'unknown', or 'pending' after a send whose answer was lost",
                              f"job {row.get('job_id')}: there is no unknown outcome to settle")
    extra = dict(row.get("extra") or {})
    extra["settled"] = {"at": now.isoformat(), "by": who, "attempts": attempts,
                        "video_id": video_id, "resend": resend}
    if video_id is not None:
        return dict(status="submitted", provider_job_id=video_id.strip(), error_code=None, error_message=None,
                    submitted_at=row.get("submitted_at") or now, extra=extra)
    if resend:
        extra["absent_through"] = attempts
        return dict(status="pending", error_code=None, error_message=None, extra=extra)
    return {**fail_changes(row, NOT_CREATED, "settled by hand: the provider has no such job, nothing was "
                           "billed", now), "extra": extra}


def downloaded_changes(row: dict, file_url: str, poster_url: Optional[str], sha256: str, nbytes: int,
                       now: dt.datetime) -> dict:
    """The update of a row whose video is fetched, checked and stored: ``completed``; the cost is
    the provider's (or usage's) when it reported one, else the catalog estimate, else unknown."""
    submitted = row.get("submitted_at")
    changes: dict[str, Any] = dict(
        status="completed", progress=100, file_path=file_url,
        poster_path=poster_url, sha256=sha256, bytes=nbytes,
        completed_at=now, error_code=None, error_message=None,
        latency_s=(now - submitted).total_seconds() if isinstance(submitted, dt.datetime) else None,
    )
    if row.get("billed_cost_source") not in ("provider", "usage"):
        est = row.get("estimated_cost")
        is_known = est is not None and not (isinstance(est, float) and math.isnan(est))
        changes["billed_cost"] = est if is_known else None
        changes["billed_cost_source"] = "catalog" if is_known else "none"
    return changes


def on_state(row: dict, s: JobState, now: dt.datetime, mono: float, last_progress_write: float,
             progress_write_interval: float) -> Step:
    """``(row, provider state, now) -> changes + next step`` for one row (see the module docstring).
    ``mono``/``last_progress_write``: monotonic seconds now and at this row's last progress write."""
    status = row.get("status")
    if status in TERMINAL or status == "downloading":
        return Step(next="end" if status in TERMINAL else "stay")
    if s.status == "completed":
        return Step(completed_changes(row, s), "download")
    if s.status == "failed":
        return Step(fail_changes(row, s.error_code or "failed", s.error_message or "failed", now,
                                 billed=s.billed_cost), "end")
    if s.status == "cancelled":
        return Step({"status": "cancelled", "completed_at": now}, "end")
    new_status = s.status if s.status in ("queued", "in_progress") else status
    if status in ("timed_out_waiting", "submitted") and new_status not in ("queued", "in_progress"):
        new_status = "in_progress" if status == "timed_out_waiting" else status
    changes: dict[str, Any] = {}
    if new_status != status:
        changes["status"] = new_status
    live = None
    if s.progress is not None and s.progress != row.get("progress"):
        live = s.progress
        if changes or mono - last_progress_write >= progress_write_interval:
            changes["progress"] = s.progress
    return Step(changes, "stay", live)


# ---------------------------------------------------------------------- the next-delay rule
def _grow(base: float, factor: float, n: int) -> float:
    """``base * factor ** n`` without overflowing (a job polled for hours at a small cap)."""
    try:
        return base * (factor ** n)
    except OverflowError:
        return math.inf


def jitter(policy: Policy, seconds: float, rng: random.Random | Any = random) -> float:
    """``seconds`` ± ``policy.jitter`` (a fraction)."""
    j = policy.jitter
    return seconds * (1.0 + rng.uniform(-j, j)) if j else seconds


def backoff(policy: Policy, attempt: int, retry_after: Optional[float] = None,
            rng: random.Random | Any = random) -> float:
    """How long to wait before retry number ``attempt`` (0-based): what the server asked
    (``retry_after`` plus up to 50 ms), else exponential from ``retry_initial`` capped at
    ``retry_max``, with "equal jitter" (between half and all of it)."""
    if retry_after is not None and retry_after >= 0:
        return retry_after + rng.uniform(0, 0.05)
    p = policy
    return min(p.retry_max, _grow(p.retry_initial, 2.0, attempt)) * rng.uniform(0.5, 1.0)


def next_delay(policy: Policy, n: int, states: Sequence[JobState], *, hint: Optional[float],
               rate: Optional[float], samples: int, seen: Sequence[tuple[float, float]],
               submitted: Optional[float], now: float, rng: random.Random | Any = random
               ) -> tuple[float, list[tuple[float, float]], Optional[float]]:
    """When to poll next, after the ``n``-th poll answered ``states`` (0-based).

    * ``in_progress`` with a progress figure: at the predicted finish, from this job's progress
      rate or the rate learned from earlier jobs of the same model (until that rate is known,
      one early calibration poll measures it);
    * otherwise exponential backoff (``poll_initial`` × ``poll_factor``ⁿ, capped at
      ``poll_max`` and at half a learned generation time, so a queued job is seen running);
      such a job is also woken when another job of the provider finishes (FIFO queues);
    * never sooner than the server's hint (``openai-poll-after-ms``); ± jitter on backoff.

    ``rate``/``samples``: the learned progress points per second of the model; ``seen``: this
    job's last ``(monotonic time, progress)`` figures; ``submitted``: monotonic send time.
    Returns ``(delay, seen with this answer, a progress rate measured now or None)``.
    """
    p = policy
    seen = list(seen)
    measured = None
    delay = jitter(p, min(p.poll_max, _grow(p.poll_initial, p.poll_factor, n)), rng)
    if rate:
        delay = min(delay, max(p.poll_min, 50.0 / rate))
    progress = max((s.progress for s in states if s.progress is not None
                    and s.status == "in_progress"), default=None)
    if p.eta_polling and progress is not None and 0 < progress < 100:
        seen.append((now, progress))
        seen = seen[-4:]
        eta = None
        (t0, p0), (t1, p1) = seen[0], seen[-1]
        if p1 > p0 and t1 - t0 > 0.05:
            r = (p1 - p0) / (t1 - t0)
            measured = r
            eta = (100 - p1) / r
        elif rate:
            eta = (100 - progress) / rate
        elif submitted is not None and now > submitted:
            eta = (now - submitted) * (100 - progress) / progress
        if eta is not None:
            if samples < 3 and len(seen) == 1:
                delay = min(max(0.3 * eta, 0.1), 3.0)   # calibration: measure the rate
            else:
                # just after the predicted finish (progress is a whole number: up to 1 % early)
                delay = min(p.poll_max, eta + min(0.03 + 0.02 * eta, 0.5))
    if hint is not None:
        delay = max(delay, hint)
    return max(p.poll_min, delay), seen, measured
