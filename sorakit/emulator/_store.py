"""The emulator's memory: jobs, the clock they are judged by, the latency model and the counters.

Nothing here runs in the background. A job is scheduled once, when it is created (queue time,
start, finish, failure), and its status at any moment is *derived from the clock* at request time:

```
created_at ── queued ──▶ start_at ── in_progress (progress 0..99) ──▶ finish_at ── completed | failed
```

So the emulator behaves the same in-process (``httpx.ASGITransport``) and behind uvicorn, and a
test can drive time with a `ManualClock` instead of sleeping.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Protocol

__all__ = [
    "Clock",
    "SystemClock",
    "ManualClock",
    "LatencyModel",
    "DEFAULT_LATENCY_SECONDS",
    "Job",
    "JobStore",
    "Counters",
    "SeededIds",
    "RateLimiter",
    "key_fingerprint",
    "LoggedRequest",
    "RequestLog",
]


# --------------------------------------------------------------------------- clock
class Clock(Protocol):
    """Anything with ``now() -> float`` (Unix seconds)."""

    def now(self) -> float: ...


class SystemClock:
    """Wall-clock time (``time.time``)."""

    def now(self) -> float:
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to: ``advance(seconds)`` or ``set(t)``. Thread-safe.

    Args:
        start: the initial Unix time (default 2026-06-01T00:00:00Z, a day the Sora API was live).
    """

    def __init__(self, start: float = 1_780_272_000.0) -> None:
        self._t = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._t

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not run backwards")
        with self._lock:
            self._t += seconds
            return self._t

    def set(self, t: float) -> None:
        """Jump to Unix time ``t`` (never backwards)."""
        with self._lock:
            if t < self._t:
                raise ValueError("a clock does not run backwards")
            self._t = float(t)

    def __repr__(self) -> str:
        return f"ManualClock({self.now():.3f})"


# --------------------------------------------------------------------------- randomness
class SeededIds:
    """Every random choice of the emulator, from named streams derived from one seed.

    Streams are independent (``"ids"``, ``"latency"``, ``"seeds"``, ``"faults:reset"``...), so
    turning one feature on does not shift the numbers another feature draws.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._streams: dict[str, random.Random] = {}
        self._lock = threading.Lock()

    def _stream(self, name: str) -> random.Random:
        rng = self._streams.get(name)
        if rng is None:
            digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
            rng = self._streams[name] = random.Random(int.from_bytes(digest[:8], "big"))
        return rng

    def random(self, stream: str) -> float:
        """A float in [0, 1) from ``stream``."""
        with self._lock:
            return self._stream(stream).random()

    def randint(self, stream: str, lo: int, hi: int) -> int:
        with self._lock:
            return self._stream(stream).randint(lo, hi)

    def choice(self, stream: str, options):
        with self._lock:
            return self._stream(stream).choice(list(options))

    def hex(self, nbytes: int = 16, stream: str = "ids") -> str:
        """``2 * nbytes`` hex digits."""
        with self._lock:
            return "%0*x" % (nbytes * 2, self._stream(stream).getrandbits(nbytes * 8))

    def uuid4(self, stream: str = "ids") -> str:
        """A well-formed UUID version 4 string."""
        with self._lock:
            n = self._stream(stream).getrandbits(128)
        n &= ~(0xF000 << 64)
        n |= 0x4000 << 64
        n &= ~(0xC000 << 48)
        n |= 0x8000 << 48
        h = "%032x" % n
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# --------------------------------------------------------------------------- latency
DEFAULT_LATENCY_SECONDS: dict[str, float] = {
    "sora-2": 60.0,
    "sora-2-pro": 120.0,
    "veo-3": 50.0,
    "veo-3-fast": 35.0,
    "veo-3.1": 55.0,
    "veo-3.1-fast": 40.0,
    "kling-3-standard": 90.0,
    "seedance-1-pro": 45.0,
    "seedance-1-pro-fast": 25.0,
    "hailuo-02": 75.0,
}
"""Seconds a model takes to make an 8 s 720p clip at ``time_scale=1`` (orders of magnitude seen in
practice, not measurements). Unknown models take 60 s."""


@dataclass
class LatencyModel:
    """How long a job waits in the queue and runs, before ``time_scale``.

    ``run = base(model) × (0.5 + 0.5 × seconds / 8) × (1.5 above 720p) × jitter``; the queue wait is
    ``queue_fraction`` of that. ``fixed_seconds`` (EmulatorConfig.generation_seconds) replaces the
    whole model: create → completion takes exactly that long (10 % queued), no jitter, no scale.
    """

    base: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_LATENCY_SECONDS))
    default: float = 60.0
    queue_fraction: float = 0.1
    jitter: float = 0.1

    def durations(
        self,
        model: str,
        seconds: float,
        width: int,
        height: int,
        *,
        time_scale: float,
        fixed_seconds: Optional[float] = None,
        rnd: float = 0.5,
    ) -> tuple[float, float]:
        """``(queue_seconds, run_seconds)`` for one job; ``rnd`` in [0,1) picks the jitter."""
        if fixed_seconds is not None:
            total = max(0.0, float(fixed_seconds))
            return total * 0.1, total * 0.9
        base = float(self.base.get(model, self.default))
        size_factor = 1.5 if min(width, height) > 800 else 1.0
        run = base * (0.5 + 0.5 * float(seconds) / 8.0) * size_factor
        run *= 1.0 + self.jitter * (2.0 * rnd - 1.0)
        run *= max(0.0, time_scale)
        return run * self.queue_fraction, run


# --------------------------------------------------------------------------- jobs
@dataclass
class Job:
    """One video the emulator is making (one Runware result, one OpenAI video object).

    The timeline (``created_at``, ``start_at``, ``finish_at``) is fixed at creation; `state`
    reads the status off it. ``error`` set means the job ends ``failed`` at ``finish_at``.
    """

    id: str
    """OpenAI ``video_...`` id; Runware ``videoUUID``."""
    provider: str
    key: str
    """Who created it (API key fingerprint, or ``anonymous``): the unit of concurrency."""
    model: str
    """Canonical catalog model name."""
    provider_model: str
    """The model string as the client sent it (``sora-2-2025-10-06``, ``openai:3@1``)."""
    prompt: str
    width: int
    height: int
    seconds: float
    fps: float
    audio: bool
    seed: int
    created_at: float
    start_at: float
    finish_at: float
    kind: str = "generate"
    """``generate`` / ``remix`` / ``extend`` / ``edit``."""
    source_id: Optional[str] = None
    error: Optional[tuple[str, str]] = None
    """(code, message) when the job will fail."""
    group: Optional[str] = None
    """Runware ``taskUUID`` shared by the results of one request."""
    index: int = 0
    cost: Optional[float] = None
    """USD the provider would bill (None = unknown price)."""
    spec: Any = None
    """The `RenderSpec` that draws this job's video (None for jobs that fail)."""
    deleted: bool = False
    cancelled_at: Optional[float] = None
    """When a cancel stopped it (Interactions API); the job then reads ``cancelled`` from that time."""
    extra: dict = field(default_factory=dict)
    render_future: Any = None

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def state(self, now: float) -> tuple[str, int]:
        """``(status, progress)`` at time ``now``: queued → in_progress → completed | failed
        (or ``cancelled`` from ``cancelled_at``, with the progress it had reached)."""
        if self.cancelled_at is not None and now >= self.cancelled_at:
            # the progress it had reached when the cancel landed: read off the timeline alone (no
            # "just before the cancel" instant: at Unix-time magnitudes ~1.8e9, t - 1e-9 == t, so
            # asking for the state a nanosecond earlier recursed forever on the wall clock)
            status, progress = self._timeline(self.cancelled_at)
            return "cancelled", progress if status == "in_progress" else 0
        return self._timeline(now)

    def _timeline(self, now: float) -> tuple[str, int]:
        """``(status, progress)`` at ``now`` from the fixed timeline, ignoring any cancel."""
        if now < self.start_at:
            return "queued", 0
        span = self.finish_at - self.start_at
        if now < self.finish_at and span > 0:
            return "in_progress", max(0, min(99, int(100 * (now - self.start_at) / span)))
        if self.error is not None:
            return "failed", self.extra.get("fail_progress", 0)
        return "completed", 100

    def terminal(self, now: float) -> bool:
        return now >= self.finish_at or (self.cancelled_at is not None and now >= self.cancelled_at)

    def busy_between(self) -> tuple[float, float]:
        """The interval during which this job holds one of its key's concurrency slots."""
        end = self.finish_at if self.cancelled_at is None else min(self.finish_at, self.cancelled_at)
        return self.start_at, end


class JobStore:
    """All jobs of one emulator, in creation order. Thread-safe.

    `schedule` places a new job on its key's timeline: with ``concurrency_per_key = N`` a job
    starts only when fewer than N of the key's jobs are running, so excess jobs stay ``queued``
    (how OpenAI and Runware both behave) — computed once, at creation, from known finish times.
    """

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._order: list[str] = []
        self._groups: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.RLock()

    # -- timeline
    def schedule(
        self,
        provider: str,
        key: str,
        ready_at: float,
        run_seconds: float,
        concurrency: Optional[int],
    ) -> tuple[float, float]:
        """``(start_at, finish_at)`` for a job of ``key`` that could start at ``ready_at``."""
        with self._lock:
            if not concurrency:
                return ready_at, ready_at + run_seconds
            slots = {  # one slot per request: the results of one Runware task share it
                j.group or j.id: j.busy_between() for j in self._jobs.values()
                if j.provider == provider and j.key == key and not j.deleted and j.finish_at > ready_at
            }
            busy = list(slots.values())
            candidates = sorted({ready_at, *(end for _, end in busy if end >= ready_at)})
            for t in candidates:
                running = sum(1 for s, e in busy if s <= t < e)
                if running < concurrency:
                    return t, t + run_seconds
            t = max(e for _, e in busy)  # pragma: no cover - the loop always finds a slot
            return t, t + run_seconds

    def active(self, provider: str, key: str, now: float) -> int:
        """How many of ``key``'s requests (a Runware task counts once) are queued or running at ``now``."""
        with self._lock:
            return len({
                j.group or j.id for j in self._jobs.values()
                if j.provider == provider and j.key == key and not j.deleted and now < j.finish_at
            })

    # -- records
    def add(self, job: Job) -> Job:
        with self._lock:
            if job.id in self._jobs:
                raise KeyError(f"duplicate job id {job.id}")
            self._jobs[job.id] = job
            self._order.append(job.id)
            if job.group is not None:
                self._groups[job.group].append(job.id)
            return job

    def get(self, job_id: str, provider: Optional[str] = None, *, deleted: bool = False) -> Optional[Job]:
        """The job, or None (also None once deleted unless ``deleted=True``)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or (provider is not None and job.provider != provider):
            return None
        if job.deleted and not deleted:
            return None
        return job

    def group(self, group: str) -> list[Job]:
        """The jobs of one Runware task, in result order."""
        with self._lock:
            return [self._jobs[i] for i in self._groups.get(group, ())]

    def has_group(self, group: str) -> bool:
        with self._lock:
            return group in self._groups

    def jobs(self, provider: Optional[str] = None, *, include_deleted: bool = False) -> list[Job]:
        """Jobs in creation order."""
        with self._lock:
            return [
                self._jobs[i] for i in self._order
                if (provider is None or self._jobs[i].provider == provider)
                and (include_deleted or not self._jobs[i].deleted)
            ]

    def cancel(self, job_id: str, now: float) -> bool:
        """Stop a queued or running job at ``now``; False when it had already ended."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.terminal(now):
                return False
            job.cancelled_at = now
            return True

    def delete(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id].deleted = True

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)


# --------------------------------------------------------------------------- rate limits
class RateLimiter:
    """Sliding-window request counter per (provider, key) on the emulator clock. Thread-safe."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, str], list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def hit(self, provider: str, key: str, now: float, limit: Optional[int], window: float) -> Optional[float]:
        """Record a request; None when allowed, else the seconds until one is allowed again."""
        if not limit:
            return None
        with self._lock:
            hits = self._hits[(provider, key)]
            cutoff = now - window
            while hits and hits[0] <= cutoff:
                hits.pop(0)
            if len(hits) >= limit:
                return max(0.001, hits[0] + window - now)
            hits.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


# --------------------------------------------------------------------------- counters
STANDARD_COUNTERS = (
    "requests", "create_calls", "creates", "jobs", "polls", "lists", "deletes", "cancel_calls", "cancels",
    "downloads",
    "bytes_out", "rate_limited", "auth_failures", "conflicts", "faults",
)


class Counters:
    """What the emulator has seen, per provider, readable by tests. Thread-safe.

    Per provider (``counters["openai"]["creates"]``):

    - ``requests``: every request to the provider's surface (media downloads included)
    - ``create_calls``: create requests received (accepted or not); ``creates``: accepted ones
    - ``jobs``: videos produced (a Runware task with ``numberResults=3`` is 1 create, 3 jobs)
    - ``polls``, ``lists``, ``deletes``, ``downloads``, ``bytes_out`` (media bytes sent)
    - ``cancel_calls``: requests to stop a job (an interaction cancel, an OpenAI DELETE), accepted or
      not; ``cancels``: the ones that stopped a queued or running job
    - ``rate_limited`` (429 answers), ``auth_failures`` (401), ``conflicts`` (reused taskUUID)
    - ``faults`` and ``faults:<kind>`` (``error_5xx``, ``reset``, ``slow``, ``truncate_download``,
      ``expire_urls``)

    Per job: `job_creates` (create calls that named or produced an id: OpenAI video id or Runware
    taskUUID, refused re-sends of a taskUUID included) and `prompt_creates` (accepted creates per
    prompt) — together they prove nothing was submitted twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._c: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._job_creates: dict[str, int] = defaultdict(int)
        self._prompt_creates: dict[tuple[str, str], int] = defaultdict(int)

    def incr(self, provider: str, name: str, n: int = 1) -> None:
        with self._lock:
            self._c[provider][name] += n

    def note_create(self, provider: str, ids: Iterable[str], prompt: Optional[str], accepted: bool) -> None:
        """Record one create call naming/producing ``ids``."""
        with self._lock:
            for i in ids:
                self._job_creates[i] += 1
            if accepted and prompt is not None:
                self._prompt_creates[(provider, prompt)] += 1

    def get(self, provider: str, name: str) -> int:
        with self._lock:
            return self._c.get(provider, {}).get(name, 0)

    def __getitem__(self, provider: str) -> dict[str, int]:
        """A copy of one provider's counters (standard names present, zero when unseen)."""
        with self._lock:
            out = {name: 0 for name in STANDARD_COUNTERS}
            out.update(self._c.get(provider, {}))
            return out

    def total(self, name: str) -> int:
        """One counter summed over providers."""
        with self._lock:
            return sum(c.get(name, 0) for c in self._c.values())

    def job_creates(self, job_id: str) -> int:
        """Create calls that produced (or re-sent) this id."""
        with self._lock:
            return self._job_creates.get(job_id, 0)

    def prompt_creates(self, prompt: str, provider: Optional[str] = None) -> int:
        """Accepted create calls with exactly this prompt."""
        with self._lock:
            return sum(n for (p, text), n in self._prompt_creates.items()
                       if text == prompt and (provider is None or p == provider))

    def snapshot(self) -> dict[str, Any]:
        """Everything, as plain dicts."""
        with self._lock:
            return {
                "providers": {p: dict(c) for p, c in self._c.items()},
                "job_creates": dict(self._job_creates),
                "prompt_creates": {f"{p}:{t}": n for (p, t), n in self._prompt_creates.items()},
            }

    def reset(self) -> None:
        with self._lock:
            self._c.clear()
            self._job_creates.clear()
            self._prompt_creates.clear()

    def __repr__(self) -> str:
        with self._lock:
            return f"Counters({ {p: dict(c) for p, c in self._c.items()} })"


def key_fingerprint(api_key: Optional[str]) -> str:
    """A stable, non-secret name for an API key (never the key itself)."""
    if not api_key:
        return "anonymous"
    return "key_" + hashlib.sha256(api_key.encode()).hexdigest()[:12]



# --------------------------------------------------------------------------- request log
_SECRET_HEADERS = frozenset({"authorization", "x-goog-api-key", "x-api-key", "api-key", "cookie"})


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the emulator received it (secret header values masked)."""

    method: str
    """``GET``, ``POST``... or ``WS`` for one WebSocket message."""
    path: str
    """The path below the emulator's root (``/gemini/v1beta/interactions``)."""
    query: str
    headers: Mapping[str, str]
    """Lower-case names; ``authorization`` / ``x-goog-api-key`` values are ``"***"``."""
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        import json as _json

        return _json.loads(self.body)


class RequestLog:
    """The last ``maxlen`` requests, in arrival order: what clients really sent.

    Tests compare what two clients send for one intent (sorakit's provider vs an official SDK)
    from here, without a proxy in between.
    """

    def __init__(self, maxlen: int = 2000, max_body: int = 4 << 20) -> None:
        from collections import deque

        self._entries: "deque[LoggedRequest]" = deque(maxlen=maxlen)
        self._lock = threading.Lock()
        self.max_body = max_body

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, method: Optional[str] = None, path_contains: Optional[str] = None) -> list[LoggedRequest]:
        with self._lock:
            out = list(self._entries)
        return [e for e in out if (method is None or e.method == method)
                and (path_contains is None or path_contains in e.path)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @staticmethod
    def headers_of(scope: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in scope.get("headers", []):
            name = k.decode("latin-1").lower()
            out[name] = "***" if name in _SECRET_HEADERS else v.decode("latin-1")
        return out

    def recorder(self, scope: Mapping[str, Any], receive) -> "_Recorder":
        """Wrap an ASGI ``receive``: the request is logged once its body has arrived (or, for a
        handler that never reads the body, when `_Recorder.finish` is called after it)."""
        return _Recorder(self, scope, receive)


class _Recorder:
    def __init__(self, log: RequestLog, scope: Mapping[str, Any], receive) -> None:
        self.log, self.scope, self._receive = log, scope, receive
        self.chunks: list[bytes] = []
        self.size = 0
        self.done = False

    async def receive(self):
        message = await self._receive()
        if message["type"] == "http.request" and not self.done:
            body = message.get("body", b"")
            if self.size < self.log.max_body:
                self.chunks.append(body[: self.log.max_body - self.size])
            self.size += len(body)
            if not message.get("more_body", False):
                self.finish()
        return message

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        s = self.scope
        self.log.add(LoggedRequest(s["method"], s["path"], s.get("query_string", b"").decode("latin-1"),
                                   RequestLog.headers_of(s), b"".join(self.chunks)))
