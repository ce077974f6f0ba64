"""The ledger's errors; they live in sorakit's one exception tree (`sorakit._exceptions`)."""

from __future__ import annotations

from .._exceptions import JobNotFound, LedgerError

__all__ = ["LedgerError", "JobNotFound", "LeaseLost"]


class LeaseLost(LedgerError):
    """A fenced update (`Ledger.update_many`) found the job's lease not held by ``owner`` (another
    process took it over, or the job is gone): nothing of that update was written."""

    def __init__(self, job_id: str, owner: str):
        self.job_id, self.owner = job_id, owner
        self.message = f"job {job_id!r}: the lease is not held by {owner!r}; nothing was written"
        super().__init__(self.message)
