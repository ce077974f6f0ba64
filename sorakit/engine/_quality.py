"""What a Studio adds for clip quality: ``studio.check()``, ``studio.scorers``, ``studio.determinism()``
and ``studio.duplicates()`` (a mixin of `Studio`; the background worker is `_clipchecks`)."""

from __future__ import annotations

import itertools
from typing import Any, Iterable, Optional, Sequence, Union

from . import _validate as checks
from ._clipchecks import CHECK_COLUMNS, ClipChecker, Scorers

__all__ = ["QualityChecks"]

SAME_REQUEST = ("model", "provider", "action", "prompt", "negative_prompt", "seed", "size", "seconds", "fps",
                "input_image_sha256", "source_video_id")
"""Two completed jobs are "the same request with the same seed" when these agree (seed given)."""


def _ids(jobs: Any) -> Optional[list[str]]:
    if jobs is None:
        return None
    if isinstance(jobs, str) or hasattr(jobs, "id") and not hasattr(jobs, "ids"):
        jobs = [jobs]
    elif hasattr(jobs, "ids"):
        return list(jobs.ids)
    elif hasattr(jobs, "columns") and "job_id" in getattr(jobs, "columns", ()):
        return [str(j) for j in jobs["job_id"]]
    out = []
    for j in jobs:
        jid = getattr(j, "id", j)
        if not isinstance(jid, str):
            raise checks.ValidationError("jobs", j, "None, a Job, a Batch, a job id, a DataFrame with job_id, or a list of them")
        out.append(jid)
    return out


def scores_frame(column: Any):
    """A ``scores`` column (JSON text or dicts) flattened to ``score.<name>`` columns, same index."""
    import json

    import pandas as pd

    def parse(v: Any) -> dict:
        if isinstance(v, dict):
            return v
        if isinstance(v, str) and v:
            try:
                d = json.loads(v)
                return d if isinstance(d, dict) else {}
            except ValueError:
                return {}
        return {}

    parsed = [parse(v) for v in column]
    flat = pd.json_normalize(parsed) if any(parsed) else pd.DataFrame(index=range(len(parsed)))
    flat.columns = [f"score.{c}" for c in flat.columns]
    flat.index = column.index
    return flat


class QualityChecks:
    """Mixin: needs ``self.ledger``, ``self._checker`` (a `ClipChecker`) and ``self.scorers``."""

    ledger: Any
    _checker: Optional[ClipChecker]
    scorers: Scorers

    def check(self, jobs: Any = None, *, rerun: bool = False, scorers: Union[None, bool, Sequence[str]] = None,
              wait: bool = True, timeout: Optional[float] = None):
        """Check finished jobs' videos now (new jobs are checked in the background anyway).

        Args:
            jobs: a Job, a Batch, job ids, a DataFrame with ``job_id``; None = every completed job
                in the ledger that was not checked yet (all of them with ``rerun=True``).
            rerun: measure again even where the row has results (a file already measured is still
                read from the sha256 cache: free).
            scorers: which of ``studio.scorers`` to run: None = the ones a row has no result of
                yet (all with ``rerun``), True = all, a list of names = those again.
            wait: wait for the results (else they are queued and land in the ledger later).

        Returns the jobs' check columns (``job_id``, ``check_*``, ``scores``) as a DataFrame when
        ``wait``, else None. A scorer that raises is recorded in ``scores["errors"]``, never raised.
        """
        import pandas as pd

        checks.flag("rerun", rerun)
        checks.flag("wait", wait)
        if scorers is not None and not isinstance(scorers, bool):
            if isinstance(scorers, str):
                scorers = [scorers]
            for name in scorers:
                if name not in self.scorers:
                    raise checks.ValidationError("scorers", name, self.scorers.names or "a registered scorer (none are)")
        ids = _ids(jobs)
        if ids is None:
            rows = self.ledger.rows(status="completed")
            if not rerun and scorers is None:
                want = set(self.scorers.names)
                rows = [r for r in rows if r.get("check_defects") is None or
                        want - set((r.get("scores") or {}).keys()) - set(((r.get("scores") or {}).get("errors") or {}))]
            ids = [r["job_id"] for r in rows]
        checker = self._checker
        if checker is None:
            raise checks.ValidationError("clip_checks", False, "a Studio opened with clip_checks=True",
                                         message="this Studio was opened with clip_checks off "
                                                 "(clip_checks=False, or SORAKIT_CLIP_CHECKS=0 without clip_checks=)")
        futures = [checker.submit(j, rerun=rerun, scorers=scorers) for j in ids]
        if not wait:
            return None
        for f in futures:
            try:
                f.result(timeout=timeout)
            except Exception:  # logged by the worker; the row shows what is known
                pass
        if not ids:
            return pd.DataFrame(columns=["job_id", *CHECK_COLUMNS])
        df = self.ledger.df
        df = df[df["job_id"].isin(ids)][["job_id", "model", "provider", *CHECK_COLUMNS]].reset_index(drop=True)
        return df.join(scores_frame(df["scores"]))

    def scores(self, df: Any = None):
        """Your scorers' numbers as columns: ``job_id`` and ``score.<name>`` (``score.<name>.<key>``
        for a scorer returning a dict; ``score.errors.<name>`` for failures), from ``df`` or the
        ledger. The ledger keeps them as JSON in ``scores`` (SQLite: ``json_extract(scores, '$.name')``)."""
        frame = self.ledger.df if df is None else df
        out = scores_frame(frame["scores"])
        out.insert(0, "job_id", frame["job_id"].to_numpy())
        return out

    def determinism(self, *, max_distance: int = 0, df: Any = None):
        """Seed determinism per model: among completed, checked jobs that repeat the same request
        with the same seed (model, provider, prompt, seed, size, seconds ... equal), the share of
        pairs whose perceptual hashes match (differ in at most ``max_distance`` bits).

        Returns a DataFrame: ``model``, ``provider``, ``requests`` (repeated requests), ``pairs``,
        ``matching``, ``seed_determinism`` (matching / pairs), ``median_distance`` (bits).
        """
        import numpy as np
        import pandas as pd

        from ..media._checks import hash_distance

        if isinstance(max_distance, bool) or not isinstance(max_distance, int) or not 0 <= max_distance <= 64:
            raise checks.ValidationError("max_distance", max_distance, "an integer from 0 to 64 (bits)")
        frame = self.ledger.df if df is None else df
        cols = ["model", "provider", "requests", "pairs", "matching", "seed_determinism", "median_distance"]
        ok = frame[(frame["status"] == "completed") & frame["check_phash"].notna() & frame["seed"].notna()]
        if ok.empty:
            return pd.DataFrame(columns=cols)
        key = [c for c in SAME_REQUEST if c in ok.columns]
        keyed = ok[key].astype("string").fillna("\x00")
        out = []
        for (model, provider), part in ok.groupby(["model", "provider"], observed=True):
            requests = pairs = matching = 0
            dists: list[int] = []
            for _, grp in part.groupby([keyed.loc[part.index, c] for c in key], observed=True):
                hashes = list(grp["check_phash"])
                if len(hashes) < 2:
                    continue
                requests += 1
                for a, b in itertools.combinations(hashes, 2):
                    d = hash_distance(a, b)
                    pairs += 1
                    dists.append(d)
                    matching += d <= max_distance
            if pairs:
                out.append(dict(model=model, provider=provider, requests=requests, pairs=pairs, matching=matching,
                                seed_determinism=matching / pairs, median_distance=float(np.median(dists))))
        return pd.DataFrame(out, columns=cols)

    def duplicates(self, jobs: Any = None, *, max_distance: int = 6):
        """Pairs of checked clips whose perceptual hashes differ in at most ``max_distance`` bits
        (near-duplicates: e.g. seeds that gave the same picture), among ``jobs`` (a Batch, ids...;
        None = the whole ledger). Columns: ``job_a``, ``job_b``, ``model``, ``seed_a``, ``seed_b``,
        ``distance``."""
        import pandas as pd

        from ..ledger._rowcodec import seed_used
        from ..media._checks import hash_distance

        frame = self.ledger.df
        ids = _ids(jobs)
        if ids is not None:
            frame = frame[frame["job_id"].isin(ids)]
        frame = frame[frame["check_phash"].notna()]
        rows = []
        recs = frame[["job_id", "model", "seed", "provider_seed", "check_phash"]].to_dict("records")
        for r in recs:
            r["seed"] = seed_used(r)  # the seed that made the picture: the provider's, else the one asked
        for a, b in itertools.combinations(recs, 2):
            d = hash_distance(a["check_phash"], b["check_phash"])
            if d is not None and d <= max_distance:
                rows.append(dict(job_a=a["job_id"], job_b=b["job_id"], model=a["model"] if a["model"] == b["model"]
                                 else f"{a['model']} / {b['model']}", seed_a=a["seed"], seed_b=b["seed"], distance=d))
        return pd.DataFrame(rows, columns=["job_a", "job_b", "model", "seed_a", "seed_b", "distance"])

    # -- wiring (called by Studio) -------------------------------------------------------------------
    def _start_checks(self, enabled: bool, cache_dir: Any, notify: Any, subscribe: Any) -> None:
        self.scorers = Scorers()
        """Your scorers (``studio.scorers.add(name, fn)``): run on every finished job's video."""
        self._checker = ClipChecker(self.ledger, self.scorers, cache_dir=cache_dir, notify=notify) if enabled else None
        if self._checker is not None:
            checker = self._checker

            def on_change(job_id: str, changes: dict) -> None:  # engine thread: only queue
                if changes.get("status") == "completed":
                    checker.submit(job_id)

            subscribe(on_change)

    def _stop_checks(self) -> None:
        if self._checker is not None:
            self._checker.close()

    def _checks_pending(self, job_id: str) -> bool:
        """Whether a check of ``job_id`` is queued or running (cards keep listening until it lands)."""
        c = getattr(self, "_checker", None)
        return c is not None and c.pending(job_id)
