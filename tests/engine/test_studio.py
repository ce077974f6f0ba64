"""The Studio against the emulator over real loopback HTTP: what a notebook user sees."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from engine._helpers import assert_complete
from sorakit import BudgetExceeded, JobFailed, JobTimeout, ValidationError
from sorakit.engine import Batch, Job, UnknownCost


def test_generate_openai_blocks_until_the_file_is_on_disk(studio, emulator):
    seen = []
    unsubscribe = studio.subscribe(lambda job_id, changes: seen.append((job_id, changes.get("status"))))
    job = studio.generate("a red fox in fresh snow", model="sora-2", seconds=4, progress=False)
    unsubscribe()
    assert isinstance(job, Job) and job.done and job.status == "completed"
    row = job.row
    assert_complete(row)
    assert job.file_path == Path(row["file_path"]) and job.poster_path.is_file()
    assert job.poster_path.stat().st_size <= 40_000
    assert row["emulated"] is True and row["provider"] == "openai" and row["provider_model"] == "sora-2"
    assert row["estimated_cost"] == pytest.approx(0.4)
    assert (row["billed_cost"], row["billed_cost_source"]) == (pytest.approx(0.4), "catalog")
    assert row["attempts"] == 1 and row["latency_s"] > 0 and row["video_url_expires_at"] is not None
    assert job.video_id == row["provider_job_id"] and job.video_id.startswith("video_")
    assert job.cost == pytest.approx(0.4)
    statuses = [s for j, s in seen if j == job.id and s]
    assert statuses[0] == "pending" and statuses[-2:] == ["downloading", "completed"]
    assert emulator.counters["openai"]["creates"] == 1
    assert emulator.counters.prompt_creates("a red fox in fresh snow") == 1


def test_runware_variations_are_separate_rows_with_provider_cost(studio, emulator):
    batch = studio.generate("two herons take off at dawn", model="veo-3-fast", provider="runware",
                            variations=3, seed=11, progress=False)
    assert isinstance(batch, Batch) and len(batch) == 3 and batch.done
    rows = [j.row for j in batch]
    for row in rows:
        assert_complete(row)
        assert row["billed_cost_source"] == "provider" and row["billed_cost"] == pytest.approx(1.2)
    assert sorted(r["variation_index"] for r in rows) == [0, 1, 2]
    assert [r["seed"] for r in rows] == [11, 11, 11]                 # the seed asked for, kept
    assert sorted(r["provider_seed"] for r in rows) == [11, 12, 13]  # the one each variation used
    assert sorted(j.seed for j in batch) == [11, 12, 13]              # what gets each video again
    assert len({r["sha256"] for r in rows}) == 3
    assert len({r["provider_job_id"] for r in rows}) == 1          # one taskUUID, chosen by us
    assert emulator.counters["runware"]["creates"] == 1
    assert len(batch.df) == 3 and set(batch.df["status"]) == {"completed"}


def test_batch_is_the_product_and_runs_concurrently(studio, emulator):
    prompts = ["a lighthouse in a storm", "a paper boat on a pond"]
    batch = studio.batch(prompts, models=["sora-2", "kling-3-standard"], providers=None, progress=False)
    assert len(batch) == 4 and batch.done and not batch.failed
    df = batch.df
    assert sorted(zip(df["prompt"], df["model"])) == sorted(
        (p, m) for p in prompts for m in ("sora-2", "kling-3-standard"))
    for job in batch:
        assert_complete(job.row)
    assert batch.summary().startswith("4 job(s): 4 completed")
    # concurrent: the whole batch took about one job's time, not four
    lat = df["latency_s"].max()
    span = (df["completed_at"].max() - df["created_at"].min()).total_seconds()
    assert span < 2.5 * lat + 1.5


def test_async_api_from_a_running_event_loop(studio, emulator):
    async def main():
        job = await studio.generate_async("a kite over the dunes", model="sora-2", provider="openai")
        batch = await studio.batch_async(["a snail race", "a snowy owl"], models="seedance-1-pro",
                                    size="864x480", seconds=5, seeds=[1, 2])
        return job, batch

    job, batch = asyncio.run(main())
    assert job.status == "completed" and len(batch) == 4 and batch.done
    assert all(j.row["status"] == "completed" for j in batch)


def test_wait_false_returns_at_once_and_wait_finishes(studio):
    job = studio.submit("a glass of water, slow motion", model="sora-2")
    assert job.status in ("pending", "submitted", "queued", "in_progress")
    assert job.wait(timeout=30) is job and job.done
    assert_complete(job.row)


def test_invalid_requests_fail_before_any_network_call(studio, emulator):
    with pytest.raises(ValidationError) as e:
        studio.generate("a fox", model="sora-2", seconds=5)
    assert e.value.field == "seconds"
    with pytest.raises(ValidationError) as e:
        studio.generate("a fox", model="sora-2", colour="red")
    assert e.value.field == "colour"
    with pytest.raises(ValidationError):
        studio.batch(["ok prompt", "x"], models="veo-3-fast", provider=None, seconds=9)
    assert emulator.counters.total("requests") == 0
    assert len(studio.ledger) == 0


def test_moderation_failures_record_code_and_no_charge(studio, emulator):
    with pytest.raises(JobFailed) as e:
        studio.generate("a blocked-term scene", model="sora-2", progress=False)
    row = studio.ledger.get(e.value.job_id)
    assert row["status"] == "failed" and row["error_code"] == "moderation_blocked" and row["error_message"]
    assert (row["billed_cost"], row["billed_cost_source"]) == (0.0, "none")
    rw = studio.generate("a blocked-term scene again", model="veo-3-fast", provider="runware",
                         variations=2, progress=False)
    for job in rw:
        r = job.row
        assert r["status"] == "failed" and r["error_code"] == "moderation_blocked"
        assert (r["billed_cost"], r["billed_cost_source"]) == (0.0, "provider")
    # the synchronous guardrail (HTTP 400) is a failure too, sent once, not retried
    with pytest.raises(JobFailed) as e:
        studio.generate("a guardrail-term portrait", model="sora-2", progress=False)
    assert e.value.code == "moderation_blocked"
    assert emulator.counters["openai"]["create_calls"] == 2
    assert studio.budget.spent == 0


def test_budget_refuses_before_sending_and_says_by_how_much(make_studio, emulator):
    studio = make_studio(budget=1.0)
    studio.generate("budget one", model="sora-2", progress=False)            # $0.40
    with pytest.raises(JobFailed):                                            # reserved, then given back
        studio.generate("blocked-term spend", model="sora-2", progress=False)
    assert studio.budget.spent == pytest.approx(0.4)
    studio.generate("budget two", model="sora-2", progress=False)            # $0.80
    calls = emulator.counters["openai"]["create_calls"]
    with pytest.raises(BudgetExceeded) as e:
        studio.generate("budget three", model="sora-2", progress=False)      # would be $1.20
    assert e.value.over == pytest.approx(0.2) and "0.20" in str(e.value) and "nothing was sent" in str(e.value)
    assert emulator.counters["openai"]["create_calls"] == calls and len(studio.ledger) == 3
    assert studio.budget.spent == pytest.approx(0.8) and studio.budget.remaining == pytest.approx(0.2)
    with pytest.raises(BudgetExceeded) as e:                                  # per-batch cap
        studio.batch(["a", "bb", "cc"], models="sora-2", budget=0.5)
    assert e.value.scope == "batch" and len(studio.ledger) == 3
    with pytest.raises(UnknownCost) as e:                                     # price unknown
        studio.generate("an unknown price", model="veo-3.1", provider="runware", progress=False)
    assert "allow_unknown_cost=True" in str(e.value)
    job = studio.generate("an unknown price", model="veo-3.1", provider="runware", seconds=4,
                          allow_unknown_cost=True, progress=False)
    assert job.row["estimated_cost"] is None  # unknown, never 0
    # Runware reports what it billed (includeCost; the emulator's figure where the catalog has no
    # price): the ledger and the budget count that
    reported = emulator.surfaces["runware"].emulator_rate() * 4
    assert job.row["billed_cost"] == pytest.approx(reported) and job.row["billed_cost_source"] == "provider"
    assert studio.budget.spent == pytest.approx(0.8 + reported)


def test_timeout_leaves_the_job_resumable(make_studio, emulator):
    emulator.config.generation_seconds = 3.0
    studio = make_studio()
    with pytest.raises(JobTimeout) as e:
        studio.generate("a slow sunrise", model="sora-2", timeout=0.6, progress=False)
    assert "resume()" in str(e.value)
    row = studio.ledger.get(e.value.job_id)
    assert row["status"] == "timed_out_waiting" and row["provider_job_id"]
    assert row["status"] not in ("failed",)
    jobs = studio.resume(progress=False)
    assert [j.id for j in jobs] == [e.value.job_id]
    assert_complete(jobs[0].row)
    assert emulator.counters.prompt_creates("a slow sunrise") == 1


def test_job_wait_timeout_only_bounds_the_call(studio, emulator):
    emulator.config.generation_seconds = 1.5
    job = studio.submit("a long exposure of traffic", model="sora-2")
    with pytest.raises(JobTimeout):
        job.wait(timeout=0.2)
    assert not job.done
    assert job.wait(timeout=30).status == "completed"


def test_annotations_and_remix(studio, emulator):
    job = studio.generate("a tabby cat on a windowsill", model="sora-2", progress=False)
    job.rate(4).tag("cats", "window").note("nice light")
    row = job.row
    assert row["rating"] == 4 and row["tags"] == ["cats", "window"] and row["notes"] == "nice light"
    remix = job.remix("the same cat at night", progress=False)
    r = remix.row
    assert_complete(r)
    assert r["action"] == "remix" and r["source_video_id"] == job.video_id
    assert studio.job(remix.id) == remix and remix in studio.jobs(action="remix")


def test_subscribe_is_called_on_the_engine_thread_after_commits(studio):
    events = []

    def cb(job_id, changes):
        # the change is already committed: the ledger shows it
        if "status" in changes and changes["status"] != "pending":
            events.append((threading.current_thread().name, studio.ledger.get(job_id)["status"],
                           changes["status"]))

    unsubscribe = studio.subscribe(cb)
    studio.generate("a hummingbird", model="sora-2", progress=False)
    unsubscribe()
    assert events and all(name == "sorakit-engine" for name, _, _ in events)
    assert all(committed == changed for _, committed, changed in events)


def test_repr_and_emulator_notice(monkeypatch, make_studio, capsys, tmp_path):
    monkeypatch.delenv("SORAKIT_QUIET")
    for var in ("OPENAI_API_KEY", "RUNWARE_API_KEY", "RUNCRATE_API_KEY", "RELAY_API_KEY",
                "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    studio = make_studio(emulate=None, ledger=tmp_path / "other.db")
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["sorakit: no API keys found — using the built-in emulator; jobs are marked emulated "
                   "and cost nothing"]
    assert studio.emulated("openai") and studio.emulated()
    assert "Studio" in repr(studio) and "openai=emulated" in repr(studio)


def test_estimate_takes_the_batch_arguments_and_sends_nothing(studio, emulator):
    est = studio.estimate(["a fox", "a heron"], models=["sora-2", "kling-3-standard"], seeds=None)
    assert len(est.lines) == 4 and est.complete
    assert est.total == pytest.approx(2 * (0.1 * 4 + 0.084 * 5))
    assert emulator.counters.total("requests") == 0 and len(studio.ledger) == 0


def test_jobs_and_batch_views(studio):
    batch = studio.batch(["view one", "view two"], models="sora-2", progress=False)
    assert {j.id for j in studio.jobs(batch_id=batch.id)} == set(batch.ids)
    assert batch[0] in studio.jobs(status="completed")
    assert len(batch[:1]) == 1 and batch.counts() == {"completed": 2}
    assert "2 completed" in repr(batch)
