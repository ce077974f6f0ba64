"""The runtime: providers as reached from this process, one create call as a task, and the pacing
every phase shares — retry classification, slots, deadlines, cancel-aware sleeps, safe GETs.

Retry rules for requests that cannot make a second job (GETs: poll, list, download, and Runware
``getResponse``): retried on 429, 5xx and transport errors, following ``retry-after`` /
``openai-poll-after-ms``, else exponential backoff with jitter (`transitions.backoff`), until the
job's wait bound (`_Deadline`). A download also stops after ``download_retries`` failed attempts
(5xx, transport errors, truncated bodies); a 429 is not a failed attempt (the server asks for
patience), it is waited out until the wait bound. Creates have rules of their own (`create`).

Slots: at most ``concurrency`` tasks of one provider are between create and remote completion;
downloads have ``download_concurrency`` slots of their own. Sleeps are cut short by a cancel
request (`_Cancel`, raised only at these safe points: never in the middle of a create call).
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import httpx

from ..._exceptions import ProviderError, RateLimitError
from ...catalog import Plan
from ...media import IncompleteDownload
from ...providers import Provider, make_provider
from .._config import ProviderSetup
from .._policy import Policy
from .transitions import backoff
from .transport import Client, http_transport, proxy_mounts

__all__ = ["Runtime", "Pacing", "DRIVERS"]

log = logging.getLogger("sorakit.engine")

# httpx errors where the request provably never reached the server
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
# everything else in httpx.TransportError: the request may have been processed
_TRANSPORT = (httpx.TransportError, IncompleteDownload)

DRIVERS: dict[str, Any] = {}
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
            # as many kept alive as may be open (fewer made each burst of polls close and reopen
            # connections: 266 connects for 520 jobs at 8, 34 at 32), and dropped idle before the
            # 5 s after which uvicorn (the emulator) closes them, so a create rarely meets a closing one
            limits = httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=4.0)
            given = self.setup.transport
            self._client = Client(
                # an emulator app's transport as given; else HTTP/1.1 over asyncio (`transport`),
                # with the environment's proxies mounted as httpx would mount them itself
                transport=given if given is not None else http_transport(limits),
                mounts=None if given is not None else proxy_mounts(limits),
                timeout=httpx.Timeout(p.request_timeout, connect=p.connect_timeout),
                limits=limits,
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


class Pacing:
    """Deadlines, cancel-aware sleeps, slots and safe retries of one engine (its `Policy` and its
    ``stats`` counters)."""

    def __init__(self, policy: Policy, stats: dict):
        self.policy = policy
        self.stats = stats

    def backoff(self, attempt: int, retry_after: Optional[float] = None) -> float:
        return backoff(self.policy, attempt, retry_after)

    @staticmethod
    def remaining(t: _Task) -> float:
        return t.deadline - time.monotonic()

    async def sleep(self, t: _Task, seconds: float) -> None:
        """Sleep ``seconds``, or raise `_Deadline` (after sleeping what is left) when the wait
        bound comes first."""
        remaining = self.remaining(t)
        if remaining <= 0:
            raise _Deadline()
        if seconds >= remaining:
            await self.nap(t, remaining)
            raise _Deadline()
        await self.nap(t, seconds)

    @staticmethod
    def check_cancel(t: _Task) -> None:
        if t.cancel_req is not None and not t.cancelling:
            raise _Cancel()

    async def nap(self, t: _Task, seconds: float) -> None:
        """``asyncio.sleep`` that a cancel request cuts short (raising `_Cancel`)."""
        self.check_cancel(t)
        if seconds > 0 and t.cancelling:  # the cancel's own retries: ``wake`` is set, really sleep
            await asyncio.sleep(seconds)
        elif seconds > 0:
            try:
                await asyncio.wait_for(t.wake.wait(), seconds)
            except asyncio.TimeoutError:
                pass
        self.check_cancel(t)

    async def acquire_slot(self, t: _Task) -> None:
        self.check_cancel(t)
        remaining = self.remaining(t)
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
            self.check_cancel(t)
            raise _Deadline()
        t.holding_slot = True
        if t.cancel_req is not None and not t.cancelling:
            self.release_slot(t)  # the caller's try/finally is not entered yet
            raise _Cancel()

    @staticmethod
    def release_slot(t: _Task) -> None:
        if t.holding_slot:
            t.holding_slot = False
            t.rt.slots.release()

    async def safe(self, t: _Task, build: Callable[[], httpx.Request], op: str) -> httpx.Response:
        """Send an idempotent request, retrying 429 / 5xx / transport errors until the deadline."""
        attempt = 0
        while True:
            try:
                response = await t.rt.client.send(build())
            except _TRANSPORT as exc:
                self.stats["retries"] += 1
                log.debug("sorakit: %s transport error (%s), retrying", op, type(exc).__name__)
                await self.sleep(t, self.backoff(attempt))
                attempt += 1
                continue
            if response.status_code == 429 or response.status_code >= 500:
                await response.aread()
                retry_after = _retry_after(t.rt.provider, response) if response.status_code == 429 else None
                self.stats["retries"] += 1
                await self.sleep(t, self.backoff(attempt, retry_after))
                attempt += 1
                continue
            return response
