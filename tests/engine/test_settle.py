"""A create whose answer was lost at a provider that can neither name nor list its jobs stays
``unknown`` (re-sending could bill twice); a person who checked the provider settles it with
``job.settle_unknown``: found under an id (polled, downloaded), absent (failed, $0) or absent and
sent again. Over real HTTP against the emulator, counting the creates it accepted."""

from __future__ import annotations

import datetime as dt

import pytest

from engine._helpers import assert_complete
from sorakit import SorakitError, ValidationError
from sorakit.display._text import progress_text
from sorakit.emulator import FaultConfig
from sorakit.engine._core.transitions import NOT_CREATED, absent_through, settle_changes

NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.timezone.utc)


def lost(studio, emulator, prompt: str, when: str):
    """A Runcrate job whose create answer is lost (``when``: the create was made, or never arrived)."""
    emulator.config.faults = FaultConfig(reset=1.0, reset_when=when, operations=("create",), providers=("runcrate",))
    job = studio.submit(prompt, model="sora-2", provider="runcrate", seconds=4)
    with pytest.raises(SorakitError, match="cannot list jobs"):
        job.wait(timeout=30)
    emulator.config.faults = FaultConfig()  # the network heals
    row = job.row
    assert row["status"] == "unknown" and row["attempts"] == 1 and row["provider_job_id"] is None
    assert "job.settle_unknown(video_id=" in row["error_message"]  # the message says what to do
    shown = progress_text(row)                                       # and so does its card
    assert "check the provider, then job.settle_unknown" in shown and "elapsed" not in shown
    return job


def test_found_at_the_provider_it_is_polled_and_downloaded(studio, emulator):
    job = lost(studio, emulator, "a kite over the dunes", "after")
    made = [j for j in emulator.jobs("runcrate") if j.prompt == "a kite over the dunes"]
    assert len(made) == 1  # the provider made it; only its answer was lost
    # while it is reconciled again (a resume), the card does not say it stopped
    assert "it will be reconciled" in progress_text({**job.row, "error_code": None})
    job.settle_unknown(video_id=made[0].id, timeout=30)
    row = job.row
    assert_complete(row)
    assert row["provider_job_id"] == made[0].id and row["attempts"] == 1
    settled = row["extra"]["settled"]
    assert settled["video_id"] == made[0].id and settled["attempts"] == 1 and settled["by"]
    assert emulator.counters.prompt_creates("a kite over the dunes") == 1  # never sent twice


def test_absent_and_sent_again(studio, emulator):
    job = lost(studio, emulator, "a lantern on the river", "before")
    assert emulator.counters.prompt_creates("a lantern on the river") == 0
    job.settle_unknown(absent=True, resend=True, timeout=30)
    row = job.row
    assert_complete(row)
    assert row["attempts"] == 2 and row["extra"]["absent_through"] == 1
    assert emulator.counters.prompt_creates("a lantern on the river") == 1


def test_absent_fails_with_nothing_billed(studio, emulator):
    job = lost(studio, emulator, "a tram in the fog", "before")
    job.settle_unknown(absent=True)
    row = job.row
    assert row["status"] == "failed" and row["error_code"] == NOT_CREATED
    assert row["billed_cost"] == 0 and row["billed_cost_source"] == "none"
    assert emulator.counters.prompt_creates("a tram in the fog") == 0
    with pytest.raises(ValidationError, match="status='failed'"):  # settled once
        job.settle_unknown(absent=True)


def test_what_cannot_be_settled_is_refused_and_nothing_changes(studio, emulator):
    job = lost(studio, emulator, "a fox under the aurora", "after")
    other = studio.generate("a finished job", model="sora-2", provider="runcrate", seconds=4, progress=False)
    before = job.row
    with pytest.raises(ValidationError, match="video_id=None.*either video_id="):
        job.settle_unknown()
    with pytest.raises(ValidationError, match="absent=True.*not both"):
        job.settle_unknown("vid", absent=True)
    with pytest.raises(ValidationError, match="resend=True.*only with absent=True"):
        job.settle_unknown("vid", resend=True)
    with pytest.raises(ValidationError, match="runcrate does not know it.*video_id='video_nope'"):
        job.settle_unknown(video_id="video_nope")
    emulator.config.faults = FaultConfig(reset=1.0, operations=("poll",), providers=("runcrate",))
    with pytest.raises(SorakitError, match="could not ask runcrate about video_id='video_x'.*nothing was changed"):
        job.settle_unknown(video_id="video_x")   # the provider cannot be asked: no guess is written
    emulator.config.faults = FaultConfig()
    with pytest.raises(ValidationError, match=f"job {other.id} already has it"):
        job.settle_unknown(video_id=other.row["provider_job_id"])
    with pytest.raises(ValidationError, match="status='completed'"):
        other.settle_unknown(absent=True)
    after = job.row
    assert {k: after[k] for k in ("status", "attempts", "provider_job_id", "extra")} == \
        {k: before[k] for k in ("status", "attempts", "provider_job_id", "extra")}
    assert emulator.counters.prompt_creates("a fox under the aurora") == 1


def test_settle_changes_is_pure_and_checks_the_row():
    row = {"job_id": "job_1", "status": "unknown", "attempts": 2, "extra": {"client_ref": "r"},
           "submitted_at": None, "estimated_cost": 0.4}
    found = settle_changes(row, " vid_9 ", False, False, NOW, "ada")
    assert found["status"] == "submitted" and found["provider_job_id"] == "vid_9" and found["submitted_at"] == NOW
    assert found["extra"]["client_ref"] == "r" and found["extra"]["settled"]["by"] == "ada"
    again = settle_changes(row, None, True, True, NOW, "ada")
    assert again["status"] == "pending" and absent_through({**row, **again}) == 2
    # sent again and lost again: 3 attempts, 2 vouched for -> settleable once more; pending at 2 is not
    assert settle_changes({**row, **again, "attempts": 3}, None, True, False, NOW, "ada")["status"] == "failed"
    with pytest.raises(ValidationError, match="status='pending'"):
        settle_changes({**row, **again}, None, True, False, NOW, "ada")
    gone = settle_changes(row, None, True, False, NOW, None)
    assert (gone["status"], gone["error_code"], gone["billed_cost"]) == ("failed", NOT_CREATED, 0.0)
    assert row["extra"] == {"client_ref": "r"}  # the input row is not touched
    with pytest.raises(ValidationError, match="status='pending'"):  # never sent: nothing to settle
        settle_changes({**row, "status": "pending", "attempts": 0}, None, True, False, NOW, None)
    with pytest.raises(ValidationError, match="absent=1"):
        settle_changes(row, None, 1, False, NOW, None)


def test_a_resume_reconciles_it_again_and_its_card_says_so_meanwhile(studio, emulator):
    """While a resume reconciles the job again, it is not shown as stopped (its stop code is
    cleared); when the resume stops again (the provider still cannot list), the code is back."""
    job = lost(studio, emulator, "a heron at the weir", "after")
    seen = []
    unsubscribe = studio.subscribe(lambda jid, changes: jid == job.id and "error_code" in changes
                                   and seen.append(changes["error_code"]))
    try:
        studio.resume()
    except SorakitError:
        pass
    finally:
        unsubscribe()
    assert seen[0] is None and seen[-1], seen       # cleared while reconciling, set once stopped
    assert job.row["status"] == "unknown" and job.row["error_code"]
    assert emulator.counters.prompt_creates("a heron at the weir") == 1   # never sent again
