"""The async core's façade: `Engine`, the only place that sends, waits, retries, limits, downloads
and writes job state — in named parts under `sorakit.engine._core`.

Everything here runs on the engine loop (`_loop.EngineLoop`). Providers only map requests and
responses; the ledger only stores; the engine decides. `Engine` keeps the small API the Studio
uses (insert, start_task, wait, watch, cancel, snapshot, subscribe, resume_rows, retry_download,
settle_unknown, adopt_orphans / start_adopting, aclose, is_active, plan_from_row) and delegates to the parts:
the job book (the only writer), leases, the runtime (pacing, slots, retries), the create, poll and
download phases (they return outcomes), cancelling, and one driver per task that sequences them.
The job's life and the layering are in `sorakit.engine._core`; the retry rules of requests in
`_core.runtime`, of creates ("never bill twice") in `_core.create`; the lease rules in
`_core.leases`.

Resume rules (`Engine.resume_rows`, called by ``Studio.resume()`` and when a Studio opens):

=====================================  =========================================================
row                                    what resume does
=====================================  =========================================================
``pending``, client-named (Runware)    poll the taskUUID first; known -> adopt; unknown -> send
                                       (same UUID: a conflict means it exists -> poll)
``pending``, OpenAI, ``attempts == 0``  never sent: send
``pending``, OpenAI, ``attempts > 0``   may have been sent before the crash: reconcile (above)
``unknown``                            reconcile (Runware: poll first); a provider that can
                                       neither name nor list jobs: left for a person, who
                                       settles it (``job.settle_unknown``)
``submitted`` / ``queued`` /           poll (no re-send), then download
``in_progress`` / ``timed_out_waiting``
``downloading``                        download (a stale link is refreshed by polling)
``failed`` with ``download_failed``    not resumed (terminal): ``job.retry_download()`` fetches it
=====================================  =========================================================
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .._exceptions import JobFailed, JobTimeout, ModelUnavailable, SorakitError
from .._types import TERMINAL, CancelResult
from ..catalog import Catalog, Plan
from ..ledger import _rowcodec as rowcodec
from ..media import LocalStore
from ..media._store import INPUT_IMAGE_SUFFIXES, MediaStore
from ..providers import Provider
from ._budget import Budget
from ._core.book import Book
from ._core.cancel import Canceller, done_result
from ._core.create import Creator
from ._core.download import Downloader
from ._core.driver import Driver
from ._core.leases import LEASE_OWNER, OWNER, Leases, dead_owners
from ._core.poll import Poller
from ._core.runtime import DRIVERS as _DRIVERS, Pacing, Runtime, _Deadline, _Task
from ._core.transitions import CREATE_STATUSES, DOWNLOAD_FAILED, POLL_STATUSES
from ._policy import Policy

__all__ = ["Engine", "Policy", "Runtime", "OWNER", "LEASE_OWNER", "DOWNLOAD_FAILED", "dead_owners",
           "POLL_STATUSES", "CREATE_STATUSES"]

log = logging.getLogger("sorakit.engine")

_RECENT = 1024
"""How many finished jobs' last status `Engine.snapshot` still answers from memory."""


class Engine:
    """Drives jobs: submit, poll, reconcile, download, resume. Lives on the engine loop.

    Args:
        ledger: the `Ledger` (the engine is the only writer of job-state columns).
        catalog: the model catalog (to rebuild plans on resume).
        runtimes: ``{(provider, emulated): Runtime}``.
        media_dir: the content-addressed media cache (downloads land here).
        store: where finished videos are kept (`sorakit.media.LocalStore` by default: in
            ``media_dir``); a `RemoteStore` gets each video uploaded before its row says completed.
        budget: the session `Budget` (settled as jobs end).
        max_wait: default bound on waiting for one job (seconds).
    """

    def __init__(self, ledger: Any, catalog: Catalog, runtimes: dict[tuple[str, bool], Runtime], *,
                 media_dir: Path, budget: Budget, max_wait: float = 1800.0,
                 policy: Optional[Policy] = None, store: Optional[MediaStore] = None):
        self.ledger = ledger
        self.runtimes = runtimes
        self.media_dir = Path(media_dir)
        self.store: MediaStore = store if store is not None else LocalStore(self.media_dir)
        self.budget = budget
        self.max_wait = float(max_wait)
        self.policy = policy or Policy()
        self.owner = LEASE_OWNER
        self.stats = {"polls": 0, "creates": 0, "lists": 0, "downloads": 0, "retries": 0,
                      "claims": 0, "takeovers": 0, "adopted": 0, "fenced": 0}
        self._book = Book(ledger, budget, runtimes, self.owner, _RECENT)
        active: dict[str, _Task] = {}
        self._leases = Leases(self._book, self.policy, self.stats, self.owner, active)
        pace = Pacing(self.policy, self.stats)
        self._creator = Creator(self._book, self._leases, pace, self.policy, self.stats, catalog, self.plan_from_row)
        self._driver = Driver(self._book, self._leases, pace, self._creator,
                              Poller(self._book, pace, self.policy, self.stats),
                              Downloader(self._book, pace, self.policy, self.stats, self.media_dir, self.store),
                              Canceller(self._book, pace, self.policy), active, self)
        self.catalog = catalog
        self._resuming: set[str] = set()
        """Jobs a `resume_rows` call is claiming and starting (between its first await and its task)."""

    def __repr__(self) -> str:
        return f"<Engine {len(self._active)} active job(s), runtimes={list(self.runtimes)}>"

    # the parts' state, by the names the Studio, the tests and the benches know
    catalog = property(lambda self: self._catalog, lambda self, c: self._set_catalog(c))
    _rows = property(lambda self: self._book.rows)
    _live = property(lambda self: self._book.live)
    _events = property(lambda self: self._book.events)
    _errors = property(lambda self: self._book.errors)
    _recent = property(lambda self: self._book.recent)
    _last_progress_write = property(lambda self: self._book.last_progress_write)
    _active = property(lambda self: self._driver.active)
    _leased = property(lambda self: self._leases.leased)

    def _set_catalog(self, catalog: Catalog) -> None:
        self._catalog = self._creator.catalog = catalog

    async def _db_call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        return await self._book.db_call(fn, *args, **kwargs)

    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        return self._book.subscribe(callback)

    def snapshot(self, job_ids: list[str]) -> dict[str, dict]:
        """Latest known status/progress per job (from memory; for progress displays)."""
        return self._book.snapshot(job_ids)

    def is_active(self, job_id: str) -> bool:
        return job_id in self._active

    # ------------------------------------------------------------------ submitting
    async def insert(self, rows: list[dict]) -> list[str]:
        """Write new rows, leased to this process in the same transaction."""
        ids = await self._db_call(self.ledger.insert_many, rows,
                                  lease=(self.owner, self.policy.lease_seconds))
        self._leases.hold(ids)
        for jid, row in zip(ids, rows):
            self._rows[jid] = {**row, "job_id": jid}
            self._live[jid] = {"status": row.get("status", "pending"), "progress": None}
            self._book.notify(jid, {**row, "job_id": jid})
        return ids

    def start_task(self, rt: Runtime, job_ids: list[str], client_ref: str, plan: Optional[Plan],
                   max_wait: Optional[float] = None, resumed: bool = False) -> _Task:
        """Begin driving the rows of one create (call on the engine loop)."""
        return self._driver.start(rt, job_ids, client_ref, plan, self.max_wait if max_wait is None else max_wait,
                                  resumed)

    # ------------------------------------------------------------------ leases (`_core.leases`)
    async def _claim(self, job_ids: list[str], force: bool, seen_owners: Any = ()) -> list[str]:
        return await self._leases.claim(job_ids, force, seen_owners)

    async def _release_leases(self, job_ids: list[str]) -> None:
        await self._leases.release(job_ids)

    async def start_adopting(self, runtime_for: Callable[[dict], Optional[Runtime]],
                             announce: Callable[[str], None]) -> None:
        """Take over, every ``lease_heartbeat`` seconds, the jobs whose holder stopped renewing its
        lease (`Leases.start_adopting`), through `resume_rows`."""
        self._leases.start_adopting(runtime_for, announce, self.resume_rows)

    async def adopt_orphans(self, runtime_for: Callable[[dict], Optional[Runtime]],
                            announce: Callable[[str], None] = lambda text: None) -> list[str]:
        """Drive the unfinished jobs whose lease ran out (`Leases.adopt_orphans`); returns their ids."""
        return await self._leases.adopt_orphans(runtime_for, announce, self.resume_rows)

    # ------------------------------------------------------------------ waiting
    async def wait(self, job_id: str, timeout: Optional[float] = None) -> dict:
        """Wait until the engine is done with ``job_id``; return its row or raise.

        Raises `JobFailed` (failed/cancelled), `JobTimeout` (``timeout`` or the engine's wait
        bound ran out; the job stays resumable) or the error that stopped the engine.
        """
        started = time.monotonic()
        ev = self._events.get(job_id)
        other = _DRIVERS.get(job_id)
        if other is not None and other is not self and job_id not in self._active:
            return await other.wait(job_id, timeout)  # another Studio of this process drives it
        if ev is None:
            row = await self._db_call(self.ledger.get, job_id)
            if row.get("status") in TERMINAL:  # finished (and forgotten) before this wait began
                return self._result(job_id, row, started, self._recent.get(job_id, (None, None))[1])
            raise JobTimeout(job_id, 0.0)
        try:
            if timeout is None:
                await ev.wait()
            else:
                await asyncio.wait_for(ev.wait(), timeout)
        except asyncio.TimeoutError:
            raise JobTimeout(job_id, time.monotonic() - started) from None
        # a finished task hands its last row and error over on the event (see `_release`)
        row = getattr(ev, "sorakit_row", None) or self._rows.get(job_id) or {}
        error = getattr(ev, "sorakit_error", None) or self._errors.get(job_id)
        return self._result(job_id, row, started, error)

    async def watch(self, job_id: str, timeout: Optional[float], take_over: Callable[[dict], Any]) -> dict:
        """Wait for a job another process drives, by reading the ledger every ``lease_watch``
        seconds: its row once it ends there. When its driver's lease runs out (the process died)
        ``take_over(row)`` is awaited (it claims and drives the row, or returns False when another
        process was quicker) and the wait goes on here. Raises like `wait`."""
        started = time.monotonic()
        while True:
            if job_id in self._active or _DRIVERS.get(job_id) not in (None, self):
                left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
                return await self.wait(job_id, left)
            row = await self._db_call(self.ledger.get, job_id)
            if row.get("status") in TERMINAL:
                return self._result(job_id, row, started)
            who, live = (await self._db_call(self.ledger.leases, [job_id])).get(job_id, (None, False))
            if not live or who == self.owner or dead_owners([who]):
                if await take_over(row):
                    if who and who != self.owner:
                        self.stats["takeovers"] += 1
                        log.info("sorakit: took over %s from %s (its lease ran out)", job_id, who)
                    continue
            elapsed = time.monotonic() - started
            if timeout is not None and elapsed >= timeout:
                raise JobTimeout(job_id, elapsed)
            pause = self.policy.lease_watch
            if timeout is not None:
                pause = min(pause, timeout - elapsed)
            await asyncio.sleep(max(0.0, pause))

    def _result(self, job_id: str, row: dict, started: float, err: Optional[BaseException] = None) -> dict:
        status = row.get("status")
        if status == "completed":
            return row
        if status in ("failed", "cancelled"):
            if isinstance(err, ModelUnavailable):
                raise err
            raise JobFailed(job_id, row.get("error_code"), row.get("error_message"))
        if err is not None and not isinstance(err, _Deadline):
            raise err
        raise JobTimeout(job_id, time.monotonic() - started)

    # ------------------------------------------------------------------ cancelling
    async def cancel(self, job_id: str, runtime_for: Callable[[dict], Optional[Runtime]]) -> CancelResult:
        """Stop ``job_id`` (and the other results of its create call) and say what happened.

        A job this engine drives is stopped by its own driver at its next safe point (never in the
        middle of a create call); a job nobody drives (``timed_out_waiting``, a dead kernel's) gets
        a short-lived driver that only cancels. What is sent, and what the ledger records, is the
        provider's `CancelSupport`: see `_cancel_task`.
        """
        other = _DRIVERS.get(job_id)
        if other is not None and other is not self and job_id not in self._active:
            return await other.cancel(job_id, runtime_for)
        t = self._active.get(job_id)
        if t is None:
            row = await self._db_call(self.ledger.get, job_id)
            status = row.get("status") or "pending"
            if status in TERMINAL or status == "downloading":
                return done_result(job_id, row)
            rt = runtime_for(row)
            if rt is None:
                return CancelResult(job_id, False, "unconfirmed", status,
                                    f"{row.get('provider')} cannot be reached in this session, so nothing was "
                                    f"sent; the job stays in the ledger", "none")
            ref = (row.get("extra") or {}).get("client_ref")
            members = [row]
            if ref:
                pending = await self._db_call(self.ledger.pending)
                members = [r for r in pending if r.get("provider") == row.get("provider")
                           and (r.get("extra") or {}).get("client_ref") == ref] or [row]
            ids = [m["job_id"] for m in members]
            taken = await self._claim(ids, False, {m.get("lease_owner") for m in members})
            if len(taken) != len(ids):  # another process drives it: only that process may stop it
                await self._release_leases(taken)
                who = (await self._db_call(self.ledger.leases, [job_id])).get(job_id, (None, False))[0]
                return CancelResult(job_id, False, "unconfirmed", status,
                                    f"{who or 'another process'} drives this job, so nothing was sent from "
                                    f"here; cancel it there (or studio.resume(force=True) here first)", "none")
            for m in members:
                self._book.remember(m)
            t = self.start_task(rt, ids, ref or row.get("provider_job_id") or job_id, None, resumed=True)
        elif self._driver.phase(t) in ("download", "done"):
            return done_result(job_id, self._rows.get(job_id) or {})
        if t.cancel_req is None:
            t.cancel_req = asyncio.get_running_loop().create_future()
            t.cancel_for = job_id
        t.wake.set()
        result = await asyncio.shield(t.cancel_req)
        if result.job_id != job_id:
            result = dataclasses.replace(result, job_id=job_id)
        return result

    # ------------------------------------------------------------------ plans
    def _cached(self, sha: str, suffixes: tuple[str, ...], job_id: Any, what: str) -> bytes:
        """The bytes of a content-addressed file: the media cache, else the shared store."""
        folder = self.media_dir / sha[:2]
        found = sorted(folder.glob(f"{sha}.*")) if folder.is_dir() else []
        if not found:  # a teammate's job: its file is in the shared store
            got = self.store.find(sha, suffixes)
            found = [got] if got is not None else []
        if not found:
            raise SorakitError(f"job {job_id}: its {what} ({sha[:12]}…) is not in "
                               f"the media cache {self.media_dir}, so it cannot be sent again")
        return found[0].read_bytes()

    def plan_from_row(self, row: dict, provider: Optional[Provider] = None) -> Plan:
        """Rebuild the `Plan` of a ledger row (`sorakit.ledger.plan_from_row`): its input image, and
        a source video the provider sends inline, from the media cache."""
        return rowcodec.plan_from_row(row, self.catalog, fetch=lambda sha, what: self._cached(
            sha, INPUT_IMAGE_SUFFIXES if what == "input image" else (".mp4",), row.get("job_id"), what),
            wants_source_file=None if provider is None else provider.wants_source_file)

    # ------------------------------------------------------------------ resume
    async def resume_rows(self, rows: list[dict], runtime_for: Callable[[dict], Optional[Runtime]],
                          max_wait: Optional[float] = None, *, force: bool = False
                          ) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
        """Drive every given non-terminal row to the end, without re-submitting.

        Rows of one create (same ``extra.client_ref``) are driven together, and only once this
        process holds their leases (``force``: even rows another process holds). Returns the job
        ids now being driven, ``(job_id, reason)`` for rows that cannot be, and
        ``(job_id, lease_owner)`` for rows another process drives.
        """
        groups: dict[str, list[dict]] = {}
        skipped: list[tuple[str, str]] = []
        elsewhere: list[tuple[str, str]] = []
        driving: list[str] = []
        for row in rows:
            jid = row["job_id"]
            if row.get("status") in TERMINAL:
                continue
            if jid in self._active or jid in self._resuming or _DRIVERS.get(jid) not in (None, self):
                driving.append(jid)  # already driven here (or being started), or by another Studio
                continue
            ref = (row.get("extra") or {}).get("client_ref") or row.get("provider_job_id") or jid
            groups.setdefault(f"{row.get('provider')}:{ref}", []).append(row)
        # reserved before the first await: a concurrent resume of the same rows in this engine (the
        # adoption loop and a job.wait() taking over at the same moment) must not start a second task
        reserved = {m["job_id"] for members in groups.values() for m in members}
        self._resuming.update(reserved)
        try:
            return await self._resume_groups(groups, runtime_for, max_wait, force, driving, skipped, elsewhere)
        finally:
            self._resuming.difference_update(reserved)

    async def _resume_groups(self, groups: dict[str, list[dict]], runtime_for: Callable[[dict], Optional[Runtime]],
                             max_wait: Optional[float], force: bool, driving: list[str],
                             skipped: list[tuple[str, str]], elsewhere: list[tuple[str, str]]
                             ) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str]]]:
        reachable: dict[str, list[dict]] = {}
        for key, members in groups.items():
            if runtime_for(members[0]) is None:
                skipped.extend((m["job_id"], "no way to reach its provider in this session") for m in members)
            else:
                reachable[key] = members
        wanted = [m["job_id"] for members in reachable.values() for m in members]
        seen = {m.get("lease_owner") for members in reachable.values() for m in members}
        taken = set(await self._claim(wanted, force, seen)) if wanted else set()
        fresh = {r["job_id"]: r for r in await self._db_call(self.ledger.rows, job_id=sorted(taken))} if taken else {}
        for key, members in list(reachable.items()):
            ids = [m["job_id"] for m in members]
            if not all(j in taken and fresh.get(j, {}).get("status") not in TERMINAL | {None} for j in ids):
                # another process holds (part of) this create, or finished it meanwhile
                await self._release_leases([j for j in ids if j in taken])
                owners = await self._db_call(self.ledger.leases, [j for j in ids if j not in taken]) \
                    if any(j not in taken for j in ids) else {}
                elsewhere.extend((j, owners.get(j, (None, False))[0] or "another process")
                                 for j in ids if j not in taken)
                continue
            members = sorted((fresh[j] for j in ids), key=lambda r: r.get("variation_index") or 0)
            sha = members[0].get("input_image_sha256")
            if sha and self.store.remote:  # a teammate's image: fetched here, off the loop, not in plan_from_row
                await asyncio.to_thread(self.store.find, sha, INPUT_IMAGE_SUFFIXES)
            rt = runtime_for(members[0])
            for m in members:
                self._book.remember(m)
                # driven again: a poll state's old error goes; an unknown create keeps its history
                # in the message but is no longer "stopped" (error_code) while it is reconciled
                await self._book.write(m["job_id"], extra=self._book.extra(m["job_id"], owner=OWNER),
                                       **({"error_code": None, "error_message": None}
                                          if m.get("status") in POLL_STATUSES else {"error_code": None}))
            ref = (members[0].get("extra") or {}).get("client_ref") or members[0].get("provider_job_id") \
                or members[0]["job_id"]
            self.start_task(rt, [m["job_id"] for m in members], ref, None, max_wait, resumed=True)
            driving.extend(m["job_id"] for m in members)
        return driving, skipped, elsewhere

    async def retry_download(self, row: dict, rt: Runtime, max_wait: Optional[float] = None) -> str:
        """Fetch again the video of a ``download_failed`` job (back to ``downloading``)."""
        jid = row["job_id"]
        if jid in self._active:
            return jid
        if row.get("status") != "failed" or row.get("error_code") != DOWNLOAD_FAILED:
            raise SorakitError(f"job {jid} is {row.get('status')} ({row.get('error_code')}): only a "
                               f"job whose download failed can be downloaded again")
        self._rows[jid] = row
        self._live[jid] = {"status": "downloading", "progress": 100}
        await self._book.write(jid, status="downloading", error_code=None, error_message=None,
                          completed_at=None, extra=self._book.extra(jid, owner=OWNER))
        if jid not in await self._claim([jid], force=False):
            who = (await self._db_call(self.ledger.leases, [jid])).get(jid, (None, False))[0]
            raise SorakitError(f"job {jid}: {who or 'another process'} is fetching it already")
        ref = (row.get("extra") or {}).get("client_ref") or row.get("provider_job_id") or jid
        self.start_task(rt, [jid], ref, None, max_wait, resumed=True)
        return jid

    async def settle_unknown(self, row: dict, rt: Runtime, video_id: Optional[str], absent: bool, resend: bool,
                             max_wait: Optional[float] = None) -> list[str]:
        """A person settles a create whose outcome stayed unknown (`Creator.settle`); a job found
        at the provider, or sent again, is driven from here. Returns the rows' ids."""
        if row["job_id"] in self._active or row["job_id"] in self._resuming:
            raise SorakitError(f"job {row['job_id']} is being reconciled here right now: wait for it "
                               f"(job.wait()), and settle it only if it stays unknown")
        ids, drive = await self._creator.settle(row, rt, video_id, absent, resend)
        if drive:
            ref = (row.get("extra") or {}).get("client_ref") or row["job_id"]
            self.start_task(rt, ids, ref, None, max_wait, resumed=True)
        return ids

    # ------------------------------------------------------------------ shutdown
    async def aclose(self) -> None:
        self._leases.stop()
        await self._driver.aclose()
        # every job this engine stopped driving is free for the next process at once (a killed
        # process's leases instead run out after lease_seconds)
        await self._release_leases(sorted(self._leased))
        await self._book.aclose()
        for rt in self.runtimes.values():
            await rt.aclose()
