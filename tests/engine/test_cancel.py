"""job.cancel() per provider, against the emulator over real loopback HTTP on a manual clock.

What each provider can do (sorakit/providers/*: ``CancelSupport``):

* not yet sent (any provider): cancelled here, nothing billed, nothing sent;
* Gemini Omni Flash (Interactions API): ``POST interactions/{id}/cancel`` -> cancelled, billing unconfirmed;
* OpenAI: ``DELETE /videos/{id}``, which the API documents only for finished videos: the emulator
  refuses it for a running one, so the job is left open (not cancelled) and still finishes;
* Runware, Runcrate, relays, Veo operations (Gemini API, enterprise platform): nothing to send.
"""

from __future__ import annotations

import math

import pytest

from engine._helpers import assert_complete, wait_until
from sorakit import CancelResult, JobFailed
from sorakit.emulator import ManualClock

pytestmark = pytest.mark.parametrize("emulator_clock", [ManualClock()])  # jobs move only when told


def unknown(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def remote(job) -> None:
    """Wait until the provider has accepted the job (its id is in the ledger)."""
    wait_until(lambda: job.row.get("provider_job_id") and job.status in ("submitted", "queued", "in_progress"))


def test_a_job_not_yet_sent_is_cancelled_here_and_not_billed(make_studio, emulator):
    studio = make_studio(concurrency=1)
    first = studio.submit("holds the only slot", model="sora-2")
    second = studio.submit("waits for the slot", model="sora-2")
    remote(first)
    assert second.status == "pending"
    result = second.cancel()
    assert isinstance(result, CancelResult)
    assert (result.cancelled, result.billed, result.how, result.status) == (True, "no", "local", "cancelled")
    row = second.row
    assert row["status"] == "cancelled" and row["billed_cost"] == 0 and row["billed_cost_source"] == "none"
    assert row["completed_at"] is not None and row["extra"]["cancel"]["how"] == "local"
    assert emulator.counters.prompt_creates("waits for the slot") == 0      # never sent
    assert second.cost == 0 and second.done
    with pytest.raises(JobFailed):
        second.wait(timeout=5)
    # the slot holder is untouched
    assert first.status in ("queued", "in_progress") and studio._engine.is_active(first.id)


def test_gemini_omni_flash_is_cancelled_by_the_interactions_api(studio, emulator):
    job = studio.submit("a kite over dunes", model="gemini-omni-flash", provider="gemini", seconds=6)
    remote(job)
    result = job.cancel()
    assert (result.cancelled, result.how, result.billed) == (True, "cancel", "unconfirmed")
    assert "google-genai" in result.reason
    assert emulator.counters["gemini"]["cancel_calls"] == 1 and emulator.counters["gemini"]["cancels"] == 1
    [posted] = emulator.requests.entries("POST", "/cancel")
    assert posted.path.endswith(f"/interactions/{job.row['provider_job_id']}/cancel")
    assert emulator.store.group(job.row["provider_job_id"])[0].state(emulator.clock.now())[0] == "cancelled"
    row = job.row
    assert row["status"] == "cancelled" and row["error_code"] == "cancelled"
    assert unknown(row["billed_cost"]) and row["extra"]["cancel"] == {**row["extra"]["cancel"], "how": "cancel",
                                                                      "billed": "unconfirmed"}
    assert not studio._engine.is_active(job.id)
    # cancelling again says so and sends nothing
    again = job.cancel()
    assert again.cancelled and again.how == "already_done"
    assert emulator.counters["gemini"]["cancel_calls"] == 1


def test_openai_refuses_deleting_a_running_video_so_the_job_stays_tracked(studio, emulator):
    job = studio.submit("a lighthouse keeper waves", model="sora-2")
    remote(job)
    result = job.cancel()
    assert (result.cancelled, result.how, result.billed) == (False, "none", "yes")
    assert "HTTP 400" in result.reason and "completed or failed" in result.reason
    assert emulator.counters["openai"]["cancel_calls"] == 1 and emulator.counters["openai"]["deletes"] == 0
    row = job.row
    assert row["status"] == "timed_out_waiting" and row["error_code"] == "not_cancelled"
    assert "job.wait()" in row["error_message"]
    assert not studio._engine.is_active(job.id)                 # sorakit stopped waiting ...
    assert job.id in [r["job_id"] for r in studio.ledger.pending()]  # ... and keeps tracking it
    emulator.clock.advance(3600)
    job.wait(timeout=30)                                        # the video and its cost are not lost
    assert_complete(job.row)
    assert job.row["billed_cost"] > 0 and job.row["error_code"] is None
    assert emulator.counters.prompt_creates("a lighthouse keeper waves") == 1


@pytest.mark.parametrize("model,provider", [
    ("veo-3-fast", "runware"), ("veo-3", "runcrate"), ("kling-3-standard", "relay"),
    ("veo-3-fast", "gemini"), ("veo-3.1-fast", "vertex"),
])
def test_providers_without_a_cancel_call_are_told_and_resumable(make_studio, emulator, model, provider, tmp_path):
    studio = make_studio()
    kw = {"seconds": 4} if provider == "vertex" else {}
    job = studio.submit(f"a {provider} job that cannot be stopped", model=model, provider=provider, **kw)
    remote(job)
    result = job.cancel()
    assert (result.cancelled, result.how, result.billed) == (False, "none", "yes")
    assert "no" in result.reason and "(" in result.reason              # the fact, with its source
    assert emulator.counters.total("cancel_calls") == 0 and emulator.counters.total("deletes") == 0
    row = job.row
    assert row["status"] == "timed_out_waiting" and row["error_code"] == "not_cancelled"
    studio.close()
    # a later session (or this one) still finishes it: file and cost are not lost
    later = make_studio()
    emulator.clock.advance(3600)
    later.resume(progress=False, timeout=30)
    assert_complete(later.job(job.id).row)


def test_cancelling_a_finished_job_changes_nothing(studio, emulator):
    job = studio.submit("done already", model="sora-2")
    remote(job)
    emulator.clock.advance(3600)
    job.wait(timeout=30)
    result = job.cancel()
    assert (result.cancelled, result.how, result.status) == (False, "already_done", "completed")
    assert job.status == "completed" and emulator.counters.total("cancel_calls") == 0


def test_batch_cancel_stops_every_job_and_reports_each(make_studio, emulator):
    studio = make_studio(concurrency=1)
    blocker = studio.submit("the slot holder", model="gemini-omni-flash", provider="gemini", seconds=6)
    remote(blocker)
    batch = studio.batch(["one", "two"], models="gemini-omni-flash@gemini", seconds=6, wait=False)
    results = batch.cancel()
    assert [r.job_id for r in results] == batch.ids
    assert all(r.cancelled and r.how == "local" and r.billed == "no" for r in results)
    assert batch.counts() == {"cancelled": 2} and batch.cost == 0
    assert blocker.cancel().how == "cancel"


def test_a_cancel_the_provider_does_not_answer_is_retried_a_bounded_while_then_left_open(make_studio, emulator):
    from sorakit.emulator import FaultConfig
    from engine._helpers import fast_policy

    studio = make_studio(policy=fast_policy(cancel_wait=1.0, retry_initial=0.3, retry_max=0.3))
    job = studio.submit("a cancel into a storm of 503s", model="gemini-omni-flash", provider="gemini", seconds=6)
    remote(job)
    emulator.config.faults = FaultConfig(error_5xx=1.0, operations=("delete",), providers=("gemini",))
    result = job.cancel()
    assert (result.cancelled, result.billed) == (False, "unconfirmed") and "did not answer" in result.reason
    tries = len(emulator.requests.entries("POST", "/cancel"))
    assert 2 <= tries <= 8              # backoff 0.15-0.3 s within 1 s: retried, never in a hot loop
    assert job.row["status"] == "timed_out_waiting" and job.row["error_code"] == "not_cancelled"
    emulator.config.faults = FaultConfig()
    again = job.cancel()                                        # the row is still tracked: try again
    assert again.cancelled and again.how == "cancel" and job.status == "cancelled"
