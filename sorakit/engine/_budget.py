"""The spending cap of a `Studio` session (and of one batch call).

Committed spend counts every job submitted in this session that has not failed: its billed cost
when the provider reported one, else its estimate. A failed job counts what the provider billed
for it (usually 0). A submit whose estimate would cross the cap raises `BudgetExceeded` before any
network call, saying by how much. Under a cap, a request with no known price is refused
(`UnknownCost`) unless ``allow_unknown_cost=True``: an unknown price must never count as 0.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterable, Optional

from .._exceptions import BudgetExceeded, UnknownCost

__all__ = ["Budget", "BudgetStatus", "UnknownCost"]


@dataclass(frozen=True)
class BudgetStatus:
    """``cap`` (None = no cap), ``spent`` (committed this session), ``remaining``."""

    cap: Optional[float]
    spent: float
    remaining: Optional[float]

    def __repr__(self) -> str:
        cap = "none" if self.cap is None else f"${self.cap:.2f}"
        rem = "" if self.remaining is None else f", remaining ${self.remaining:.2f}"
        return f"Budget(cap {cap}, spent ${self.spent:.2f}{rem})"


class Budget:
    """Thread-safe session spend; `reserve` checks and commits atomically."""

    def __init__(self, cap: Optional[float] = None):
        from ._validate import number

        number("budget", cap, strict=False, what="None or a finite number of USD >= 0")  # NaN would turn the cap off
        self.cap = None if cap is None else float(cap)
        self._lock = threading.Lock()
        self._amounts: dict[str, float] = {}
        """Jobs still running: their committed estimate."""
        self._settled = 0.0
        """What ended jobs committed (folded into one number so a long session stays small)."""

    @property
    def spent(self) -> float:
        with self._lock:
            return round(self._settled + sum(self._amounts.values()), 6)

    def status(self) -> BudgetStatus:
        spent = self.spent
        return BudgetStatus(self.cap, spent, None if self.cap is None else round(self.cap - spent, 6))

    def check(self, estimates: Iterable[Optional[float]], *, batch_cap: Optional[float] = None,
              allow_unknown_cost: bool = False, what: str = "") -> float:
        """The total of ``estimates``; raises when it would cross the studio or batch cap."""
        with self._lock:
            return self._within_caps(list(estimates), batch_cap, allow_unknown_cost, what)

    def reserve(self, amounts: dict[str, Optional[float]], *, batch_cap: Optional[float] = None,
                allow_unknown_cost: bool = False, what: str = "") -> None:
        """Check and commit ``{job_id: estimate}`` in one step (no other submit can slip between)."""
        with self._lock:
            self._within_caps(list(amounts.values()), batch_cap, allow_unknown_cost, what)
            for job_id, amount in amounts.items():
                self._amounts[job_id] = amount or 0.0

    def _within_caps(self, estimates: list[Optional[float]], batch_cap: Optional[float],
                     allow_unknown_cost: bool, what: str) -> float:
        """The total of ``estimates``, or `UnknownCost` / `BudgetExceeded` naming the cap (batch
        first, then studio) it would cross. The caller holds ``self._lock``."""
        spent = round(self._settled + sum(self._amounts.values()), 6)
        unknown = sum(1 for e in estimates if e is None)
        total = round(sum(e for e in estimates if e is not None), 6)
        for cap, scope, base in ((batch_cap, "batch", 0.0), (self.cap, "studio", spent)):
            if cap is None:
                continue
            if unknown and not allow_unknown_cost:
                raise UnknownCost(cap, base, unknown, what or "unknown price", scope)
            if base + total > cap + 1e-9:
                raise BudgetExceeded(cap, base, total, scope)
        return total

    def settle(self, job_id: str, status: str, billed: Optional[float]) -> None:
        """Fix a job's committed amount when it ends: billed when known, 0 when it failed.

        The job is then folded into the settled total (a later settle of the same job, e.g. after
        ``retry_download``, changes nothing: it was counted once, at what it cost)."""
        with self._lock:
            if job_id not in self._amounts:
                return
            amount = self._amounts.pop(job_id)
            if billed is not None:
                amount = float(billed)
            elif status == "failed" or status == "cancelled":
                amount = 0.0
            self._settled += amount

    def release(self, job_ids: Iterable[str]) -> None:
        """Forget reservations (the submit did not happen after all)."""
        with self._lock:
            for j in job_ids:
                self._amounts.pop(j, None)

    def __repr__(self) -> str:
        return repr(self.status())
