"""A long-running kernel stays flat: the engine forgets finished jobs (the ledger remembers them).

Counted, not timed: after jobs end, the engine's per-job dicts hold nothing for them (only a
bounded list of recent statuses for progress displays). RSS figures: ``bench/memory.py``.
"""

from __future__ import annotations

import sorakit.engine._engine as engine_mod


def _per_job_sizes(studio) -> dict[str, int]:
    eng = studio._engine
    sizes = {name: len(getattr(eng, name)) for name in
             ("_rows", "_live", "_events", "_errors", "_active", "_last_progress_write")}
    sizes["claimed"] = sum(len(rt.claimed) for rt in eng.runtimes.values())
    sizes["inflight"] = sum(len(rt.inflight) for rt in eng.runtimes.values())
    sizes["budget"] = len(studio._budget._amounts)
    sizes["drivers"] = sum(1 for e in engine_mod._DRIVERS.values() if e is eng)
    return sizes


def test_finished_jobs_leave_no_per_job_state(make_studio, monkeypatch):
    monkeypatch.setattr(engine_mod, "_RECENT", 8)
    studio = make_studio(budget=100.0)
    first = studio.batch([f"memory probe {i}" for i in range(6)], models="sora-2", progress=False)
    after_first = _per_job_sizes(studio)
    second = studio.batch([f"memory probe b{i}" for i in range(12)], models=["sora-2"], progress=False)
    second_failed = studio.batch(["memory probe blocked-term"], models="sora-2", progress=False)
    assert first.counts() == {"completed": 6} and second.counts() == {"completed": 12}
    assert second_failed.counts() == {"failed": 1}
    after_second = _per_job_sizes(studio)
    assert after_first == after_second == {k: 0 for k in after_first}, (after_first, after_second)
    assert len(studio._engine._recent) == 8                           # bounded, not 19
    # what the engine forgot is still answered correctly from the ledger
    job = first[0]
    assert job.wait().status == "completed" and job.progress == 100
    assert studio.budget.spent > 0                                   # settled jobs still count
