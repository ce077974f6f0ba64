"""Human judgements read back as answers (part of `Studio`): blind votes, the ranking they imply,
and the value report (cost per usable second). The statistics live in `_arena` and `_value`."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import pandas as pd

from .._exceptions import ValidationError
from ._arena import fit_ranking
from ._value import plot_value, value_report

__all__ = ["Judgements"]


def _job_id(job: Any, field: str) -> str:
    job_id = getattr(job, "job_id", job)
    if not isinstance(job_id, str) or not job_id:
        raise ValidationError(field, job, "a Job or a job id from the ledger")
    return job_id


class Judgements:
    """Votes, ranking and value report of the `Studio` (uses ``self.ledger``)."""

    ledger: Any

    def vote(self, a: Any, b: Any, outcome: str) -> str:
        """Record a blind vote between two jobs (`Job` or job id): ``outcome`` is ``"left"`` (``a``
        is better), ``"right"`` (``b`` is), ``"tie"`` or ``"both_bad"``. Who voted is the ledger's
        current user (``$SORAKIT_USER``, else the OS user); the prompt is ``a``'s. Returns the vote id."""
        left, right = _job_id(a, "a"), _job_id(b, "b")
        row = self.ledger.get(left)
        return self.ledger.vote(left, right, outcome, prompt=row.get("prompt"))

    def delete_vote(self, vote_id: str) -> None:
        """Take back a vote (its id, as `vote` returned it): gone from the ledger and the ranking."""
        self.ledger.delete_vote(vote_id)

    def votes(self, **filters: Any) -> pd.DataFrame:
        """Every blind vote as a DataFrame (vote_id, created_at, user, left_job_id, right_job_id,
        outcome, prompt); ``since=`` / ``user=`` filter."""
        return self.ledger.votes(**filters)

    def ranking(self, by: Optional[str] = None, *, key: str = "model", n_boot: int = 500,
                level: float = 0.95, seed: Optional[int] = 0, prior: float = 1.0) -> pd.DataFrame:
        """Models ranked by a Bradley–Terry fit of the blind votes (evalica), with bootstrap
        intervals: score (centred log-strength), low, high, p_beat_average, votes, wins, losses,
        ties, rank. ``by="tag"``, ``"prompt"`` or a ledger column ranks within each group.
        ``prior``: one virtual tie of this weight between every two models (see `_arena`).
        Needs ``pip install 'sorakit[arena]'``."""
        return fit_ranking(self.ledger.votes(), self.ledger.df, by=by, key=key, n_boot=n_boot,
                           level=level, seed=seed, prior=prior)

    def value_report(self, usable: Any = None, *, key: str = "model", n_boot: int = 1000,
                     level: float = 0.95, seed: Optional[int] = 0, include_emulated: bool = True,
                     **filters: Any) -> pd.DataFrame:
        """Which model is worth it: per model, clips, usable share, cost (billed, else estimated)
        and dollars per usable second with a bootstrap interval, cheapest first.

        ``usable`` is the rule: an int (rating ≥ it; the default is 4), or a dict / `UsableRule`
        of ``rating``, ``preferred`` (arena-preferred) and ``defect_free`` (no automatic check
        flagged it, when the ledger has check columns). ``df.attrs["separation"]`` says how many
        more clips (≈ dollars) would separate the top two at ``level``; ``plot_value(df)`` draws it.
        Other keyword arguments filter the ledger like ``ledger.query`` (tag=, since=, ...)."""
        jobs = self.ledger.query(**filters) if filters else self.ledger.df
        return value_report(jobs, self.ledger.votes(), usable, key=key, n_boot=n_boot, level=level,
                            seed=seed, include_emulated=include_emulated)

    def plot_value(self, report: Optional[pd.DataFrame] = None, ax: Any = None, **kwargs: Any):
        """The value report as a chart (matplotlib): dollars per usable second per model with its
        interval, cheapest on top."""
        return plot_value(self.value_report(**kwargs) if report is None else report, ax=ax)
