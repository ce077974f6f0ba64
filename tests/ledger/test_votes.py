"""Blind arena votes are ledger records, and studio.ranking() recovers a known order from them."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pandas as pd
import pytest

from sorakit import JobNotFound, ValidationError
from sorakit.engine._arena import fit_ranking
from sorakit.ledger import VOTE_COLUMNS, Ledger

pytest.importorskip("evalica")

TRUE = {"m-weak": -1.0, "m-mid": 0.0, "m-good": 0.7, "m-best": 1.5}  # log-strengths


def _jobs(led: Ledger, prompts=("a fox", "a whale", "a city"), per=3, tags=None):
    ids = {}
    for p_i, prompt in enumerate(prompts):
        for model in TRUE:
            for k in range(per):
                tag = (tags or {}).get(prompt)
                ids.setdefault((prompt, model), []).append(led.insert(
                    provider="emulator", model=model, prompt=prompt, seconds=4, status="completed",
                    tags=[tag] if tag else None))
    return ids


def _synthetic_votes(led: Ledger, ids, n: int, seed: int = 1, flip: dict | None = None):
    """``n`` votes drawn from the Bradley–Terry model with TRUE strengths (10 % ties); ``flip`` maps
    a prompt to strengths used for it instead (a category where the order differs)."""
    rng = np.random.default_rng(seed)
    prompts = sorted({p for p, _ in ids})
    models = list(TRUE)
    for _ in range(n):
        prompt = prompts[rng.integers(len(prompts))]
        strengths = (flip or {}).get(prompt, TRUE)
        a, b = rng.choice(len(models), 2, replace=False)
        ja = ids[(prompt, models[a])][rng.integers(3)]
        jb = ids[(prompt, models[b])][rng.integers(3)]
        p_left = 1 / (1 + math.exp(-(strengths[models[a]] - strengths[models[b]])))
        u = rng.random()
        outcome = "tie" if u < 0.1 else ("left" if rng.random() < p_left else "right")
        led.vote(ja, jb, outcome, prompt=prompt)


def test_a_vote_is_a_row_with_who_when_which_and_the_prompt(tmp_path, monkeypatch):
    monkeypatch.setenv("SORAKIT_USER", "ada")
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        a = led.insert(model="sora-2", prompt="a fox", status="completed")
        b = led.insert(model="veo-3", prompt="a fox", status="completed")
        vote_id = led.vote(a, b, "both_bad", prompt="a fox")
        frame = led.votes()
    assert list(frame.columns) == list(VOTE_COLUMNS)
    row = frame.iloc[0]
    assert (row.vote_id, row.user, row.left_job_id, row.right_job_id, row.outcome, row.prompt) == (
        vote_id, "ada", a, b, "both_bad", "a fox")
    assert abs(pd.Timestamp.now(tz="UTC") - row.created_at) < pd.Timedelta(minutes=1)
    # durable, in the same database as the jobs, readable by plain SQL
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT outcome, left_job_id FROM votes").fetchall() == [("both_bad", a)]


def test_bad_votes_are_refused_naming_the_field(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        a = led.insert(model="x", prompt="p")
        b = led.insert(model="y", prompt="p")
        with pytest.raises(ValidationError, match="outcome='better'.*'left', 'right', 'tie', 'both_bad'"):
            led.vote(a, b, "better")
        with pytest.raises(ValidationError, match="right_job_id"):
            led.vote(a, a, "left")
        with pytest.raises(JobNotFound):
            led.vote(a, "job_nope", "left")
        assert led.votes().empty


def test_an_old_ledger_gains_the_votes_table_on_open(tmp_path):
    path = tmp_path / "old.db"
    with Ledger(path) as led:
        a = led.insert(model="x", prompt="p")
        b = led.insert(model="y", prompt="p")
    with sqlite3.connect(path) as con:  # a ledger written before the arena existed
        con.execute("DROP TABLE votes")
    with Ledger(path) as led:
        led.vote(a, b, "tie")
        assert led.votes().outcome.tolist() == ["tie"]
        assert len(led) == 2


def test_studio_vote_and_votes(tmp_path, monkeypatch):
    from sorakit import Studio

    monkeypatch.setenv("SORAKIT_USER", "grace")
    monkeypatch.setenv("SORAKIT_QUIET", "1")
    with Studio(ledger=tmp_path / "l.db", media_dir=tmp_path / "m", emulate=True, resume=False) as studio:
        a = studio.ledger.insert(model="sora-2", prompt="a fox", status="completed")
        b = studio.ledger.insert(model="veo-3", prompt="a fox", status="completed")
        studio.vote(a, b, "right")
        got = studio.votes()
        assert got[["user", "left_job_id", "right_job_id", "outcome", "prompt"]].values.tolist() == [
            ["grace", a, b, "right", "a fox"]]
        with pytest.raises(ValidationError, match="a=None"):
            studio.vote(None, b, "left")


def test_ranking_recovers_a_known_order_with_intervals(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        ids = _jobs(led)
        _synthetic_votes(led, ids, 600)
        ranking = fit_ranking(led.votes(), led.df, n_boot=200)
    assert list(ranking.index) == ["m-best", "m-good", "m-mid", "m-weak"]
    assert ranking["rank"].tolist() == [1, 2, 3, 4]
    assert (ranking["low"] <= ranking["score"]).all() and (ranking["score"] <= ranking["high"]).all()
    # centred log-strengths: differences match the truth within the intervals' width
    truth = pd.Series(TRUE) - np.mean(list(TRUE.values()))
    assert (ranking["score"] - truth.reindex(ranking.index)).abs().max() < 0.35
    # the best and the worst are separated at 95 %
    assert ranking.loc["m-best", "low"] > ranking.loc["m-weak", "high"]
    assert int(ranking["votes"].sum()) == 2 * 600
    assert int(ranking["wins"].sum()) == int(ranking["losses"].sum())


def test_ranking_with_few_votes_has_wide_intervals(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        ids = _jobs(led)
        _synthetic_votes(led, ids, 30, seed=3)
        few = fit_ranking(led.votes(), led.df, n_boot=200)
        _synthetic_votes(led, ids, 900, seed=4)
        many = fit_ranking(led.votes(), led.df, n_boot=200)
    width = lambda r: (r["high"] - r["low"]).mean()  # noqa: E731
    assert width(few) > 2 * width(many)


def test_ranking_per_tag_finds_a_category_where_the_order_flips(tmp_path):
    flipped = {m: -s for m, s in TRUE.items()}
    with Ledger(tmp_path / "l.db") as led:
        ids = _jobs(led, prompts=("a fox", "a whale"), tags={"a fox": "animals", "a whale": "ocean"})
        _synthetic_votes(led, ids, 800, flip={"a whale": flipped})
        by_tag = fit_ranking(led.votes(), led.df, by="tag", n_boot=50)
        by_prompt = fit_ranking(led.votes(), led.df, by="prompt", n_boot=0)
    assert by_tag.index.names == ["tag", "model"]
    assert by_tag.loc["animals"].index[0] == "m-best"
    assert by_tag.loc["ocean"].index[0] == "m-weak"
    assert by_prompt.loc["a whale"].index[-1] == "m-best"
    assert by_prompt["low"].isna().all()  # n_boot=0: no intervals


def test_same_model_votes_are_skipped_and_empty_is_empty(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        assert fit_ranking(led.votes(), led.df).empty
        a = led.insert(model="x", prompt="p")
        b = led.insert(model="x", prompt="p")
        led.vote(a, b, "left")
        assert fit_ranking(led.votes(), led.df).empty
        with pytest.raises(ValidationError, match="n_boot"):
            fit_ranking(led.votes(), led.df, n_boot=-1)
        with pytest.raises(ValidationError, match="by"):
            fit_ranking(led.votes(), led.df, by="nonsense")


def test_votes_on_both_backends(led, monkeypatch):
    """The votes table on SQLite and on a real PostgreSQL server: same rows, same dtypes, and
    studio.ranking() reads them the same."""
    monkeypatch.setenv("SORAKIT_USER", "lin")
    ids = _jobs(led, prompts=("a fox",), per=3)
    _synthetic_votes(led, ids, 120, seed=9)
    first = list(ids.values())[0][0]
    led.vote(first, list(ids.values())[1][0], "both_bad", prompt="a fox", created_at="2026-01-02T03:04:05Z")
    frame = led.votes()
    assert len(frame) == 121 and set(frame.user) == {"lin"}
    assert str(frame.created_at.dtype) == "datetime64[us, UTC]"
    assert frame.created_at.iloc[0] == pd.Timestamp("2026-01-02T03:04:05Z")  # oldest first
    assert len(led.votes(since="2026-06-01")) == 120
    ranking = fit_ranking(frame, led.df, n_boot=0)
    assert ranking.index[0] == "m-best" and ranking.index[-1] == "m-weak"


def test_a_model_that_never_lost_still_gets_a_finite_score_inside_its_interval(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        ids = _jobs(led, prompts=("a fox",), per=1)
        best, mid, weak = (ids[("a fox", m)][0] for m in ("m-best", "m-mid", "m-weak"))
        for left, right, outcome in [(best, mid, "left"), (weak, best, "right"), (mid, weak, "tie"),
                                     (best, weak, "left"), (mid, weak, "left"), (weak, mid, "both_bad")]:
            led.vote(left, right, outcome)
        ranking = fit_ranking(led.votes(), led.df, n_boot=200)
        flat = fit_ranking(led.votes(), led.df, n_boot=0, prior=0)
    assert list(ranking.index) == ["m-best", "m-mid", "m-weak"]
    assert np.isfinite(ranking[["score", "low", "high"]].to_numpy(dtype=float)).all()
    assert ((ranking.low <= ranking.score) & (ranking.score <= ranking.high)).all()
    assert ranking.loc["m-best", "score"] < 3  # shrunk by the prior, not running off to infinity
    # without the prior the fit has no finite answer: every model ends at the same floor
    assert flat["score"].abs().max() < 1e-6


def test_a_vote_can_be_taken_back_once(led):
    ids = _jobs(led, prompts=("a fox",), per=1)
    a, b = (v[0] for v in list(ids.values())[:2])
    keep, slip = led.vote(a, b, "left"), led.vote(a, b, "right")
    led.delete_vote(slip)
    assert led.votes().vote_id.tolist() == [keep]
    with pytest.raises(ValidationError, match=f"no such vote.*vote_id='{slip}'"):
        led.delete_vote(slip)
    with pytest.raises(ValidationError, match="vote_id=None"):
        led.delete_vote(None)
    assert led.votes().vote_id.tolist() == [keep]


def test_vote_times_come_back_exact_to_the_microsecond(led):
    """SQLite keeps epoch seconds as a float: votes() read them through pandas' nanoseconds and half
    of them came back 1 µs off (the Parquet round trip between backends then failed at random)."""
    import datetime as dt
    import random

    rng = random.Random(3)
    a, b = led.insert(prompt="p", model="x"), led.insert(prompt="p", model="y")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    whens = sorted(start + dt.timedelta(microseconds=rng.randrange(10**15)) for _ in range(200))
    for when in whens:
        led.vote(a, b, "left", created_at=when)
    assert list(led.votes().created_at) == [pd.Timestamp(w) for w in whens]
