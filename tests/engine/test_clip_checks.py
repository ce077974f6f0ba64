"""Every finished job is checked in the background, end to end through a Studio on the emulator:
planted defects found, clean clips left alone, results in the ledger; user scorers (errors kept,
never raised); old jobs checked on request; the sha256 cache; seed determinism and duplicates."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from sorakit._exceptions import ValidationError
from sorakit.engine import Studio

pytestmark = pytest.mark.usefixtures("checks_on")  # the suite runs with SORAKIT_CLIP_CHECKS=0 (tests/conftest.py)

MODEL = "veo-3-fast@runware"  # takes a seed; the emulator renders the clips for real
FIELDS = dict(size="1280x720", seconds=4, progress=False)


def brightness(path, row):
    """Mean luma (0-1) of the first frame: a scorer a user could write with PyAV and numpy."""
    import av

    with av.open(path) as c:
        frame = next(c.decode(video=0))
        return float(frame.to_ndarray(format="gray").mean() / 255.0)


def test_finished_jobs_are_checked_in_the_background(make_studio):
    studio = make_studio()
    prompts = ["a red fox in snow", "a heron at dawn", "city lights at night",
               "a red fox [defect:black]", "a red fox [defect:frozen]", "a red fox [defect:flicker]"]
    batch = studio.batch(prompts, models=[MODEL], seeds=[3], **FIELDS)
    assert all(j.status == "completed" for j in batch)
    studio._checker.wait(batch.ids, timeout=120)  # the worker queued them as they completed
    df = studio.ledger.df.set_index("prompt")
    assert df["checked_at"].notna().all()
    for clean in prompts[:3]:  # no false alarm
        row = df.loc[clean]
        assert row["check_defects"] == "" and row["check_mismatch"] == ""
        assert row["check_black_s"] == 0 and row["check_frozen_s"] == 0 and row["check_cuts"] == 0
        assert row["check_seconds"] == pytest.approx(4, abs=0.05) and row["check_size"] == "1280x720"
        assert row["check_audio"] == True and row["check_flicker"] > 0.99  # noqa: E712
    assert df.loc["a red fox [defect:black]", "check_defects"] == "black"
    assert df.loc["a red fox [defect:black]", "check_black_s"] == pytest.approx(4 / 3, abs=0.1)
    assert df.loc["a red fox [defect:frozen]", "check_defects"] == "frozen"
    assert df.loc["a red fox [defect:frozen]", "check_frozen_s"] == pytest.approx(4 / 3, abs=0.1)
    assert df.loc["a red fox [defect:flicker]", "check_defects"] == "flicker"
    assert df.loc["a red fox [defect:flicker]", "check_flicker"] < df.loc["a red fox in snow", "check_flicker"]
    assert df["check_phash"].str.fullmatch(r"[0-9a-f]{16}").all()
    # the card line says it
    from sorakit.display._text import check_text

    assert check_text(studio.ledger.get(batch[4].id)).startswith("\u26a0 frozen 1.3")


def test_scorers_new_and_old_jobs_and_errors_are_recorded(make_studio):
    studio = make_studio()
    studio.scorers.add("brightness", brightness)
    studio.scorers.add("broken", lambda path, row: 1 / 0)
    studio.scorers.add("parts", lambda path, row: {"len": len(row["prompt"]), "seed": row["seed"]})
    job = studio.generate("a lighthouse at dusk", MODEL, seed=1, **FIELDS)  # does not raise
    studio._checker.wait([job.id], timeout=60)
    scores = studio.ledger.get(job.id)["scores"]
    assert 0 < scores["brightness"] < 1
    assert scores["parts"] == {"len": 20, "seed": 1.0}
    assert scores["errors"] == {"broken": "ZeroDivisionError: division by zero"}
    flat = studio.scores().set_index("job_id").loc[job.id]
    assert flat["score.brightness"] == scores["brightness"] and flat["score.parts.len"] == 20
    # a scorer added later runs on old jobs on request; the others are not run again
    calls = []
    studio.scorers.add("late", lambda path, row: calls.append(row["job_id"]) or 2.5)
    studio.scorers.add("broken", lambda path, row: 7.0)  # fixed
    out = studio.check(job, scorers=["late", "broken"])
    assert calls == [job.id]
    assert out.loc[0, "score.late"] == 2.5 and out.loc[0, "score.broken"] == 7.0
    assert "errors" not in studio.ledger.get(job.id)["scores"]
    with pytest.raises(ValidationError, match="scorers"):
        studio.check(job, scorers=["nope"])
    with pytest.raises(ValidationError, match="errors"):
        studio.scorers.add("errors", brightness)
    with pytest.raises(ValidationError, match="fn"):
        studio.scorers.add("x", 3)
    bad = studio.scorers.add("nan", lambda path, row: float("nan"))
    assert "nan" in bad
    studio.check(job, scorers=["nan"])
    assert "not a finite number" in studio.ledger.get(job.id)["scores"]["errors"]["nan"]


def test_old_jobs_are_checked_on_request_and_the_sha256_cache_makes_rechecks_free(make_studio, monkeypatch):
    old = make_studio(clip_checks=False)
    job = old.generate("a paper boat on a pond", MODEL, seed=2, **FIELDS)
    assert old.ledger.get(job.id)["check_defects"] is None
    with pytest.raises(ValidationError, match="clip_checks"):
        old.check()
    old.close()

    studio = make_studio(resume=False)
    out = studio.check()  # every unchecked completed job
    assert list(out["job_id"]) == [job.id] and out.loc[0, "check_defects"] == ""
    # the request changes (a row asking for 8 s): judged again from the cached measures, no decode
    from sorakit.media import _checks

    def no_decode(*a, **k):
        raise AssertionError("decoded again")

    monkeypatch.setattr(_checks, "check_clip", no_decode)
    studio.ledger.update(job.id, seconds=8.0)
    out = studio.check(job, rerun=True)
    assert out.loc[0, "check_defects"] == "mismatch"
    assert out.loc[0, "check_mismatch"] == "seconds 4 (asked 8)"
    assert studio._checker.cache.hits >= 1
    # another kernel (a fresh cache in memory) reads the JSON next to the media
    fresh = make_studio(resume=False)
    assert fresh.check(job, rerun=True).loc[0, "check_defects"] == "mismatch"
    assert fresh._checker.cache.hits == 1


def test_a_missing_file_is_recorded_not_raised(make_studio, tmp_path):
    studio = make_studio()
    job = studio.generate("a kite", MODEL, seed=4, **FIELDS)
    studio._checker.wait([job.id], timeout=60)
    import os

    os.remove(studio.ledger.get(job.id)["file_path"])
    out = studio.check(job, rerun=True)
    assert out.loc[0, "check_error"].startswith("video file not found")


def test_seed_determinism_and_duplicates(make_studio):
    studio = make_studio()
    same = studio.batch(["a red kite over hills", "a red kite over hills"], models=[MODEL], seeds=[5], **FIELDS)
    other = studio.generate("a red kite over hills", MODEL, seed=6, **FIELDS)
    dup = studio.batch(["a fox [defect:duplicate]"], models=[MODEL], seeds=[1, 2], **FIELDS)
    studio._checker.wait(None, timeout=120)
    det = studio.determinism()
    assert list(det["model"]) == ["veo-3-fast"]
    row = det.iloc[0]
    assert (row["requests"], row["pairs"], row["matching"], row["seed_determinism"]) == (1, 1, 1, 1.0)
    pairs = studio.duplicates()
    found = {frozenset((a, b)) for a, b in zip(pairs["job_a"], pairs["job_b"])}
    assert frozenset(same.ids) in found and frozenset(dup.ids) in found  # same seed; a seed-ignoring model
    assert not any(other.id in p for p in found)  # another seed: another picture
    d = studio.duplicates(dup)
    assert d.shape[0] == 1
    assert sorted([d.iloc[0]["seed_a"], d.iloc[0]["seed_b"]]) == sorted(studio.job(i).seed for i in dup.ids)


def test_an_old_ledger_gains_the_check_columns(tmp_path):
    path = tmp_path / "old.db"
    with Studio(path, emulate=True, resume=False, clip_checks=False) as s:
        s.ledger.df  # noqa: B018 - creates the tables
    con = sqlite3.connect(path)
    for col in ("check_defects", "check_phash", "scores", "checked_at"):
        con.execute(f"ALTER TABLE jobs DROP COLUMN {col}")
    con.commit()
    con.close()
    with Studio(path, emulate=True, resume=False) as s:
        assert {"check_defects", "check_phash", "scores", "checked_at"} <= set(s.ledger.df.columns)


def test_the_checks_show_in_the_browser_and_the_gallery(make_studio):
    from sorakit.display._browser import LedgerBrowser
    from sorakit.display._gallery import caption_html

    studio = make_studio()
    studio.scorers.add("brightness", brightness)
    batch = studio.batch(["a calm lake", "a calm lake [defect:black]"], models=[MODEL], seeds=[8], **FIELDS)
    studio._checker.wait(batch.ids, timeout=120)
    browser = LedgerBrowser(studio)
    assert [c["data"] for c in browser.columns][-2:] == ["check_defects", "scores"]  # a scorer: its column
    rows = {r["DT_RowId"]: r for r in browser.page(0, 10)["rows"]}
    clean, black = rows[batch[0].id], rows[batch[1].id]
    assert ">ok<" in clean["check_defects"] and "checks ok" in clean["check_defects"]  # tooltip: the full line
    assert "\u26a0 black" in black["check_defects"] and "black 1.3" in black["check_defects"]
    assert "motion 0." in clean["check_defects"] and clean["scores"].startswith("brightness 0.")
    # sortable like any column: the defect first when descending
    first = browser.page(0, 10, order=[("check_defects", "desc")])["rows"][0]
    assert first["DT_RowId"] == batch[1].id
    assert "\u26a0 black 1.3" in caption_html(studio.ledger.get(batch[1].id))
    assert "checks ok" in caption_html(studio.ledger.get(batch[0].id))


@pytest.mark.parametrize("env, given, on", [
    (None, None, True), ("1", None, True), ("true", None, True), (" ON ", None, True),
    ("0", None, False), ("off", None, False), ("No", None, False),
    ("0", True, True), ("1", False, False),  # the argument wins over the environment
])
def test_sorakit_clip_checks_is_the_default_and_the_argument_wins(tmp_path, monkeypatch, env, given, on):
    if env is None:
        monkeypatch.delenv("SORAKIT_CLIP_CHECKS", raising=False)
    else:
        monkeypatch.setenv("SORAKIT_CLIP_CHECKS", env)
    kw = {} if given is None else {"clip_checks": given}
    with Studio(tmp_path / "l.db", emulate=True, resume=False, adopt=False, **kw) as s:
        assert (s._checker is not None) is on
        if not on:
            with pytest.raises(ValidationError) as e:
                s.check()
            assert "clip_checks=False" in str(e.value) and "SORAKIT_CLIP_CHECKS=0" in str(e.value)


def test_a_bad_sorakit_clip_checks_names_the_variable_the_value_and_what_is_allowed(tmp_path, monkeypatch):
    from sorakit import ConfigurationError

    monkeypatch.setenv("SORAKIT_CLIP_CHECKS", "sometimes")
    with pytest.raises(ConfigurationError) as e:
        Studio(tmp_path / "l.db", emulate=True, resume=False)
    msg = str(e.value)
    assert "SORAKIT_CLIP_CHECKS='sometimes'" in msg and "1, true, yes, on" in msg and "0, false, no, off" in msg
    assert not (tmp_path / "l.db").exists()  # refused before anything was opened
    with Studio(tmp_path / "ok.db", emulate=True, resume=False, clip_checks=True) as s:  # the argument wins
        assert s._checker is not None
    with pytest.raises(ValidationError, match="clip_checks"):
        Studio(tmp_path / "ok.db", emulate=True, resume=False, clip_checks="yes")
