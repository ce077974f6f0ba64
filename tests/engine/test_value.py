"""studio.value_report(): usable share and dollars per usable second per model, with intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sorakit import ValidationError
from sorakit.engine._value import clips_per_arm, plot_value, value_report
from sorakit.ledger import Ledger


def _fill(led: Ledger, model: str, n: int, ratings, cost=0.4, seconds=4.0, billed=True, **extra):
    ids = []
    for i in range(n):
        fields = dict(provider="emulator", model=model, prompt=f"p{i % 3}", seconds=seconds, status="completed",
                      estimated_cost=cost, rating=ratings[i % len(ratings)])
        if billed:
            fields.update(billed_cost=cost, billed_cost_source="provider")
        fields.update(extra)
        ids.append(led.insert(**fields))
    return ids


def test_dollars_per_usable_second_by_hand(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        _fill(led, "cheap-bad", 10, [5, 1, 1, 1, 1], cost=0.2)  # 2 of 10 usable
        _fill(led, "dear-good", 10, [5, 5, 5, 4, 2], cost=0.6)  # 8 of 10 usable
        led.insert(model="dear-good", prompt="x", status="failed", billed_cost=9.0)  # not a clip
        report = value_report(led.df, led.votes(), 4, n_boot=300)
    cb, dg = report.loc["cheap-bad"], report.loc["dear-good"]
    assert (cb.clips, cb.usable, dg.clips, dg.usable) == (10, 2, 10, 8)
    assert cb.dollars_per_usable_second == pytest.approx(2.0 / 8)  # $2 over 2 clips x 4 s
    assert dg.dollars_per_usable_second == pytest.approx(6.0 / 32)
    assert list(report.index) == ["dear-good", "cheap-bad"]  # cheapest per usable second first
    assert dg.low <= dg.dollars_per_usable_second <= dg.high
    assert cb.high - cb.low > dg.high - dg.low  # two usable clips: a wide interval
    assert report.attrs["usable"] == "rating ≥ 4"


def test_estimated_cost_stands_in_when_nothing_was_billed(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        _fill(led, "a", 4, [5], cost=0.5, billed=False)
        _fill(led, "b", 4, [5], cost=0.5)
        report = value_report(led.df, led.votes(), 4, n_boot=0)
    assert report.loc["a", "cost"] == pytest.approx(2.0)
    assert report.loc["a", "cost_source"] == "estimated"
    assert report.loc["b", "cost_source"] == "billed"
    assert math.isnan(report.loc["a", "low"])


def test_arena_preferred_rule_reads_the_votes(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        a = _fill(led, "a", 2, [None])
        b = _fill(led, "b", 2, [None])
        led.vote(a[0], b[0], "left")
        led.vote(a[1], b[1], "both_bad")
        led.vote(a[0], b[1], "left")
        report = value_report(led.df, led.votes(), {"preferred": True}, n_boot=0)
    assert report.loc["a", "usable"] == 1  # a[0] won twice; a[1] was in a both-bad vote
    assert report.loc["b", "usable"] == 0
    assert math.isinf(report.loc["b", "dollars_per_usable_second"])


def test_defect_rule_uses_check_columns_when_present_and_says_so_when_absent(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        _fill(led, "a", 4, [5])
        jobs = led.df
    # a ledger opened by this version has the check columns, unchecked rows NA: none excluded, said so
    report = value_report(jobs, pd.DataFrame(columns=["left_job_id", "right_job_id", "outcome"]),
                          {"rating": 4, "defect_free": True}, n_boot=0)
    assert report.loc["a", "usable"] == 4
    assert "4 clip(s) not checked yet" in report.attrs["notes"][0]
    # a frame without them (an export from before the checks): said so too
    bare = jobs.drop(columns=[c for c in jobs.columns if c.startswith("check_")])
    report = value_report(bare, pd.DataFrame(columns=["left_job_id", "right_job_id", "outcome"]),
                          {"rating": 4, "defect_free": True}, n_boot=0)
    assert report.loc["a", "usable"] == 4
    assert "no check columns" in report.attrs["notes"][0]
    # the clip checks' columns (issue 24 items 1-2): a listed defect excludes, '' is clean, NA unchecked;
    # check_audio is a fact, not a defect; a user's own *_flag column counts too
    flagged = jobs.assign(check_defects=pd.array(["", "black,frozen", None, ""], dtype="string"),
                          check_audio=pd.array([False, True, True, True], dtype="boolean"),
                          check_seconds=[3.5, 4.0, None, 4.0],
                          blurry_flag=pd.array([False, False, False, True], dtype="boolean"))
    report = value_report(flagged, pd.DataFrame(columns=["left_job_id", "right_job_id", "outcome"]),
                          {"rating": 4, "defect_free": True}, n_boot=0)
    assert report.loc["a", "usable"] == 2  # the first (clean) and the third (not checked yet)
    assert report.loc["a", "usable_seconds"] == pytest.approx(3.5 + 4.0)  # delivered, else asked
    assert any("1 clip(s) not checked yet" in n for n in report.attrs["notes"])


def test_power_calculation_matches_the_textbook_figure():
    # 0.5 vs 0.6 at 95 %, 80 % power, by hand: n = (1.95996·√(2·.55·.45) + 0.84162·√(.25+.24))² / .1²
    # = (1.37897 + 0.58913)² / .01 = 387.3 → 388 clips per model
    assert clips_per_arm(0.5, 0.6) == 388
    assert clips_per_arm(0.2, 0.8) < 15
    assert math.isinf(clips_per_arm(0.5, 0.5))


def test_separation_of_the_top_two(tmp_path):
    with Ledger(tmp_path / "l.db") as led:
        _fill(led, "a", 20, [5, 5, 5, 1], cost=0.4)  # 75 % usable
        _fill(led, "b", 20, [5, 1], cost=0.4)  # 50 % usable
        report = value_report(led.df, led.votes(), 4, n_boot=100)
    sep = report.attrs["separation"]
    assert (sep["best"], sep["runner_up"]) == ("a", "b")
    assert sep["clips_per_model"] == clips_per_arm(0.75, 0.5)
    assert sep["more_clips_best"] == sep["clips_per_model"] - 20
    assert sep["more_dollars"] == pytest.approx((sep["more_clips_best"] + sep["more_clips_runner_up"]) * 0.4)


def test_bad_rules_are_refused():
    empty = pd.DataFrame(columns=["job_id", "model", "status"])
    with pytest.raises(ValidationError, match="usable.rating"):
        value_report(empty, empty, 7)
    with pytest.raises(ValidationError, match="usable"):
        value_report(empty, empty, {"stars": 4})
    with pytest.raises(ValidationError, match="n_boot"):
        value_report(empty, empty, 4, n_boot=-3)


def test_studio_value_report_and_plot(tmp_path, monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from sorakit import Studio

    with Studio(ledger=tmp_path / "l.db", media_dir=tmp_path / "m", emulate=True, resume=False) as studio:
        _fill(studio.ledger, "a", 6, [5, 2], tags=["x"])
        _fill(studio.ledger, "b", 6, [5, 5, 2])
        report = studio.value_report(usable=4, n_boot=50)
        only_x = studio.value_report(usable=4, tag="x", n_boot=0)
        ax = studio.plot_value(report)
    assert list(report.index) == ["b", "a"]
    assert list(only_x.index) == ["a"]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["a", "b"]  # cheapest on top
    assert any("usable" in t.get_text() for t in ax.texts)


def test_the_html_report_carries_the_value_section(tmp_path):
    pytest.importorskip("matplotlib")
    from sorakit import Studio
    from sorakit.display import gallery

    with Studio(ledger=tmp_path / "l.db", media_dir=tmp_path / "m", emulate=True, resume=False) as studio:
        a = _fill(studio.ledger, "a", 6, [5, 2])
        b = _fill(studio.ledger, "b", 6, [None])
        studio.vote(b[0], a[1], "left")
        page = gallery(studio.ledger.df, studio=studio, limit=None).to_html(tmp_path / "r.html").read_text()
        unjudged = tmp_path / "plain.html"
        studio.ledger.df  # noqa: B018
    assert "Cost per usable second" in page
    assert "usable = rating ≥ 4" in page
    assert "data:image/png;base64," in page  # the chart
    assert "a@emulator" in page and "$0.200" in page  # 3 usable of 6 x 4 s for $2.40
    assert "no usable clip" in page  # b: nothing rated ≥ 4
    with Ledger(tmp_path / "plain.db") as led:
        _fill(led, "a", 2, [None])
        html = gallery(led.df, limit=None).to_html(unjudged).read_text()
    assert "Cost per usable second" not in html  # nothing judged yet: no section
