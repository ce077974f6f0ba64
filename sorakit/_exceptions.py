"""Every error sorakit raises, rooted at one class so a notebook can catch them all.

```
SorakitError
├── ValidationError        bad input, caught before any network call (names field, value, allowed;
│                          also a ValueError)
├── ConfigurationError     missing or malformed settings: an absent or ill-formed API key, a bad URL,
│                          a provider this session cannot use
├── CatalogError           a catalog file (models.toml or an overlay) is malformed (also a ValueError)
├── BudgetExceeded         a submit whose estimate would cross the spending cap (nothing was sent)
│   └── UnknownCost            a cap is set and some request has no known price (nothing was sent)
├── LedgerError            the ledger cannot be opened or used (bad location, not a ledger, closed)
│   ├── JobNotFound            no row with that job id (also a KeyError)
│   └── LeaseLost              a fenced write found the job's lease held by someone else: nothing written
├── ProviderError          the service answered with an error (provider, status, code, request id)
│   ├── BadRequestError        400 / 422
│   ├── AuthenticationError    401
│   ├── InsufficientCredits    402
│   ├── PermissionDenied       403
│   ├── NotFoundError          404 (also: expired content)
│   ├── ConflictError          409 (e.g. a reused Runware taskUUID)
│   ├── RateLimitError         429 (retry_after seconds when the server said)
│   ├── ServerError            5xx
│   ├── ModerationError        the provider refused the content (sync 400 or a failed job)
│   └── ModelUnavailable       the provider no longer serves the model (shut down): never retried
├── TransportError         no answer at all: connection refused or reset, timeout
│   └── IncompleteDownload     the connection ended before Content-Length bytes arrived (retried)
├── StoreError             the shared media store (s3://, gs://...) failed: no bucket, access denied,
│                          unreachable, or a fetched file whose sha256 is not its name
├── NotFragmentable        a video the player cannot stream through MSE (not MP4, not H.264/AAC, or
│                          broken): it sends the whole file instead (also a ValueError)
├── JobFailed              a job reached "failed" (carries the ledger job id, code, message)
└── JobTimeout             our wait bound ran out; the job may still be running remotely (resumable)
```
Every class here is exported from `sorakit` (``sorakit.JobNotFound``...); the modules that raise
them (``sorakit.ledger``, ``sorakit.media``, ``sorakit.catalog``) re-export their own. The
emulator's injected network faults are deliberately not in the tree: they stand in for the
operating system's ``ConnectionResetError``.

An API key is never part of any message or repr here: `ProviderError` is built from the
response, never from the request headers.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

__all__ = [
    "SorakitError",
    "ValidationError",
    "ConfigurationError",
    "CatalogError",
    "BudgetExceeded",
    "UnknownCost",
    "LedgerError",
    "JobNotFound",
    "LeaseLost",
    "ProviderError",
    "BadRequestError",
    "AuthenticationError",
    "InsufficientCredits",
    "PermissionDenied",
    "NotFoundError",
    "ConflictError",
    "RateLimitError",
    "ServerError",
    "ModerationError",
    "ModelUnavailable",
    "TransportError",
    "IncompleteDownload",
    "StoreError",
    "NotFragmentable",
    "JobFailed",
    "JobTimeout",
    "provider_error_for_status",
]


class SorakitError(Exception):
    """Root of every error sorakit raises."""


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_text(allowed: Any) -> str:
    if isinstance(allowed, str):
        return allowed
    if isinstance(allowed, Iterable):
        return ", ".join(str(a) for a in allowed)
    return str(allowed)


class ValidationError(SorakitError, ValueError):
    """A request or argument is invalid. Raised before any network call.

    Attributes:
        field: the name of the offending field (``"seconds"``, ``"size"``, ...).
        value: the value that was given.
        allowed: what would have been accepted (a list, a range text, or a sentence).
    """

    def __init__(self, field: str, value: Any, allowed: Any, message: str | None = None):
        self.field = field
        self.value = value
        self.allowed = allowed
        text = f"{field}={_show(value)} is not allowed; allowed: {_allowed_text(allowed)}"
        if message:
            text = f"{message} ({text})"
        super().__init__(text)


class ConfigurationError(SorakitError):
    """A setting is missing or malformed (API key, base URL, ledger location)."""


class BudgetExceeded(SorakitError):
    """The estimate of a submit would cross the spending cap. Nothing was sent.

    Attributes: ``cap``, ``spent`` (already committed), ``estimate`` (this submit), ``over`` (by how much).
    """

    def __init__(self, cap: float, spent: float, estimate: float, scope: str = "studio"):
        self.cap, self.spent, self.estimate, self.scope = cap, spent, estimate, scope
        self.over = round(spent + estimate - cap, 6)
        super().__init__(
            f"{scope} budget of ${cap:.2f} would be exceeded by ${self.over:.2f} "
            f"(already committed ${spent:.2f}, this submit ${estimate:.2f}); nothing was sent"
        )


class UnknownCost(BudgetExceeded):
    """A budget is set but the catalog has no price for some request. Nothing was sent."""

    def __init__(self, cap: float, spent: float, count: int, what: str, scope: str = "studio"):
        self.cap, self.spent, self.estimate, self.scope = cap, spent, float("nan"), scope
        self.over = float("nan")
        self.count = count
        Exception.__init__(
            self,
            f"{scope} budget of ${cap:.2f} is set but {count} request(s) have no known price "
            f"({what}); nothing was sent. Pass allow_unknown_cost=True to send them anyway "
            f"(they count as $0 against the budget until the provider reports a cost).")


class ProviderError(SorakitError):
    """The provider answered with an error.

    Attributes:
        provider: which service (``"openai"``, ``"runware"``, ...).
        status_code: the HTTP status, or None when the error came inside a job.
        code: the provider's own error code (``"moderation_blocked"``, ``"invalid_request_error"``...).
        request_id: the provider's request id (``x-request-id``), for support tickets.
        retry_after: seconds the server asked us to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        param: str | None = None,
    ):
        self.provider = provider
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after
        self.param = param
        self.message = message
        parts = [f"{provider}"]
        if status_code is not None:
            parts.append(f"HTTP {status_code}")
        if code:
            parts.append(code)
        head = " ".join(parts)
        tail = f" (request id {request_id})" if request_id else ""
        super().__init__(f"{head}: {message}{tail}")


class BadRequestError(ProviderError):
    """400 or 422: the provider refused the request's content."""


class AuthenticationError(ProviderError):
    """401: the API key is missing, wrong or revoked."""


class InsufficientCredits(ProviderError):
    """402: the account has no balance left."""


class PermissionDenied(ProviderError):
    """403: the key may not use this model or endpoint."""


class NotFoundError(ProviderError):
    """404: unknown job or video, or content that has expired."""


class ConflictError(ProviderError):
    """409: the resource already exists (a reused Runware taskUUID)."""


class RateLimitError(ProviderError):
    """429: too many requests; ``retry_after`` says how long to wait when the server told us."""


class ServerError(ProviderError):
    """5xx: the provider failed; safe to retry only for idempotent calls."""


class ModerationError(ProviderError):
    """The provider's safety system refused the prompt, the input image or the output."""


class ModelUnavailable(ProviderError):
    """The provider answered that the model is no longer available (shut down or unknown to it).

    The real answers: Google's 404 "... is no longer available", OpenAI ``model_not_found``,
    Runware's unknown-model codes, Runcrate's ``model_not_found``. The job fails, is marked not
    billed and is never retried. The message names the model, the provider, the shut-down date and
    the catalog's suggested replacement when the catalog knows them.

    Attributes (besides `ProviderError`'s): ``model`` (canonical name), ``provider_model`` (the
    provider's id), ``shut_down`` (a date or None), ``replacement`` (a canonical model or None).
    """

    code_name = "model_unavailable"

    def __init__(self, message: str, *, provider: str, model: str | None = None,
                 provider_model: str | None = None, shut_down: Any = None, replacement: str | None = None,
                 **kwargs: Any):
        self.model, self.provider_model = model, provider_model
        self.shut_down, self.replacement = shut_down, replacement
        super().__init__(message, provider=provider, **kwargs)

    def explained(self, model: str, provider_model: str, detail: str, shut_down: Any = None,
                  replacement: str | None = None) -> "ModelUnavailable":
        """A copy whose message says which model is gone, when, and what to use instead."""
        text = f"{model} ({provider_model}) is no longer available at {self.provider}"
        text += f": {detail}" if detail else ""
        text += f". The provider said: {self.message}"
        return ModelUnavailable(text, provider=self.provider, model=model, provider_model=provider_model,
                                shut_down=shut_down, replacement=replacement, status_code=self.status_code,
                                code=self.code, request_id=self.request_id)


class TransportError(SorakitError):
    """No HTTP answer: connection refused or reset, or a timeout. The outcome of a POST is unknown."""


class IncompleteDownload(TransportError):
    """The connection ended before ``Content-Length`` bytes arrived. Safe to retry (a GET)."""

    def __init__(self, url: str, expected: int, received: int):
        self.url, self.expected, self.received = url, expected, received
        super().__init__(f"download of {url} stopped after {received} of {expected} bytes")


class NotFragmentable(SorakitError, ValueError):
    """A video cannot be remuxed into a fragmented MP4 for Media Source Extensions.

    Attributes: ``path``, ``reason`` (why, in words), ``broken`` (True when the file or the remux
    failed, not merely its format: the player then says so under the poster).
    """

    def __init__(self, path: Any, reason: str, *, broken: bool = False):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason
        self.broken = broken


class StoreError(SorakitError):
    """The media store failed: an upload or a read-through fetch (no such bucket, access denied,
    unreachable, a fetched file whose sha256 does not match its content-addressed name).

    Attributes: ``url`` (the store URL or object, never with credentials: such URLs are refused),
    ``action`` (``"upload"`` or ``"fetch"``), ``reason`` (the store's own words).
    """

    def __init__(self, action: str, url: str, reason: str):
        self.action, self.url, self.reason = action, url, reason
        super().__init__(f"media store {action} of {url} failed: {reason}")


class CatalogError(SorakitError, ValueError):
    """A catalog file is malformed. The message names the file, the table and the field.

    Attributes: ``file``, ``table`` (``models."veo-3".offers[runware]``), ``field``.
    """

    def __init__(self, file: str, table: str, field: str | None, problem: str):
        self.file, self.table, self.field, self.problem = file, table, field, problem
        where = f"{file}: [{table}]" + (f" field {field!r}" if field else "")
        super().__init__(f"{where}: {problem}")


class LedgerError(SorakitError):
    """The ledger cannot be opened or used: unreachable database, a table that is not a ledger,
    a closed ledger. Messages show the location with any password masked."""


class JobNotFound(LedgerError, KeyError):
    """No ledger row has this job id. Also a ``KeyError``, so ``except KeyError`` works.

    Attributes:
        job_id: the id that was looked up.
    """

    def __init__(self, job_id: object, location: str | None = None):
        self.job_id = job_id
        where = f" in {location}" if location else ""
        self.message = f"no job {job_id!r}{where}"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would show the repr of the message
        return self.message


class LeaseLost(LedgerError):
    """A fenced update (`Ledger.update_many`) found the job's lease not held by ``owner`` (another
    process took it over, or the job is gone): nothing of that update was written."""

    def __init__(self, job_id: str, owner: str):
        self.job_id, self.owner = job_id, owner
        self.message = f"job {job_id!r}: the lease is not held by {owner!r}; nothing was written"
        super().__init__(self.message)


class JobFailed(SorakitError):
    """A job ended in ``failed``. ``job_id`` is the ledger id; ``code``/``message`` come from the provider."""

    def __init__(self, job_id: str, code: str | None, message: str | None):
        self.job_id, self.code, self.message = job_id, code, message
        super().__init__(f"job {job_id} failed: {code or 'error'}: {message or 'no message'}")


class JobTimeout(SorakitError):
    """The wait bound ran out. The job stays in the ledger as still running; ``resume()`` finishes it."""

    def __init__(self, job_id: str, waited: float):
        self.job_id, self.waited = job_id, waited
        super().__init__(
            f"job {job_id} still running after waiting {waited:.0f}s; it is kept in the ledger "
            f"and studio.resume() will finish it"
        )


_BY_STATUS: dict[int, type[ProviderError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientCredits,
    403: PermissionDenied,
    404: NotFoundError,
    409: ConflictError,
    410: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def provider_error_for_status(status_code: int, code: str | None = None) -> type[ProviderError]:
    """The exception class for an HTTP status (and a provider code that means moderation)."""
    if code and ("moderation" in code or "safety" in code or "content_policy" in code):
        return ModerationError
    if status_code >= 500:
        return ServerError
    return _BY_STATUS.get(status_code, ProviderError)
