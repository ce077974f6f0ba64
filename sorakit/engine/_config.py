"""Where each provider's requests go and with which key: live service or emulator.

Rules (per provider in the catalog):

* ``emulate=True``  -> the emulator for every provider.
* ``emulate=False`` -> live for every provider; a missing key is an error when first used.
* ``emulate=None``  -> live when a key is found (``keys=`` first, then the catalog's ``key_env``
  variables such as ``OPENAI_API_KEY``), else the emulator.
* A collection of names (``emulate={"runware"}``) emulates exactly those.

Base URLs: ``base_urls=`` first, then ``SORAKIT_<NAME>_BASE_URL`` (and ``OPENAI_BASE_URL`` for
openai), then the catalog's. The emulator is either in-process (an ``Emulator`` app reached through
``httpx.ASGITransport``) or a server at a base URL; each provider lives under its
``emulator_prefix``.

Keys are wrapped in `Secret`: its repr and str are masked, so a key cannot leak through a repr,
a log line, an exception message or the ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Optional, Union

import httpx

from .._exceptions import ConfigurationError
from ..catalog import Catalog, ProviderInfo

__all__ = ["Secret", "ProviderSetup", "resolve_setups", "default_media_dir", "emulator_root", "EMULATOR_NOTICE",
           "emulate_from_env", "time_scale_from_env", "clip_checks_from_env", "notice", "DEFAULT_CONCURRENCY",
           "DEFAULT_EMULATOR_TIME_SCALE"]

DEFAULT_CONCURRENCY = 32
"""Jobs per provider in flight at once (the services queue excess jobs server-side)."""
DEFAULT_EMULATOR_TIME_SCALE = 0.1
"""The built-in emulator runs ten times faster than the real services (sora-2 ≈ 6 s).
``SORAKIT_TIME_SCALE`` overrides it."""

EMULATOR_NOTICE = ("sorakit: no API keys found — using the built-in emulator; "
                   "jobs are marked emulated and cost nothing")


class Secret:
    """An API key that never shows itself: ``repr``/``str`` give ``'***'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError("an API key must be a non-empty string")
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self):  # never pickle a key into a file by accident
        raise TypeError("a sorakit Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


@dataclass
class ProviderSetup:
    """How one provider is reached. ``key`` is a `Secret`; the repr shows only whether it is set."""

    name: str
    info: ProviderInfo
    mode: Literal["live", "emulated"]
    base_url: str
    key: Optional[Secret] = field(default=None, repr=False)
    transport: Optional[httpx.AsyncBaseTransport] = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def emulated(self) -> bool:
        return self.mode == "emulated"

    def __repr__(self) -> str:
        return (f"ProviderSetup({self.name!r}, mode={self.mode!r}, base_url={self.base_url!r}, "
                f"key={'set' if self.key else 'none'})")


def default_media_dir(ledger_location: Optional[str]) -> Path:
    """``SORAKIT_MEDIA`` or ``sorakit-media`` beside a file ledger (or in the working directory)."""
    env = os.environ.get("SORAKIT_MEDIA")
    if env:
        return Path(env).expanduser()
    if ledger_location and "://" not in str(ledger_location):
        return Path(ledger_location).expanduser().resolve().parent / "sorakit-media"
    return Path.cwd() / "sorakit-media"


def remote_media(media_dir: Union[str, os.PathLike, None], options: Optional[Mapping[str, Any]]):
    """The shared store when the media location (``media_dir``, else ``$SORAKIT_MEDIA``) is a URL
    (credentials and the s3 extra checked now), else None after refusing storage options."""
    from ..media._store import is_url, no_options_for_a_folder, open_store

    spec = os.fspath(media_dir) if media_dir is not None else os.environ.get("SORAKIT_MEDIA") or None
    if is_url(spec):
        return open_store(spec, options, field="media_dir" if media_dir is not None else "SORAKIT_MEDIA")
    no_options_for_a_folder(options)
    return None


def emulator_root(base_url: Optional[str]) -> str:
    """The emulator's root URL (``http://emulator`` for an in-process app)."""
    return (base_url or "http://emulator").rstrip("/")


def _key_for(info: ProviderInfo, keys: Mapping[str, Any]) -> Optional[Secret]:
    if info.name in keys and keys[info.name] is not None:
        return Secret(keys[info.name])
    for var in info.key_env:
        value = os.environ.get(var)
        if value and value.strip():
            return Secret(value)
    return None


def _check_key(info: ProviderInfo, key: Secret) -> None:
    if info.key_prefix and not key.reveal().startswith(info.key_prefix):
        raise ConfigurationError(
            f"the {info.name} API key does not look right: {info.title} keys start with "
            f"{info.key_prefix!r} (the key itself is not shown)")


def _env_base_url(info: ProviderInfo) -> Optional[str]:
    value = os.environ.get(f"SORAKIT_{info.name.upper()}_BASE_URL")
    if not value and info.name == "openai":
        value = os.environ.get("OPENAI_BASE_URL")
    return value or None


def _emulator_options(info: ProviderInfo, base_url: str) -> dict[str, Any]:
    """What the protocol's client needs to reach the emulator's stand-ins (vertex: Cloud Storage)."""
    from ..providers import provider_class

    try:
        return provider_class(info.protocol).emulator_options(base_url)
    except ConfigurationError:  # a protocol without a client
        return {}


def resolve_setups(
    catalog: Catalog,
    *,
    emulate: Union[None, bool, Iterable[str]] = None,
    keys: Optional[Mapping[str, Any]] = None,
    base_urls: Optional[Mapping[str, str]] = None,
    emulator_base_url: Optional[str] = None,
    emulator_transport: Optional[httpx.AsyncBaseTransport] = None,
    emulator_key: str = "sk-emulator-local",
    options: Optional[Mapping[str, Mapping[str, Any]]] = None,
) -> tuple[dict[str, ProviderSetup], Optional[str]]:
    """Decide live/emulated per provider. Returns the setups and a one-line notice (or None).

    ``emulator_base_url``/``emulator_transport`` say where the emulator is (``emulator_base_url``
    is the server root, without provider prefix; for an in-process app use any root such as
    ``http://emulator`` with the ASGI transport).
    """
    keys = dict(keys or {})
    base_urls = dict(base_urls or {})
    options = dict(options or {})
    unknown = (set(keys) | set(base_urls)) - set(catalog.providers)
    if unknown:
        raise ConfigurationError(f"unknown provider name(s) {sorted(unknown)}; known: {sorted(catalog.providers)}")
    if emulate is None or isinstance(emulate, bool):
        forced = emulate
        subset = None
    else:
        forced = None
        subset = set(emulate)
        bad = subset - set(catalog.providers)
        if bad:
            raise ConfigurationError(f"emulate names unknown provider(s) {sorted(bad)}")

    setups: dict[str, ProviderSetup] = {}
    live, emulated_for_lack_of_key = [], []
    for name, info in catalog.providers.items():
        key = _key_for(info, keys)
        if subset is not None:
            emulate_this = name in subset
        elif forced is not None:
            emulate_this = forced
        else:
            emulate_this = key is None
            if key is None:
                emulated_for_lack_of_key.append(name)
        if emulate_this:
            # only a key given explicitly in keys= goes to an emulator, never one from the environment
            ekey = Secret(keys[name]) if keys.get(name) is not None else Secret(emulator_key)
            base = emulator_root(emulator_base_url) + info.emulator_prefix
            setups[name] = ProviderSetup(
                name, info, "emulated", base, ekey, emulator_transport,
                {**_emulator_options(info, base), **options.get(name, {})})
        else:
            if key is not None:
                _check_key(info, key)
            url = base_urls.get(name) or _env_base_url(info) or info.base_url
            setups[name] = ProviderSetup(name, info, "live", url.rstrip("/") if url else "", key,
                                         None, dict(options.get(name, {})))
            live.append(name)

    notice = None
    if forced is None and subset is None and emulated_for_lack_of_key:
        if not live:
            notice = EMULATOR_NOTICE
        else:
            notice = (f"sorakit: live: {', '.join(live)}; no key for "
                      f"{', '.join(emulated_for_lack_of_key)} — those use the built-in emulator "
                      f"(jobs marked emulated, cost nothing)")
    elif forced is True:
        notice = "sorakit: emulate=True — using the built-in emulator; jobs are marked emulated and cost nothing"
    return setups, notice


def emulate_from_env() -> Union[None, bool, set]:
    """``SORAKIT_EMULATE``: ``1``/``true`` emulate everything (CI, demos, a safe default on a
    machine that has real keys), ``0``/``false`` nothing, ``runware,gemini`` just those."""
    value = os.environ.get("SORAKIT_EMULATE", "").strip().lower()
    if not value:
        return None
    if value in ("1", "true", "yes", "all"):
        return True
    if value in ("0", "false", "no", "none"):
        return False
    return {v.strip() for v in value.split(",") if v.strip()}


def time_scale_from_env() -> Optional[float]:
    """``SORAKIT_TIME_SCALE``: the built-in emulator's speed (a positive number)."""
    value = os.environ.get("SORAKIT_TIME_SCALE", "").strip()
    if not value:
        return None
    try:
        scale = float(value)
    except ValueError:
        raise ConfigurationError(f"SORAKIT_TIME_SCALE={value!r} is not a number; allowed: a positive number") from None
    if scale <= 0:
        raise ConfigurationError(f"SORAKIT_TIME_SCALE={value!r} is not allowed; allowed: a positive number")
    return scale


def clip_checks_from_env() -> bool:
    """``SORAKIT_CLIP_CHECKS``: whether a Studio checks each finished video when ``clip_checks=`` is
    not given: unset, ``1``/``true``/``yes``/``on`` check; ``0``/``false``/``no``/``off`` do not (a
    test suite, a machine short of CPU)."""
    value = os.environ.get("SORAKIT_CLIP_CHECKS", "").strip()
    if value.lower() in ("", "1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"SORAKIT_CLIP_CHECKS={value!r} is not allowed; allowed: 1, true, yes, on (check "
                             f"each finished video) or 0, false, no, off (do not); unset: check")


def notice(text: str) -> None:
    """A one-line notice on stdout (``SORAKIT_QUIET`` silences them)."""
    if os.environ.get("SORAKIT_QUIET"):
        return
    print(text, flush=True)
