"""The poll phase: ask the provider how a job is doing, write what it says, and say what is next.

`Poller.poll_once` waits for the next poll time (`transitions.next_delay`; a queued job is also
woken when another job of the same provider finishes — FIFO queues — but never sooner than the
server's hint), polls, applies the answer (`Poller.apply`: `transitions.assign` and
`transitions.on_state`, written by the book) and returns an outcome: `Polled` (with the rows that
became ``downloading``: the driver starts their downloads) or `Lost` (the provider no longer knows
the job: the driver decides). A poll the provider refuses stops the task (`_Suspend`): the rows
become ``timed_out_waiting`` with the error recorded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Sequence, Union

from ..._exceptions import NotFoundError, ProviderError
from ..._types import JobState
from .book import Book
from .runtime import Pacing, _Deadline, _Suspend, _Task
from .transitions import POLL_STATUSES, assign, next_delay, on_state

__all__ = ["Polled", "Lost", "PollOutcome", "Poller"]

UTC = dt.timezone.utc


@dataclass(frozen=True)
class Polled:
    """The provider answered ``states``; ``ready``: rows it reports finished (now ``downloading``)."""

    states: tuple[JobState, ...]
    ready: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lost:
    """The provider no longer knows a job it acknowledged (``error``); ``job_ids``: its rows still in
    poll states."""

    error: ProviderError
    job_ids: tuple[str, ...]


PollOutcome = Union[Polled, Lost]


class Poller:
    """The poll phase of one engine."""

    def __init__(self, book: Book, pace: Pacing, policy: Any, stats: dict):
        self.book = book
        self.pace = pace
        self.policy = policy
        self.stats = stats

    def open(self, t: _Task) -> bool:
        """Whether any row of ``t`` still waits for the provider."""
        return any(self.book.rows[j].get("status") in POLL_STATUSES for j in t.job_ids)

    def first_delay(self, t: _Task) -> float:
        if t.resumed:
            return 0.0
        return t.first_hint if t.first_hint is not None else min(self.policy.poll_initial, 1.0)

    async def poll_once(self, t: _Task, delay: float, last: Sequence[JobState]) -> PollOutcome:
        """Wait ``delay`` (see `_wait_to_poll`; ``last``: the previous answer), poll, apply."""
        prov = t.rt.provider
        await self._wait_to_poll(t, delay, waiting=not self._running_with_progress(last))
        pjid = self.book.rows[t.job_ids[0]].get("provider_job_id")
        response = await self.pace.safe(t, lambda: prov.build_poll(pjid), "poll")
        t.last_poll = time.monotonic()
        self.stats["polls"] += 1
        try:
            states = prov.parse_poll(pjid, response)
        except NotFoundError as exc:
            return Lost(exc, tuple(j for j in t.job_ids if self.book.rows[j].get("status") in POLL_STATUSES))
        except ProviderError as exc:
            raise _Suspend(exc) from None
        ready = await self.apply(t, states)
        t.hint = max((s.poll_after for s in states if s.poll_after is not None), default=None)
        return Polled(tuple(states), tuple(ready))

    def next_delay(self, t: _Task, states: Sequence[JobState], n: int) -> float:
        """`transitions.next_delay` for ``t`` (its hint, progress history and the model's learned rate)."""
        model = t.plan.model.name if t.plan is not None else self.book.rows[t.job_ids[0]].get("model")
        rate, samples = t.rt.rates.get(model, (None, 0))
        delay, t.progress_seen, measured = next_delay(
            self.policy, n, states, hint=t.hint, rate=rate, samples=samples, seen=t.progress_seen,
            submitted=t.submitted_mono, now=time.monotonic())
        if measured is not None:
            t.rt.learn_rate(model, measured)
        return delay

    async def apply(self, t: _Task, states: Sequence[JobState]) -> list[str]:
        """Write what a poll (or create) said, one update per changed row; returns the rows that
        became ``downloading``."""
        book = self.book
        ready = []
        for jid, state in assign([book.rows[j] for j in t.job_ids], states).items():
            mono = time.monotonic()
            step = on_state(book.rows[jid], state, dt.datetime.now(UTC), mono,
                            book.last_progress_write.get(jid, 0.0), self.policy.progress_write_interval)
            if step.progress is not None:
                book.live.setdefault(jid, {})["progress"] = step.progress
            if step.changes and step.next == "stay":
                # queued/in_progress/progress: nothing waits on it (a crash before its commit leaves
                # the previous poll state, polled again on resume)
                if "progress" in step.changes:
                    book.last_progress_write[jid] = mono
                book.write_later(jid, **step.changes)
            elif step.changes:
                await book.write(jid, **step.changes)
            if step.next == "download" and step.changes:
                ready.append(jid)
        return ready

    @staticmethod
    def _running_with_progress(states: Sequence[JobState]) -> bool:
        return any(s.status == "in_progress" and s.progress is not None for s in states)

    async def _wait_to_poll(self, t: _Task, delay: float, waiting: bool) -> None:
        """Sleep ``delay``. A job still queued (or without progress figures) also wakes up when
        another job of the same provider finishes — but never sooner than the server's hint."""
        remaining = self.pace.remaining(t)
        if remaining <= 0:
            raise _Deadline()
        if not waiting or delay <= 0:
            await self.pace.sleep(t, delay)
            return
        fut = asyncio.get_running_loop().create_future()
        t.rt.park(t.submitted_mono or t.started, fut)
        woken = asyncio.ensure_future(t.wake.wait())
        try:
            done, _ = await asyncio.wait({fut, woken}, timeout=min(delay, remaining),
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not fut.done():
                fut.cancel()
        self.pace.check_cancel(t)
        if not done:
            if delay >= remaining:
                raise _Deadline()
            return
        if t.hint and t.last_poll is not None:
            floor = t.last_poll + t.hint - time.monotonic()
            if floor > 0:
                await self.pace.sleep(t, floor)
