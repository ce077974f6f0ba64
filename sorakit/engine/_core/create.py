"""The create phase: make sure a job exists remotely exactly once — never bill twice.

A create is re-sent only when that cannot make a second job:

- the request provably never left (connection refused, pool timeout) or was refused (429);
- Runware: the client names the task (``taskUUID``): after an unknown outcome the engine polls
  the UUID first; found -> adopt, not found -> re-send the same UUID (a conflict means "exists").
- OpenAI (no idempotency key): an unknown outcome (timeout, reset, 5xx after sending) is
  *never* re-sent blindly. The row becomes ``unknown``; the engine lists ``GET /videos`` back
  to the send time minus a clock-skew slack and adopts the earliest video with the same prompt,
  model, size and seconds that no other ledger row owns. Only when the listed window holds no
  match, and at least ``reconcile_grace`` seconds have passed since the send (so a request
  still in flight cannot appear later), is the job *provably absent* and sent again.
- A provider that can neither name its jobs nor list them leaves an unknown-outcome create
  ``unknown``: never re-sent automatically (it could bill twice).
- A person who checked the provider settles such a job (`Creator.settle`, ``job.settle_unknown``):
  found under an id -> polled and downloaded; absent -> failed with nothing billed, or sent again
  (the attempts they vouched for are not reconciled again: ``extra.absent_through``).

The row exists (with the client reference) before the create is sent; for OpenAI, ``attempts``
and the send time are committed just before each send (only while the lease is held, renewed by
the same statement: `Leases.fence`), so a restart knows a create may be out there.

The phase returns an outcome: `Created` (the job exists remotely; the states the provider answered
with, for the driver to apply) or `CreateFailed` (a definite refusal: the driver fails the rows).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import httpx

from ..._exceptions import ConflictError, ModelUnavailable, NotFoundError, ProviderError, SorakitError, ValidationError
from ..._types import JobState
from ...catalog import Plan
from ...ledger import current_user
from ...providers import Provider
from .book import Book
from .leases import Leases
from .runtime import _NOT_SENT, Pacing, Runtime, _Deadline, _Suspend, _Task, _retry_after
from .transitions import CREATE_STATUSES, POLL_STATUSES, absent_through, settle_changes

__all__ = ["Created", "CreateFailed", "CreateOutcome", "Creator", "SETTLE_HINT"]

SETTLE_HINT = ("job.settle_unknown(video_id='<its id there>') if the provider made it, or "
               "job.settle_unknown(absent=True, resend=True) to send it again (absent=True alone: "
               "failed, $0)")
"""What a person does about a create whose outcome stayed unknown (`Creator.settle`)."""

log = logging.getLogger("sorakit.engine")
UTC = dt.timezone.utc


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass(frozen=True)
class Created:
    """The job exists remotely (sent now, adopted by polling its name, or found by listing); its rows
    left ``pending``/``unknown``. ``states``: what the provider said with it, to apply to the rows."""

    states: tuple[JobState, ...] = ()


@dataclass(frozen=True)
class CreateFailed:
    """The provider refused the create for good: the rows are to be failed with ``code`` and
    ``message`` (nothing was made, nothing is billed). ``error``: an exception the waiters get
    instead of a plain `JobFailed` (a model shut down)."""

    code: str
    message: str
    attempts: int
    error: Optional[BaseException] = None


@dataclass(frozen=True)
class _Unknown:
    """The create may or may not have made the job: reconcile (OpenAI) or poll its name (Runware)."""


CreateOutcome = Union[Created, CreateFailed]


class Creator:
    """The create phase of one engine. ``plan_for(row, provider)`` rebuilds a row's `Plan`
    (``Engine.plan_from_row``); ``catalog`` explains a model's shutdown."""

    def __init__(self, book: Book, leases: Leases, pace: Pacing, policy: Any, stats: dict, catalog: Any,
                 plan_for: Callable[[dict, Optional[Provider]], Plan]):
        self.book = book
        self.leases = leases
        self.pace = pace
        self.policy = policy
        self.stats = stats
        self.catalog = catalog
        self.plan_for = plan_for

    def plan(self, t: _Task) -> Plan:
        if t.plan is None:
            t.plan = self.plan_for(self.book.rows[t.job_ids[0]], t.rt.provider)
        return t.plan

    async def ensure_remote(self, t: _Task) -> CreateOutcome:
        """Make sure the job exists remotely exactly once; rows leave pending/unknown."""
        prov = t.rt.provider
        resends = 0
        while True:
            first = self.book.rows[t.job_ids[0]]
            status = first.get("status") or "pending"
            attempts = int(first.get("attempts") or 0)
            if status not in CREATE_STATUSES:
                return Created()
            # attempts a person settled as having made nothing (`settle`) are not looked for again
            unsure = status == "unknown" or attempts > absent_through(first)
            if prov.create_is_idempotent:
                if unsure or t.resumed:
                    found = await self._adopt_by_poll(t)
                    if found is not None:
                        return found
            elif unsure:
                found = await self._reconcile(t)
                if found is not None:
                    return found
                if resends >= self.policy.max_resends:
                    raise _Suspend(SorakitError(
                        f"job {t.job_ids[0]}: the create's outcome stayed unknown after "
                        f"{resends} re-send(s); it is left 'unknown' for you to check, then {SETTLE_HINT}"))
                resends += 1
            self.pace.check_cancel(t)
            outcome = await self._create(t)
            if not isinstance(outcome, _Unknown):
                return outcome
            # unknown: loop -> reconcile (OpenAI) or poll-first (Runware)

    async def _adopt_by_poll(self, t: _Task) -> Optional[Created]:
        """Client-named tasks: does the provider know the task already? Adopt it if so."""
        prov = t.rt.provider
        pjid = self.book.rows[t.job_ids[0]].get("provider_job_id") or t.client_ref
        response = await self.pace.safe(t, lambda: prov.build_poll(pjid), "poll")
        self.stats["polls"] += 1
        try:
            states = prov.parse_poll(pjid, response)
        except NotFoundError:
            return None
        except ProviderError as exc:
            raise _Suspend(exc) from None
        if not states:
            return None
        await self.book.write_rows(self.book.open_rows(t.job_ids), status="submitted", provider_job_id=pjid,
                                   submitted_at=self.book.rows[t.job_ids[0]].get("submitted_at") or _now())
        t.submitted_mono = time.monotonic()
        return Created(tuple(states))

    async def _create(self, t: _Task) -> Union[Created, CreateFailed, _Unknown]:
        """Send the create: `Created`, `CreateFailed` (definite refusal) or `_Unknown`."""
        rt, prov, book = t.rt, t.rt.provider, self.book
        plan = self.plan(t)
        attempt = 0
        while True:
            if self.pace.remaining(t) <= 0:
                raise _Deadline()
            first = book.rows[t.job_ids[0]]
            attempts = int(first.get("attempts") or 0) + 1
            sent_at = time.time()
            if not prov.create_is_idempotent:
                # a create nobody can take back: only with the lease in hand, and committed before
                # sending (a restart then knows a create may exist remotely); one fenced write each
                await self.leases.fence(t, {jid: {"attempts": attempts, "extra": book.extra(jid, sent_at=sent_at)}
                                            for jid in t.job_ids})
            request = prov.build_create(plan, t.client_ref)
            self.stats["creates"] += 1
            rt.inflight[plan.prompt] += 1
            try:
                try:
                    response = await rt.client.send(request)
                    await response.aread()
                finally:
                    rt.inflight[plan.prompt] -= 1
                    if rt.inflight[plan.prompt] <= 0:
                        del rt.inflight[plan.prompt]  # a long session sends many prompts
            except _NOT_SENT:
                self.stats["retries"] += 1
                await self.pace.sleep(t, self.pace.backoff(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                log.info("sorakit: create of %s: outcome unknown (%s)", t.job_ids[0], type(exc).__name__)
                return await self._outcome_unknown(t, attempts, f"create outcome unknown ({type(exc).__name__})")
            if response.status_code == 429:
                retry_after = _retry_after(prov, response)
                self.stats["retries"] += 1
                await self.pace.sleep(t, self.pace.backoff(attempt, retry_after))
                attempt += 1
                continue
            if response.status_code >= 500:
                return await self._outcome_unknown(t, attempts, f"create answered HTTP {response.status_code}")
            try:
                states = prov.parse_create(plan, response, t.client_ref)
            except ConflictError:
                if prov.create_is_idempotent:  # the task exists already: adopt and poll it
                    await book.write_rows(t.job_ids, status="submitted", provider_job_id=t.client_ref,
                                          attempts=attempts, submitted_at=_now())
                    t.submitted_mono = time.monotonic()
                    return Created()
                return CreateFailed("conflict", "the provider refused the create as a conflict", attempts)
            except ModelUnavailable as exc:  # shut down: failed, not billed, never retried
                exc = exc.explained(plan.model.name, plan.offer.id,
                                    self.catalog.shutdown_text(plan.model.name, plan.offer.provider),
                                    plan.offer.served_until or plan.model.shut_down,
                                    plan.offer.replacement or plan.model.replacement)
                return CreateFailed(ModelUnavailable.code_name, exc.message, attempts, exc)
            except ProviderError as exc:
                return CreateFailed(exc.code or type(exc).__name__, exc.message, attempts)
            head = states[0]
            rt.claimed.add(head.provider_job_id)  # before any await: reconciliation skips it
            t.first_hint = head.poll_after
            t.submitted_mono = time.monotonic()
            for jid in t.job_ids:
                await book.write(jid, status=head.status if head.status in POLL_STATUSES else "submitted",
                                 provider_job_id=head.provider_job_id, attempts=attempts,
                                 submitted_at=_now(), error_message=None,
                                 progress=head.progress if head.progress is not None else 0)
            if any(s.status in ("completed", "failed") for s in states):
                return Created(tuple(states))
            return Created()

    async def _outcome_unknown(self, t: _Task, attempts: int, why: str) -> _Unknown:
        """A create that may or may not have made the job (no answer, or a 5xx after sending).
        Client-named tasks just count the attempt (the next step polls the name); other rows
        become ``unknown`` with ``why`` and are reconciled by listing, never re-sent blindly."""
        if t.rt.provider.create_is_idempotent:
            await self.book.write_rows(t.job_ids, attempts=attempts)
        else:
            await self.book.write_rows(t.job_ids, status="unknown", error_message=f"{why}; reconciling")
        return _Unknown()

    async def _reconcile(self, t: _Task) -> Optional[Created]:
        """Non-idempotent creates: find the job a lost create made (`Created`), or None when it is
        provably absent (the caller sends it again)."""
        rt, prov, book = t.rt, t.rt.provider, self.book
        first = book.rows[t.job_ids[0]]
        if not prov.supports_reconcile:
            if first.get("status") != "unknown":  # sent before a restart, answer never recorded
                await book.write_rows(t.job_ids, status="unknown")
            raise _Suspend(SorakitError(
                f"job {t.job_ids[0]}: the create's outcome is unknown and {rt.name} cannot list jobs; "
                f"it is left 'unknown': check the provider's dashboard, then {SETTLE_HINT}"))
        plan = self.plan(t)
        extra = first.get("extra") or {}
        sent_at = extra.get("sent_at")
        if sent_at is None:
            created = first.get("created_at")
            sent_at = created.timestamp() if isinstance(created, dt.datetime) else time.time()
        window_start = float(sent_at) - self.policy.reconcile_slack
        if first.get("status") != "unknown":
            await book.write_rows(t.job_ids, status="unknown",
                                  error_message="the create may have been sent before a restart; reconciling")
        async with rt.reconcile_lock:
            while True:
                # a create with the same prompt still in flight here could be the match: let it land
                while rt.inflight[plan.prompt] > 0:
                    await self.pace.sleep(t, 0.02)
                owned = await book.db_call(self._owned_ids, rt.name) | rt.claimed
                listed: list[JobState] = []
                cursor = None
                while True:
                    response = await self.pace.safe(t, lambda: prov.build_list(after=cursor), "list")
                    self.stats["lists"] += 1
                    try:
                        page, cursor = prov.parse_list(response)
                    except ProviderError as exc:
                        raise _Suspend(exc) from None
                    listed.extend(page)
                    created = [s.raw.get("created_at") for s in page if s.raw.get("created_at") is not None]
                    if not cursor or not page or (created and min(float(c) for c in created) < window_start):
                        break
                candidates = [s for s in listed if s.provider_job_id not in owned
                              and prov.matches(plan, s, window_start)]
                if candidates:
                    best = min(candidates, key=lambda s: float(s.raw.get("created_at") or 0))
                    rt.claimed.add(best.provider_job_id)
                    log.info("sorakit: reconciled %s -> %s", t.job_ids[0], best.provider_job_id)
                    for jid in t.job_ids:
                        await book.write(jid, status=best.status if best.status in POLL_STATUSES else "submitted",
                                         provider_job_id=best.provider_job_id, error_message=None,
                                         submitted_at=first.get("submitted_at") or _now(),
                                         extra=book.extra(jid, reconciled=True))
                    t.submitted_mono = time.monotonic()
                    return Created((best,) if best.status in ("completed", "failed") else ())
                wait = float(sent_at) + self.policy.reconcile_grace - time.time()
                if wait <= 0:
                    log.info("sorakit: %s provably absent remotely; sending it again", t.job_ids[0])
                    return None
                await self.pace.sleep(t, min(wait, 2.0) + 0.05)

    # ------------------------------------------------------------------ settled by a person
    async def settle(self, row: dict, rt: Runtime, video_id: Optional[str], absent: bool, resend: bool
                     ) -> tuple[list[str], bool]:
        """Settle the unknown outcome of ``row``'s create as a person found it at the provider
        (`transitions.settle_changes`), for every row of that create. A ``video_id`` is first
        asked for at the provider (an id it does not know, or one another job of the ledger
        owns, is refused before anything is written). Only with the leases in hand. Returns the
        rows' ids and whether they are to be driven now (found, or re-sent)."""
        ref = (row.get("extra") or {}).get("client_ref")
        members = [r for r in await self.book.db_call(self.book.ledger.pending)
                   if r.get("provider") == row.get("provider") and ref and (r.get("extra") or {}).get("client_ref") == ref]
        members = members or [row]
        now = _now()
        changes = {m["job_id"]: settle_changes(m, video_id, absent, resend, now, current_user()) for m in members}
        ids = list(changes)
        if video_id is not None:
            video_id = changes[ids[0]]["provider_job_id"]  # as settle_changes cleaned it
            owner = [r["job_id"] for r in await self.book.db_call(
                self.book.ledger.rows, provider=row.get("provider"), provider_job_id=video_id) if r["job_id"] not in changes]
            if owner:
                raise ValidationError("video_id", video_id, "an id no other job of the ledger has",
                                      f"job {owner[0]} already has it")
            try:
                response = await rt.client.send(rt.provider.build_poll(video_id))
                await response.aread()
            except httpx.TransportError as exc:
                raise SorakitError(f"job {ids[0]}: could not ask {rt.name} about video_id={video_id!r} "
                                   f"({type(exc).__name__}: {exc}); nothing was changed, try again") from None
            try:
                rt.provider.parse_poll(video_id, response)
            except NotFoundError as exc:
                raise ValidationError("video_id", video_id, f"the id of a job {rt.name} knows",
                                      f"{rt.name} does not know it ({exc.message})") from None
        taken = await self.leases.claim(ids, force=False)
        if set(taken) != set(ids):
            await self.leases.release(taken)
            raise SorakitError(f"job {ids[0]}: {await self.leases.who(ids[0]) or 'another process'} "
                               f"drives it now; settle it there, or once that stopped")
        for m in members:
            self.book.remember(m)
            await self.book.write(m["job_id"], **changes[m["job_id"]])
        log.info("sorakit: %s settled by hand: %s", ids, f"made as {video_id}" if video_id else
                 "absent, sending again" if resend else "absent, failed")
        if absent and not resend:
            await self.leases.release(ids)
            for jid in ids:
                self.book.release(jid)
            return ids, False
        return ids, True

    def _owned_ids(self, provider: str) -> set[str]:
        return {r["provider_job_id"] for r in self.book.ledger.rows(provider=provider) if r.get("provider_job_id")}
