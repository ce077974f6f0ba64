"""Provider-neutral data: what a user asks for (`VideoRequest`) and what a provider reports (`JobState`).

Providers map these to and from their wire formats; the engine and the ledger only ever see these.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Union

__all__ = [
    "Action",
    "Status",
    "TERMINAL",
    "NOT_CANCELLED",
    "VideoRequest",
    "JobState",
    "ImageInput",
    "CancelResult",
    "Billed",
    "SEED_MAX",
]

SEED_MAX = 2**32 - 1
"""The largest seed a request may carry (seeds are 0 – 2**32-1, an unsigned 32-bit integer): the one
bound that the catalog plan, the Studio's argument checks, the form and the emulator all import."""

Action = Literal["generate", "remix", "extend", "edit"]
"""What a job does: make a new video, or remix / extend / edit an earlier one (``source_video_id``)."""

Status = Literal[
    "pending",            # ledger row written, not yet sent
    "submitted",          # the provider acknowledged the create call
    "queued",
    "in_progress",
    "downloading",        # done remotely, fetching the file
    "completed",
    "failed",
    "cancelled",
    "timed_out_waiting",  # our wait bound ran out; still running remotely, resumable
    "unknown",            # the create call's outcome is unknown; must be reconciled before anything else
]
"""Job status as the ledger records it."""

TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""Statuses after which nothing more happens to a job."""

NOT_CANCELLED = "not_cancelled"
"""``error_code`` of a job whose cancel the provider could not carry out: it may still run and bill,
so its row stays open (``timed_out_waiting``) for ``job.wait()`` / ``studio.resume()`` to finish."""

ImageInput = Union[str, Path, bytes]
"""An input image: a file path, raw image bytes, or an ``http(s)://`` / ``data:`` URL."""


@dataclass(frozen=True)
class VideoRequest:
    """One video generation request, independent of any provider.

    Validate it against the catalog with :func:`sorakit.catalog.plan` (the engine does this
    before any network call); every field error names the field, the value and what is allowed.
    """

    prompt: str
    """What the video should show. Length limits depend on the provider (OpenAI 1–32000, Runware 2–6000)."""
    model: Optional[str] = None
    """Canonical model name from the catalog: ``seedance-1-pro``, ``veo-3-fast``, ``kling-3-standard``,
    ...; ``"model@provider"`` names the provider too. None = the catalog's ``default_model``.
    With a provider named, a provider's own model id the catalog does not list is accepted too
    (the open catalog: sent as is, limits unchecked, price unknown)."""
    provider: Optional[str] = None
    """Which service runs it: ``openai``, ``runware``, ``runcrate``, ``relay``, ``gemini``.
    None picks the first provider in the catalog that serves the model."""
    size: Optional[str] = None
    """``"WIDTHxHEIGHT"``, e.g. ``"1280x720"``. None means the model's default at that provider."""
    width: Optional[int] = None
    """Alternative to ``size``: give ``width`` and ``height`` together."""
    height: Optional[int] = None
    """Alternative to ``size``: give ``width`` and ``height`` together."""
    seconds: Optional[Union[int, float, str]] = None
    """Clip length in seconds; must be one the model offers at the provider. None = the default."""
    seed: Optional[int] = None
    """Random seed (0 – `SEED_MAX`, 2**32-1) where the provider accepts one; None lets the provider choose."""
    variations: int = 1
    """How many videos from this request (Runware ``numberResults``, Gemini ``sampleCount``)."""
    negative_prompt: Optional[str] = None
    """What to avoid, where the model supports it."""
    audio: Optional[bool] = None
    """Generate an audio track. None = the model's default at the provider."""
    input_image: Optional[ImageInput] = None
    """First frame for image-to-video."""
    source_video_id: Optional[str] = None
    """Provider video id of an earlier job, for ``remix`` / ``extend`` / ``edit``."""
    action: Action = "generate"
    """``generate`` a new video, or ``remix`` / ``extend`` / ``edit`` ``source_video_id``."""
    tags: tuple[str, ...] = ()
    """Free labels recorded in the ledger."""

    def replace(self, **changes: Any) -> "VideoRequest":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


@dataclass
class JobState:
    """What a provider says about one job at one moment (the result of a submit or a poll).

    Providers build these from responses; the engine writes them to the ledger.
    """

    provider_job_id: str
    """The provider's id for the job: OpenAI video id, Runware taskUUID, Gemini operation name."""
    status: Status
    """Normalised status."""
    progress: Optional[int] = None
    """0–100 when the provider reports it."""
    video_url: Optional[str] = None
    """Where the finished file can be fetched (None where a content endpoint is used instead)."""
    video_url_expires_at: Optional[float] = None
    """Unix seconds after which ``video_url`` / content stops working, when known."""
    provider_video_id: Optional[str] = None
    """An id for the finished video that later calls (remix, extend, download) use, if it differs."""
    seed: Optional[int] = None
    """The seed the provider actually used, when it reports one."""
    billed_cost: Optional[float] = None
    """Cost the provider reported for this job (USD), when it reports one."""
    output_video_tokens: Optional[int] = None
    """Output video tokens the provider reported (Gemini Omni's ``usage``): the engine bills them at
    the catalog's ``usd_per_video_token`` (``billed_cost_source = "usage"``)."""
    error_code: Optional[str] = None
    error_message: Optional[str] = None
    poll_after: Optional[float] = None
    """Seconds the server asked us to wait before the next poll (``openai-poll-after-ms``)."""
    variation_index: Optional[int] = None
    """Which of several results of one request this is (Runware ``numberResults``)."""
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The provider's object as received, for the ledger's ``extra`` column."""

    @property
    def terminal(self) -> bool:
        """True once nothing more will happen remotely."""
        return self.status in TERMINAL


Billed = Literal["no", "yes", "unconfirmed"]
"""Whether a stopped job is charged: ``no`` (never sent, or the provider documents no charge),
``yes`` (documented as charged), ``unconfirmed`` (the provider does not say)."""


@dataclass(frozen=True)
class CancelResult:
    """What ``job.cancel()`` did: whether the provider stopped the job, whether it is billed, and why.

    ``cancelled=False`` means the job may still run (and bill) remotely: sorakit stopped waiting for
    it, but its ledger row stays open so ``job.wait()`` / ``studio.resume()`` still fetch its file
    and record its cost.
    """

    job_id: str
    cancelled: bool
    """True when the job is ``cancelled`` in the ledger (stopped locally or by the provider)."""
    billed: Billed
    """``no``, ``yes`` or ``unconfirmed`` (see `Billed`)."""
    status: str
    """The job's ledger status after the call."""
    reason: str
    """One readable sentence: what was sent (or why nothing could be), with its source."""
    how: Literal["local", "cancel", "delete", "none", "already_done"] = "none"
    """``local`` (never sent: stopped here), ``cancel`` / ``delete`` (the provider's call),
    ``none`` (the provider has no way to stop it), ``already_done`` (it had finished)."""

    def __bool__(self) -> bool:
        return self.cancelled

    def __str__(self) -> str:
        head = "cancelled" if self.cancelled else "not cancelled"
        return f"{self.job_id}: {head} (billed: {self.billed}) — {self.reason}"
