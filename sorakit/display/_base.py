"""What every sorakit widget shares: the static fallback, reading jobs, shared layout models.

Every widget is an anywidget (its look is its own ``_css``; no ipywidgets composition is left). Each top-level widget's
mimebundle carries, next to the live widget view, a small ``text/html`` fallback (poster images as
data URIs and captions) and a readable ``text/plain``: what GitHub, nbviewer, HTML exports and
front-ends without the kernel show.
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Optional

import ipywidgets as widgets

from . import _frontend

__all__ = ["StaticFallback", "studio_of", "row_of", "shared"]

class StaticFallback:
    """Mixin for a top-level widget: adds ``text/html`` and a readable ``text/plain`` to its bundle.

    Subclasses implement ``_static_html()`` and ``_static_text()``.
    """

    def _static_html(self) -> str:  # pragma: no cover - overridden
        return ""

    def _static_text(self) -> str:  # pragma: no cover - overridden
        return type(self).__name__

    def _repr_mimebundle_(self, **kwargs: Any):
        _frontend.prepare()
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if not bundle:
            return bundle
        if isinstance(bundle, tuple):  # anywidget returns (data, metadata)
            data, metadata = bundle
            return self._with_fallback(dict(data)), metadata
        return self._with_fallback(bundle)

    def _with_fallback(self, bundle: dict) -> dict:
        try:
            static = self._static_html()
        except Exception:  # a broken poster must not hide the widget
            static = ""
        if static:
            bundle["text/html"] = static
        try:
            bundle["text/plain"] = self._static_text()
        except Exception:
            pass
        return bundle


def studio_of(job: Any) -> Any:
    """The Studio a Job belongs to (None when the object has no link back)."""
    for attr in ("studio", "_studio"):
        s = getattr(job, attr, None)
        if s is not None:
            return s
    return None


def row_of(job: Any) -> dict:
    """A fresh ledger row for a Job, or a copy of a row mapping."""
    if isinstance(job, Mapping):
        return dict(job)
    row = getattr(job, "row", None)
    if callable(row):
        row = row()
    return dict(row or {})


def catalog_of(studio: Any):
    """The Studio's catalog, or the shipped one."""
    cat = getattr(studio, "catalog", None) if studio is not None else None
    if cat is None or not hasattr(cat, "models"):
        from ..catalog import load_catalog

        cat = load_catalog()
    return cat


def is_emulated(studio: Any, provider: Optional[str]) -> bool:
    """True when the Studio sends ``provider``'s requests to the built-in emulator."""
    if studio is None:
        return False
    fn = getattr(studio, "emulated", None)
    if callable(fn):
        try:
            return bool(fn(provider))
        except TypeError:
            return bool(fn())
    if isinstance(fn, bool):
        return fn
    emulate = getattr(studio, "emulate", None)
    if isinstance(emulate, bool):
        return emulate
    if isinstance(emulate, (set, frozenset, list, tuple)):
        return provider in emulate
    return False


def offer_of(catalog: Any, model: Any, provider: Any):
    try:
        return catalog.models[str(model)].offer(str(provider))
    except Exception:
        return None


FIELD_LABELS = {"prompt": "Prompt", "model": "Model", "provider": "Provider", "size": "Size",
                "seconds": "Duration", "variations": "Variations", "seed": "Seed", "audio": "Audio",
                "negative_prompt": "Negative prompt", "input_image": "Image",
                "source_video_id": "Remix source", "action": "Remix", "job": "Job"}


def error_text(exc: BaseException) -> str:
    """A readable one-line message for an exception shown in a widget (never a traceback).

    ``ValidationError("seed", "abc", ...)`` reads ``Seed: 'abc' is not allowed — use blank (random)
    or an integer from 0 to 4294967295``; other sorakit errors keep their own message.
    """
    from .._exceptions import SorakitError, ValidationError, _allowed_text, _show

    if isinstance(exc, ValidationError):
        label = FIELD_LABELS.get(exc.field, exc.field)
        allowed = _allowed_text(exc.allowed)
        text = str(exc)
        tail = f"({exc.field}={_show(exc.value)} is not allowed; allowed: {allowed})"
        at = text.rfind(tail)  # a batch adds a hint after the tail
        why = text[:at].strip() if at >= 0 else ""
        if exc.field == "prompt":  # the value is the prompt itself: not worth repeating
            core = f"use {allowed}"
        else:
            core = f"{_show(exc.value)} is not allowed — use {allowed}"
        return f"{label}: {why + '. ' if why else ''}{core}"
    if isinstance(exc, SorakitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def as_jobs(result: Any) -> list:
    """A submit's result as a list of Jobs: one Job, or a Batch / list of them."""
    from collections.abc import Sequence

    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Sequence):
        return [result]
    return list(result)


# Shared layout and style models. A widget's Layout and Style are widget models of their own, each
# saved (with ~40 null fields) in a notebook's widget state; a grid of tiles shares a handful.
_shared: dict[str, widgets.Widget] = {}
_shared_lock = threading.Lock()


def shared(kind: str) -> Any:
    """A shared Layout instance: ``full`` (width 100%)."""
    with _shared_lock:
        w = _shared.get(kind)
        if w is None or getattr(w, "comm", None) is None:
            w = {
                "full": lambda: widgets.Layout(width="100%"),
            }[kind]()
            _shared[kind] = w
        return w
