"""Which model is worth it: share of usable clips and dollars per usable second, per model.

A clip is *usable* by a rule the user sets (`UsableRule`), read from the ledger:

* ``rating``: its rating is at least this (unrated clips are not usable under this rule);
* ``preferred``: in the blind arena its wins outnumber its losses and no ``both_bad`` vote names
  it (clips nobody voted on are not usable under this rule);
* ``defect_free``: no automatic check flagged it: read from the clip checks' ``check_defects``
  column when the ledger has it (any listed defect — mismatch, black, frozen, flicker — excludes
  the clip; a clip not checked yet counts as clean, and ``df.attrs["notes"]`` says how many), and
  from any boolean ``*_flag`` column of your own; ignored, with a note, when there is none.

Rules combine with AND. Cost is ``billed_cost``, else ``estimated_cost`` (``cost_source`` says which
fed each model's figure). Dollars per usable second = total cost / usable seconds (a clip's
delivered ``check_seconds`` when the checks measured it, else the ``seconds`` asked for). Its interval is a bootstrap over clips (``n_boot`` resamples of each model's
clips with replacement, percentile interval). ``clips_to_separate`` is a power calculation on the
usable-share difference between the two cheapest-per-usable-second models: the clips per model a
two-sided two-proportion z-test at ``level`` needs to detect that difference with 80 % power
(normal approximation, Fleiss 1981 §4.2 without continuity correction), minus the clips already
made; ``dollars_to_separate`` prices those extra clips at each model's mean cost per clip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from .._exceptions import ValidationError

__all__ = ["UsableRule", "value_report", "usable_mask", "separation", "VALUE_COLUMNS"]

VALUE_COLUMNS = ("clips", "usable", "usable_share", "seconds", "usable_seconds", "cost", "cost_source",
                 "cost_per_clip", "dollars_per_usable_second", "low", "high")


@dataclass(frozen=True)
class UsableRule:
    rating: int | None = None
    preferred: bool = False
    defect_free: bool = False

    def __post_init__(self):
        if self.rating is not None and (not isinstance(self.rating, int) or isinstance(self.rating, bool)
                                        or not 1 <= self.rating <= 5):
            raise ValidationError("usable.rating", self.rating, "a whole rating from 1 to 5, or None")
        for name in ("preferred", "defect_free"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(f"usable.{name}", getattr(self, name), "True or False")

    def describe(self) -> str:
        parts = []
        if self.rating is not None:
            parts.append(f"rating ≥ {self.rating}")
        if self.preferred:
            parts.append("preferred in the arena")
        if self.defect_free:
            parts.append("no defect flagged")
        return " and ".join(parts) or "every completed clip"


def as_rule(usable: Any) -> UsableRule:
    """``usable`` as a rule: a `UsableRule`, a dict of its fields, or an int (rating ≥ that)."""
    if usable is None:
        return UsableRule(rating=4)
    if isinstance(usable, UsableRule):
        return usable
    if isinstance(usable, int) and not isinstance(usable, bool):
        return UsableRule(rating=usable)
    if isinstance(usable, dict):
        unknown = set(usable) - {"rating", "preferred", "defect_free"}
        if unknown:
            raise ValidationError("usable", sorted(unknown)[0], "keys rating, preferred, defect_free")
        return UsableRule(**usable)
    raise ValidationError("usable", usable, "a rating (int), a dict like {'rating': 4, 'defect_free': True}, "
                          "or a sorakit.UsableRule")


def defect_columns(jobs: pd.DataFrame) -> list[str]:
    """The automatic-check columns that flag a defect, when the ledger has them: ``check_defects``
    (the clip checks' comma-separated list: mismatch, black, frozen, flicker; '' = checked and
    clean; empty = not checked yet) and any boolean column named ``*_flag`` (your own)."""
    found = [n for n in jobs.columns if n == "check_defects"]
    found += [n for n in jobs.columns if n.endswith("_flag") and str(jobs[n].dtype) in ("boolean", "bool")]
    return found


def _defective(jobs: pd.DataFrame, columns: list[str]) -> pd.Series:
    bad = pd.Series(False, index=jobs.index)
    for name in columns:
        col = jobs[name]
        if str(col.dtype) in ("boolean", "bool"):
            bad |= col.fillna(False).astype(bool)
        else:  # "black,frozen": any listed defect; "" (clean) and NA (not checked yet) are not
            text = col.astype("string").fillna("").str.strip()
            bad |= text != ""
    return bad


def usable_mask(jobs: pd.DataFrame, votes: pd.DataFrame, rule: UsableRule) -> tuple[pd.Series, list[str]]:
    """Which ``jobs`` rows are usable under ``rule``, and notes on what the rule could not read."""
    notes: list[str] = []
    ok = pd.Series(True, index=jobs.index)
    if rule.rating is not None:
        ok &= jobs["rating"].astype("Float64").fillna(0) >= rule.rating
    if rule.preferred:
        wins = pd.Series(0, index=jobs["job_id"].astype("object"), dtype=float)
        losses = wins.copy()
        bad = set()
        for left, right, outcome in zip(votes["left_job_id"], votes["right_job_id"], votes["outcome"]):
            if outcome == "left":
                wins[left] = wins.get(left, 0) + 1
                losses[right] = losses.get(right, 0) + 1
            elif outcome == "right":
                wins[right] = wins.get(right, 0) + 1
                losses[left] = losses.get(left, 0) + 1
            elif outcome == "both_bad":
                bad.update((left, right))
        ids = jobs["job_id"].astype("object")
        preferred = (ids.map(wins).fillna(0) > ids.map(losses).fillna(0)) & ~ids.isin(bad)
        ok &= preferred.to_numpy()
    if rule.defect_free:
        columns = defect_columns(jobs)
        if columns:
            ok &= ~_defective(jobs, columns)
            if "check_defects" in columns:
                unchecked = int(jobs["check_defects"].isna().sum())
                if unchecked:
                    notes.append(f"defect_free: {unchecked} clip(s) not checked yet count as defect-free")
        else:
            notes.append("defect_free: the ledger has no check columns yet; no clip was excluded for defects")
    return ok, notes


def _bootstrap_dpus(cost: np.ndarray, usable_seconds: np.ndarray, n_boot: int, level: float,
                    rng: np.random.Generator) -> tuple[float, float]:
    n = len(cost)
    if n < 2 or n_boot <= 0:
        return math.nan, math.nan
    picks = rng.integers(0, n, size=(n_boot, n))
    total_cost = cost[picks].sum(axis=1)
    total_usable = usable_seconds[picks].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total_usable > 0, total_cost / total_usable, np.inf)
    tail = (1 - level) / 2 * 100
    # no interpolation between draws: a resample without a usable clip costs "infinitely" much,
    # and the interval's top is then honestly inf rather than nan
    low, high = np.percentile(ratio, [tail, 100 - tail], method="inverted_cdf")
    return float(low), float(high)


def clips_per_arm(p1: float, p2: float, level: float = 0.95, power: float = 0.8) -> float:
    """Clips per model for a two-sided two-proportion z-test at ``level`` to tell shares ``p1`` and
    ``p2`` apart with ``power`` (normal approximation, no continuity correction); inf if equal."""
    if not (0 <= p1 <= 1 and 0 <= p2 <= 1):
        raise ValidationError("share", (p1, p2), "usable shares between 0 and 1")
    diff = abs(p1 - p2)
    if diff == 0:
        return math.inf
    z_a = NormalDist().inv_cdf(1 - (1 - level) / 2)
    z_b = NormalDist().inv_cdf(power)
    mean = (p1 + p2) / 2
    n = (z_a * math.sqrt(2 * mean * (1 - mean)) + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / diff**2
    return math.ceil(n)


def separation(report: pd.DataFrame, level: float = 0.95, power: float = 0.8) -> dict[str, Any]:
    """How many more clips (and dollars) would separate the two best models of ``report`` at ``level``."""
    ranked = report[report["clips"] > 0].sort_values("dollars_per_usable_second")
    if len(ranked) < 2:
        return {}
    a, b = ranked.index[0], ranked.index[1]
    pa, pb = float(ranked.loc[a, "usable_share"]), float(ranked.loc[b, "usable_share"])
    n = clips_per_arm(pa, pb, level, power)
    more_a = max(0, n - int(ranked.loc[a, "clips"])) if math.isfinite(n) else math.inf
    more_b = max(0, n - int(ranked.loc[b, "clips"])) if math.isfinite(n) else math.inf
    dollars = (more_a * float(ranked.loc[a, "cost_per_clip"]) + more_b * float(ranked.loc[b, "cost_per_clip"])
               if math.isfinite(n) else math.inf)
    return {"best": a, "runner_up": b, "share_best": pa, "share_runner_up": pb, "clips_per_model": n,
            "more_clips_best": more_a, "more_clips_runner_up": more_b, "more_dollars": dollars,
            "level": level, "power": power, "method": "two-proportion z-test power calculation"}


def value_report(jobs: pd.DataFrame, votes: pd.DataFrame, usable: Any = None, *, key: str = "model",
                 n_boot: int = 1000, level: float = 0.95, seed: int | None = 0,
                 include_emulated: bool = True) -> pd.DataFrame:
    """One row per ``key`` (model): clips, usable share, cost and dollars per usable second with a
    bootstrap interval, cheapest per usable second first. ``df.attrs`` carries the rule, the notes
    and ``separation`` (how many more clips would separate the top two; see module doc)."""
    rule = as_rule(usable)
    if not isinstance(n_boot, int) or isinstance(n_boot, bool) or n_boot < 0:
        raise ValidationError("n_boot", n_boot, "a whole number of resamples >= 0")
    if not (isinstance(level, float) and 0 < level < 1):
        raise ValidationError("level", level, "a confidence level between 0 and 1, e.g. 0.95")
    if key not in jobs.columns:
        raise ValidationError("key", key, "a ledger column such as 'model' or 'provider'")
    done = jobs[jobs["status"].astype("object") == "completed"]
    if not include_emulated and "emulated" in done.columns:
        done = done[~done["emulated"].fillna(False).astype(bool)]
    ok, notes = usable_mask(done, votes, rule)
    billed = done["billed_cost"].astype("float64")
    estimated = done["estimated_cost"].astype("float64")
    cost = billed.where(billed.notna(), estimated).fillna(0.0)
    seconds = done["seconds"].astype("float64")
    if "check_seconds" in done.columns:  # delivered, measured from the file, when the checks ran
        seconds = done["check_seconds"].astype("float64").where(done["check_seconds"].notna(), seconds)
        notes.append("seconds: delivered (check_seconds) where the clip was checked, else asked for")
    seconds = seconds.fillna(0.0)
    rng = np.random.default_rng(seed)
    rows = {}
    for name, idx in done.groupby(done[key].astype("object"), sort=True).groups.items():
        c = cost.loc[idx].to_numpy()
        s = seconds.loc[idx].to_numpy()
        u = ok.loc[idx].to_numpy(dtype=bool)
        us = np.where(u, s, 0.0)
        total, usable_s = float(c.sum()), float(us.sum())
        n_billed = int(billed.loc[idx].notna().sum())
        source = "billed" if n_billed == len(idx) else ("estimated" if n_billed == 0 else "billed+estimated")
        low, high = _bootstrap_dpus(c, us, n_boot, level, rng)
        rows[name] = {
            "clips": len(idx), "usable": int(u.sum()), "usable_share": float(u.mean()) if len(idx) else math.nan,
            "seconds": float(s.sum()), "usable_seconds": usable_s, "cost": total, "cost_source": source,
            "cost_per_clip": total / len(idx) if len(idx) else math.nan,
            "dollars_per_usable_second": total / usable_s if usable_s > 0 else math.inf,
            "low": low, "high": high,
        }
    report = pd.DataFrame.from_dict(rows, orient="index", columns=list(VALUE_COLUMNS))
    report.index.name = key
    report = report.sort_values(["dollars_per_usable_second", "usable_share"], ascending=[True, False])
    report.attrs["usable"] = rule.describe()
    report.attrs["notes"] = notes
    report.attrs["level"] = level
    report.attrs["separation"] = separation(report, level) if len(report) >= 2 else {}
    return report


def plot_value(report: pd.DataFrame, ax: Any = None):
    """Dollars per usable second per model with its interval (a horizontal dot-and-whisker chart,
    cheapest on top), the usable share written beside each dot. Needs matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("the value plot needs matplotlib: pip install 'sorakit[lab]'") from None
    shown = report[report["clips"] > 0].iloc[::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.9 + 0.6 * max(1, len(shown))))
    y = np.arange(len(shown))
    mid = shown["dollars_per_usable_second"].to_numpy(dtype=float)
    low = shown["low"].to_numpy(dtype=float)
    high = shown["high"].to_numpy(dtype=float)
    finite = np.isfinite(mid)
    top = max([v for v in np.concatenate([mid, high]) if np.isfinite(v)] or [1.0])
    edge = top * 1.15
    high = np.where(np.isinf(high), edge, high)  # an open-ended interval runs to the edge
    plotted = np.where(finite, mid, edge)  # a model without a usable clip sits at the edge, hollow
    with np.errstate(invalid="ignore"):
        err = np.vstack([np.where(np.isfinite(low) & finite, mid - low, 0),
                         np.where(np.isfinite(high) & finite, high - mid, 0)])
    best = len(shown) - 1 if len(shown) and finite[-1] else -1
    ax.errorbar(plotted, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="#adb5bd", elinewidth=3, capsize=0)
    ax.scatter(plotted[finite], y[finite], s=80, c=["#2a9d8f" if i == best else "#6c757d" for i in y[finite]],
               zorder=3)
    ax.scatter(plotted[~finite], y[~finite], s=80, facecolors="white", edgecolors="#c4242f", zorder=3)
    for yi, (m, share, clips) in enumerate(zip(mid, shown["usable_share"], shown["clips"])):
        text = f"${m:.3f}/s · {share:.0%} usable of {clips}" if np.isfinite(m) else f"no usable clip of {clips}"
        ax.annotate(text, (plotted[yi], yi), xytext=(6, 7), textcoords="offset points", fontsize=9,
                    ha="right" if not np.isfinite(m) else "left")
    ax.set_ylim(-0.6, len(shown) - 0.4)
    ax.set_yticks(y, [str(i) for i in shown.index])
    ax.set_xlabel(f"dollars per usable second ({int(report.attrs.get('level', 0.95) * 100)} % bootstrap interval)")
    ax.set_title(f"Cost per usable second — usable = {report.attrs.get('usable', '')}", fontsize=10, loc="left",
                 pad=12)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlim(0, edge * 1.02)
    sep = report.attrs.get("separation") or {}
    if sep and math.isfinite(sep.get("clips_per_model", math.inf)):
        ax.text(0, -0.32, f"{sep['more_clips_best'] + sep['more_clips_runner_up']} more clips "
                f"(≈ ${sep['more_dollars']:.2f}) would separate {sep['best']} from {sep['runner_up']} at 95 %",
                fontsize=8, color="#495057", transform=ax.transAxes)
    return ax
