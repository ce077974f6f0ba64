"""Leases: a job is driven by at most one process anywhere (one kernel, or a teammate's on a shared
PostgreSQL ledger). A process drives a row only while it holds the row's lease (``lease_owner``,
``lease_until``), claimed by one atomic conditional update judged by the *database's* clock
(`Ledger.claim`)::

    insert ──(same transaction)──▶ leased by me ──heartbeat every lease_heartbeat s──▶ leased by me
                                        │                                                 │
           task ends (terminal, stopped) or Studio.close ──▶ released (lease_owner NULL) ◀─┘
           process killed ──▶ lease runs out after lease_seconds ──▶ free: any open Studio's
                                                adoption (every lease_heartbeat s), the next
                                                resume, or a wait elsewhere claims it

* a submission is claimed in the transaction that inserts it; resume (and the resume a Studio
  does on opening) claims only rows whose lease is free or expired; ``resume(force=True)`` takes
  leased rows too. A lease held by a process of *this* machine that no longer runs (a restarted
  kernel's predecessor) counts as run out at once (`dead_owners`); another machine's must expire.
  Rows taken by a claim are read again before anything is sent, so a row a previous holder moved
  on is never judged from a stale copy.
* a process that finds a job leased by another (``job.wait()``, ``batch.wait()``) watches the
  ledger every ``lease_watch`` seconds until the job ends, and takes it over (reconciling before
  any re-send, as after a crash) once the holder's lease runs out.
* the heartbeat extends the leases of the jobs this process drives; a lease it finds taken (the
  process was frozen for longer than a lease, or someone forced) stops the local driver at once.
  A create that cannot be told apart from a second one is sent only right after its ``attempts``
  write, made only while the lease is held and renewing it in the same statement
  (`Leases.fence`): the lease is held before any such send.
* every open Studio (unless ``Studio(adopt=False)``) looks every ``lease_heartbeat`` seconds for
  unfinished jobs whose lease ran out (`Ledger.held_leases`: three columns of the active index) and
  takes them over through ``Engine.resume_rows`` (`Leases.adopt_orphans`): a teammate's killed
  kernel leaves no job waiting for a person while its result URL expires. Released rows
  (lease_owner NULL: stopped on purpose, ``timed_out_waiting``) are not adopted; they wait for
  ``resume()``.

Rows also carry ``extra.owner`` (host, pid, session) of their last driver, for display.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any, Awaitable, Callable, Optional

from ...ledger import current_user
from ...ledger._errors import LeaseLost
from .book import Book
from .runtime import DRIVERS, Runtime, _Task

__all__ = ["OWNER", "LEASE_OWNER", "dead_owners", "Leases"]

log = logging.getLogger("sorakit.engine")

OWNER = {"host": socket.gethostname(), "pid": os.getpid(), "session": uuid.uuid4().hex[:12]}
"""Who drives jobs in this process (recorded in each row's ``extra.owner``)."""

LEASE_OWNER = f"{current_user() or '?'}@{OWNER['host']}:{OWNER['pid']}:{OWNER['session']}"
"""This process's name in the ``lease_owner`` column (every Studio of the process shares it)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or we cannot tell: alive, to be safe
    return True


def dead_owners(owners: Any) -> list[str]:
    """The lease owners among ``owners`` that are processes of this machine no longer running: their
    leases are as good as run out (a kernel restarted on the same machine resumes at once instead
    of waiting ``lease_seconds``). Another machine's owner is never judged: its lease must run out."""
    dead = []
    for who in {o for o in owners if isinstance(o, str)}:
        try:
            host, pid, _session = who.split("@", 1)[1].rsplit(":", 2)
            pid_n = int(pid)
        except (IndexError, ValueError):
            continue
        if host == OWNER["host"] and pid_n != os.getpid() and not _pid_alive(pid_n):
            dead.append(who)
    return dead


RuntimeFor = Callable[[dict], Optional[Runtime]]
Resume = Callable[[list, RuntimeFor], Awaitable[tuple[list, list, list]]]


class Leases:
    """The leases one engine holds: hold, heartbeat, claim, fence, release, adopt.

    ``active`` is the engine's ``{job_id: _Task}`` (read only: to stop the driver of a job whose
    lease another process took)."""

    def __init__(self, book: Book, policy: Any, stats: dict, owner: str, active: dict[str, _Task]):
        self.book = book
        self.policy = policy
        self.stats = stats
        self.owner = owner
        self.active = active
        self.closed = False
        self.leased: set[str] = set()
        """Jobs this engine holds the lease of (extended by `heartbeat`, released when done)."""
        self._heart: Optional[asyncio.Task] = None
        self._adopter: Optional[asyncio.Task] = None
        self.unreachable: set[str] = set()
        """Jobs `adopt_orphans` found it cannot drive here (no key or client for their provider)."""

    async def who(self, job_id: str) -> Optional[str]:
        """The lease owner of ``job_id`` now (None: free)."""
        return (await self.book.db_call(self.book.ledger.leases, [job_id])).get(job_id, (None, False))[0]

    def hold(self, job_ids: list[str]) -> None:
        """Remember leases this engine now holds, and keep them alive."""
        self.leased.update(job_ids)
        if self._heart is None or self._heart.done():
            self._heart = asyncio.get_running_loop().create_task(self.heartbeat(), name="sorakit:heartbeat")

    async def heartbeat(self) -> None:
        """Extend the leases of the jobs this engine drives, every ``lease_heartbeat`` seconds.
        A lease found taken (this process was frozen past its lease, or another forced it) stops
        the local driver of that job: from then on the other process drives it alone."""
        while not self.closed:
            await asyncio.sleep(self.policy.lease_heartbeat)
            ids = sorted(self.leased)
            if not ids:
                continue
            try:
                held = set(await self.book.db_call(self.book.ledger.renew, ids, self.owner, self.policy.lease_seconds))
            except Exception:  # the database is away: keep driving, try again at the next beat
                log.warning("sorakit: could not extend the leases of %d job(s)", len(ids), exc_info=True)
                continue
            for jid in ids:
                if jid in held or jid not in self.leased:
                    continue
                self.leased.discard(jid)
                t = self.active.get(jid)
                if t is not None and t.runner is not None and not t.runner.done():
                    t.lost_to = await self.who(jid) or "another process"
                    log.warning("sorakit: %s is driven by %s now; this process stops driving it", jid, t.lost_to)
                    t.runner.cancel()

    async def claim(self, job_ids: list[str], force: bool, seen_owners: Any = ()) -> list[str]:
        """Claim ``job_ids``; ``seen_owners`` are lease owners read with the rows (those that are
        dead processes of this machine are claimed over at once)."""
        self.book.keep_leases(job_ids)  # a release of ours still queued must not follow the claim
        taken = await self.book.db_call(self.book.ledger.claim, job_ids, self.owner, self.policy.lease_seconds,
                                        force=force, dead=dead_owners(seen_owners))
        if taken:
            self.stats["claims"] += len(taken)
            self.hold(taken)
        return taken

    async def release(self, job_ids: list[str], defer: bool = False) -> None:
        """Free the leases of ``job_ids`` this engine holds; ``defer``: on the next group commit (a
        finished task's: the job is terminal or stopped, nobody is waiting to take it)."""
        mine = [j for j in job_ids if j in self.leased]
        if not mine:
            return
        self.leased.difference_update(mine)
        if defer:
            self.book.release_later(mine)
            return
        try:
            await self.book.commit(None, None, mine)
        except Exception:  # the lease then runs out by itself
            log.warning("sorakit: could not release the leases of %s", mine, exc_info=True)

    async def fence(self, t: _Task, changes: dict[str, dict]) -> None:
        """Write ``changes`` (per job id: the ``attempts`` / send-time update committed before a
        create that cannot be told apart from a second one, no idempotency key) only while this
        engine holds the leases, renewing them in the same conditional statement; stop driving if
        one was taken (nothing of that row is written, nothing is sent).

        The heartbeat alone is not enough: a process stalled past its lease (a busy machine, a
        frozen laptop) resumes where it was, and another process has taken the job over meanwhile;
        without this check both would send, and the provider would bill twice. After the write
        nobody can claim the job for ``lease_seconds``, and the ``attempts`` it records tells the
        next holder to reconcile before it sends anything. One statement for both (riding on the
        group commit) instead of a renew transaction and then the write: the same guarantee."""
        lost = None
        for jid, fields in changes.items():
            if jid not in self.leased:  # not leased by this engine (never claimed): a plain write
                await self.book.write(jid, **fields)
                continue
            try:
                await self.book.write_fenced(jid, (self.owner, self.policy.lease_seconds), **fields)
            except LeaseLost:
                lost = jid
                break
        if lost is None:
            return
        self.leased.discard(lost)
        t.lost_to = await self.who(lost) or "another process"
        self.stats["fenced"] += 1
        log.warning("sorakit: %s is driven by %s now; nothing was sent from here", lost, t.lost_to)
        raise asyncio.CancelledError()

    # ------------------------------------------------------------------ adopting orphans
    def start_adopting(self, runtime_for: RuntimeFor, announce: Callable[[str], None], resume: Resume) -> None:
        """Look, every ``lease_heartbeat`` seconds, for unfinished jobs whose holder stopped
        renewing its lease (a teammate's kernel killed, a machine gone), and drive them here.

        Without this a dead holder's jobs wait until somebody calls ``job.wait()`` or ``resume()``,
        while the provider's result URLs run out (OpenAI's after about an hour). Taking a job over
        goes through ``resume`` (``Engine.resume_rows``): one atomic claim (one Studio wins each
        job), then the same reconcile-before-send path as after a crash, so nothing is created twice."""
        if self._adopter is None or self._adopter.done():
            self._adopter = asyncio.get_running_loop().create_task(
                self._adopt_loop(runtime_for, announce, resume), name="sorakit:adopt")

    async def _adopt_loop(self, runtime_for: RuntimeFor, announce: Callable[[str], None], resume: Resume) -> None:
        while not self.closed:
            await asyncio.sleep(self.policy.lease_heartbeat)
            try:
                await self.adopt_orphans(runtime_for, announce, resume)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: look again at the next beat
                log.warning("sorakit: could not look for jobs whose holder stopped", exc_info=True)

    async def adopt_orphans(self, runtime_for: RuntimeFor, announce: Callable[[str], None],
                            resume: Resume) -> list[str]:
        """Drive the unfinished jobs whose lease ran out by the database's clock (or whose holder is
        a dead process of this machine); returns the ids taken over. Jobs another Studio of this
        process drives, and jobs whose provider cannot be reached here, are left alone."""
        held = await self.book.db_call(self.book.ledger.held_leases)
        dead = set(dead_owners({who for _, who, _ in held}))
        orphans = [(jid, who) for jid, who, live in held
                   if who != self.owner and (not live or who in dead) and jid not in self.active
                   and DRIVERS.get(jid) is None and jid not in self.unreachable]
        if not orphans:
            return []
        rows = await self.book.db_call(self.book.ledger.rows, job_id=[jid for jid, _ in orphans])
        driving, skipped, _elsewhere = await resume(rows, runtime_for)
        self.unreachable.update(jid for jid, _ in skipped)
        taken = [jid for jid, _ in orphans if jid in set(driving)]
        if taken:
            self.stats["adopted"] += len(taken)
            owners = sorted({who for jid, who in orphans if jid in set(taken)})
            announce(f"sorakit: took over {len(taken)} unfinished job(s) whose holder stopped renewing its "
                     f"lease ({', '.join(owners)}); they finish here (Studio(adopt=False) turns this off)")
        return taken

    def stop(self) -> None:
        """Stop the heartbeat and the adoption loop (the engine is closing)."""
        self.closed = True
        for beat in (self._heart, self._adopter):
            if beat is not None:
                beat.cancel()
