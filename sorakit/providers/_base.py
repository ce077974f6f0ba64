"""The provider seam: pure mapping between a `Plan` / job and one service's wire format.

A provider builds `httpx.Request` objects and reads `httpx.Response` objects. It never sends,
sleeps, retries or touches the ledger: the engine does all of that. So every mapping can be
tested with hand-made responses and no network.

```
engine                                  provider (this module's subclasses)
──────                                  ───────────────────────────────────
plan ─────────────────────────────────▶ build_create(plan, client_ref)  -> httpx.Request
response ─────────────────────────────▶ parse_create(plan, response, client_ref) -> [JobState]
provider_job_id ──────────────────────▶ build_poll(provider_job_id)     -> httpx.Request
response ─────────────────────────────▶ parse_poll(provider_job_id, response) -> [JobState]
state ────────────────────────────────▶ build_download(state, variant)  -> httpx.Request
(unknown create outcome) ─────────────▶ build_list() / parse_list()     -> [JobState] to reconcile
job.cancel() ─────────────────────────▶ cancel_support(id) -> CancelSupport; build_cancel / parse_cancel
any error response ───────────────────▶ raise_for_error(response)       -> ProviderError subclass
```

Key hygiene lives here, once, for every provider (issue 11):

* `Provider.secret_headers` names the headers that carry the key (``Authorization`` by default,
  ``x-goog-api-key`` for Gemini); `auth_headers` builds them.
* `Provider.key_allowed_for` is the only judge of where they may go: a URL whose scheme, host
  and port are those of the configured ``base_url`` (or of `extra_key_scopes`) and whose path,
  *after* httpx has resolved ``.``/``..`` and after percent-decoding, lies below the base path.
  Paths hiding separators or dot segments behind percent-encoding (``%2e%2e``, ``%2f``, ``%5c``,
  double encoding) are outside.
* `Provider.request` refuses to build a keyed request outside that scope; `download_request`
  (absolute result URLs) attaches the key only inside it.
* `Provider.guard` strips the secret headers from any request outside the scope. The engine
  installs it as the HTTP client's request hook, which httpx runs for every redirect hop, so a
  302 to another origin (or out of the base path) never carries the key.
* Ids go into a path only through `segment` / `segments`: one path segment each, never ``.``
  or ``..``, no ``/`` or backslash, percent-encoded.
"""

from __future__ import annotations

import functools
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Mapping, Optional
from urllib.parse import quote, unquote

import httpx

from .._exceptions import ModelUnavailable, ProviderError, ValidationError, provider_error_for_status
from .._types import Billed, JobState
from ..catalog import Plan, ProviderInfo

__all__ = ["CancelSupport", "ListedModel", "Provider", "Variant", "as_float", "as_int", "header_float", "check_segment"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|00)", re.IGNORECASE)
_SEGMENT_BAD = re.compile(r"[/\\\x00-\x1f\x7f]")


def check_segment(value: Any, field: str = "id") -> str:
    """``value`` as one URL path segment, or `ValidationError` naming ``field``.

    Allowed: a non-empty string (at most 512 characters) that is not ``.`` or ``..`` and holds no
    ``/``, ``\\`` or control character; the result is percent-encoded (``~-._`` kept)."""
    if not isinstance(value, str) or not value or len(value) > 512 or value in (".", "..") \
            or _SEGMENT_BAD.search(value) or unquote(value) in (".", "..") \
            or _SEGMENT_BAD.search(unquote(value)):
        raise ValidationError(field, value, "an id of 1-512 characters without '/', '\\', control "
                                            "characters, and not '.' or '..'",
                              "it is put into a URL path as one segment")
    return quote(value, safe="-._~")


def _normalised(url: Any) -> Optional[tuple[str, str, int, str]]:
    """(scheme, host, port, decoded path) of the URL httpx would send, or None when the path hides
    separators or dot segments behind percent-encoding (or is not a usable http(s) URL)."""
    if isinstance(url, httpx.URL):  # already parsed (a request's URL): not parsed again
        return _normalised_url(url)
    try:
        return _normalised_text(str(url))
    except (httpx.InvalidURL, TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=2048)
def _normalised_text(url: str) -> Optional[tuple[str, str, int, str]]:
    # A pure function of the text, memoised: the base URL is checked against on every request,
    # and parsing URLs with httpx was a tenth of the client's CPU per job (bench/cpu.py).
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    return _normalised_url(u)


def _normalised_url(u: httpx.URL) -> Optional[tuple[str, str, int, str]]:
    scheme = u.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not u.host:
        return None
    raw = u.raw_path.split(b"?", 1)[0].decode("ascii", "replace")   # dot segments already resolved
    if _ENCODED_SEPARATOR.search(raw):
        return None
    path = unquote(raw)
    if unquote(path) != path or "\\" in path:                        # double encoding, backslashes
        return None
    if any(seg in (".", "..") for seg in path.split("/")):
        return None
    return scheme, u.host.lower(), u.port or _DEFAULT_PORTS[scheme], path

Variant = str
"""Content variant: ``"video"``, ``"thumbnail"`` or ``"spritesheet"`` (what the provider offers)."""


@dataclass(frozen=True)
class ListedModel:
    """One model a provider's listing endpoint names: its id there and whether it makes video."""

    id: str
    video: bool


@dataclass(frozen=True)
class CancelSupport:
    """How (and whether) a provider can stop a job it accepted, and what that costs.

    The engine reads it to decide what to send; the card and ``job.cancel()``'s result quote
    ``note`` and ``source`` to the user, so both must be facts with where they come from.
    """

    how: Literal["cancel", "delete", "none"]
    """``cancel`` (the provider stops the job), ``delete`` (it deletes the job / video), ``none``."""
    billed: Billed
    """Whether a job stopped this way is charged: ``no``, ``yes`` or ``unconfirmed``."""
    note: str
    """One sentence a user reads: what the call does, or why nothing can be sent."""
    source: str
    """Where the facts come from (SDK file, spec, doc page)."""


NO_CANCEL_SOURCE = "PROTOCOLS.md and the provider's official SDK define no call that stops a job"


def header_float(response: httpx.Response, name: str, scale: float = 1.0) -> Optional[float]:
    """A numeric response header (scaled), or None when absent or malformed."""
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return float(value) * scale
    except ValueError:
        return None


def as_int(value: Any) -> Optional[int]:
    """An int from a JSON value (``8``, ``"8"``, ``"8.0"``, ``"40%"``), or None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip().rstrip("%")
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return None


def as_float(value: Any) -> Optional[float]:
    """A float from a JSON value, or None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Provider(ABC):
    """Base class of one wire protocol. Subclasses are stateless apart from their configuration.

    Args:
        info: the provider's catalog entry (name, protocol, default base URL, key variables).
        base_url: where to send requests (the real service, a relay, or the emulator's prefix).
        api_key: the secret; kept only in request headers, never in repr, errors or the ledger.
    """

    protocol: ClassVar[str]
    create_is_idempotent: ClassVar[bool] = False
    """True when re-sending a create cannot make a second job (Runware: the client picks taskUUID)."""
    supports_reconcile: ClassVar[bool] = False
    """True when `build_list` can find a job whose create outcome is unknown."""
    variants: ClassVar[tuple[str, ...]] = ("video",)
    secret_headers: ClassVar[tuple[str, ...]] = ("authorization",)
    """Headers (lower case) that carry the key; `guard` strips them wherever the key may not go."""

    def __init__(self, info: ProviderInfo, *, base_url: str | None = None, api_key: str | None = None,
                 **options: Any):
        self.info = info
        self.name = info.name
        self.base_url = (base_url or info.base_url).rstrip("/")
        self._api_key = api_key
        self.options = options

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"<{type(self).__name__} {self.name} base_url={self.base_url!r} key={key}>"

    @classmethod
    def emulator_options(cls, base_url: str) -> dict[str, Any]:
        """Options this protocol needs when emulated at ``base_url`` (defaults under the user's own):
        where the emulator stands in for a service beside the API (vertex: Cloud Storage)."""
        return {}

    def wants_source_file(self, plan: Plan) -> bool:
        """True when `build_create` sends the source video's bytes (``plan.source_video``), which
        the engine then reads from the source job's cached file; False: an id is enough."""
        return False

    # -- helpers for subclasses -------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def auth_headers(self) -> dict[str, str]:
        """``Authorization: Bearer`` by default; Gemini overrides (``x-goog-api-key``)."""
        return {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}

    @staticmethod
    def segment(value: Any, field: str = "id") -> str:
        """An id as one percent-encoded path segment (`check_segment`)."""
        return check_segment(value, field)

    @staticmethod
    def segments(value: Any, field: str = "id") -> str:
        """A slash-separated resource name (``models/x/operations/y``): every part one segment."""
        if not isinstance(value, str) or not value.strip("/"):
            return check_segment(value, field)
        return "/".join(check_segment(part, field) for part in value.strip("/").split("/"))

    # -- where the key may go -----------------------------------------------------------------
    def extra_key_scopes(self) -> tuple[str, ...]:
        """URL prefixes besides ``base_url`` that may receive the key (Gemini: its API host)."""
        return ()

    def key_allowed_for(self, url: Any) -> bool:
        """True when ``url``, normalised as it will be sent, lies inside the key's scope: same
        scheme, host and port as ``base_url`` (or an `extra_key_scopes` prefix) and a path at or
        below that prefix's path."""
        target = _normalised(url)
        if target is None:
            return False
        for scope in (self.base_url, *self.extra_key_scopes()):
            base = _normalised(scope)
            if base is None or base[:3] != target[:3]:
                continue
            prefix = base[3].rstrip("/")
            if not prefix or target[3] == prefix or target[3].startswith(prefix + "/"):
                return True
        return False

    def guard(self, request: httpx.Request) -> None:
        """Strip the secret headers from ``request`` when its URL is outside the key's scope.

        Installed as the HTTP client's request hook: httpx calls it for the first request and for
        every redirect hop (httpx itself drops only ``Authorization``, and only across hosts)."""
        names = {*self.secret_headers, *(h.lower() for h in self.auth_headers())}
        secret = [h for h in request.headers if h.lower() in names]
        if secret and not self.key_allowed_for(request.url):
            for h in secret:
                del request.headers[h]

    def request(self, method: str, path: str, *, json_body: Any = None,
                params: Mapping[str, Any] | None = None, **kwargs: Any) -> httpx.Request:
        """A keyed request to ``path`` below ``base_url`` (or an absolute URL inside the key's
        scope); raises `ValidationError` rather than build one that would leave it."""
        headers = {**self.auth_headers(), **kwargs.pop("headers", {})}
        if json_body is not None:
            kwargs["content"] = json.dumps(json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        url = path if path.startswith(("http://", "https://")) else self.url(path)
        try:
            request = httpx.Request(method, url, params=params, headers=headers, **kwargs)
        except httpx.InvalidURL:
            request = None
        if request is None or not self.key_allowed_for(request.url):  # the URL as it will be sent
            raise ValidationError("url", url, f"a URL below {self.base_url}",
                                  f"{self.name}: the request would leave the provider's base URL")
        return request

    def download_request(self, url: str, params: Mapping[str, Any] | None = None) -> httpx.Request:
        """GET a result URL (absolute, or relative to ``base_url``); the key goes along only when
        the URL is inside the key's scope (a CDN or storage host gets no key)."""
        try:
            full = httpx.URL(self.base_url + "/").join(url) if not url.startswith(("http://", "https://")) \
                else httpx.URL(url)
        except (httpx.InvalidURL, TypeError, AttributeError):
            raise ValidationError("video_url", url, "an http(s) URL", f"{self.name} returned an unusable result URL") \
                from None
        headers = self.auth_headers() if self.key_allowed_for(full) else {}
        return httpx.Request("GET", full, params=params, headers=headers)

    def model_gone(self, status_code: int, code: Optional[str], message: str) -> bool:
        """Whether an error answer means "this model is no longer served" (→ `ModelUnavailable`).

        OpenAI (and Runcrate, OpenAI-style errors) answer code ``model_not_found``; Google answers 404
        "models/... is no longer available" (Gemini deprecations page; relays quote it). Subclasses
        add their own codes.
        """
        text = (message or "").lower()
        return code == "model_not_found" or (status_code == 404 and "no longer available" in text)

    def error(self, response: httpx.Response, message: str, code: str | None = None,
              param: str | None = None) -> ProviderError:
        """A `ProviderError` of the right class for this response (never includes the key)."""
        cls = provider_error_for_status(response.status_code, code)
        if self.model_gone(response.status_code, code, message):
            cls = ModelUnavailable
        retry_after = header_float(response, "retry-after-ms", 0.001) or header_float(response, "retry-after")
        return cls(
            message, provider=self.name, status_code=response.status_code, code=code,
            request_id=response.headers.get("x-request-id"), retry_after=retry_after, param=param,
        )

    def json_object(self, response: httpx.Response) -> dict:
        """The response body as a JSON object; a clear `ProviderError` when it is anything else."""
        try:
            body = response.json()
        except ValueError:
            raise self.error(response, "the response is not JSON", "invalid_response") from None
        if not isinstance(body, dict):
            raise self.error(response, "the response is not a JSON object", "invalid_response")
        return body

    def raise_for_error(self, response: httpx.Response) -> None:
        """Raise the `ProviderError` for a non-2xx response; return quietly otherwise.

        Subclasses override `error_details` to read their error envelope.
        """
        if response.is_success:
            return
        try:
            body = response.json()
        except ValueError:
            body = None
        message, code, param = self.error_details(body, response)
        raise self.error(response, message, code, param)

    def error_details(self, body: Any, response: httpx.Response) -> tuple[str, Optional[str], Optional[str]]:
        """(message, code, param) from an error body; the default reads OpenAI's ``{"error": {...}}``."""
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            e = body["error"]
            return str(e.get("message") or response.reason_phrase), e.get("code") or e.get("type"), e.get("param")
        text = response.text[:300] if response.content else response.reason_phrase
        return text or f"HTTP {response.status_code}", None, None

    # -- the protocol ----------------------------------------------------------------------
    @abstractmethod
    def build_create(self, plan: Plan, client_ref: str) -> httpx.Request:
        """The request that starts the job(s) for `plan`.

        ``client_ref`` is a UUID the engine chose and recorded in the ledger before sending;
        protocols that let the client name the job (Runware ``taskUUID``) use it.
        """

    @abstractmethod
    def parse_create(self, plan: Plan, response: httpx.Response, client_ref: str) -> list[JobState]:
        """The job(s) the create response acknowledges (raises `ProviderError` on an error answer)."""

    @abstractmethod
    def build_poll(self, provider_job_id: str) -> httpx.Request:
        """The request that reads a job's status."""

    @abstractmethod
    def parse_poll(self, provider_job_id: str, response: httpx.Response) -> list[JobState]:
        """The job's state(s); several when one request produced several videos."""

    @abstractmethod
    def build_download(self, state: JobState, variant: Variant = "video") -> httpx.Request:
        """The request that fetches a finished job's file (``variant`` among `variants`)."""

    def inline_media(self, state: JobState) -> bool:
        """True when `build_download` fetches a JSON document holding the file inline (base64)
        rather than the file itself; the engine then stores `decode_media`'s bytes."""
        return False

    def decode_media(self, state: JobState, response: httpx.Response) -> bytes:
        """The file's bytes from the document `build_download` fetched (see `inline_media`)."""
        raise NotImplementedError(f"{self.name} serves files, not inline media")

    def build_list(self, after: str | None = None, limit: int = 100) -> httpx.Request:
        """A request listing recent jobs (to reconcile a create whose outcome is unknown)."""
        raise NotImplementedError(f"{self.name} cannot list jobs")

    def parse_list(self, response: httpx.Response) -> tuple[list[JobState], Optional[str]]:
        """(jobs, cursor for the next page or None)."""
        raise NotImplementedError(f"{self.name} cannot list jobs")

    def matches(self, plan: Plan, state: JobState, created_after: float) -> bool:
        """Whether a listed job is the one `plan` created (used in reconciliation)."""
        return False

    # -- model listing (drift detection: `sorakit models --check`) -----------------------------
    lists_models: ClassVar[bool] = False
    """True when `build_models` / `parse_models` can ask the service which models it serves now."""

    def build_models(self, page: Any = None) -> httpx.Request:
        """The request for one page of the service's model listing (``page`` from `parse_models`)."""
        raise NotImplementedError(f"{self.name} has no model listing")

    def parse_models(self, response: httpx.Response) -> tuple[list[ListedModel], Any]:
        """(models on this page, the next page's token or None)."""
        raise NotImplementedError(f"{self.name} has no model listing")

    # -- stopping a job (job.cancel()) ---------------------------------------------------------
    cancel: ClassVar[CancelSupport] = CancelSupport(
        "none", "unconfirmed", "this provider documents no way to stop a job once it is sent",
        NO_CANCEL_SOURCE)
    """What this protocol can do to stop a job; subclasses with a call override it."""

    def cancel_support(self, provider_job_id: str) -> CancelSupport:
        """How the job named ``provider_job_id`` can be stopped (a protocol with two job kinds,
        e.g. Gemini operations and interactions, answers per job)."""
        return self.cancel

    def build_cancel(self, provider_job_id: str) -> httpx.Request:
        """The request that stops (or deletes) a running job; only when `cancel_support` says so."""
        raise NotImplementedError(f"{self.name} cannot stop a job")

    def parse_cancel(self, provider_job_id: str, response: httpx.Response) -> Optional[JobState]:
        """The job's state after a successful stop (None when the answer carries none); raises the
        `ProviderError` of a refusal (e.g. the job already finished)."""
        self.raise_for_error(response)
        return None
