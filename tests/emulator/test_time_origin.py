"""The emulator's job state machine does not depend on where time starts.

A job's timeline is stored as Unix seconds: on the wall clock those are ~1.8e9, where one float
step is ~2.4e-7 s. The state machine was once only exercised near a clock origin of zero (and on a
manual clock that never moved before a cancel); at wall-clock magnitudes a cancelled job asked for
its state at ``cancelled_at - 1e-9``, which is ``cancelled_at`` again, and recursed forever.
These properties run the same timeline at origins from 0 to past 2100.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorakit.emulator._store import Job, JobStore

ORDER = {"queued": 0, "in_progress": 1, "completed": 2, "failed": 2, "cancelled": 2}

origins = st.one_of(
    st.sampled_from([0.0, 1.0, 1_780_272_000.0, 1_800_000_000.0, 4_102_444_800.0]),
    st.floats(min_value=0.0, max_value=4.2e9, allow_nan=False, allow_infinity=False),
)
spans = st.floats(min_value=0.0, max_value=600.0, allow_nan=False)


def make_job(origin: float, queue: float, run: float, fail: bool = False) -> Job:
    return Job(
        id="j", provider="gemini", key="k", model="gemini-omni-flash", provider_model="gemini-omni-flash",
        prompt="a kite", width=1280, height=720, seconds=6, fps=24, audio=False, seed=1,
        created_at=origin, start_at=origin + queue, finish_at=origin + queue + run,
        error=("boom", "failed") if fail else None,
    )


@settings(max_examples=300, deadline=None)
@given(origin=origins, queue=spans, run=spans, fail=st.booleans(),
       ts=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=12))
def test_status_and_progress_only_move_forward_at_any_origin(origin, queue, run, fail, ts):
    job = make_job(origin, queue, run, fail)
    end = queue + run
    seen = [job.state(origin + f * (end + 1.0)) for f in sorted(ts)]
    ranks = [ORDER[s] for s, _ in seen]
    assert ranks == sorted(ranks)
    running = [p for s, p in seen if s == "in_progress"]
    assert running == sorted(running) and all(0 <= p <= 99 for p in running)
    assert job.state(origin + end + 1.0)[0] == ("failed" if fail else "completed")


@settings(max_examples=300, deadline=None)
@given(origin=origins, queue=spans, run=st.floats(min_value=0.001, max_value=600.0), at=st.floats(0.0, 1.0),
       later=st.floats(min_value=0.0, max_value=10_000.0))
def test_a_cancel_ends_the_job_with_the_progress_it_had_at_any_origin(origin, queue, run, at, later):
    job = make_job(origin, queue, run)
    store = JobStore()
    store._jobs[job.id] = job
    store._order.append(job.id)
    now = origin + (queue + run) * at
    if job.terminal(now):            # the float may have landed on finish_at: nothing to cancel
        assert not store.cancel(job.id, now)
        return
    before = job.state(now)
    assert store.cancel(job.id, now)
    for t in (now, now + later, origin + queue + run + later):
        status, progress = job.state(t)          # terminates (it recursed forever at ~1.8e9)
        assert status == "cancelled"
        assert progress == (before[1] if before[0] == "in_progress" else 0)
        assert job.terminal(t)
    assert not store.cancel(job.id, now + later)  # cancelling again changes nothing
    start, end = job.busy_between()
    assert start <= origin + queue and end == min(job.finish_at, now)


def test_the_wall_clock_case_that_recursed():
    job = make_job(1_800_000_000.0, 1.0, 60.0)
    job.cancelled_at = 1_800_000_031.0
    assert job.state(1_800_000_040.0) == ("cancelled", 50)


@pytest.mark.parametrize("origin", [0.0, 1_780_272_000.0, 1_800_000_000.0, 4_102_444_800.0])
def test_an_interaction_cancelled_while_rendering_answers_cancelled_over_http_at_any_origin(
        origin, emulator_media_dir):
    """The same through the Interactions API: create, let it render part-way, cancel, poll."""
    import httpx

    from sorakit.emulator import Emulator, EmulatorConfig, ManualClock

    clock = ManualClock(origin)
    emu = Emulator(EmulatorConfig(time_scale=0.01, render_eagerly=False), emulator_media_dir, clock=clock)
    try:
        with httpx.Client(transport=emu.sync_transport(), base_url="http://emulator/gemini",
                          headers={"x-goog-api-key": "k"}) as c:
            made = c.post("/v1beta/interactions", json={"model": "gemini-omni-flash-preview", "input": "a kite",
                                                        "background": True}).json()
            [job] = emu.store.group(made["id"])
            clock.set(job.start_at + (job.finish_at - job.start_at) / 2)   # half rendered
            assert job.state(clock.now())[0] == "in_progress"
            r = c.post(f"/v1beta/interactions/{made['id']}/cancel")
            assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
            clock.advance(3600)
            again = c.get(f"/v1beta/interactions/{made['id']}")
            assert again.status_code == 200 and again.json()["status"] == "cancelled", again.text
    finally:
        emu.close()
