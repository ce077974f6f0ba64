"""`Policy`: the engine's timing knobs, in a module of their own.

It sits at the bottom of the engine's imports (it needs only `ValidationError`), so `_validate`
can check a ``policy=`` argument and `_engine` can use it without either importing the other.
Re-exported by `sorakit.engine` (``from sorakit.engine import Policy``) and by `_engine`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._exceptions import ValidationError

__all__ = ["Policy"]


@dataclass
class Policy:
    """Timing knobs of the engine (seconds). Defaults suit real services; tests shrink them."""

    poll_initial: float = 1.0
    """First poll delay when the server gives no hint (the official SDK uses 1 s)."""
    poll_min: float = 0.05
    poll_max: float = 15.0
    """Cap of the exponential poll backoff."""
    poll_factor: float = 1.5
    jitter: float = 0.1
    """± fraction of random jitter on every delay."""
    eta_polling: bool = True
    """Poll again when the reported progress says the job should be done, if that is sooner."""
    retry_initial: float = 0.5
    retry_max: float = 30.0
    request_timeout: float = 60.0
    connect_timeout: float = 10.0
    download_retries: int = 8
    download_concurrency: int = 4
    reconcile_slack: float = 300.0
    """How far before the send time a listed video may have been created (clock skew)."""
    reconcile_grace: float = 10.0
    """How long after a send before "not listed" proves the create never happened."""
    max_resends: int = 3
    """Re-sends of a provably absent create before giving up (row stays ``unknown``)."""
    progress_write_interval: float = 1.0
    """Minimum seconds between progress-only ledger writes of one job."""
    cancel_wait: float = 30.0
    """How long a cancel / delete request is retried (429, 5xx) before the job is left running."""
    lease_seconds: float = 60.0
    """How long a claim on a job lasts without a heartbeat: the longest another process waits to
    take over the jobs of a process that died."""
    lease_heartbeat: float = 15.0
    """How often the leases of the jobs this process drives are extended (well below
    ``lease_seconds``, so a busy or briefly frozen process keeps its jobs)."""
    lease_watch: float = 2.0
    """How often a wait on a job another process drives reads the ledger again."""

    def __post_init__(self) -> None:
        for name in ("lease_seconds", "lease_heartbeat", "lease_watch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValidationError(name, value, "a number of seconds above 0")
        if self.lease_heartbeat >= self.lease_seconds:
            raise ValidationError("lease_heartbeat", self.lease_heartbeat,
                                  f"less than lease_seconds ({self.lease_seconds}): a lease must be "
                                  f"extended before it runs out")
