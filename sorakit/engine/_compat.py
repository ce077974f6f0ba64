"""Deprecated names kept for a release: the ``a``-prefixed coroutines of `Studio`.

sorakit names coroutines ``*_async`` (``generate_async``, ``batch_async``, ``resume_async``); the
older ``agenerate``/``abatch``/``aresume`` still work and warn once per call site.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["DeprecatedAliases"]


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"Studio.{old} is deprecated; use Studio.{new} (sorakit names coroutines *_async)",
                  DeprecationWarning, stacklevel=3)


class DeprecatedAliases:
    """Mixin of `Studio`: the deprecated aliases, each forwarding to its ``*_async`` method."""

    async def agenerate(self, *args: Any, **kwargs: Any) -> Any:
        """Deprecated alias of `generate_async`."""
        _deprecated("agenerate", "generate_async")
        return await self.generate_async(*args, **kwargs)  # type: ignore[attr-defined]

    async def abatch(self, *args: Any, **kwargs: Any) -> Any:
        """Deprecated alias of `batch_async`."""
        _deprecated("abatch", "batch_async")
        return await self.batch_async(*args, **kwargs)  # type: ignore[attr-defined]

    async def aresume(self, *args: Any, **kwargs: Any) -> Any:
        """Deprecated alias of `resume_async`."""
        _deprecated("aresume", "resume_async")
        return await self.resume_async(*args, **kwargs)  # type: ignore[attr-defined]
