"""When the engine gives up on a job, the job ends somewhere a user can see and act on.

Regression (issue 11, defect 1): with every download truncated, the download retries ran out,
``_download`` swallowed the give-up, the row stayed ``downloading`` with no error and
``Batch.wait()`` returned anyway. Now such a job is ``failed`` with ``download_failed`` recorded
(its cost kept: the provider made the video) and ``job.retry_download()`` fetches it later.
"""

from __future__ import annotations

import pytest

from engine._helpers import assert_complete, fast_policy, wait_until
from sorakit import JobFailed
from sorakit.emulator import FaultConfig, ManualClock
from sorakit._types import TERMINAL


def test_a_download_given_up_is_failed_with_its_error_and_can_be_retried(make_studio, emulator):
    studio = make_studio(policy=fast_policy(download_retries=2))
    emulator.config.faults = FaultConfig(truncate_download=1.0, operations=("download",))
    batch = studio.batch(["every download is cut short"], models="sora-2", progress=False)
    assert batch.counts() == {"failed": 1}                     # not {'downloading': 1}
    job = batch[0]
    row = job.row
    assert row["error_code"] == "download_failed"
    assert "retry_download" in row["error_message"]
    assert row["billed_cost_source"] == "catalog" and row["billed_cost"] == row["estimated_cost"] > 0
    assert job.error.startswith("download_failed")
    with pytest.raises(JobFailed):
        job.wait(timeout=30)
    assert emulator.counters.total("faults:truncate_download") == 3   # first try + 2 retries

    emulator.config.faults = FaultConfig()                      # the network heals
    job.retry_download(timeout=30)
    assert_complete(job.row)
    assert job.row["error_code"] is None
    assert emulator.counters.prompt_creates("every download is cut short") == 1


def test_rate_limited_downloads_wait_instead_of_using_up_the_retries(make_studio, emulator):
    """429 is the server asking for patience, not a failed attempt (the fault-storm flake)."""
    studio = make_studio(policy=fast_policy(download_retries=0))
    emulator.config.rate_limit_per_minute = 2
    emulator.config.rate_limit_window_seconds = 0.3
    batch = studio.batch([f"patient download {i}" for i in range(6)], models="sora-2", progress=False)
    for job in batch:
        assert_complete(job.row)
    assert emulator.counters.total("rate_limited") >= 1


@pytest.mark.parametrize("emulator_clock", [ManualClock()])     # the job runs only when told
def test_a_refused_poll_leaves_the_job_resumable_with_its_error_recorded(make_studio, emulator):
    studio = make_studio()
    job = studio.submit("a poll the provider refuses", model="sora-2")
    wait_until(lambda: job.status in ("queued", "in_progress"))
    emulator.config.require_key = "test-only-key-the-studio-does-not-have"
    with pytest.raises(Exception):
        job.wait(timeout=30)
    row = job.row
    assert row["status"] not in TERMINAL
    assert row["status"] == "timed_out_waiting" and row["error_code"]
    assert emulator.counters["openai"]["auth_failures"] >= 1
    emulator.config.require_key = None
    emulator.clock.advance(60)
    job.wait(timeout=30)                                        # waiting again drives it again
    assert_complete(job.row)
    assert job.row["error_code"] is None
    assert emulator.counters.prompt_creates("a poll the provider refuses") == 1


@pytest.mark.parametrize("emulator_clock", [ManualClock()])     # the job cannot finish by itself
def test_a_generate_whose_wait_bound_ran_out_is_reported_not_restarted(make_studio, emulator):
    """generate(timeout=...) ends with JobTimeout and the job left timed_out_waiting (resumable);
    the wait after the submit must not quietly start driving it again with the default bound."""
    from sorakit import JobTimeout

    studio = make_studio(max_wait=3600)       # re-driven with this bound, the call would hang
    with pytest.raises(JobTimeout):
        studio.generate("bounded by its timeout", model="sora-2", timeout=0.5, progress=False)
    job = studio.jobs()[0]
    assert job.status == "timed_out_waiting" and not studio._engine.is_active(job.id)
    emulator.clock.advance(3600)
    job.wait(timeout=30)                                        # an explicit wait drives it again
    assert_complete(job.row)
