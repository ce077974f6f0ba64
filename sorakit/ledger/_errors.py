"""The ledger's errors; they live in sorakit's one exception tree (`sorakit._exceptions`)."""

from __future__ import annotations

from .._exceptions import JobNotFound, LeaseLost, LedgerError

__all__ = ["LedgerError", "JobNotFound", "LeaseLost"]
