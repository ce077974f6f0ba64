"""Wire protocols: one `Provider` subclass per protocol, found by the catalog's ``protocol`` name.

```
make_provider(catalog.providers["openai"], base_url=..., api_key=...)  -> OpenAIProvider
```
A protocol module added later (``runcrate``, ``relay``, ``gemini``) registers itself by defining a
`Provider` subclass with ``protocol = "<name>"`` in ``sorakit/providers/<name>.py``; it is found
on first use, or explicitly with `register`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from .._exceptions import ConfigurationError
from ..catalog import ProviderInfo
from ._base import Provider, Variant, header_float
from .openai import OpenAIProvider
from .runware import RunwareProvider

__all__ = [
    "Provider",
    "Variant",
    "OpenAIProvider",
    "RunwareProvider",
    "header_float",
    "make_provider",
    "provider_class",
    "register",
    "registered",
]

_REGISTRY: dict[str, type[Provider]] = {
    OpenAIProvider.protocol: OpenAIProvider,
    RunwareProvider.protocol: RunwareProvider,
}


def register(cls: type[Provider], protocol: str | None = None) -> type[Provider]:
    """Register a `Provider` subclass under its ``protocol`` name (usable as a decorator)."""
    _REGISTRY[protocol or cls.protocol] = cls
    return cls


def registered() -> dict[str, type[Provider]]:
    """Protocol name -> class, for what is registered so far."""
    return dict(_REGISTRY)


def provider_class(protocol: str) -> type[Provider]:
    """The class for a protocol name; imports ``sorakit.providers.<protocol>`` on first use."""
    if protocol in _REGISTRY:
        return _REGISTRY[protocol]
    try:
        module = importlib.import_module(f"{__name__}.{protocol}")
    except ImportError:
        raise ConfigurationError(
            f"no provider implements the {protocol!r} protocol yet "
            f"(available: {', '.join(sorted(_REGISTRY))})") from None
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, Provider) and obj is not Provider and getattr(obj, "protocol", None) == protocol:
            return register(obj)
    raise ConfigurationError(f"sorakit.providers.{protocol} defines no Provider with protocol={protocol!r}")


def make_provider(info: ProviderInfo, base_url: str | None = None, api_key: str | None = None,
                  **options: Any) -> Provider:
    """A provider instance for a catalog entry, talking to ``base_url`` (default: the catalog's)."""
    cls = provider_class(info.protocol)
    if not (base_url or info.base_url):
        raise ConfigurationError(
            f"provider {info.name!r} has no default base URL: pass base_urls={{{info.name!r}: 'https://...'}}")
    return cls(info, base_url=base_url, api_key=api_key, **options)
