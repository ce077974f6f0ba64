"""How the engine shows jobs in a notebook: a small interface that `sorakit.display` fills in.

The engine knows nothing about widgets. `sorakit.display` calls `register_display` on import
with an object that has the methods of `DisplayHooks`; the engine calls them through `call_hook`.
When no display is registered (no ipywidgets, a script) or a hook raises, the engine shows text
instead — and a hook that raised is logged with its traceback on the ``sorakit`` logger, so a
broken widget is seen, not silently replaced.

The other direction: `StudioLike` lists the Studio members the display uses (all public), so the
display depends on that list, not on `Studio` (tests give it a stand-in with the same members).
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any, Callable, Optional, Protocol, runtime_checkable

from .._exceptions import ConfigurationError

__all__ = ["DisplayHooks", "StudioLike", "NotebookViews", "register_display", "display_hooks", "call_hook", "logger"]

logger = logging.getLogger("sorakit")


class DisplayHooks(Protocol):
    """What the engine asks of a notebook display (every method may raise: it is logged)."""

    def show_job(self, job: Any) -> None:
        """Show a Job (a cell's last line)."""

    def show_batch(self, batch: Any) -> Any:
        """Show a Batch live; return a handle with ``tick()``/``close()`` (or None)."""

    def show_progress(self, job: Any) -> Any:
        """Show a running Job live; return a handle with ``tick()``/``close()`` (or None)."""

    def job_card(self, job: Any) -> Any:
        """A Job's live card widget, not displayed (marimo shows it through ``Job._display_``)."""

    def form(self, studio: Any, **kwargs: Any) -> Any: ...

    def gallery(self, source: Any, **kwargs: Any) -> Any: ...

    def compare(self, source: Any, **kwargs: Any) -> Any: ...

    def browse(self, studio: Any, **kwargs: Any) -> Any: ...

    def arena(self, source: Any, **kwargs: Any) -> Any: ...


@runtime_checkable
class StudioLike(Protocol):
    """What `sorakit.display` uses of a Studio: public members only (`sorakit.Studio` has them all).

    The display reads ``budget``, ``emulated`` and ``subscribe`` with ``getattr`` and does without
    them (no budget line, "live" badges, no live updates) when a stand-in lacks them.
    """

    catalog: Any
    """The model catalog (forms list its models and offers; cards title a model)."""
    ledger: Any
    """The job ledger (`sorakit.ledger.Ledger`): ``get``, ``rows``, ``query``, ``df``, annotations."""

    @property
    def budget(self) -> Any:
        """``cap``, ``spent``, ``remaining`` (the form's budget line)."""

    def job(self, job_id: str) -> Any:
        """The `Job` with this ledger id (cards, tiles, the browser's detail)."""

    def submit(self, prompt: str, model: Optional[str] = None, provider: Optional[str] = None, **kwargs: Any) -> Any:
        """Start a job and return at once (the form's Generate)."""

    def remix(self, job: Any, prompt: str, **kwargs: Any) -> Any:
        """A new job remixing a completed one (a card's Remix, the form's remix source)."""

    def batch(self, prompts: Any, models: Any = None, seeds: Any = None, providers: Any = None, **kwargs: Any) -> Any:
        """Every combination as one batch (``compare(studio, prompts=..., models=...)``)."""

    def subscribe(self, callback: Callable[[str, dict], None]) -> Callable[[], None]:
        """Call ``callback(job_id, changes)`` after each committed ledger update (live cards)."""

    def emulated(self, provider: Optional[str] = None) -> bool:
        """Whether ``provider`` runs on the built-in emulator (the "emulated" badge)."""


_hooks: Optional[DisplayHooks] = None
_imported = False
_lock = threading.Lock()


def register_display(hooks: Optional[DisplayHooks]) -> Optional[DisplayHooks]:
    """Make ``hooks`` the engine's display (None: text only). Returns the previous one."""
    global _hooks
    with _lock:
        previous, _hooks = _hooks, hooks
    return previous


def display_hooks() -> Optional[DisplayHooks]:
    """The registered display; the first call imports `sorakit.display` (which registers itself)."""
    global _imported
    if _hooks is None and not _imported:
        _imported = True
        try:
            importlib.import_module("sorakit.display")
        except ImportError as exc:  # ipywidgets not installed: text it is
            logger.debug("sorakit.display is not available (%s); showing text", exc)
        except Exception:
            logger.exception("sorakit.display failed to import; showing text instead")
    return _hooks


def call_hook(name: str, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """``(True, result)`` when the display's ``name`` hook ran; ``(False, None)`` when there is no
    such hook or it raised (logged with its traceback) — the caller then falls back to text."""
    hooks = display_hooks()
    fn = getattr(hooks, name, None) if hooks is not None else None
    if fn is None:
        return False, None
    try:
        return True, fn(*args, **kwargs)
    except Exception:
        logger.exception("sorakit: the notebook display's %s() failed; falling back to text", name)
        return False, None


class NotebookViews:
    """The Studio's notebook views, each drawn by the registered display (part of `Studio`)."""

    def _ui(self, name: str, *args: Any, **kwargs: Any) -> Any:
        hooks = display_hooks()
        fn = getattr(hooks, name, None) if hooks is not None else None
        if fn is None:
            raise ConfigurationError(f"sorakit.display provides no {name}() in this installation "
                                     f"(it needs ipywidgets)")
        return fn(*args, **kwargs)

    def form(self, **kwargs: Any):
        """A request form (sorakit.display)."""
        return self._ui("form", self, **kwargs)

    def gallery(self, jobs: Any = None, **kwargs: Any):
        """Completed videos as a grid (sorakit.display)."""
        return self._ui("gallery", self if jobs is None else jobs, **kwargs)

    def compare(self, jobs: Any = None, **kwargs: Any):
        """Side by side: ``compare(prompts=[...], models=[...])`` runs them as one `batch`;
        ``compare(jobs)`` arranges existing jobs (rows are prompts, columns ``model@provider``;
        sorakit.display)."""
        return self._ui("compare", self if jobs is None else jobs, studio=self, **kwargs)

    def browse(self, **kwargs: Any):
        """The ledger browser (sorakit.display)."""
        return self._ui("browse", self, **kwargs)

    def arena(self, prompts: Any = None, models: Any = None, **kwargs: Any):
        """The blind arena: two completed clips of one prompt from different models, labels hidden,
        random order; ← / → / ↓ (tie) / b (both bad) record a vote (``studio.vote``) and show the
        next pair. ``prompts`` / ``models`` narrow it; ``seed=`` fixes the order (sorakit.display)."""
        return self._ui("arena", self, prompts=prompts, models=models, **kwargs)
