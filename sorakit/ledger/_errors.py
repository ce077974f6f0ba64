"""Errors of the ledger, inside sorakit's one exception tree.

```
SorakitError
├── ValidationError   a field name, value or argument the ledger does not accept (also a ValueError)
└── LedgerError       the ledger cannot be opened or used (bad location, not a ledger, closed)
    └── JobNotFound   no row with that job id (also a KeyError)
```
"""

from __future__ import annotations

from .._exceptions import SorakitError

__all__ = ["LedgerError", "JobNotFound"]


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
