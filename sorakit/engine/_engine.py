"""The async core: the only place that sends, waits, retries, limits, downloads and writes job state.

Everything here runs on the engine loop (`_loop.EngineLoop`). Providers only map requests and
responses; the ledger only stores; this module decides.

Job life (one *task* = one create call; a task with ``variations=n`` owns n ledger rows)::

    pending ──create──▶ submitted ─▶ queued ─▶ in_progress ─▶ downloading ─▶ completed
       │                   ▲                                      │
       │ outcome unknown   │ adopt match                          ├─▶ failed (code, message)
       └──▶ unknown ──reconcile (list)──┘   provably absent ──▶ re-send  │
                                                                          └─▶ failed download_failed
                                                 (retries used up; cost kept; job.retry_download())
    any wait past max_wait ──▶ timed_out_waiting (resumable: polled again by resume() / wait())
    job.cancel() ──▶ cancelled (never sent: locally, not billed; sent: the provider's cancel / delete)
               └──▶ timed_out_waiting with error_code not_cancelled (the provider cannot stop it:
                    sorakit stops waiting; resume() / wait() still fetch the file and its cost)
    a poll the provider refuses ──▶ timed_out_waiting with error_code/error_message recorded

No job is ever left behind silently: when the engine stops driving a task, every row that is not
terminal is ``timed_out_waiting`` (poll states), ``pending``/``unknown`` (create states: resume
reconciles) with the reason in ``error_code``/``error_message``, and only then are waiters woken.
A download the engine gives up on is ``failed`` with ``download_failed`` (the provider made, and
billed, the video), so ``Batch.wait`` never returns on a row still ``downloading``.

Retry rules (the point of this module):

* GETs (poll, list, download) and Runware ``getResponse`` are retried on 429, 5xx and transport
  errors, following ``retry-after`` / ``openai-poll-after-ms``, else exponential backoff with
  jitter, until the job's wait bound. A download also stops after ``download_retries`` failed
  attempts (5xx, transport errors, truncated bodies); a 429 is not a failed attempt (the server
  asks for patience), it is waited out until the wait bound.
* A create is re-sent only when that cannot make a second job:
  - the request provably never left (connection refused, pool timeout) or was refused (429);
  - Runware: the client names the task (``taskUUID``): after an unknown outcome the engine polls
    the UUID first; found -> adopt, not found -> re-send the same UUID (a conflict means "exists").
  - OpenAI (no idempotency key): an unknown outcome (timeout, reset, 5xx after sending) is
    *never* re-sent blindly. The row becomes ``unknown``; the engine lists ``GET /videos`` back
    to the send time minus a clock-skew slack and adopts the earliest video with the same prompt,
    model, size and seconds that no other ledger row owns. Only when the listed window holds no
    match, and at least ``reconcile_grace`` seconds have passed since the send (so a request
    still in flight cannot appear later), is the job *provably absent* and sent again.
* Every state transition is one committed ledger update, made before anyone is told. The row
  exists (with the client reference) before the create is sent; for OpenAI, ``attempts`` and the
  send time are committed just before each send, so a restart knows a create may be out there.

Resume rules (`Engine.resume_rows`, called by ``Studio.resume()`` and when a Studio opens):

=====================================  =========================================================
row                                    what resume does
=====================================  =========================================================
``pending``, client-named (Runware)    poll the taskUUID first; known -> adopt; unknown -> send
                                       (same UUID: a conflict means it exists -> poll)
``pending``, OpenAI, ``attempts == 0``  never sent: send
``pending``, OpenAI, ``attempts > 0``   may have been sent before the crash: reconcile (above)
``unknown``                            reconcile (Runware: poll first)
``submitted`` / ``queued`` /           poll (no re-send), then download
``in_progress`` / ``timed_out_waiting``
``downloading``                        download (a stale link is refreshed by polling)
``failed`` with ``download_failed``    not resumed (terminal): ``job.retry_download()`` fetches it
=====================================  =========================================================

Leases: a job is driven by at most one process anywhere (one kernel, or a teammate's on a shared
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
  kernel's predecessor) counts as run out at once (`dead_owners`); another machine's must expire. Rows taken by a claim are read again before anything is sent, so a row a
  previous holder moved on is never judged from a stale copy.
* a process that finds a job leased by another (``job.wait()``, ``batch.wait()``) watches the
  ledger every ``lease_watch`` seconds until the job ends, and takes it over (reconciling before
  any re-send, as after a crash) once the holder's lease runs out.
* the heartbeat extends the leases of the jobs this process drives; a lease it finds taken (the
  process was frozen for longer than a lease, or someone forced) stops the local driver at once.
* every open Studio (unless ``Studio(adopt=False)``) looks every ``lease_heartbeat`` seconds for
  unfinished jobs whose lease ran out (`Ledger.held_leases`: three columns of the active index) and
  takes them over through `resume_rows` (`adopt_orphans`): a teammate's killed kernel leaves no job
  waiting for a person while its result URL expires. Released rows (lease_owner NULL: stopped on
  purpose, ``timed_out_waiting``) are not adopted; they wait for ``resume()``.

Rows also carry ``extra.owner`` (host, pid, session) of their last driver, for display. A provider
that can neither name its jobs nor list them leaves an unknown-outcome create ``unknown``: never
re-sent automatically (it could bill twice).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import dataclasses
import datetime as dt
import functools
import heapq
import logging
import math
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import httpx

from .._exceptions import (
    ConflictError,
    JobFailed,
    JobTimeout,
    ModelUnavailable,
    NotFoundError,
    PermissionDenied,
    ProviderError,
    RateLimitError,
    ServerError,
    SorakitError,
    StoreError,
    TransportError,
)
from .._types import NOT_CANCELLED, TERMINAL, CancelResult, JobState
from ..catalog import Catalog, Plan
from ..ledger import _rowcodec as rowcodec, current_user
from ..media import IncompleteDownload, LocalStore, download as media_download, make_poster
from ..media._store import INPUT_IMAGE_SUFFIXES, MediaStore
from ..providers import Provider, make_provider
from ._budget import Budget
from ._config import ProviderSetup
from ._policy import Policy

__all__ = ["Engine", "Policy", "Runtime", "OWNER", "LEASE_OWNER", "DOWNLOAD_FAILED"]

log = logging.getLogger("sorakit.engine")

UTC = dt.timezone.utc
DOWNLOAD_FAILED = "download_failed"
"""``error_code`` of a job whose video was made but could not be fetched (``job.retry_download()``)."""
_RECENT = 1024
"""How many finished jobs' last status `Engine.snapshot` still answers from memory."""
POLL_STATUSES = frozenset({"submitted", "queued", "in_progress", "timed_out_waiting"})
CREATE_STATUSES = frozenset({"pending", "unknown"})

# httpx errors where the request provably never reached the server
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# everything else in httpx.TransportError: the request may have been processed
_TRANSPORT = (httpx.TransportError, IncompleteDownload)

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

_DRIVERS: dict[str, "Engine"] = {}
"""job id -> the engine driving it, across every Studio of this process (re-running a notebook cell
that makes a new Studio must not drive a job twice)."""


def _retry_after(provider: Any, response: httpx.Response) -> Optional[float]:
    """Seconds a 429 answer asks us to wait (``retry-after`` and kin), or None when it names none."""
    try:
        provider.raise_for_error(response)
    except RateLimitError as exc:
        return exc.retry_after
    except ProviderError:
        pass
    return None


def _token_cost(row: dict, tokens: int) -> dict:
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


def _known(value: Any) -> bool:
    """A number that is not None/NaN (an estimate the catalog knows)."""
    return isinstance(value, (int, float)) and value == value


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


class _Deadline(Exception):
    """The job's wait bound ran out."""


class _Cancel(Exception):
    """A user asked to cancel the task (raised at the driver's safe points: never mid-create)."""


class _Suspend(Exception):
    """Stop driving the task; rows keep their (non-terminal) status; waiters get ``error``."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class Runtime:
    """One provider as reached from this process: its `Provider`, HTTP client and limits."""

    def __init__(self, setup: ProviderSetup, concurrency: int, policy: Policy):
        self.setup = setup
        self.name = setup.name
        self.emulated = setup.emulated
        self.provider: Provider = make_provider(
            setup.info, base_url=setup.base_url, api_key=setup.key.reveal() if setup.key else None,
            **setup.options)
        self.concurrency = concurrency
        self.policy = policy
        self._client: Optional[httpx.AsyncClient] = None
        self._slots: Optional[asyncio.Semaphore] = None
        self._downloads: Optional[asyncio.Semaphore] = None
        self._reconcile: Optional[asyncio.Lock] = None
        self.rates: dict[str, tuple[float, int]] = {}
        """Learned (progress points per second, samples) per model, for poll timing."""
        self._parked: list = []
        self._seq = 0
        self.inflight: collections.Counter = collections.Counter()
        """Create calls on the wire, by prompt (reconciliation waits for them to land)."""
        self.claimed: set[str] = set()
        """Provider job ids taken by a row in this process (reconciliation never adopts them)."""

    def learn_rate(self, model: str, rate: float) -> None:
        old, n = self.rates.get(model, (None, 0))
        self.rates[model] = (rate if old is None else 0.7 * old + 0.3 * rate, n + 1)

    def park(self, order: float, fut: "asyncio.Future") -> None:
        """A job waiting in the provider's queue, to be woken (oldest first) by `wake_oldest`."""
        self._seq += 1
        heapq.heappush(self._parked, (order, self._seq, fut))

    def wake_oldest(self) -> None:
        while self._parked:
            _, _, fut = heapq.heappop(self._parked)
            if not fut.done():
                fut.set_result(None)
                return

    def __repr__(self) -> str:
        return f"<Runtime {self.name} {'emulated' if self.emulated else 'live'} {self.setup.base_url}>"

    # created lazily on the engine loop (asyncio primitives bind to the running loop)
    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            p = self.policy
            self._client = httpx.AsyncClient(
                transport=self.setup.transport,
                timeout=httpx.Timeout(p.request_timeout, connect=p.connect_timeout),
                # few idle connections: httpcore checks each idle one on every request
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
                follow_redirects=True,
                # every hop, redirects included: the provider strips its key outside its scope
                event_hooks={"request": [self._guard]},
            )
        return self._client

    async def _guard(self, request: httpx.Request) -> None:
        self.provider.guard(request)

    @property
    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        return self._slots

    @property
    def downloads(self) -> asyncio.Semaphore:
        if self._downloads is None:
            self._downloads = asyncio.Semaphore(self.policy.download_concurrency)
        return self._downloads

    @property
    def reconcile_lock(self) -> asyncio.Lock:
        if self._reconcile is None:
            self._reconcile = asyncio.Lock()
        return self._reconcile

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


@dataclass
class _Task:
    """One create call and the ledger rows it feeds."""

    key: str
    rt: Runtime
    job_ids: list[str]
    client_ref: str
    plan: Optional[Plan]
    max_wait: float
    resumed: bool = False
    started: float = field(default_factory=time.monotonic)
    first_hint: Optional[float] = None
    hint: Optional[float] = None
    last_poll: Optional[float] = None
    holding_slot: bool = False
    submitted_mono: Optional[float] = None
    progress_seen: list = field(default_factory=list)  # [(monotonic, progress)]
    downloads: list = field(default_factory=list)
    error: Optional[BaseException] = None
    cancel_req: Optional["asyncio.Future"] = None
    """Set by `Engine.cancel`: resolved with the `CancelResult` once the task has stopped."""
    cancel_for: Optional[str] = None
    cancelling: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    """Set to cut the driver's sleeps short (a cancel request)."""
    runner: Optional["asyncio.Task"] = None
    lost_to: Optional[str] = None
    """Set when the heartbeat found another process holds the lease now."""

    @property
    def deadline(self) -> float:
        return self.started + self.max_wait


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
        self.catalog = catalog
        self.runtimes = runtimes
        self.media_dir = Path(media_dir)
        self.store: MediaStore = store if store is not None else LocalStore(self.media_dir)
        self.budget = budget
        self.max_wait = float(max_wait)
        self.policy = policy or Policy()
        self._db = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sorakit-ledger")
        self._rows: dict[str, dict] = {}
        self._live: dict[str, dict] = {}
        self._last_progress_write: dict[str, float] = {}
        self._events: dict[str, asyncio.Event] = {}
        self._errors: dict[str, BaseException] = {}
        self._recent: collections.OrderedDict[str, tuple[dict, Optional[BaseException]]] = collections.OrderedDict()
        """(last status/progress, error) of recently finished jobs (bounded; for progress displays
        and for a wait that begins after the job ended).
        Per-job state (``_rows``, ``_live``, ``_events``, ``_errors``) is dropped when a task ends,
        so a kernel that runs thousands of jobs stays flat; the ledger keeps the record."""
        self._active: dict[str, _Task] = {}
        self._tasks: set[asyncio.Task] = set()
        self._subscribers: list[Callable[[str, dict], None]] = []
        self._closed = False
        self._leased: set[str] = set()
        """Jobs this engine holds the lease of (extended by `_heartbeat`, released when done)."""
        self._heart: Optional[asyncio.Task] = None
        self._adopter: Optional[asyncio.Task] = None
        self._resuming: set[str] = set()
        """Jobs a `resume_rows` call is claiming and starting (between its first await and its task)."""
        self._unreachable: set[str] = set()
        """Jobs `adopt_orphans` found it cannot drive here (no key or client for their provider)."""
        self.owner = LEASE_OWNER
        self._queued: list[tuple[Optional[str], Optional[dict], list[str], asyncio.Future]] = []
        """Ledger updates and lease releases waiting for the group commit (`_commit`)."""
        self._flusher: Optional[asyncio.Task] = None
        self.stats = {"polls": 0, "creates": 0, "lists": 0, "downloads": 0, "retries": 0,
                      "claims": 0, "takeovers": 0, "adopted": 0, "fenced": 0}

    def __repr__(self) -> str:
        return f"<Engine {len(self._active)} active job(s), runtimes={list(self.runtimes)}>"

    # ------------------------------------------------------------------ ledger I/O (one writer)
    async def _db_call(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(fn, *args, **kwargs))

    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            try:
                self._subscribers.remove(callback)
            except ValueError:
                pass

        return unsubscribe

    def _notify(self, job_id: str, changes: dict) -> None:
        for cb in list(self._subscribers):
            try:
                cb(job_id, dict(changes))
            except Exception:  # a broken widget must not break a job
                log.exception("sorakit: subscriber %r failed", cb)

    async def _commit(self, job_id: Optional[str], fields: Optional[dict], release: list[str] = ()) -> None:
        """Have one ledger update (or a release of this engine's leases) committed; returns once it is.

        Group commit: what the jobs ask while a transaction is under way is queued and committed
        together in the next one (`Ledger.update_many`), so a thousand jobs' transitions cost far
        fewer transactions than transitions, and still no caller moves on before its own update is
        committed. An update that fails fails alone (its caller gets the exception `Ledger.update`
        raises); the others are committed."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queued.append((job_id, fields, list(release), fut))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush(), name="sorakit:ledger-writer")
        await fut

    async def _flush(self) -> None:
        while self._queued:
            batch = [q for q in self._queued if not q[3].done()]  # a cancelled caller's update is dropped
            self._queued = []
            if not batch:
                continue
            updates = [(jid, fields) for jid, fields, _, _ in batch if jid is not None]
            release = [j for _, _, ids, _ in batch for j in ids]
            try:
                results = await self._db_call(self.ledger.update_many, updates, release=release, owner=self.owner)
            except BaseException as exc:  # the database itself failed (or the engine is closing)
                for *_, fut in batch:
                    if not fut.done():
                        fut.cancel() if isinstance(exc, asyncio.CancelledError) else fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            errors = iter(results[:len(updates)])
            release_error = results[len(updates)] if release else None
            for jid, _, ids, fut in batch:
                error = next(errors) if jid is not None else release_error if ids else None
                if not fut.done():
                    fut.set_result(None) if error is None else fut.set_exception(error)

    async def _write(self, job_id: str, **fields: Any) -> None:
        """One committed ledger update, then the caches, the budget and the subscribers."""
        fields.setdefault("updated_at", _now())
        await self._commit(job_id, fields)
        row = self._rows.setdefault(job_id, {"job_id": job_id})
        row.update(fields)
        live = self._live.setdefault(job_id, {})
        for k in ("status", "progress", "error_code", "error_message"):
            if k in fields:
                live[k] = fields[k]
        status = fields.get("status")
        if status in TERMINAL:
            source = row.get("billed_cost_source")
            self.budget.settle(job_id, status,
                               row.get("billed_cost") if source in ("provider", "usage", "catalog") else None)
        self._notify(job_id, fields)
        if status in TERMINAL:
            ev = self._events.get(job_id)
            if ev is not None:
                ev.set()

    async def _write_rows(self, job_ids: list[str], **fields: Any) -> None:
        for jid in job_ids:
            await self._write(jid, **fields)

    def _extra(self, job_id: str, **changes: Any) -> dict:
        extra = dict(self._rows.get(job_id, {}).get("extra") or {})
        extra.update(changes)
        return extra

    def snapshot(self, job_ids: list[str]) -> dict[str, dict]:
        """Latest known status/progress per job (from memory; for progress displays)."""
        out = {}
        for j in job_ids:
            live = self._live.get(j) or self._recent.get(j, (None, None))[0]
            out[j] = dict(live) if live else {}
        return out

    # ------------------------------------------------------------------ submitting
    async def insert(self, rows: list[dict]) -> list[str]:
        """Write new rows, leased to this process in the same transaction."""
        ids = await self._db_call(self.ledger.insert_many, rows,
                                  lease=(self.owner, self.policy.lease_seconds))
        self._hold(ids)
        for jid, row in zip(ids, rows):
            self._rows[jid] = {**row, "job_id": jid}
            self._live[jid] = {"status": row.get("status", "pending"), "progress": None}
            self._notify(jid, {**row, "job_id": jid})
        return ids

    def start_task(self, rt: Runtime, job_ids: list[str], client_ref: str, plan: Optional[Plan],
                   max_wait: Optional[float] = None, resumed: bool = False) -> _Task:
        """Begin driving the rows of one create (call on the engine loop)."""
        t = _Task(key=client_ref, rt=rt, job_ids=list(job_ids), client_ref=client_ref, plan=plan,
                  max_wait=self.max_wait if max_wait is None else float(max_wait), resumed=resumed)
        for jid in t.job_ids:
            self._active[jid] = t
            self._events[jid] = asyncio.Event()
            self._errors.pop(jid, None)
            _DRIVERS[jid] = self
        task = asyncio.get_running_loop().create_task(self._run(t), name=f"sorakit:{client_ref}")
        t.runner = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return t

    # ------------------------------------------------------------------ leases
    def _hold(self, job_ids: list[str]) -> None:
        """Remember leases this engine now holds, and keep them alive."""
        self._leased.update(job_ids)
        if self._heart is None or self._heart.done():
            self._heart = asyncio.get_running_loop().create_task(self._heartbeat(), name="sorakit:heartbeat")

    async def _heartbeat(self) -> None:
        """Extend the leases of the jobs this engine drives, every ``lease_heartbeat`` seconds.
        A lease found taken (this process was frozen past its lease, or another forced it) stops
        the local driver of that job: from then on the other process drives it alone."""
        while not self._closed:
            await asyncio.sleep(self.policy.lease_heartbeat)
            ids = sorted(self._leased)
            if not ids:
                continue
            try:
                held = set(await self._db_call(self.ledger.renew, ids, self.owner, self.policy.lease_seconds))
            except Exception:  # the database is away: keep driving, try again at the next beat
                log.warning("sorakit: could not extend the leases of %d job(s)", len(ids), exc_info=True)
                continue
            for jid in ids:
                if jid in held or jid not in self._leased:
                    continue
                self._leased.discard(jid)
                t = self._active.get(jid)
                if t is not None and t.runner is not None and not t.runner.done():
                    who = (await self._db_call(self.ledger.leases, [jid])).get(jid, (None, False))[0]
                    t.lost_to = who or "another process"
                    log.warning("sorakit: %s is driven by %s now; this process stops driving it", jid, t.lost_to)
                    t.runner.cancel()

    async def _claim(self, job_ids: list[str], force: bool, seen_owners: Any = ()) -> list[str]:
        """Claim ``job_ids``; ``seen_owners`` are lease owners read with the rows (those that are
        dead processes of this machine are claimed over at once)."""
        taken = await self._db_call(self.ledger.claim, job_ids, self.owner, self.policy.lease_seconds,
                                    force=force, dead=dead_owners(seen_owners))
        if taken:
            self.stats["claims"] += len(taken)
            self._hold(taken)
        return taken

    async def _release_leases(self, job_ids: list[str]) -> None:
        mine = [j for j in job_ids if j in self._leased]
        if not mine:
            return
        self._leased.difference_update(mine)
        try:
            await self._commit(None, None, mine)
        except Exception:  # the lease then runs out by itself
            log.warning("sorakit: could not release the leases of %s", mine, exc_info=True)

    # ------------------------------------------------------------------ adopting orphans
    async def start_adopting(self, runtime_for: Callable[[dict], Optional[Runtime]],
                             announce: Callable[[str], None]) -> None:
        """Look, every ``lease_heartbeat`` seconds, for unfinished jobs whose holder stopped
        renewing its lease (a teammate's kernel killed, a machine gone), and drive them here.

        Without this a dead holder's jobs wait until somebody calls ``job.wait()`` or ``resume()``,
        while the provider's result URLs run out (OpenAI's after about an hour). Taking a job over
        goes through `resume_rows`: one atomic claim (one Studio wins each job), then the same
        reconcile-before-send path as after a crash, so nothing is created twice."""
        if self._adopter is None or self._adopter.done():
            self._adopter = asyncio.get_running_loop().create_task(
                self._adopt_loop(runtime_for, announce), name="sorakit:adopt")

    async def _adopt_loop(self, runtime_for: Callable[[dict], Optional[Runtime]],
                          announce: Callable[[str], None]) -> None:
        while not self._closed:
            await asyncio.sleep(self.policy.lease_heartbeat)
            try:
                await self.adopt_orphans(runtime_for, announce)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: look again at the next beat
                log.warning("sorakit: could not look for jobs whose holder stopped", exc_info=True)

    async def adopt_orphans(self, runtime_for: Callable[[dict], Optional[Runtime]],
                            announce: Callable[[str], None] = lambda text: None) -> list[str]:
        """Drive the unfinished jobs whose lease ran out by the database's clock (or whose holder is
        a dead process of this machine); returns the ids taken over. Jobs another Studio of this
        process drives, and jobs whose provider cannot be reached here, are left alone."""
        held = await self._db_call(self.ledger.held_leases)
        dead = set(dead_owners({who for _, who, _ in held}))
        orphans = [(jid, who) for jid, who, live in held
                   if who != self.owner and (not live or who in dead) and jid not in self._active
                   and _DRIVERS.get(jid) is None and jid not in self._unreachable]
        if not orphans:
            return []
        rows = await self._db_call(self.ledger.rows, job_id=[jid for jid, _ in orphans])
        driving, skipped, _elsewhere = await self.resume_rows(rows, runtime_for)
        self._unreachable.update(jid for jid, _ in skipped)
        taken = [jid for jid, _ in orphans if jid in set(driving)]
        if taken:
            self.stats["adopted"] += len(taken)
            owners = sorted({who for jid, who in orphans if jid in set(taken)})
            announce(f"sorakit: took over {len(taken)} unfinished job(s) whose holder stopped renewing its "
                     f"lease ({', '.join(owners)}); they finish here (Studio(adopt=False) turns this off)")
        return taken

    def is_active(self, job_id: str) -> bool:
        return job_id in self._active

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
                return self._done_result(job_id, row)
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
                self._rows[m["job_id"]] = m
                self._live[m["job_id"]] = {"status": m.get("status"), "progress": m.get("progress")}
            t = self.start_task(rt, ids, ref or row.get("provider_job_id") or job_id, None, resumed=True)
        elif self._phase(t) in ("download", "done"):
            return self._done_result(job_id, self._rows.get(job_id) or {})
        if t.cancel_req is None:
            t.cancel_req = asyncio.get_running_loop().create_future()
            t.cancel_for = job_id
        t.wake.set()
        result = await asyncio.shield(t.cancel_req)
        if result.job_id != job_id:
            result = dataclasses.replace(result, job_id=job_id)
        return result

    @staticmethod
    def _done_result(job_id: str, row: dict) -> CancelResult:
        status = row.get("status") or "pending"
        if status == "cancelled":
            return CancelResult(job_id, True, (row.get("extra") or {}).get("cancel", {}).get("billed", "unconfirmed"),
                                status, "it was cancelled before", "already_done")
        billed = "no" if status == "failed" and row.get("billed_cost_source") == "none" else "yes"
        what = {"downloading": "the provider already made the video; it is being downloaded"}.get(
            status, f"it had already {'completed' if status == 'completed' else 'ended ' + status}")
        return CancelResult(job_id, False, billed, status, what, "already_done")

    def _cancel_outcome(self, t: _Task) -> CancelResult:
        """The result for a cancel the task never reached a safe point for (it finished first)."""
        jid = t.cancel_for or t.job_ids[0]
        return self._done_result(jid, self._rows.get(jid) or {"status": "pending"})

    async def _cancel_task(self, t: _Task) -> None:
        """Stop ``t`` on a user's request and resolve its ``cancel_req`` with the `CancelResult`."""
        t.cancelling = True
        fut = t.cancel_req
        try:
            result = await self._stop_task(t)
        except BaseException as exc:
            if fut is not None and not fut.done():
                fut.set_exception(exc)
            raise
        if fut is not None and not fut.done():
            fut.set_result(result)

    async def _stop_task(self, t: _Task) -> CancelResult:
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
        jid = t.cancel_for or t.job_ids[0]
        prov = t.rt.provider
        open_ids = self._open_rows(t)
        if not open_ids or any(self._rows[j].get("status") == "downloading" for j in open_ids):
            return self._done_result(jid, self._rows.get(jid) or {})
        first = self._rows[open_ids[0]]
        status = first.get("status") or "pending"
        now = _now()
        if status in CREATE_STATUSES:
            never_sent = (status == "pending" and int(first.get("attempts") or 0) == 0
                          and not (prov.create_is_idempotent and t.resumed))
            if never_sent:
                reason = f"cancelled before it was sent: nothing reached {prov.name}, nothing is billed"
                for j in open_ids:
                    await self._write(j, status="cancelled", completed_at=now, billed_cost=0.0,
                                      billed_cost_source="none", error_code="cancelled", error_message=reason,
                                      extra=self._extra(j, cancel={"how": "local", "billed": "no", "at": now.timestamp()}))
                return CancelResult(jid, True, "no", "cancelled", reason, "local")
            reason = (f"the create call may have reached {prov.name} (its outcome is not known yet), so there is "
                      f"nothing to cancel until it is found; studio.resume() reconciles it")
            for j in open_ids:
                await self._write(j, error_code=NOT_CANCELLED, error_message=f"cancel requested: {reason}")
            t.error = SorakitError(f"job {jid}: cancel requested; {reason}")
            return CancelResult(jid, False, "unconfirmed", status, reason, "none")
        pjid = first.get("provider_job_id")
        support = prov.cancel_support(pjid)
        if support.how == "none":
            return await self._not_cancelled(t, open_ids, f"{support.note} ({support.source})", "yes")
        # bound the cancel call: the task's own wait bound may be far away
        t.started, t.max_wait = time.monotonic(), self.policy.cancel_wait
        try:
            response = await self._safe(t, lambda: prov.build_cancel(pjid), "cancel")
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
            row = self._rows[j]
            cost: dict[str, Any] = {}
            if support.billed == "no":
                cost = {"billed_cost": 0.0, "billed_cost_source": "none"}
            elif support.billed == "yes" and _known(row.get("estimated_cost")):
                cost = {"billed_cost": row["estimated_cost"], "billed_cost_source": "catalog"}
            else:  # unconfirmed: the budget keeps the estimate (a charge may come)
                self.budget.settle(j, "cancelled", row.get("estimated_cost") if _known(row.get("estimated_cost")) else None)
            await self._write(j, status="cancelled", completed_at=now, error_code="cancelled",
                              error_message=reason[:2000], **cost,
                              extra=self._extra(j, cancel={"how": support.how, "billed": support.billed,
                                                           "at": now.timestamp()}))
        return CancelResult(jid, True, support.billed, "cancelled", reason, support.how)

    async def _not_cancelled(self, t: _Task, job_ids: list[str], why: str, billed: str) -> CancelResult:
        """The provider cannot (or did not) stop the job: stop waiting, keep the row open."""
        jid = t.cancel_for or t.job_ids[0]
        message = (f"cancel requested, but {why}. sorakit stopped waiting; job.wait() or studio.resume() "
                   f"still fetches the video and records its cost")
        for j in job_ids:
            await self._write(j, status="timed_out_waiting", error_code=NOT_CANCELLED, error_message=message[:2000],
                              extra=self._extra(j, cancel={"how": "none", "billed": billed,
                                                           "at": _now().timestamp()}))
        t.error = SorakitError(f"job {jid}: {message}")
        return CancelResult(jid, False, billed, "timed_out_waiting", why, "none")  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the task driver
    async def _run(self, t: _Task) -> None:
        cancelled = False
        try:
            phase = self._phase(t)
            if phase in ("create", "poll"):
                await self._acquire_slot(t)
                try:
                    if phase == "create":
                        await self._ensure_remote(t)
                    await self._poll_until_remote_done(t)
                finally:
                    self._release_slot(t)
            for jid in t.job_ids:
                if self._rows[jid].get("status") == "downloading" and not any(
                        getattr(d, "sorakit_job", None) == jid for d in t.downloads):
                    self._spawn_download(t, jid)
            if t.downloads:
                await asyncio.gather(*t.downloads)
        except _Deadline as exc:
            t.error = exc
            await self._settle_downloads(t)
            await self._mark_timed_out(t)
        except _Cancel:
            await self._cancel_task(t)
        except _Suspend as exc:
            t.error = exc.error
            log.warning("sorakit: stopped driving %s: %s", t.job_ids, exc.error)
            await self._settle_downloads(t)
            await self._stop_rows(t, exc.error)
        except asyncio.CancelledError:
            cancelled = True
            if t.lost_to is not None:
                t.error = SorakitError(f"job {t.job_ids[0]}: {t.lost_to} drives it now (this process "
                                       f"lost its lease); job.wait() watches it")
            else:
                t.error = SorakitError("the engine was closed while the job was running; resume() finishes it")
            for d in t.downloads:
                d.cancel()
            raise
        except Exception as exc:  # a bug or an unexpected answer: keep the row resumable
            t.error = exc
            log.exception("sorakit: unexpected error driving %s", t.job_ids)
            try:
                await self._settle_downloads(t)
                await self._stop_rows(t, exc)
            except Exception:  # the ledger itself failed: the row keeps its last committed state
                log.exception("sorakit: could not record why %s stopped", t.job_ids)
        finally:
            if t.cancel_req is not None and not t.cancel_req.done():  # finished before a safe point
                t.cancel_req.set_result(self._cancel_outcome(t))
            for jid in t.job_ids:
                if t.error is not None and self._rows.get(jid, {}).get("status") not in TERMINAL:
                    self._errors[jid] = t.error
                current = self._active.get(jid)
                if current is t:
                    del self._active[jid]
                    if _DRIVERS.get(jid) is self:
                        del _DRIVERS[jid]
                if current is t or current is None:
                    self._release(jid)
            if not cancelled and not self._closed:
                # done driving (terminal, or stopped with the reason recorded): free the lease for
                # the next resume; a cancelled task's leases are released by `aclose` in one go
                ours = [j for j in t.job_ids if self._active.get(j) is None]
                try:
                    await self._release_leases(ours)
                except asyncio.CancelledError:
                    pass

    @staticmethod
    async def _settle_downloads(t: _Task) -> None:
        """Let downloads already under way finish (each ends by the task's deadline) before the
        task's rows are marked stopped: a row is never judged while its download still runs."""
        pending = [d for d in t.downloads if not d.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _release(self, jid: str) -> None:
        """Wake the job's waiters and drop its per-job state (the ledger has the record)."""
        row = self._rows.pop(jid, None) or {"job_id": jid}
        live = self._live.pop(jid, None)
        error = self._errors.pop(jid, None)
        self._last_progress_write.pop(jid, None)
        ev = self._events.pop(jid, None)
        for rt in self.runtimes.values():
            rt.claimed.discard(row.get("provider_job_id"))  # committed: the ledger now says who owns it
        if live is not None or error is not None:
            self._recent[jid] = (live or {}, error)
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        if ev is not None:
            ev.sorakit_row = row  # type: ignore[attr-defined]
            ev.sorakit_error = error  # type: ignore[attr-defined]
            ev.set()

    async def _stop_rows(self, t: _Task, error: BaseException) -> None:
        """The engine stops driving ``t`` early: leave every open row where a user (and resume)
        can see why. Poll states -> ``timed_out_waiting``; ``downloading`` -> ``download_failed``;
        create states keep their status (resume reconciles them). The reason is recorded."""
        code = getattr(error, "code", None) or type(error).__name__
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        for jid in t.job_ids:
            status = self._rows[jid].get("status")
            if status in TERMINAL:
                continue
            if status == "downloading":
                await self._download_failed(t, jid, f"{message}")
            elif status in POLL_STATUSES:
                await self._write(jid, status="timed_out_waiting", error_code=str(code)[:200],
                                  error_message=f"stopped polling: {message}; resume() polls it again"[:2000])
            else:
                await self._write(jid, error_code=str(code)[:200], error_message=str(message)[:2000])

    def _phase(self, t: _Task) -> str:
        statuses = {self._rows[j].get("status") or "pending" for j in t.job_ids}
        if statuses & CREATE_STATUSES:
            return "create"
        if statuses & POLL_STATUSES:
            return "poll"
        if "downloading" in statuses:
            return "download"
        return "done"

    def _open_rows(self, t: _Task) -> list[str]:
        return [j for j in t.job_ids if self._rows[j].get("status") not in TERMINAL]

    def _remaining(self, t: _Task) -> float:
        return t.deadline - time.monotonic()

    async def _sleep(self, t: _Task, seconds: float) -> None:
        remaining = self._remaining(t)
        if remaining <= 0:
            raise _Deadline()
        if seconds >= remaining:
            await self._nap(t, remaining)
            raise _Deadline()
        await self._nap(t, seconds)

    @staticmethod
    def _check_cancel(t: _Task) -> None:
        if t.cancel_req is not None and not t.cancelling:
            raise _Cancel()

    async def _nap(self, t: _Task, seconds: float) -> None:
        """``asyncio.sleep`` that a cancel request cuts short (raising `_Cancel`)."""
        self._check_cancel(t)
        if seconds > 0 and t.cancelling:  # the cancel's own retries: ``wake`` is set, really sleep
            await asyncio.sleep(seconds)
        elif seconds > 0:
            try:
                await asyncio.wait_for(t.wake.wait(), seconds)
            except asyncio.TimeoutError:
                pass
        self._check_cancel(t)

    def _jitter(self, seconds: float) -> float:
        j = self.policy.jitter
        return seconds * (1.0 + random.uniform(-j, j)) if j else seconds

    def _backoff(self, attempt: int, retry_after: Optional[float] = None) -> float:
        if retry_after is not None and retry_after >= 0:
            return retry_after + random.uniform(0, 0.05)
        p = self.policy
        return min(p.retry_max, p.retry_initial * (2 ** attempt)) * random.uniform(0.5, 1.0)

    async def _acquire_slot(self, t: _Task) -> None:
        self._check_cancel(t)
        remaining = self._remaining(t)
        if remaining <= 0:
            raise _Deadline()
        acquire = asyncio.ensure_future(t.rt.slots.acquire())
        woken = asyncio.ensure_future(t.wake.wait())
        try:
            await asyncio.wait({acquire, woken}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
            if not acquire.done():
                acquire.cancel()
                try:
                    await acquire
                except asyncio.CancelledError:
                    pass
        if acquire.cancelled():
            self._check_cancel(t)
            raise _Deadline()
        t.holding_slot = True
        if t.cancel_req is not None and not t.cancelling:
            self._release_slot(t)  # the caller's try/finally is not entered yet
            raise _Cancel()

    def _release_slot(self, t: _Task) -> None:
        if t.holding_slot:
            t.holding_slot = False
            t.rt.slots.release()

    # ------------------------------------------------------------------ HTTP with safe retries
    async def _safe(self, t: _Task, build: Callable[[], httpx.Request], op: str) -> httpx.Response:
        """Send an idempotent request, retrying 429 / 5xx / transport errors until the deadline."""
        attempt = 0
        while True:
            try:
                response = await t.rt.client.send(build())
            except _TRANSPORT as exc:
                self.stats["retries"] += 1
                log.debug("sorakit: %s transport error (%s), retrying", op, type(exc).__name__)
                await self._sleep(t, self._backoff(attempt))
                attempt += 1
                continue
            if response.status_code == 429 or response.status_code >= 500:
                await response.aread()
                retry_after = _retry_after(t.rt.provider, response) if response.status_code == 429 else None
                self.stats["retries"] += 1
                await self._sleep(t, self._backoff(attempt, retry_after))
                attempt += 1
                continue
            return response

    # ------------------------------------------------------------------ create / reconcile
    def _plan(self, t: _Task) -> Plan:
        if t.plan is None:
            t.plan = self.plan_from_row(self._rows[t.job_ids[0]], t.rt.provider)
        return t.plan

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

    async def _ensure_remote(self, t: _Task) -> None:
        """Make sure the job exists remotely exactly once; rows leave pending/unknown."""
        prov = t.rt.provider
        resends = 0
        while True:
            first = self._rows[t.job_ids[0]]
            status = first.get("status") or "pending"
            attempts = int(first.get("attempts") or 0)
            if status not in CREATE_STATUSES:
                return
            if prov.create_is_idempotent:
                if status == "unknown" or attempts > 0 or t.resumed:
                    if await self._adopt_by_poll(t):
                        return
            elif status == "unknown" or attempts > 0:
                found = await self._reconcile(t)
                if found:
                    return
                if resends >= self.policy.max_resends:
                    raise _Suspend(SorakitError(
                        f"job {t.job_ids[0]}: the create's outcome stayed unknown after "
                        f"{resends} re-send(s); it is left 'unknown' for you to check"))
                resends += 1
            self._check_cancel(t)
            outcome = await self._create(t)
            if outcome in ("created", "failed"):
                return
            # "unknown": loop -> reconcile (OpenAI) or poll-first (Runware)

    async def _adopt_by_poll(self, t: _Task) -> bool:
        """Client-named tasks: does the provider know the task already? Adopt it if so."""
        prov = t.rt.provider
        pjid = self._rows[t.job_ids[0]].get("provider_job_id") or t.client_ref
        response = await self._safe(t, lambda: prov.build_poll(pjid), "poll")
        self.stats["polls"] += 1
        try:
            states = prov.parse_poll(pjid, response)
        except NotFoundError:
            return False
        except ProviderError as exc:
            raise _Suspend(exc) from None
        if not states:
            return False
        await self._write_rows(self._open_rows(t), status="submitted", provider_job_id=pjid,
                               submitted_at=self._rows[t.job_ids[0]].get("submitted_at") or _now())
        t.submitted_mono = time.monotonic()
        await self._apply(t, states)
        return True

    async def _create(self, t: _Task) -> str:
        """Send the create. Returns ``created``, ``failed`` (definite refusal) or ``unknown``."""
        rt, prov = t.rt, t.rt.provider
        plan = self._plan(t)
        attempt = 0
        while True:
            if self._remaining(t) <= 0:
                raise _Deadline()
            first = self._rows[t.job_ids[0]]
            attempts = int(first.get("attempts") or 0) + 1
            sent_at = time.time()
            if not prov.create_is_idempotent:
                await self._fence(t)  # a create nobody can take back: only with the lease in hand
                # committed before sending: a restart then knows a create may exist remotely
                for jid in t.job_ids:
                    await self._write(jid, attempts=attempts, extra=self._extra(jid, sent_at=sent_at))
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
                await self._sleep(t, self._backoff(attempt))
                attempt += 1
                continue
            except httpx.TransportError as exc:
                log.info("sorakit: create of %s: outcome unknown (%s)", t.job_ids[0], type(exc).__name__)
                return await self._outcome_unknown(t, attempts, f"create outcome unknown ({type(exc).__name__})")
            if response.status_code == 429:
                retry_after = _retry_after(prov, response)
                self.stats["retries"] += 1
                await self._sleep(t, self._backoff(attempt, retry_after))
                attempt += 1
                continue
            if response.status_code >= 500:
                return await self._outcome_unknown(t, attempts, f"create answered HTTP {response.status_code}")
            try:
                states = prov.parse_create(plan, response, t.client_ref)
            except ConflictError:
                if prov.create_is_idempotent:  # the task exists already: adopt and poll it
                    await self._write_rows(t.job_ids, status="submitted", provider_job_id=t.client_ref,
                                           attempts=attempts, submitted_at=_now())
                    t.submitted_mono = time.monotonic()
                    return "created"
                await self._fail_rows(t, t.job_ids, "conflict", "the provider refused the create as a conflict",
                                      attempts=attempts)
                return "failed"
            except ModelUnavailable as exc:  # shut down: failed, not billed, never retried
                exc = exc.explained(plan.model.name, plan.offer.id,
                                    self.catalog.shutdown_text(plan.model.name, plan.offer.provider),
                                    plan.offer.served_until or plan.model.shut_down,
                                    plan.offer.replacement or plan.model.replacement)
                await self._fail_rows(t, t.job_ids, ModelUnavailable.code_name, exc.message, attempts=attempts)
                for jid in t.job_ids:
                    self._errors[jid] = exc
                return "failed"
            except ProviderError as exc:
                await self._fail_rows(t, t.job_ids, exc.code or type(exc).__name__, exc.message,
                                      attempts=attempts)
                return "failed"
            head = states[0]
            rt.claimed.add(head.provider_job_id)  # before any await: reconciliation skips it
            t.first_hint = head.poll_after
            t.submitted_mono = time.monotonic()
            for jid in t.job_ids:
                await self._write(jid, status=head.status if head.status in POLL_STATUSES else "submitted",
                                  provider_job_id=head.provider_job_id, attempts=attempts,
                                  submitted_at=_now(), error_message=None,
                                  progress=head.progress if head.progress is not None else 0)
            if any(s.status in ("completed", "failed") for s in states):
                await self._apply(t, states)
            return "created"

    async def _fence(self, t: _Task) -> None:
        """Renew this task's leases in one conditional update right before a create that cannot be
        told apart from a second one (no idempotency key), and stop driving if any was taken.

        The heartbeat alone is not enough: a process stalled past its lease (a busy machine, a
        frozen laptop) resumes where it was, and another process has taken the job over meanwhile;
        without this check both would send, and the provider would bill twice. After a successful
        renew nobody can claim the job for ``lease_seconds``, and the ``attempts`` write that follows
        tells the next holder to reconcile before it sends anything."""
        ids = [j for j in t.job_ids if j in self._leased]
        if not ids:
            return
        held = set(await self._db_call(self.ledger.renew, ids, self.owner, self.policy.lease_seconds))
        lost = [j for j in ids if j not in held]
        if not lost:
            return
        self._leased.difference_update(lost)
        who = (await self._db_call(self.ledger.leases, lost[:1])).get(lost[0], (None, False))[0]
        t.lost_to = who or "another process"
        self.stats["fenced"] += 1
        log.warning("sorakit: %s is driven by %s now; nothing was sent from here", lost[0], t.lost_to)
        raise asyncio.CancelledError()

    async def _outcome_unknown(self, t: _Task, attempts: int, why: str) -> str:
        """A create that may or may not have made the job (no answer, or a 5xx after sending).
        Client-named tasks just count the attempt (the next step polls the name); other rows
        become ``unknown`` with ``why`` and are reconciled by listing, never re-sent blindly."""
        if t.rt.provider.create_is_idempotent:
            await self._write_rows(t.job_ids, attempts=attempts)
        else:
            await self._write_rows(t.job_ids, status="unknown", error_message=f"{why}; reconciling")
        return "unknown"

    async def _reconcile(self, t: _Task) -> bool:
        """Non-idempotent creates: find the job a lost create made. True = adopted."""
        rt, prov = t.rt, t.rt.provider
        if not prov.supports_reconcile:
            raise _Suspend(SorakitError(
                f"job {t.job_ids[0]}: the create's outcome is unknown and {rt.name} cannot list jobs; "
                f"it is left 'unknown' (check the provider's dashboard)"))
        plan = self._plan(t)
        first = self._rows[t.job_ids[0]]
        extra = first.get("extra") or {}
        sent_at = extra.get("sent_at")
        if sent_at is None:
            created = first.get("created_at")
            sent_at = created.timestamp() if isinstance(created, dt.datetime) else time.time()
        window_start = float(sent_at) - self.policy.reconcile_slack
        if first.get("status") != "unknown":
            await self._write_rows(t.job_ids, status="unknown",
                                   error_message="the create may have been sent before a restart; reconciling")
        async with rt.reconcile_lock:
            while True:
                # a create with the same prompt still in flight here could be the match: let it land
                while rt.inflight[plan.prompt] > 0:
                    await self._sleep(t, 0.02)
                owned = await self._db_call(self._owned_ids, rt.name) | rt.claimed
                listed: list[JobState] = []
                cursor = None
                while True:
                    response = await self._safe(t, lambda: prov.build_list(after=cursor), "list")
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
                        await self._write(jid, status=best.status if best.status in POLL_STATUSES else "submitted",
                                          provider_job_id=best.provider_job_id, error_message=None,
                                          submitted_at=first.get("submitted_at") or _now(),
                                          extra=self._extra(jid, reconciled=True))
                    t.submitted_mono = time.monotonic()
                    if best.status in ("completed", "failed"):
                        await self._apply(t, [best])
                    return True
                wait = float(sent_at) + self.policy.reconcile_grace - time.time()
                if wait <= 0:
                    log.info("sorakit: %s provably absent remotely; sending it again", t.job_ids[0])
                    return False
                await self._sleep(t, min(wait, 2.0) + 0.05)

    def _owned_ids(self, provider: str) -> set[str]:
        return {r["provider_job_id"] for r in self.ledger.rows(provider=provider) if r.get("provider_job_id")}

    # ------------------------------------------------------------------ polling
    async def _poll_until_remote_done(self, t: _Task) -> None:
        prov = t.rt.provider
        delay = t.first_hint if t.first_hint is not None else min(self.policy.poll_initial, 1.0)
        if t.resumed:
            delay = 0.0
        n = 0
        states: list[JobState] = []
        while any(self._rows[j].get("status") in POLL_STATUSES for j in t.job_ids):
            await self._wait_to_poll(t, delay, waiting=not self._running_with_progress(states))
            pjid = self._rows[t.job_ids[0]].get("provider_job_id")
            response = await self._safe(t, lambda: prov.build_poll(pjid), "poll")
            t.last_poll = time.monotonic()
            self.stats["polls"] += 1
            try:
                states = prov.parse_poll(pjid, response)
            except NotFoundError as exc:
                await self._lost(t, exc)
                return
            except ProviderError as exc:
                raise _Suspend(exc) from None
            await self._apply(t, states)
            t.hint = max((s.poll_after for s in states if s.poll_after is not None), default=None)
            delay = self._next_delay(t, states, n)
            n += 1
        t.rt.wake_oldest()  # the provider's queue is FIFO: our oldest waiting job has likely started

    @staticmethod
    def _running_with_progress(states: list[JobState]) -> bool:
        return any(s.status == "in_progress" and s.progress is not None for s in states)

    async def _wait_to_poll(self, t: _Task, delay: float, waiting: bool) -> None:
        """Sleep ``delay``. A job still queued (or without progress figures) also wakes up when
        another job of the same provider finishes — but never sooner than the server's hint."""
        remaining = self._remaining(t)
        if remaining <= 0:
            raise _Deadline()
        if not waiting or delay <= 0:
            await self._sleep(t, delay)
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
        self._check_cancel(t)
        if not done:
            if delay >= remaining:
                raise _Deadline()
            return
        if t.hint and t.last_poll is not None:
            floor = t.last_poll + t.hint - time.monotonic()
            if floor > 0:
                await self._sleep(t, floor)

    async def _lost(self, t: _Task, exc: ProviderError) -> None:
        """The provider no longer knows a job it acknowledged."""
        rows = [j for j in t.job_ids if self._rows[j].get("status") in POLL_STATUSES]
        if t.rt.emulated:
            # an in-process emulator forgets its jobs with its process; nothing was billed
            await self._write_rows(rows, status="pending", attempts=0,
                                   provider_job_id=t.client_ref if t.rt.provider.create_is_idempotent else None,
                                   error_message="the emulator no longer knows this job; sending it again")
            t.resumed = False
            await self._ensure_remote(t)
            await self._poll_until_remote_done(t)
            return
        await self._fail_rows(t, rows, exc.code or "not_found", f"the provider no longer knows this job: {exc.message}")

    def _next_delay(self, t: _Task, states: list[JobState], n: int) -> float:
        """When to poll next.

        * ``in_progress`` with a progress figure: at the predicted finish, from this job's progress
          rate or the rate learned from earlier jobs of the same model (until that rate is known,
          one early calibration poll measures it);
        * otherwise exponential backoff (``poll_initial`` × ``poll_factor``ⁿ, capped at
          ``poll_max`` and at half a learned generation time, so a queued job is seen running);
          such a job is also woken when another job of the provider finishes (FIFO queues);
        * never sooner than the server's hint (``openai-poll-after-ms``); ± jitter on backoff.
        """
        p = self.policy
        hint = t.hint
        model = t.plan.model.name if t.plan is not None else self._rows[t.job_ids[0]].get("model")
        rate, samples = t.rt.rates.get(model, (None, 0))
        delay = self._jitter(min(p.poll_max, p.poll_initial * (p.poll_factor ** n)))
        if rate:
            delay = min(delay, max(p.poll_min, 50.0 / rate))
        progress = max((s.progress for s in states if s.progress is not None
                        and s.status == "in_progress"), default=None)
        if p.eta_polling and progress is not None and 0 < progress < 100:
            now = time.monotonic()
            t.progress_seen.append((now, progress))
            t.progress_seen = t.progress_seen[-4:]
            eta = None
            (t0, p0), (t1, p1) = t.progress_seen[0], t.progress_seen[-1]
            if p1 > p0 and t1 - t0 > 0.05:
                r = (p1 - p0) / (t1 - t0)
                t.rt.learn_rate(model, r)
                eta = (100 - p1) / r
            elif rate:
                eta = (100 - progress) / rate
            elif t.submitted_mono is not None and now > t.submitted_mono:
                eta = (now - t.submitted_mono) * (100 - progress) / progress
            if eta is not None:
                if samples < 3 and len(t.progress_seen) == 1:
                    delay = min(max(0.3 * eta, 0.1), 3.0)   # calibration: measure the rate
                else:
                    # just after the predicted finish (progress is a whole number: up to 1 % early)
                    delay = min(p.poll_max, eta + min(0.03 + 0.02 * eta, 0.5))
        if hint is not None:
            delay = max(delay, hint)
        return max(p.poll_min, delay)

    async def _apply(self, t: _Task, states: list[JobState]) -> None:
        """Write what a poll (or create) said, one update per changed row."""
        if not states:
            return
        rows = [self._rows[j] for j in t.job_ids]
        done = [s for s in states if s.status in ("completed", "failed")]
        running = [s for s in states if s.status not in ("completed", "failed")]
        assigned: dict[str, JobState] = {}
        if len(t.job_ids) == 1:
            assigned[t.job_ids[0]] = states[0]
        else:
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
        for jid, state in assigned.items():
            await self._apply_one(t, jid, state)

    async def _apply_one(self, t: _Task, jid: str, s: JobState) -> None:
        row = self._rows[jid]
        status = row.get("status")
        if status in TERMINAL or status == "downloading":
            return
        if s.status == "completed":
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
                usage = _token_cost(row, s.output_video_tokens)
                extra_changes["usage"] = usage
                if usage.get("billed_cost") is not None:
                    changes["billed_cost"] = usage["billed_cost"]
                    changes["billed_cost_source"] = "usage"
            if s.provider_video_id:
                extra_changes["video_id"] = s.provider_video_id
            if extra_changes:
                changes["extra"] = self._extra(jid, **extra_changes)
            await self._write(jid, **changes)
            self._spawn_download(t, jid)
            return
        if s.status == "failed":
            await self._fail_rows(t, [jid], s.error_code or "failed", s.error_message or "failed",
                                  billed=s.billed_cost)
            return
        if s.status == "cancelled":
            await self._write(jid, status="cancelled", completed_at=_now())
            return
        new_status = s.status if s.status in ("queued", "in_progress") else status
        if status in ("timed_out_waiting", "submitted") and new_status not in ("queued", "in_progress"):
            new_status = "in_progress" if status == "timed_out_waiting" else status
        changes = {}
        if new_status != status:
            changes["status"] = new_status
        if s.progress is not None and s.progress != row.get("progress"):
            self._live.setdefault(jid, {})["progress"] = s.progress
            last = self._last_progress_write.get(jid, 0.0)
            if changes or time.monotonic() - last >= self.policy.progress_write_interval:
                changes["progress"] = s.progress
        if changes:
            if "progress" in changes:
                self._last_progress_write[jid] = time.monotonic()
            await self._write(jid, **changes)

    async def _fail_rows(self, t: _Task, job_ids: list[str], code: str, message: str,
                         billed: Optional[float] = None, generated: bool = False, **more: Any) -> None:
        """Mark jobs failed. ``generated``: the provider finished the video (it was billed) but we
        could not get it, so the cost stays on the books at the catalog price."""
        now = _now()
        for jid in job_ids:
            row = self._rows[jid]
            submitted = row.get("submitted_at")
            cost: dict[str, Any] = {}
            if billed is not None:
                cost = {"billed_cost": billed, "billed_cost_source": "provider"}
            elif row.get("billed_cost_source") in ("provider", "usage"):  # keep a charge the provider reported
                pass
            elif generated and _known(row.get("estimated_cost")):
                cost = {"billed_cost": row["estimated_cost"], "billed_cost_source": "catalog"}
            else:
                cost = {"billed_cost": 0.0, "billed_cost_source": "none"}
            await self._write(
                jid, status="failed", error_code=str(code)[:200], error_message=str(message)[:2000],
                completed_at=now,
                latency_s=(now - submitted).total_seconds() if isinstance(submitted, dt.datetime) else None,
                **cost, **more)

    async def _mark_timed_out(self, t: _Task) -> None:
        for jid in t.job_ids:
            status = self._rows[jid].get("status")
            if status in POLL_STATUSES | {"downloading"} and status != "timed_out_waiting":
                await self._write(jid, status="timed_out_waiting")

    # ------------------------------------------------------------------ downloading
    def _spawn_download(self, t: _Task, jid: str) -> None:
        task = asyncio.get_running_loop().create_task(self._download(t, jid), name=f"sorakit:dl:{jid}")
        task.sorakit_job = jid  # type: ignore[attr-defined]
        t.downloads.append(task)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _download(self, t: _Task, jid: str) -> None:
        try:
            await self._download_inner(t, jid)
        except _Deadline:
            t.error = t.error or _Deadline()
            if self._rows[jid].get("status") == "downloading":
                await self._write(jid, status="timed_out_waiting")
        except _Suspend as exc:
            self._errors[jid] = exc.error
            await self._download_failed(t, jid, getattr(exc.error, "message", None) or str(exc.error))
        except StoreError as exc:  # the media store refused (no bucket, access denied): recorded, retryable
            self._errors[jid] = exc
            log.warning("sorakit: job %s: %s", jid, exc)
            await self._download_failed(t, jid, str(exc), "stored")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._errors[jid] = exc
            log.exception("sorakit: download of %s failed", jid)
            await self._download_failed(t, jid, f"{type(exc).__name__}: {exc}")
        finally:
            ev = self._events.get(jid)
            if ev is not None and self._rows[jid].get("status") in TERMINAL | {"timed_out_waiting"}:
                ev.set()

    async def _download_failed(self, t: _Task, jid: str, reason: str, what: str = "downloaded") -> None:
        """The video exists remotely (and was billed) but the engine gave up fetching (or storing) it."""
        if self._rows[jid].get("status") != "downloading":
            return
        await self._fail_rows(t, [jid], DOWNLOAD_FAILED,
                              f"the video was made but could not be {what}: {reason}. "
                              f"job.retry_download() fetches it again", generated=True)

    def _state_of(self, jid: str) -> JobState:
        row = self._rows[jid]
        extra = row.get("extra") or {}
        exp = row.get("video_url_expires_at")
        return JobState(provider_job_id=row.get("provider_job_id") or "", status="completed",
                        video_url=row.get("video_url"),
                        video_url_expires_at=exp.timestamp() if isinstance(exp, dt.datetime) else None,
                        provider_video_id=extra.get("video_id") or row.get("provider_job_id"))

    async def _download_inner(self, t: _Task, jid: str) -> None:
        rt, prov = t.rt, t.rt.provider
        attempt = refreshes = limited = 0
        async with rt.downloads:
            while True:
                if self._remaining(t) <= 0:
                    raise _Deadline()
                state = self._state_of(jid)
                try:
                    got = await media_download(
                        rt.client, prov.build_download(state, "video"), self.media_dir,
                        raise_for_error=prov.raise_for_error,
                        decode=(lambda r, s=state: prov.decode_media(s, r)) if prov.inline_media(state) else None)
                    self.stats["downloads"] += 1
                    break
                except (NotFoundError, PermissionDenied) as exc:
                    # expired link: Runware -> poll again for a fresh videoURL; OpenAI -> content
                    # endpoint again until expires_at says it is gone for good
                    if refreshes >= 4:
                        await self._fail_rows(t, [jid], "video_expired",
                                              f"the finished video can no longer be downloaded: {exc.message}",
                                              generated=True)
                        return
                    refreshes += 1
                    if state.video_url:
                        await self._refresh_url(t, jid)
                    else:
                        exp = state.video_url_expires_at
                        if exp is not None and time.time() > exp + 60:
                            await self._fail_rows(t, [jid], "video_expired",
                                                  "the provider deleted the video after its expiry time",
                                                  generated=True)
                            return
                        await self._sleep(t, self._backoff(refreshes - 1))
                except RateLimitError as exc:  # not a failed attempt: wait as asked, until the bound
                    self.stats["retries"] += 1
                    limited += 1
                    await self._sleep(t, self._backoff(min(limited, 6), exc.retry_after))
                except (ServerError, IncompleteDownload, httpx.TransportError) as exc:
                    attempt += 1
                    self.stats["retries"] += 1
                    if attempt > self.policy.download_retries:
                        raise _Suspend(TransportError(
                            f"{attempt} attempts failed ({type(exc).__name__})")) from None
                    await self._sleep(t, self._backoff(attempt - 1, getattr(exc, "retry_after", None)))
                except ProviderError as exc:
                    raise _Suspend(exc) from None
            thumb = None
            if "thumbnail" in prov.variants:
                thumb = await self._thumbnail(t, state)
        poster = await asyncio.to_thread(make_poster, got.path, thumb)
        # checksum verified by the download; upload (a no-op for a local folder) before the row
        # says completed: a crash in between leaves the row downloading, redone on resume
        file_url = await self._put(got.path)
        poster_url = await self._put_poster(jid, poster)
        row = self._rows[jid]
        now = _now()
        submitted = row.get("submitted_at")
        changes: dict[str, Any] = dict(
            status="completed", progress=100, file_path=file_url,
            poster_path=poster_url, sha256=got.sha256, bytes=got.bytes,
            completed_at=now, error_code=None, error_message=None,
            latency_s=(now - submitted).total_seconds() if isinstance(submitted, dt.datetime) else None,
        )
        if row.get("billed_cost_source") not in ("provider", "usage"):
            est = row.get("estimated_cost")
            known = est is not None and not (isinstance(est, float) and math.isnan(est))
            changes["billed_cost"] = est if known else None
            changes["billed_cost_source"] = "catalog" if known else "none"
        await self._write(jid, **changes)

    async def _put(self, path: Path) -> str:
        """The store URL of a cached file: uploaded by a worker thread to a remote store; a local
        store only names the path (no I/O, so no trip to a thread)."""
        if getattr(self.store, "remote", True):
            return await asyncio.to_thread(self.store.put, path)
        return self.store.put(path)

    async def _put_poster(self, jid: str, poster: Optional[Path]) -> Optional[str]:
        """The poster's store URL; a poster that cannot be uploaded is left out (a missing poster
        never fails a job: players fall back to a frame of the video)."""
        if poster is None:
            return None
        try:
            return await self._put(poster)
        except StoreError as exc:
            log.warning("sorakit: job %s: the poster was not stored (%s)", jid, exc)
            return None

    async def _thumbnail(self, t: _Task, state: JobState) -> Optional[bytes]:
        try:
            response = await t.rt.client.send(t.rt.provider.build_download(state, "thumbnail"))
            if response.is_success and response.content:
                return response.content
        except (httpx.HTTPError, ValueError):
            pass
        return None

    async def _refresh_url(self, t: _Task, jid: str) -> None:
        prov = t.rt.provider
        pjid = self._rows[jid].get("provider_job_id")
        response = await self._safe(t, lambda: prov.build_poll(pjid), "poll")
        self.stats["polls"] += 1
        try:
            states = prov.parse_poll(pjid, response)
        except ProviderError as exc:
            raise _Suspend(exc) from None
        vid = (self._rows[jid].get("extra") or {}).get("video_id")
        fresh = [s for s in states if s.status == "completed" and s.video_url
                 and (vid is None or s.provider_video_id == vid)]
        if fresh:
            s = fresh[0]
            await self._write(jid, video_url=s.video_url, video_url_expires_at=(
                dt.datetime.fromtimestamp(s.video_url_expires_at, UTC) if s.video_url_expires_at else None))

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
                self._rows[m["job_id"]] = m
                self._live[m["job_id"]] = {"status": m.get("status"), "progress": m.get("progress")}
                await self._write(m["job_id"], extra=self._extra(m["job_id"], owner=OWNER),
                                  **({"error_code": None, "error_message": None}
                                     if m.get("status") in POLL_STATUSES else {}))
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
        await self._write(jid, status="downloading", error_code=None, error_message=None,
                          completed_at=None, extra=self._extra(jid, owner=OWNER))
        if jid not in await self._claim([jid], force=False):
            who = (await self._db_call(self.ledger.leases, [jid])).get(jid, (None, False))[0]
            raise SorakitError(f"job {jid}: {who or 'another process'} is fetching it already")
        ref = (row.get("extra") or {}).get("client_ref") or row.get("provider_job_id") or jid
        self.start_task(rt, [jid], ref, None, max_wait, resumed=True)
        return jid

    # ------------------------------------------------------------------ shutdown
    async def aclose(self) -> None:
        self._closed = True
        for beat in (self._heart, self._adopter):
            if beat is not None:
                beat.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        # every job this engine stopped driving is free for the next process at once (a killed
        # process's leases instead run out after lease_seconds)
        await self._release_leases(sorted(self._leased))
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        for rt in self.runtimes.values():
            await rt.aclose()
        self._db.shutdown(wait=True)
