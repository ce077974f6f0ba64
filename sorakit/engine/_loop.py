"""The engine's own event loop, in a daemon thread.

A notebook kernel already runs an asyncio loop in the main thread, so sorakit never runs its work
there (and never needs ``nest_asyncio``, which it tolerates but does not use):

```
caller thread (script, notebook cell)          engine thread (this module)
─────────────────────────────────────          ───────────────────────────
blocking:  run(coro)  ──run_coroutine_threadsafe──▶  loop.run_forever()
           waits on a concurrent Future in short slices (Ctrl-C interrupts the wait only)
async:     await run_async(coro) ──asyncio.wrap_future──▶ same loop
```
One loop per process, started on first use, shared by every `Studio`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Any, Callable, Coroutine, Optional, TypeVar

__all__ = ["EngineLoop", "get_loop"]

T = TypeVar("T")


class EngineLoop:
    """An asyncio loop running forever in a daemon thread."""

    def __init__(self, name: str = "sorakit-engine"):
        self._ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:  # pragma: no cover - only on explicit stop
            self.loop.close()

    def __repr__(self) -> str:
        return f"<EngineLoop thread={self.thread.name} alive={self.thread.is_alive()}>"

    @property
    def in_engine_thread(self) -> bool:
        return threading.current_thread() is self.thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> "concurrent.futures.Future[T]":
        """Schedule ``coro`` on the engine loop from any thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a plain callable on the engine loop soon (thread-safe)."""
        self.loop.call_soon_threadsafe(fn, *args)

    def run(self, coro: Coroutine[Any, Any, T], timeout: Optional[float] = None,
            tick: Optional[Callable[[], None]] = None, tick_every: float = 0.25) -> T:
        """Block the calling thread until ``coro`` finishes on the engine loop.

        Waits in short slices so a KeyboardInterrupt (Ctrl-C, kernel interrupt) is delivered
        promptly; ``tick`` is called between slices (progress display). On interrupt or timeout
        the coroutine is *not* cancelled unless it was only waiting: callers decide.
        """
        if self.in_engine_thread:
            coro.close()
            raise RuntimeError("sorakit: a blocking call was made from the engine thread "
                               "(e.g. inside a subscribe callback); use the async API there")
        future = self.submit(coro)
        return self.wait(future, timeout=timeout, tick=tick, tick_every=tick_every)

    def wait(self, future: "concurrent.futures.Future[T]", timeout: Optional[float] = None,
             tick: Optional[Callable[[], None]] = None, tick_every: float = 0.25) -> T:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            slice_ = tick_every
            if deadline is not None:
                slice_ = max(0.0, min(slice_, deadline - time.monotonic()))
            try:
                return future.result(timeout=slice_)
            except concurrent.futures.TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise TimeoutError from None
                if tick is not None:
                    tick()

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Deprecated alias of `run_async` (sorakit names coroutines ``*_async``)."""
        import warnings

        warnings.warn("EngineLoop.arun is deprecated; use EngineLoop.run_async", DeprecationWarning, stacklevel=2)
        return await self.run_async(coro)

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the engine loop from another loop (a notebook's, a script's)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))


_LOCK = threading.Lock()
_LOOP: Optional[EngineLoop] = None


def get_loop() -> EngineLoop:
    """The process-wide engine loop, started on first use (again after a fork)."""
    global _LOOP
    with _LOCK:
        if _LOOP is None or not _LOOP.thread.is_alive():
            _LOOP = EngineLoop()
        return _LOOP
