"""Argument checks of the public API, in one place (issue 11, defect 5).

Every entry point — `Studio(...)`, ``generate``/``generate_async``, ``submit``, ``batch``/``batch_async``,
``estimate``, ``remix``/``Job.remix``, ``Job.rate``, ``Job.tag`` — calls these *before* anything is
written or sent, so a wrong-typed or out-of-range argument is a `ValidationError` naming the
parameter, the value and what is allowed — never a ``TypeError`` from deep inside, and never a
ledger row that a later ``resume()`` would submit. The catalog (`sorakit.catalog.plan`) then
checks values against the chosen model and provider (sizes, durations, seeds, prices).
"""

from __future__ import annotations

import math
import os
import re
from typing import Any, Mapping, Optional, Sequence

from .._exceptions import ValidationError
from .._types import SEED_MAX
from ..providers._base import check_segment

__all__ = ["number", "flag", "text", "texts", "tag_list", "call_options", "request_fields", "rating",
           "studio_args", "seeds_arg"]

_ACTIONS = ("generate", "remix", "extend", "edit")


def number(field: str, value: Any, *, minimum: float = 0.0, strict: bool = True,
           allow_none: bool = True, what: str = "") -> Optional[float]:
    """A finite real number above ``minimum`` (``strict``) or at least it; None when allowed.
    Booleans, strings, NaN and infinities are refused."""
    if value is None and allow_none:
        return None
    allowed = what or (f"{'None or ' if allow_none else ''}a finite number "
                       f"{'>' if strict else '>='} {minimum:g}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, value, allowed)
    f = float(value)
    if not math.isfinite(f) or (f <= minimum if strict else f < minimum):
        raise ValidationError(field, value, allowed)
    return f


def flag(field: str, value: Any) -> bool:
    """``True`` or ``False`` (not 0/1, not a string)."""
    if not isinstance(value, bool):
        raise ValidationError(field, value, "True or False")
    return value


def text(field: str, value: Any, *, allow_none: bool = True, allowed: Any = None) -> Optional[str]:
    """One string (a name: model, provider, prompt); a list here is a mistake worth naming."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        hint = " (one name here; batch() takes lists)" if isinstance(value, (list, tuple, set)) else ""
        raise ValidationError(field, value, allowed if allowed is not None else
                              f"{'None or ' if allow_none else ''}a string{hint}")
    return value


def texts(field: str, value: Any, *, allow_none: bool = True, allowed: Any = None) -> Optional[list[str]]:
    """A string or a non-empty list/tuple of strings (``batch`` arguments)."""
    if value is None and allow_none:
        return None
    if isinstance(value, str):
        return [value]
    what = allowed if allowed is not None else "a string or a non-empty list of strings"
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationError(field, value, what)
    return list(value)


def tag_list(field: str, value: Any) -> tuple[str, ...]:
    """Tags: None, one string, or a list/tuple/set of non-empty strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(isinstance(t, str) and t.strip()
                                                                      for t in value):
        raise ValidationError(field, value, "None, a string or a list of non-empty strings")
    return tuple(value)


def rating(value: Any) -> Optional[int]:
    """``Job.rate``: None (clears) or an integer from 1 to 5."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValidationError("n", value, "None or an integer from 1 to 5")
    return value


def call_options(*, timeout: Any = None, budget: Any = None, wait: Any = True, progress: Any = True,
                 allow_unknown_cost: Any = False) -> None:
    """The options shared by generate / submit / batch / remix (sync and async)."""
    number("timeout", timeout, what="None or a number of seconds > 0")
    number("budget", budget, strict=False, what="None or a finite number of USD >= 0")
    flag("wait", wait)
    flag("progress", progress)
    flag("allow_unknown_cost", allow_unknown_cost)


def _int(field: str, value: Any, lo: int, hi: Optional[int] = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (hi is not None and value > hi):
        raise ValidationError(field, value, f"None or an integer {'>= ' + str(lo) if hi is None else f'from {lo} to {hi}'}")


def request_fields(prompt: Any, model: Any, provider: Any, fields: Mapping[str, Any]) -> None:
    """Types and shapes of one request's arguments (the catalog checks values per model)."""
    text("prompt", prompt, allow_none=False)
    text("model", model)
    text("provider", provider)
    for name in ("size", "negative_prompt"):
        text(name, fields.get(name))
    _int("width", fields.get("width"), 1)
    _int("height", fields.get("height"), 1)
    _int("seed", fields.get("seed"), 0, SEED_MAX)
    if "variations" in fields:
        _int("variations", fields["variations"], 1)
        if fields["variations"] is None:
            raise ValidationError("variations", None, "an integer >= 1")
    seconds = fields.get("seconds")
    if isinstance(seconds, str):
        try:
            number("seconds", float(seconds), what="None, a number of seconds > 0 or such a number as text")
        except ValueError:
            raise ValidationError("seconds", seconds, "None, a number of seconds > 0 or such a number as text") \
                from None
    else:
        number("seconds", seconds, what="None, a number of seconds > 0 or such a number as text")
    audio = fields.get("audio")
    if audio is not None and not isinstance(audio, bool):
        raise ValidationError("audio", audio, "True, False or None")
    image = fields.get("input_image")
    if image is not None and not isinstance(image, (str, bytes, bytearray, os.PathLike)):
        raise ValidationError("input_image", image, "None, a file path, image bytes or an http(s)/data: URL")
    action = fields.get("action", "generate")
    if action not in _ACTIONS:
        raise ValidationError("action", action, list(_ACTIONS))
    if fields.get("source_video_id") is not None:
        source_video_id(fields["source_video_id"])
    if "tags" in fields:
        tag_list("tags", fields["tags"])


_RESOURCE_VIDEO = re.compile(r"^(gs://[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]/[^\x00-\x1f\x7f\\]{1,1024}"
                             r"|projects/[^\x00-\x20\x7f\\#]{1,900}/operations/[^\x00-\x20\x7f/\\#]{1,200}"
                             r"#sample=\d{1,3})$")


def source_video_id(value: Any) -> None:
    """One path segment (most providers put it into a URL path), or one of the two resource names
    the vertex provider's videos have: a ``gs://`` URI or ``{operation}#sample={i}``; no ``..``
    segment either way."""
    if isinstance(value, str) and "/" in value and _RESOURCE_VIDEO.match(value) \
            and ".." not in value.split("#", 1)[0].split("/"):
        return
    if isinstance(value, str) and "/" in value:
        raise ValidationError("source_video_id", value, "a provider video id (one path segment), a gs:// URI "
                                                        "or a vertex '{operation}#sample={i}' id")
    check_segment(value, "source_video_id")


def _mapping(field: str, value: Any, values: str, check=None) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise ValidationError(field, value, f"None or a mapping {{provider name: {values}}}")
    if check is not None:
        for v in value.values():
            if not check(v):
                raise ValidationError(field, value, f"None or a mapping {{provider name: {values}}}")


def studio_args(*, ledger: Any, emulate: Any, keys: Any, base_urls: Any, budget: Any, time_scale: Any,
                media_dir: Any, max_wait: Any, concurrency: Any, emulator: Any, resume: Any, policy: Any,
                adopt: Any = True,
                provider_options: Any, catalog: Any) -> None:
    """`Studio(...)`'s arguments, checked before the ledger file or media folder is created."""
    from ..catalog import Catalog
    from ..ledger import Ledger
    from ._policy import Policy

    if ledger is not None and not isinstance(ledger, (str, os.PathLike, Ledger)):
        raise ValidationError("ledger", ledger, "None, a file path, an SQLAlchemy URL or a Ledger")
    if emulate is not None and not isinstance(emulate, bool):
        if isinstance(emulate, str) or not isinstance(emulate, (list, tuple, set, frozenset)) \
                or not all(isinstance(e, str) for e in emulate):
            raise ValidationError("emulate", emulate, "None, True, False or a set of provider names")
    _mapping("keys", keys, "API key string", lambda v: isinstance(v, str) and v != "")
    _mapping("base_urls", base_urls, "http(s):// URL",
             lambda v: isinstance(v, str) and v.startswith(("http://", "https://")))
    _mapping("provider_options", provider_options, "mapping of options", lambda v: isinstance(v, Mapping))
    number("budget", budget, strict=False, what="None or a finite number of USD >= 0")
    number("time_scale", time_scale, what="None or a finite number > 0")
    number("max_wait", max_wait, allow_none=False, what="a number of seconds > 0")
    if media_dir is not None and not isinstance(media_dir, (str, os.PathLike)):
        raise ValidationError("media_dir", media_dir, "None or a folder path")
    if concurrency is not None:
        ok = (isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1) or (
            isinstance(concurrency, Mapping) and all(
                isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 1
                for k, v in concurrency.items()))
        if not ok:
            raise ValidationError("concurrency", concurrency, "None, a positive integer or {provider: int}")
    if emulator is not None and not isinstance(emulator, str) and not hasattr(emulator, "app") \
            and not isinstance(getattr(emulator, "base_url", None), str):
        raise ValidationError("emulator", emulator, "None, an Emulator, an EmulatorServer or a base URL")
    if isinstance(emulator, str) and not emulator.startswith(("http://", "https://")):
        raise ValidationError("emulator", emulator, "an http(s):// base URL")
    flag("resume", resume)
    flag("adopt", adopt)
    if policy is not None and not isinstance(policy, Policy):
        raise ValidationError("policy", policy, "None or a sorakit.engine.Policy")
    paths = catalog if isinstance(catalog, (list, tuple)) else [catalog]
    if catalog is not None and not isinstance(catalog, Catalog) and not (
            paths and all(isinstance(c, (str, os.PathLike)) for c in paths)):
        raise ValidationError("catalog", catalog, "None, a sorakit.catalog.Catalog, or the path (or list of "
                                                  "paths) of a TOML overlay")


def seeds_arg(value: Any) -> None:
    """``batch(seeds=...)``: None, one integer, or a list of integers / None."""
    if value is None:
        return
    items: Sequence[Any] = value if isinstance(value, (list, tuple)) else [value]
    if isinstance(value, (list, tuple)) and not value:
        raise ValidationError("seeds", value, "None, an integer or a non-empty list of integers")
    for s in items:
        if s is not None and (isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= SEED_MAX):
            raise ValidationError("seeds", value, f"None, an integer from 0 to {SEED_MAX} or a list of them")

