"""Live updates: one engine subscription per Studio, fanned out to the widgets that show each job.

The engine calls ``callback(job_id, changes)`` on its own background thread after every committed
ledger update. Listeners here only change widget traits (safe from any thread); they never write
into an ``Output`` with ``with output:``. A listener is dropped when its job is terminal, and the
Studio subscription is dropped when no listener is left.

A single daemon "ticker" thread refreshes elapsed-time labels of running jobs once a second.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

if TYPE_CHECKING:
    from ..engine._hooks import StudioLike

__all__ = ["hub", "Hub", "ticker", "LiveDisplay", "Follower"]

log = logging.getLogger("sorakit.display")

Listener = Callable[[str, dict], None]


class Hub:
    """Dispatches one Studio's change callbacks to listeners by job id (``"*"`` = every job)."""

    def __init__(self, studio: StudioLike):
        self.studio = studio
        self._listeners: dict[str, list[Any]] = {}
        self._lock = threading.RLock()
        self._unsubscribe: Optional[Callable[[], None]] = None

    @property
    def subscribed(self) -> bool:
        return self._unsubscribe is not None

    def add(self, job_id: str, listener: Listener) -> None:
        """Call ``listener(job_id, changes)`` for each change of ``job_id`` (weakly held if a method)."""
        ref = weakref.WeakMethod(listener) if hasattr(listener, "__self__") else (lambda fn=listener: fn)
        with self._lock:
            self._listeners.setdefault(job_id, []).append(ref)
            if self._unsubscribe is None:
                subscribe = getattr(self.studio, "subscribe", None)
                if subscribe is not None:
                    self._unsubscribe = subscribe(self._dispatch)

    def remove(self, job_id: str, listener: Listener) -> None:
        with self._lock:
            refs = self._listeners.get(job_id, [])
            self._listeners[job_id] = [r for r in refs if r() is not None and r() != listener]
            self._prune()

    def _prune(self) -> None:
        for key in [k for k, refs in self._listeners.items() if not any(r() is not None for r in refs)]:
            del self._listeners[key]
        if not self._listeners and self._unsubscribe is not None:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            try:
                unsubscribe()
            except Exception:  # pragma: no cover - engine-side failure
                log.exception("sorakit.display: unsubscribe failed")

    def _dispatch(self, job_id: str, changes: dict) -> None:
        with self._lock:
            refs = list(self._listeners.get(job_id, ())) + list(self._listeners.get("*", ()))
        for ref in refs:
            fn = ref()
            if fn is None:
                continue
            try:
                fn(job_id, dict(changes))
            except Exception:  # a widget bug must never break the engine's thread
                log.exception("sorakit.display: update of %s failed", job_id)
        if any(r() is None for r in refs):
            with self._lock:
                self._prune()


_hubs: dict[int, Hub] = {}
_hubs_lock = threading.Lock()


def hub(studio: StudioLike) -> Hub:
    """The Hub of a Studio (created on first use)."""
    with _hubs_lock:
        h = _hubs.get(id(studio))
        if h is None or h.studio is not studio:
            h = _hubs[id(studio)] = Hub(studio)
        return h


class _Ticker:
    """Calls ``tick()`` on registered objects once a second, from one daemon thread."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self._items: "weakref.WeakSet[Any]" = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._wake = threading.Event()

    def add(self, item: Any) -> None:
        with self._lock:
            self._items.add(item)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sorakit-display-ticker", daemon=True)
                self._thread.start()

    def discard(self, item: Any) -> None:
        with self._lock:
            self._items.discard(item)

    def __len__(self) -> int:
        return len(self._items)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            with self._lock:
                items = list(self._items)
                if not items:
                    self._thread = None
                    return
            for item in items:
                try:
                    item.tick()
                except Exception:
                    log.exception("sorakit.display: tick failed")


ticker = _Ticker()


# ``job = studio.generate(...)`` shows a live card while it waits; when the same cell then ends with
# the Job (``studio.generate(...)`` as the last line), IPython displays it again. The live card
# already is the result, so the second display is skipped within the same cell execution.
_shown_live: dict[str, int] = {}


def _execution_count() -> Optional[int]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    ip = get_ipython()
    return None if ip is None else getattr(ip, "execution_count", None)


def mark_live(key: str) -> None:
    """Record that a live view of ``key`` (a job or batch) was displayed in this cell."""
    n = _execution_count()
    if n is not None:
        _shown_live[key] = n


def shown_live(key: str) -> bool:
    """True (once) when a live view of ``key`` was displayed earlier in the running cell."""
    n = _execution_count()
    return n is not None and _shown_live.pop(key, None) == n


class LiveDisplay:
    """A widget displayed while a blocking call waits; `close` re-renders it in place.

    A widget's saved ``text/html`` fallback is computed when it is displayed. Re-rendering the same
    display id once the wait is over makes the notebook (and HTML exports) keep the finished state,
    not a row of "pending" tiles. Has the ``tick``/``close`` shape of the Studio's text progress.
    """

    def __init__(self, widget: Any):
        from IPython.display import display

        self.widget = widget
        self._handle = display(widget, display_id=True)

    def tick(self) -> None:
        """Nothing to do: the widget follows the jobs through engine callbacks."""

    def close(self) -> None:
        if self._handle is not None:
            try:
                self._handle.update(self.widget)
            except Exception:  # pragma: no cover - the front-end went away
                log.debug("sorakit: could not refresh a live display", exc_info=True)
            self._handle = None

    def _ipython_display_(self) -> None:  # a cell ending in show_progress(...) shows nothing more
        return None


class Follower:
    """Follows one job's ledger row from the engine's thread (a ``Tile``: a grid's tile, a job card).

    The class using it sets ``job``, ``studio``, ``job_id``, ``_row`` (a dict), ``_lock`` (an
    RLock) and ``_listening = False``, calls ``_listen()`` once it is built, and implements
    ``_changed()`` (called after each accepted change) and ``tick()`` (the ticker's second).
    """

    job: Any
    studio: Any
    job_id: str
    _row: dict
    _lock: Any
    _listening: bool

    @property
    def terminal(self) -> bool:
        from .._types import TERMINAL

        return self._row.get("status") in TERMINAL

    def _changed(self) -> None:  # pragma: no cover - overridden
        pass

    def _awaits_check(self) -> bool:
        """A completed job whose clip checks are queued or running: keep listening for them."""
        from ._format import is_missing

        if self._row.get("status") != "completed" or not is_missing(self._row.get("checked_at")):
            return False
        pending = getattr(self.studio, "_checks_pending", None)
        try:
            return bool(pending is not None and pending(self.job_id))
        except Exception:
            return False

    def _listen(self) -> None:
        if (self.terminal and not self._awaits_check()) or self.studio is None or not self.job_id:
            return
        hub(self.studio).add(self.job_id, self._on_change)
        self._listening = True
        if not self.terminal:
            ticker.add(self)
        # a change committed between reading the row and subscribing is picked up here
        fresh = self._fresh_row()
        if fresh:
            self._apply(fresh)

    def _fresh_row(self) -> Optional[dict]:
        from ._base import row_of

        try:
            if self.job is not None:
                return row_of(self.job)
            if self.studio is not None and hasattr(self.studio, "job"):
                return row_of(self.studio.job(self.job_id))
        except Exception:
            return None
        return None

    def _on_change(self, job_id: str, changes: dict) -> None:
        """Engine thread: merge the changed columns and refresh what is shown."""
        if job_id == self.job_id:
            self._apply(changes)

    def _apply(self, changes: Mapping[str, Any]) -> None:
        from .._types import TERMINAL
        from ._format import timestamp

        with self._lock:  # the engine's thread and the kernel's may both deliver a row
            if self.terminal and changes.get("status", self._row.get("status")) not in TERMINAL:
                return  # a stale read arriving after the final update
            new_t, cur_t = timestamp(changes.get("updated_at")), timestamp(self._row.get("updated_at"))
            if new_t is not None and cur_t is not None and new_t < cur_t:
                return  # older than what is shown
            self._apply_locked(changes)

    def _apply_locked(self, changes: Mapping[str, Any]) -> None:
        from ._format import is_missing

        self._row.update(changes)
        if self.terminal:
            if self._row.get("status") == "completed" and is_missing(self._row.get("file_path")):
                fresh = self._fresh_row()  # the final row, in case the change carried only status
                if fresh:
                    self._row.update(fresh)
            if self._awaits_check():  # the checks' line lands a moment later
                ticker.discard(self)
            else:
                self._stop()
        self._changed()

    def _stop(self) -> None:
        if self._listening:
            self._listening = False
            hub(self.studio).remove(self.job_id, self._on_change)
        ticker.discard(self)
