"""Honest ETAs: a batch's expected finish from the ledger's history and the provider's concurrency,
and the text a user reads, with latencies seeded by hand and a fixed "now" (no wall clock)."""

from __future__ import annotations

import datetime as dt

import pytest

from sorakit.emulator import ManualClock
from sorakit.engine._eta import LatencyCache, batch_eta
from sorakit.engine._progress import TextProgress
from sorakit.ledger import Latency

NOW = 1_800_000_000.0
HIST = {("sora-2", "openai"): Latency("sora-2", "openai", 12, 60.0, 90.0),
        ("veo-3-fast", "runware"): Latency("veo-3-fast", "runware", 4, 30.0, 40.0)}


def latency(model, provider, emulated):
    return HIST.get((model, provider)) or Latency(model, provider, 0, None, None)


def row(model="sora-2", provider="openai", status="pending", ran=None):
    sub = None if ran is None else dt.datetime.fromtimestamp(NOW - ran, dt.timezone.utc)
    return {"model": model, "provider": provider, "status": status, "submitted_at": sub, "emulated": True}


def test_waiting_jobs_fill_the_providers_lanes_in_waves():
    rows = [row() for _ in range(5)]
    eta = batch_eta(rows, latency, lambda p: 2, NOW)
    assert (eta.jobs_left, eta.seconds_left) == (5, 180.0)               # 2 + 2 + 1 jobs of 60 s
    assert eta.describe() == "expected to finish in ~3 min (5 left, 2 at a time at openai; from past runs' median)"
    assert batch_eta(rows, latency, lambda p: 8, NOW).seconds_left == 60.0


def test_running_jobs_count_their_elapsed_time_and_providers_run_side_by_side():
    rows = [row(status="in_progress", ran=50), row(status="queued", ran=20), row(),
            row("veo-3-fast", "runware"), row("veo-3-fast", "runware"), row(status="completed", ran=999)]
    eta = batch_eta(rows, latency, lambda p: 2, NOW)
    # openai: lanes free at 10 s and 40 s; the waiting job starts at 10 s -> 70 s. runware: 30 s
    assert (eta.jobs_left, eta.seconds_left) == (5, 70.0)
    late = batch_eta([row(status="in_progress", ran=500)], latency, lambda p: 1, NOW)
    assert late.seconds_left == 0 and "any moment now" in late.describe()


def test_no_history_is_said_not_guessed():
    eta = batch_eta([row(), row("kling-3-standard", "relay")], latency, lambda p: 4, NOW)
    assert eta.seconds_left is None and eta.missing == ("kling-3-standard@relay",)
    assert eta.describe() == "no history for kling-3-standard@relay yet: no expected finish"
    assert batch_eta([row(status="completed")], latency, lambda p: 4, NOW).describe() == ""


def test_the_latency_cache_reads_the_ledger_once_per_ttl():
    calls = []

    class Led:
        def latency(self, model, provider, emulated=None):
            calls.append((model, provider, emulated))
            return latency(model, provider, emulated)

    t = [0.0]
    cache = LatencyCache(Led(), ttl=30, clock=lambda: t[0])
    for _ in range(3):
        assert cache.get("sora-2", "openai", True).median_s == 60
    t[0] = 31
    cache.get("sora-2", "openai", True)
    assert len(calls) == 2


class _Engine:
    def __init__(self, snap):
        self.snap = snap

    def snapshot(self, ids):
        return {i: self.snap.get(i, {}) for i in ids}


def test_text_progress_shows_the_usual_latency_while_queued_and_the_batch_finish():
    one = TextProgress(_Engine({"a": {"status": "queued"}}), ["a"], "sora-2@openai a",
                       eta=lambda: latency("sora-2", "openai", True).describe())
    assert one.line().endswith("queued · 0s · usually ready in ~60 s (median of 12 runs, p90 90 s)")
    moving = TextProgress(_Engine({"a": {"status": "in_progress", "progress": 40}}), ["a"], "x",
                          eta=lambda: "usually ready in ~60 s")
    assert "usually" not in moving.line()                               # progress speaks for itself
    many = TextProgress(_Engine({"a": {"status": "queued"}, "b": {"status": "completed"}}), ["a", "b"], "2 jobs",
                        eta=lambda: batch_eta([row()], latency, lambda p: 1, NOW).describe())
    assert many.line().endswith("expected to finish in ~60 s (1 left, 1 at a time at openai; from past runs' median)")


@pytest.mark.parametrize("emulator_clock", [ManualClock()])
def test_jobs_and_batches_read_their_eta_from_the_studios_ledger(make_studio, emulator):
    studio = make_studio(concurrency=2)
    done = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    studio.ledger.insert_many([dict(provider="openai", model="sora-2", prompt="old", status="completed",
                                    emulated=True, latency_s=float(s), completed_at=done) for s in (40, 50, 60)])
    batch = studio.batch(["a", "b", "c"], models="sora-2", wait=False)
    job = batch[0]
    assert job.usual_latency.describe() == "usually ready in ~50 s (median of 3 runs, p90 58 s)"
    eta = batch.eta()
    assert eta.jobs_left == 3 and eta.lanes == (("openai", 2),)
    assert 50 <= eta.seconds_left <= 100                                # 2 lanes: 50 s then 50 s, minus elapsed
    other = studio.submit("no history", model="veo-3-fast", provider="runware")
    assert other.usual_latency.describe() == "no history for this model yet"
    assert studio.latency("sora-2", "openai", emulated=False).count == 0  # real runs: none


def test_a_job_that_completes_is_history_at_once_for_the_next_card(make_studio, emulator):
    """Issue 25 item 2: the cache kept "no history" for 30 s after the same model finished."""
    studio = make_studio()
    first = studio.submit("a fox", model="seedance-1-pro", provider="runware")
    assert first.usual_latency.count == 0                 # asked while it runs (a live card does)
    first.wait(timeout=30)
    second = studio.submit("a heron", model="seedance-1-pro", provider="runware")
    assert second.usual_latency.count == 1, second.usual_latency.describe()
    assert "no history" not in second.usual_latency.describe()
    second.wait(timeout=30)
    assert studio.submit("a crab", model="seedance-1-pro", provider="runware").usual_latency.count == 2


def test_forget_drops_one_models_figures_or_all():
    calls = []

    class Led:
        def latency(self, model, provider, emulated=None):
            calls.append(model)
            return latency(model, provider, emulated)

    cache = LatencyCache(Led(), ttl=30, clock=lambda: 0.0)
    cache.get("sora-2", "openai", True), cache.get("veo-3-fast", "runware", True)
    cache.on_job_change({"model": "sora-2", "provider": "openai"}, {"status": "in_progress"})
    cache.get("sora-2", "openai", True)
    assert calls == ["sora-2", "veo-3-fast"]              # progress is not history
    cache.on_job_change({"model": "sora-2", "provider": "openai"}, {"status": "completed"})
    cache.get("sora-2", "openai", True), cache.get("veo-3-fast", "runware", True)
    assert calls == ["sora-2", "veo-3-fast", "sora-2"]    # only the model that completed is re-read
