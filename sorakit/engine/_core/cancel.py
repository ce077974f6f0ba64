"""Cancelling: what ``job.cancel()`` does to a task, by where the task is (see `Canceller.stop`).

A task is stopped by its own driver at its next safe point (never in the middle of a create
call: `Pacing` raises `_Cancel` only in sleeps and slot waits); the driver then runs
`Canceller.run`, which resolves the task's ``cancel_req`` with the `CancelResult`::

    job.cancel() ──▶ cancelled (never sent: locally, not billed; sent: the provider's cancel / delete)
               └──▶ timed_out_waiting with error_code not_cancelled (the provider cannot stop it:
                    sorakit stops waiting; resume() / wait() still fetch the file and its cost)
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from ..._exceptions import ProviderError, SorakitError
from ..._types import NOT_CANCELLED, CancelResult
from .book import Book
from .runtime import Pacing, _Deadline, _Task
from .transitions import CREATE_STATUSES, known

__all__ = ["Canceller", "done_result"]

UTC = dt.timezone.utc


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def done_result(job_id: str, row: dict) -> CancelResult:
    """The `CancelResult` of a job that had ended (or reached its download) before the cancel."""
    status = row.get("status") or "pending"
    if status == "cancelled":
        return CancelResult(job_id, True, (row.get("extra") or {}).get("cancel", {}).get("billed", "unconfirmed"),
                            status, "it was cancelled before", "already_done")
    billed = "no" if status == "failed" and row.get("billed_cost_source") == "none" else "yes"
    what = {"downloading": "the provider already made the video; it is being downloaded"}.get(
        status, f"it had already {'completed' if status == 'completed' else 'ended ' + status}")
    return CancelResult(job_id, False, billed, status, what, "already_done")


class Canceller:
    """Stops tasks on a user's request (one engine's book, pacing and policy)."""

    def __init__(self, book: Book, pace: Pacing, policy: Any):
        self.book = book
        self.pace = pace
        self.policy = policy

    def outcome(self, t: _Task) -> CancelResult:
        """The result for a cancel the task never reached a safe point for (it finished first)."""
        jid = t.cancel_for or t.job_ids[0]
        return done_result(jid, self.book.rows.get(jid) or {"status": "pending"})

    async def run(self, t: _Task) -> None:
        """Stop ``t`` on a user's request and resolve its ``cancel_req`` with the `CancelResult`."""
        t.cancelling = True
        fut = t.cancel_req
        try:
            result = await self.stop(t)
        except BaseException as exc:
            if fut is not None and not fut.done():
                fut.set_exception(exc)
            raise
        if fut is not None and not fut.done():
            fut.set_result(result)

    async def stop(self, t: _Task) -> CancelResult:
        """What a cancel does, by where the task is:

        * never sent (``pending``, no attempt recorded, not a resumed client-named task): cancelled
          here, nothing billed;
        * a create whose outcome is unknown: nothing can be stopped before it is found, so the row
          keeps its create status with the reason (``resume()`` reconciles it);
        * accepted by the provider: its `CancelSupport` — ``cancel`` / ``delete`` sent once (429 / 5xx
          retried for ``Policy.cancel_wait`` seconds); accepted -> ``cancelled`` with the billing the
          provider documents; refused, unanswered or ``none`` -> ``timed_out_waiting`` with
          ``error_code`` ``not_cancelled`` and the reason: sorakit stops waiting, the row stays open
          so ``job.wait()`` / ``resume()`` still fetch the video and record its cost.
        """
        book = self.book
        jid = t.cancel_for or t.job_ids[0]
        prov = t.rt.provider
        open_ids = book.open_rows(t.job_ids)
        if not open_ids or any(book.rows[j].get("status") == "downloading" for j in open_ids):
            return done_result(jid, book.rows.get(jid) or {})
        first = book.rows[open_ids[0]]
        status = first.get("status") or "pending"
        now = _now()
        if status in CREATE_STATUSES:
            never_sent = (status == "pending" and int(first.get("attempts") or 0) == 0
                          and not (prov.create_is_idempotent and t.resumed))
            if never_sent:
                reason = f"cancelled before it was sent: nothing reached {prov.name}, nothing is billed"
                for j in open_ids:
                    await book.write(j, status="cancelled", completed_at=now, billed_cost=0.0,
                                     billed_cost_source="none", error_code="cancelled", error_message=reason,
                                     extra=book.extra(j, cancel={"how": "local", "billed": "no", "at": now.timestamp()}))
                return CancelResult(jid, True, "no", "cancelled", reason, "local")
            reason = (f"the create call may have reached {prov.name} (its outcome is not known yet), so there is "
                      f"nothing to cancel until it is found; studio.resume() reconciles it")
            for j in open_ids:
                await book.write(j, error_code=NOT_CANCELLED, error_message=f"cancel requested: {reason}")
            t.error = SorakitError(f"job {jid}: cancel requested; {reason}")
            return CancelResult(jid, False, "unconfirmed", status, reason, "none")
        pjid = first.get("provider_job_id")
        support = prov.cancel_support(pjid)
        if support.how == "none":
            return await self._not_cancelled(t, open_ids, f"{support.note} ({support.source})", "yes")
        # bound the cancel call: the task's own wait bound may be far away
        t.started, t.max_wait = time.monotonic(), self.policy.cancel_wait
        try:
            response = await self.pace.safe(t, lambda: prov.build_cancel(pjid), "cancel")
            state = prov.parse_cancel(pjid, response)
        except _Deadline:
            return await self._not_cancelled(
                t, open_ids, f"{prov.name} did not answer the {support.how} request within "
                             f"{self.policy.cancel_wait:g} s; it may still run", "unconfirmed")
        except ProviderError as exc:
            return await self._not_cancelled(
                t, open_ids, f"{prov.name} refused the {support.how} (HTTP {exc.status_code}"
                             f"{' ' + exc.code if exc.code else ''}: {exc.message}); {support.note} "
                             f"({support.source})", "yes")
        if state is not None and state.status != "cancelled":
            return await self._not_cancelled(
                t, open_ids, f"{prov.name} answered the {support.how} with status {state.status!r}: it had "
                             f"already ended there", "yes")
        verb = {"delete": "deleted", "cancel": "cancelled"}[support.how]
        billing = {"no": "not billed", "yes": "billed",
                   "unconfirmed": "whether it is billed is not documented"}[support.billed]
        reason = f"{verb} at {prov.name}; {billing} ({support.source})"
        for j in open_ids:
            row = book.rows[j]
            cost: dict[str, Any] = {}
            if support.billed == "no":
                cost = {"billed_cost": 0.0, "billed_cost_source": "none"}
            elif support.billed == "yes" and known(row.get("estimated_cost")):
                cost = {"billed_cost": row["estimated_cost"], "billed_cost_source": "catalog"}
            else:  # unconfirmed: the budget keeps the estimate (a charge may come)
                book.settle(j, "cancelled", row.get("estimated_cost") if known(row.get("estimated_cost")) else None)
            await book.write(j, status="cancelled", completed_at=now, error_code="cancelled",
                             error_message=reason[:2000], **cost,
                             extra=book.extra(j, cancel={"how": support.how, "billed": support.billed,
                                                         "at": now.timestamp()}))
        return CancelResult(jid, True, support.billed, "cancelled", reason, support.how)

    async def _not_cancelled(self, t: _Task, job_ids: list[str], why: str, billed: str) -> CancelResult:
        """The provider cannot (or did not) stop the job: stop waiting, keep the row open."""
        jid = t.cancel_for or t.job_ids[0]
        message = (f"cancel requested, but {why}. sorakit stopped waiting; job.wait() or studio.resume() "
                   f"still fetches the video and records its cost")
        for j in job_ids:
            await self.book.write(j, status="timed_out_waiting", error_code=NOT_CANCELLED, error_message=message[:2000],
                                  extra=self.book.extra(j, cancel={"how": "none", "billed": billed,
                                                                   "at": _now().timestamp()}))
        t.error = SorakitError(f"job {jid}: {message}")
        return CancelResult(jid, False, billed, "timed_out_waiting", why, "none")  # type: ignore[arg-type]
