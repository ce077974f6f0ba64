"""Fault storms: lost answers, 5xx, resets, 429 bursts, truncated and expired downloads.

After each, every job must be in the right terminal state, every file complete and checksum-true,
and the emulator must have accepted exactly one create per job (no duplicate billing).
"""

from __future__ import annotations

import time

import pytest

from engine._helpers import assert_complete
from sorakit.emulator import FaultConfig


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    raise AssertionError("condition not reached")


def test_lost_openai_create_answers_are_reconciled_not_resent(studio, emulator):
    emulator.config.faults = FaultConfig(reset=1.0, reset_when="after", operations=("create",),
                                         providers=("openai",))
    prompts = ["lost answer one", "lost answer two", "lost answer three"]
    batch = studio.batch(prompts, models="sora-2", progress=False)
    for job in batch:
        row = job.row
        assert_complete(row)
        assert row["attempts"] == 1 and row["extra"].get("reconciled") is True
    for p in prompts:
        assert emulator.counters.prompt_creates(p) == 1
    c = emulator.counters["openai"]
    assert c["creates"] == 3 and c["lists"] >= 1 and c["faults:reset"] == 3


def test_identical_prompts_each_adopt_their_own_video(studio, emulator):
    """Two rows with the same request and lost answers: each adopts a different video."""
    emulator.config.faults = FaultConfig(reset=1.0, operations=("create",), providers=("openai",))
    a = studio.submit("the very same request", model="sora-2")
    b = studio.submit("the very same request", model="sora-2")
    a.wait(timeout=30), b.wait(timeout=30)
    assert a.row["provider_job_id"] != b.row["provider_job_id"]
    assert emulator.counters.prompt_creates("the very same request") == 2


def test_a_create_that_never_arrived_is_resent_once_provably_absent(studio, emulator):
    emulator.config.faults = FaultConfig(reset=1.0, reset_when="before", operations=("create",),
                                         providers=("openai",))
    job = studio.submit("a create that was dropped", model="sora-2")
    wait_until(lambda: emulator.counters["openai"].get("faults:reset", 0) >= 1)
    emulator.config.faults = FaultConfig()          # the network heals
    job.wait(timeout=30)
    row = job.row
    assert_complete(row)
    assert row["attempts"] == 2                       # sent, proven absent by listing, sent again
    assert emulator.counters.prompt_creates("a create that was dropped") == 1
    assert emulator.counters["openai"]["lists"] >= 1


def test_runware_lost_answer_is_polled_before_any_resend(studio, emulator):
    emulator.config.faults = FaultConfig(reset=1.0, reset_when="after", operations=("create",),
                                         providers=("runware",))
    batch = studio.generate("a lost runware answer", model="seedance-1-pro", provider="runware",
                            size="864x480", seconds=5, variations=2, seed=5, progress=False)
    for job in batch:
        assert_complete(job.row)
    c = emulator.counters["runware"]
    assert c["creates"] == 1 and c["conflicts"] == 0 and c["create_calls"] == 1


def test_fault_storm_ends_in_the_right_terminal_states(studio, emulator):
    emulator.config.rate_limit_per_minute = 8            # 429 bursts: 8 requests per 0.5 s window
    emulator.config.rate_limit_window_seconds = 0.5
    emulator.config.faults = FaultConfig(error_5xx=0.2, reset=0.15, truncate_download=0.3,
                                         expire_urls=0.2, seed=7)
    openai_prompts = [f"storm openai {i}" for i in range(5)]
    runware_prompts = [f"storm runware {i}" for i in range(3)]
    a = studio.batch(openai_prompts + ["storm blocked-term"], models="sora-2", wait=False)
    b = studio.batch(runware_prompts, models="seedance-1-pro", providers="runware", size="864x480",
                     seconds=5, seeds=[21], wait=False)
    a.wait(timeout=90), b.wait(timeout=90)
    # A create whose re-sends all met a fault is left 'unknown' with its reason (re-sending again
    # might bill twice): visible and allowed, about 1 run in 10 at these rates. Once the faults
    # stop, resume() must finish it with still exactly one create per prompt.
    given_up = [j for j in a if j.row["status"] == "unknown"]
    for job in given_up:
        assert "stayed unknown" in job.row["error_message"], job.row["error_message"]
    if given_up:
        emulator.config.faults = FaultConfig()
        studio.resume(progress=False)
    for job in list(a) + list(b):
        row = job.row
        if "blocked-term" in row["prompt"]:
            assert row["status"] == "failed" and row["error_code"] == "moderation_blocked"
        else:
            assert_complete(row)
    for p in openai_prompts + ["storm blocked-term"]:
        assert emulator.counters.prompt_creates(p, "openai") == 1, p
    for p in runware_prompts:
        assert emulator.counters.prompt_creates(p, "runware") == 1, p
    total = {k: emulator.counters.total(k) for k in ("faults", "rate_limited")}
    assert total["faults"] >= 5 and total["rate_limited"] >= 1
    for kind in ("faults:error_5xx", "faults:reset", "faults:truncate_download", "faults:expire_urls"):
        assert emulator.counters.total(kind) >= 1, kind


def test_a_video_gone_for_good_fails_clearly_and_keeps_the_charge(studio, emulator):
    emulator.config.url_ttl_seconds = 0.0                # expired the moment it completes
    job = studio.generate("expired before download", model="kling-3-standard", provider="runware",
                          progress=False, wait=False)  # no seed: Runware's Kling 3.0 schema has none
    with pytest.raises(Exception):
        job.wait(timeout=30)
    row = job.row
    assert row["status"] == "failed" and row["error_code"] == "video_expired"
    assert row["billed_cost_source"] == "provider"       # Runware billed it; the record says so
    assert row["billed_cost"] == pytest.approx(0.42)
    assert emulator.counters["runware"]["polls"] >= 2     # a fresh URL was asked for


def test_an_openai_video_gone_before_download_stays_on_the_books_at_catalog_price(studio, emulator):
    """OpenAI reports no cost; a video it generated (and billed) but we never got is not $0."""
    emulator.config.url_ttl_seconds = 0.0
    job = studio.generate("expired sora clip", model="sora-2", provider="openai", seconds=4,
                          progress=False, wait=False)
    with pytest.raises(Exception):
        job.wait(timeout=60)
    row = job.row
    assert row["status"] == "failed" and row["error_code"] == "video_expired"
    assert row["billed_cost_source"] == "catalog"
    assert row["billed_cost"] == pytest.approx(0.40) == row["estimated_cost"]
