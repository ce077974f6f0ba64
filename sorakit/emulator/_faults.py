"""Injected faults: the network and server misbehaviour a robust client must survive.

Every decision comes from a seeded random stream per fault kind, drawn only for requests the
fault applies to, so a test that makes the same requests in the same order sees the same faults.

| kind                | what the client sees                                                         |
|---------------------|------------------------------------------------------------------------------|
| ``error_5xx``       | a 500 / 502 / 503 in the provider's error format, *before* anything happens  |
| ``reset``           | the connection drops with no response (``reset_when="after"``: the request   |
|                     | *was* processed — a create made a job — and the answer is lost; ``"before"``:|
|                     | nothing happened)                                                            |
| ``slow``            | the answer comes ``slow_seconds`` late (to trip client read timeouts)        |
| ``truncate_download``| a media download sends its full ``Content-Length`` then stops partway        |
| ``expire_urls``     | a media download answers as if its URL had expired (OpenAI 404, Runware 410) |

How a reset looks: behind `EmulatorServer` / ``sorakit emulator`` the socket is aborted (httpx:
``RemoteProtocolError: Server disconnected without sending a response``). In-process the app
raises `EmulatedReset` (a ``ConnectionResetError``); `Emulator.transport` turns that into the
same ``httpx.RemoteProtocolError`` a real socket gives. Under a foreign ASGI server the
exception surfaces as that server's 500.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal, Optional

from ._store import SeededIds

__all__ = ["FaultConfig", "FaultInjector", "EmulatedReset", "FAULT_KINDS", "OPERATIONS", "drop_connection"]

FAULT_KINDS = ("error_5xx", "reset", "slow", "truncate_download", "expire_urls")
OPERATIONS = ("create", "poll", "list", "delete", "download", "upload")
"""Operation names faults can be restricted to (``FaultConfig.operations``)."""


class EmulatedReset(ConnectionResetError):
    """Raised inside the ASGI app to drop a connection when no server hook can abort the socket.

    ``mid_body`` is True when part of a response body was already sent (``truncate_download``).
    """

    def __init__(self, message: str = "connection reset by the sorakit emulator", *, mid_body: bool = False):
        super().__init__(message)
        self.mid_body = mid_body


@dataclass
class FaultConfig:
    """Fault rates (0..1) and where they apply. Mutable: tests flip faults on and off at runtime.

    Example: ``FaultConfig(reset=1.0, operations=("create",), providers=("openai",))`` loses the
    answer of every OpenAI create call (after the job was made).
    """

    error_5xx: float = 0.0
    """Rate of 500/502/503 answers (decided before the request is processed)."""
    reset: float = 0.0
    """Rate of dropped connections."""
    reset_when: Literal["before", "after"] = "after"
    """``after``: the request is processed, then the answer is lost; ``before``: nothing happens."""
    slow_rate: float = 0.0
    """Rate of answers delayed by ``slow_seconds``."""
    slow_seconds: float = 0.0
    """Delay (real seconds, not scaled) for slow answers."""
    truncate_download: float = 0.0
    """Rate of media downloads cut short (full ``Content-Length`` announced, part of the body sent)."""
    truncate_fraction: float = 0.5
    """How much of the body a truncated download sends."""
    expire_urls: float = 0.0
    """Rate of media downloads answered as expired."""
    operations: Optional[tuple[str, ...]] = None
    """Restrict faults to these operations (``create``, ``poll``, ``list``, ``delete``,
    ``download``, ``upload``); None = all."""
    providers: Optional[tuple[str, ...]] = None
    """Restrict faults to these providers (``openai``, ``runware``, ...); None = all."""
    seed: Optional[int] = None
    """Seed of the fault streams; None = the emulator's seed."""

    def applies(self, provider: str, operation: str) -> bool:
        """Whether faults may hit this provider and operation at all."""
        if self.providers is not None and provider not in self.providers:
            return False
        if self.operations is not None and operation not in self.operations:
            return False
        return True

    def rate(self, kind: str) -> float:
        return {
            "error_5xx": self.error_5xx,
            "reset": self.reset,
            "slow": self.slow_rate if self.slow_seconds > 0 else 0.0,
            "truncate_download": self.truncate_download,
            "expire_urls": self.expire_urls,
        }[kind]


class FaultInjector:
    """Decides, from seeded streams, which requests a fault hits; counts what it injects."""

    def __init__(self, emulator: Any) -> None:
        self._emu = emulator
        self._ids: Optional[SeededIds] = None
        self._seed: Optional[int] = None

    @property
    def config(self) -> FaultConfig:
        return self._emu.config.faults

    def _rng(self) -> SeededIds:
        seed = self.config.seed if self.config.seed is not None else self._emu.config.seed
        if self._ids is None or self._seed != seed:
            self._ids, self._seed = SeededIds(seed), seed
        return self._ids

    def reseed(self, seed: Optional[int] = None) -> None:
        """Restart the fault streams (from ``seed``, or the configured one)."""
        if seed is not None:
            self.config.seed = seed
        self._ids = None

    def decide(self, kind: str, provider: str, operation: str) -> bool:
        """True when fault ``kind`` hits this request (and counts it)."""
        cfg = self.config
        rate = cfg.rate(kind)
        if rate <= 0 or not cfg.applies(provider, operation):
            return False
        hit = rate >= 1 or self._rng().random(f"faults:{kind}") < rate
        if hit:
            self._emu.counters.incr(provider, "faults")
            self._emu.counters.incr(provider, f"faults:{kind}")
        return hit

    def status_5xx(self) -> int:
        """Which 5xx an ``error_5xx`` fault answers with."""
        return self._rng().choice("faults:status", (500, 502, 503))

    async def maybe_slow(self, provider: str, operation: str) -> None:
        if self.decide("slow", provider, operation):
            await asyncio.sleep(self.config.slow_seconds)


async def drop_connection(scope: dict) -> None:
    """Abort the client connection (server hook) or raise `EmulatedReset` (in-process)."""
    hook = scope.get("extensions", {}).get("sorakit.drop_connection")
    if hook is None:
        raise EmulatedReset("connection reset by the sorakit emulator (injected fault)")
    hook()
    # let the server see the lost connection before the app returns, so it sends nothing
    for _ in range(3):
        await asyncio.sleep(0)

