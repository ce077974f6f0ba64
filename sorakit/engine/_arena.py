"""Blind pairwise votes → a Bradley–Terry ranking of models with bootstrap intervals.

The fit is evalica's (``evalica.bradley_terry``, a maintained Rust-backed implementation that takes
ties natively; Ustalov, "Evalica, your favourite evaluation toolkit", PyPI 0.4.2, 2026-04). It was
chosen on measurement against ``choix`` 0.4.1 and ``openskill`` 6.2.0 (issue 24, 2026-12-07, 6 models
with known strengths, 10 % ties): all three recover the true order from 300 votes; at 3,000 votes
openskill's online updates (order-dependent) misplace models (Kendall tau 0.87) while evalica and
choix stay exact (tau 1.00); evalica fits 3,000 votes in 4 ms, keeps ties (choix's pairwise ILSR
drops them). It needs scipy, as choix does, so it is the ``arena`` extra, not a core dependency.
The resampling is ours, not ``evalica.bootstrap``: that one resamples every row it is given, and the
prior's virtual ties (below) must be in every resample.

How a vote counts: ``left``/``right`` is a win for that clip's model, ``tie`` and ``both_bad`` a
draw (neither clip was preferred; ``both_bad`` also marks both clips unusable in the value report).
Two clips of the same model voted against each other say nothing about the model and are skipped.
Scores are centred log-strengths (mean 0 over the models ranked): a model with score ``s`` beats
an average model with probability ``1 / (1 + exp(-s))``. Every fit adds one virtual tie of weight
``prior`` (1 by default) between every two models: without it a model that never lost has no finite
strength and the fit degenerates. Intervals are percentile intervals of the score over ``n_boot``
resamples of the votes (with replacement; the virtual ties are in every resample), each centred the
same way.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._exceptions import ConfigurationError, ValidationError

__all__ = ["fit_ranking", "vote_pairs", "RANKING_COLUMNS"]

RANKING_COLUMNS = ("score", "low", "high", "p_beat_average", "votes", "wins", "losses", "ties", "rank")

_FLOOR = 1e-9  # a model that never won has strength 0; its log is floored, not -inf


def _evalica():
    try:
        import evalica
    except ImportError:
        raise ConfigurationError(
            "studio.ranking() fits Bradley–Terry with evalica, which is not installed: "
            "pip install 'sorakit[arena]'"
        ) from None
    return evalica


def vote_pairs(votes: pd.DataFrame, jobs: pd.DataFrame, key: str = "model") -> pd.DataFrame:
    """One row per usable vote: ``left``/``right`` (the jobs' ``key``, e.g. their model), ``outcome``,
    the two job ids and the prompt. Votes whose jobs left the ledger, or whose two clips share the
    key, are dropped."""
    if key not in jobs.columns:
        raise ValidationError("key", key, "a ledger column such as 'model' or 'provider'")
    label = jobs.set_index("job_id")[key].astype("object")
    out = pd.DataFrame({
        "left_job_id": votes["left_job_id"].astype("object"),
        "right_job_id": votes["right_job_id"].astype("object"),
        "outcome": votes["outcome"].astype("object"),
        "prompt": votes["prompt"].astype("object"),
    })
    out["left"] = out["left_job_id"].map(label)
    out["right"] = out["right_job_id"].map(label)
    keep = out["left"].notna() & out["right"].notna() & (out["left"] != out["right"])
    return out[keep].reset_index(drop=True)


def _group_values(pairs: pd.DataFrame, jobs: pd.DataFrame, by: str) -> pd.Series:
    """Each vote's groups for ``by``: a tag list (the union of both jobs' tags) or one value of the
    left job's column (``prompt``, or any other ledger column)."""
    if by == "tag":
        tags = jobs.set_index("job_id")["tags"].astype("object")

        def both(row):
            found = []
            for job_id in (row["left_job_id"], row["right_job_id"]):
                text = tags.get(job_id)
                if isinstance(text, str) and text:
                    found.extend(t for t in text.split(",") if t and t not in found)
            return found

        return pairs.apply(both, axis=1) if len(pairs) else pd.Series([], dtype=object)
    if by == "prompt":
        return pairs["prompt"].map(lambda p: [p] if isinstance(p, str) else [])
    if by not in jobs.columns:
        raise ValidationError("by", by, "None, 'tag', 'prompt' or a ledger column")
    value = jobs.set_index("job_id")[by].astype("object")
    return pairs["left_job_id"].map(lambda j: [value.get(j)] if pd.notna(value.get(j)) else [])


def _fit_one(pairs: pd.DataFrame, n_boot: int, level: float, seed: int | None, prior: float) -> pd.DataFrame:
    ev = _evalica()
    W = ev.Winner
    code = {"left": W.X, "right": W.Y, "tie": W.Draw, "both_bad": W.Draw}
    xs = pairs["left"].tolist()
    ys = pairs["right"].tolist()
    winners = [code[o] for o in pairs["outcome"]]
    index = pd.Index(sorted(set(xs) | set(ys)))
    # the prior: one virtual tie of weight `prior` between every two models, in every fit and every
    # resample. Without it a model that never lost (or never won) has no finite strength and the
    # fit returns a floor for everyone (measured: evalica gives 1e-6 for all three models of a
    # 6-vote example where one model won every vote)
    px, py = (list(t) for t in zip(*combinations(index, 2))) if len(index) > 1 else ([], [])
    pw = [W.Draw] * len(px)

    def fit(rows: np.ndarray) -> np.ndarray:
        result = ev.bradley_terry([xs[i] for i in rows] + px, [ys[i] for i in rows] + py,
                                  [winners[i] for i in rows] + pw, index=index,
                                  weights=[1.0] * len(rows) + [prior] * len(px))
        return result.scores.reindex(index).to_numpy(dtype=float)

    def centred(strength: np.ndarray) -> np.ndarray:
        logs = np.log(np.maximum(np.asarray(strength, dtype=float), _FLOOR))
        return logs - logs.mean(axis=-1, keepdims=True)

    n = len(xs)
    score = centred(fit(np.arange(n)))
    low = high = np.full(len(index), np.nan)
    if n_boot > 0 and n > 1:
        rng = np.random.default_rng(seed)
        draws = np.vstack([centred(fit(rng.integers(0, n, n))) for _ in range(n_boot)])
        tail = (1 - level) / 2 * 100
        low, high = np.percentile(draws, [tail, 100 - tail], axis=0)
    out = pd.DataFrame({"score": score, "low": low, "high": high}, index=index)
    out["p_beat_average"] = 1 / (1 + np.exp(-out["score"]))
    left_won = pairs["outcome"] == "left"
    right_won = pairs["outcome"] == "right"
    drew = ~(left_won | right_won)
    for name in index:
        is_l, is_r = pairs["left"] == name, pairs["right"] == name
        out.loc[name, "votes"] = int((is_l | is_r).sum())
        out.loc[name, "wins"] = int(((is_l & left_won) | (is_r & right_won)).sum())
        out.loc[name, "losses"] = int(((is_l & right_won) | (is_r & left_won)).sum())
        out.loc[name, "ties"] = int(((is_l | is_r) & drew).sum())
    for name in ("votes", "wins", "losses", "ties"):
        out[name] = out[name].astype("Int64")
    out = out.sort_values("score", ascending=False)
    out["rank"] = pd.array(range(1, len(out) + 1), dtype="Int64")
    return out


def fit_ranking(votes: pd.DataFrame, jobs: pd.DataFrame, *, by: str | None = None, key: str = "model",
                n_boot: int = 500, level: float = 0.95, seed: int | None = 0, prior: float = 1.0) -> pd.DataFrame:
    """The Bradley–Terry ranking of ``key`` (models by default) from blind votes.

    Returns one row per model (index ``key``), best first, with `RANKING_COLUMNS`; with ``by``
    (``"tag"``, ``"prompt"`` or a ledger column such as ``"provider"``) one ranking per group,
    stacked, with the group in a first index level named ``by``. ``prior`` is the weight of one
    virtual tie between every two models (it keeps a model that never lost finite and shrinks
    scores from a handful of votes toward equal; 0 turns it off)."""
    if not isinstance(prior, (int, float)) or isinstance(prior, bool) or prior < 0:
        raise ValidationError("prior", prior, "a weight >= 0 of one virtual tie between every two models")
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValidationError("n_boot", n_boot, "a whole number of resamples >= 0 (0: no intervals)")
    if not (isinstance(level, float) and 0 < level < 1):
        raise ValidationError("level", level, "a confidence level between 0 and 1, e.g. 0.95")
    pairs = vote_pairs(votes, jobs, key)
    empty = pd.DataFrame(columns=list(RANKING_COLUMNS), index=pd.Index([], name=key))
    if by is None:
        if pairs.empty:
            return empty
        out = _fit_one(pairs, n_boot, level, seed, float(prior))
        out.index.name = key
        return out
    groups = _group_values(pairs, jobs, by)
    parts: dict[Any, pd.DataFrame] = {}
    exploded = groups.explode().dropna()
    for value in pd.unique(exploded):
        rows = pairs.loc[exploded.index[exploded == value].unique()]
        if rows.empty:
            continue
        part = _fit_one(rows.reset_index(drop=True), n_boot, level, seed, float(prior))
        part.index.name = key
        parts[value] = part
    if not parts:
        return pd.DataFrame(columns=list(RANKING_COLUMNS),
                            index=pd.MultiIndex.from_arrays([[], []], names=[by, key]))
    return pd.concat(parts, names=[by, key])


def _as_ids(jobs: Sequence[Any]) -> list[str]:
    return [getattr(j, "job_id", j) for j in jobs]
