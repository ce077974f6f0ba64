"""Honest ETAs from the ledger's own history: a model's usual latency, and a batch's expected finish.

Nothing here guesses: a model with no completed run at a provider (emulated and real runs kept
apart) has no ETA, and the text says so. The figures are ``Ledger.latency`` (median and 90th
percentile of submitted -> completed over the newest runs, with the count).

A batch's expected finish lays its open jobs onto the provider's lanes (the Studio's
``concurrency`` for that provider: how many jobs sorakit keeps in flight there): a job already
sent needs its model's median minus the time it has run (never below zero), a job not yet sent
its whole median, started on the first lane to come free.
"""

from __future__ import annotations

import heapq
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Optional

from .._types import TERMINAL
from ..ledger import Latency
from ..ledger._ledger import seconds_text

__all__ = ["BatchEta", "LatencyCache", "batch_eta"]

_NOT_SENT = frozenset({"pending", "unknown"})


class LatencyCache:
    """`Ledger.latency` per (model, provider, emulated), re-read at most every ``ttl`` seconds
    (a live card or progress line asks every second; history changes only as jobs finish)."""

    def __init__(self, ledger: Any, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.ledger, self.ttl, self.clock = ledger, ttl, clock
        self._memo: dict[tuple, tuple[float, Latency]] = {}
        self._lock = threading.Lock()

    def get(self, model: str, provider: Optional[str], emulated: Optional[bool]) -> Latency:
        key = (model, provider, emulated)
        now = self.clock()
        with self._lock:
            hit = self._memo.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        value = self.ledger.latency(model, provider, emulated=emulated)
        with self._lock:
            self._memo[key] = (now, value)
        return value

    def forget(self, model: Optional[str] = None, provider: Optional[str] = None) -> None:
        """Drop cached figures: those of ``model`` (at ``provider``, when given), or all of them.
        Called when a job completes, so the next card for that model counts the run it just made."""
        with self._lock:
            if model is None:
                self._memo.clear()
                return
            for key in [k for k in self._memo if k[0] == model and (provider is None or k[1] == provider)]:
                del self._memo[key]

    def on_job_change(self, row: Mapping[str, Any], changes: Mapping[str, Any]) -> None:
        """An engine subscriber's half: a job that just completed changes its model's history."""
        if changes.get("status") == "completed":
            self.forget(row.get("model") or None, row.get("provider") or None)


@dataclass(frozen=True)
class BatchEta:
    """When a batch is expected to finish, from history (`batch_eta`)."""

    jobs_left: int
    seconds_left: Optional[float]
    """None when some open job's model has no history (see ``missing``) or nothing is left."""
    missing: tuple[str, ...] = ()
    """``model@provider`` of open jobs without history."""
    lanes: tuple[tuple[str, int], ...] = ()
    """``(provider, concurrency)`` the estimate assumed."""

    def describe(self) -> str:
        """``expected to finish in ~2 min 5 s (9 jobs left, 4 at a time at openai; median of past runs)``."""
        if not self.jobs_left:
            return ""
        if self.missing:
            return f"no history for {', '.join(self.missing)} yet: no expected finish"
        left = int(round(self.seconds_left or 0))
        when = "any moment now" if left <= 0 else f"in ~{seconds_text(left)}"
        lanes = ", ".join(f"{n} at a time at {p}" for p, n in self.lanes)
        return f"expected to finish {when} ({self.jobs_left} left, {lanes}; from past runs' median)"


def _started(row: Mapping[str, Any]) -> Optional[float]:
    t = row.get("submitted_at")
    if t is None:
        return None
    return t.timestamp() if hasattr(t, "timestamp") else float(t)


def batch_eta(rows: Iterable[Mapping[str, Any]], latency: Callable[[str, str, Optional[bool]], Latency],
              concurrency: Callable[[str], int], now: float) -> BatchEta:
    """The expected finish of the open jobs among ``rows`` (ledger rows), ``now`` in Unix seconds."""
    by_provider: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if (r.get("status") or "pending") not in TERMINAL:
            by_provider.setdefault(str(r.get("provider")), []).append(r)
    n = sum(len(v) for v in by_provider.values())
    missing: list[str] = []
    finish = 0.0
    lanes: list[tuple[str, int]] = []
    for provider, open_rows in sorted(by_provider.items()):
        width = max(1, int(concurrency(provider)))
        lanes.append((provider, width))
        running: list[float] = []
        waiting: list[float] = []
        for r in open_rows:
            hist = latency(str(r.get("model")), provider, r.get("emulated"))
            if not hist.count or hist.median_s is None:
                name = f"{r.get('model')}@{provider}"
                if name not in missing:
                    missing.append(name)
                continue
            started = _started(r)
            if (r.get("status") or "pending") in _NOT_SENT or started is None:
                waiting.append(hist.median_s)
            else:
                running.append(max(0.0, hist.median_s - max(0.0, now - started)))
        heap = [0.0] * width            # when each lane comes free, seconds from now
        for need in sorted(running, reverse=True) + waiting:  # jobs already out first, then in order
            heapq.heappush(heap, heapq.heappop(heap) + need)
        finish = max(finish, max(heap))
    if missing:
        return BatchEta(n, None, tuple(missing), tuple(lanes))
    return BatchEta(n, finish if n else None, (), tuple(lanes))
