"""How the engine shows jobs in a notebook: a small interface that `sorakit.display` fills in.

The engine knows nothing about widgets. `sorakit.display` calls `register_display` on import
with an object that has the methods of `DisplayHooks`; the engine calls them through `call_hook`.
When no display is registered (no ipywidgets, a script) or a hook raises, the engine shows text
instead — and a hook that raised is logged with its traceback on the ``sorakit`` logger, so a
broken widget is seen, not silently replaced.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any, Optional, Protocol

from .._exceptions import ConfigurationError

__all__ = ["DisplayHooks", "NotebookViews", "register_display", "display_hooks", "call_hook", "logger"]

logger = logging.getLogger("sorakit")


class DisplayHooks(Protocol):
    """What the engine asks of a notebook display (every method may raise: it is logged)."""

    def show_job(self, job: Any) -> None:
        """Show a Job (a cell's last line)."""

    def show_batch(self, batch: Any) -> Any:
        """Show a Batch live; return a handle with ``tick()``/``close()`` (or None)."""

    def show_progress(self, job: Any) -> Any:
        """Show a running Job live; return a handle with ``tick()``/``close()`` (or None)."""

    def form(self, studio: Any, **kwargs: Any) -> Any: ...

    def gallery(self, source: Any, **kwargs: Any) -> Any: ...

    def compare(self, source: Any, **kwargs: Any) -> Any: ...

    def browse(self, studio: Any, **kwargs: Any) -> Any: ...


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
