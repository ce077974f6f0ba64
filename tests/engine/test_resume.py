"""Resume: every unfinished row is finished without submitting anything twice."""

from __future__ import annotations

import time

from engine._helpers import assert_complete
from sorakit.emulator import FaultConfig
from sorakit.ledger import Ledger


def _insert_unsent(studio, prompt, **kw):
    """Rows written exactly as a submit writes them, as if the process died before sending."""
    req = studio._request(prompt, kw.pop("model", "sora-2"), kw.pop("provider", None), kw)
    p, rt = studio._plan(req)
    launch = studio._prepare([(p, rt)], as_batch=False, budget=None, allow_unknown_cost=True, timeout=None,
                             wait=False, raise_=False)
    return studio._loop.run(studio._engine.insert(launch.prepared[0][2]))


def test_rows_never_sent_are_sent_once_on_resume(make_studio, emulator, tmp_path, capsys, monkeypatch):
    first = make_studio(resume=False)
    a = _insert_unsent(first, "never sent openai")
    b = _insert_unsent(first, "never sent runware", model="seedance-1-pro", provider="runware",
                       size="864x480", seconds=5, seed=3, variations=2)
    first.close()
    assert emulator.counters.total("requests") == 0
    monkeypatch.delenv("SORAKIT_QUIET")
    second = make_studio()                                   # opening resumes in the background
    assert "resuming 3 unfinished job(s)" in capsys.readouterr().out
    jobs = second.resume(progress=False)
    assert sorted(j.id for j in jobs) == sorted(a + b)
    for j in jobs:
        assert_complete(j.row)
    assert emulator.counters.prompt_creates("never sent openai") == 1
    assert emulator.counters.prompt_creates("never sent runware") == 1
    assert emulator.counters["runware"]["conflicts"] == 0   # polled first: unknown task -> sent


def test_restart_reconciles_a_create_whose_answer_was_lost(make_studio, emulator):
    # the first process sends the create, loses the answer, and cannot list before it dies
    emulator.config.faults = FaultConfig(reset=1.0, operations=("create", "list"), providers=("openai",))
    first = make_studio(resume=False)
    job = first.submit("answer lost, then the kernel died", model="sora-2")
    deadline = time.monotonic() + 20
    while emulator.counters["openai"]["lists"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    first.close()
    emulator.config.faults = FaultConfig()
    second = make_studio(resume=False)
    row = second.ledger.get(job.id)
    assert row["status"] == "unknown" and row["attempts"] == 1 and row["provider_job_id"] is None
    (resumed,) = second.resume(progress=False)
    row = resumed.row
    assert_complete(row)
    assert row["extra"]["reconciled"] is True and row["attempts"] == 1
    assert emulator.counters.prompt_creates("answer lost, then the kernel died") == 1


def test_rows_driven_by_another_live_process_are_left_alone(make_studio, emulator, tmp_path):
    first = make_studio(resume=False)
    (jid,) = _insert_unsent(first, "owned by a live notebook")
    first.close()
    with Ledger(tmp_path / "ledger.db") as led:
        assert led.claim([jid], "teammate@other-host:42:abc", 60) == [jid]  # another process drives it
    second = make_studio()
    assert second.resume(progress=False) == []
    assert emulator.counters.total("requests") == 0
    (job,) = second.resume(progress=False, force=True)
    assert_complete(job.row)


def test_job_wait_drives_a_job_left_over_from_before(make_studio, emulator):
    first = make_studio(resume=False)
    (jid,) = _insert_unsent(first, "waited on after a restart")
    first.close()
    second = make_studio(resume=False)
    job = second.job(jid)
    assert job.wait(timeout=30).status == "completed"
    assert emulator.counters.prompt_creates("waited on after a restart") == 1


def test_a_second_studio_in_the_same_process_does_not_drive_jobs_twice(make_studio, emulator):
    """Re-running the notebook cell that makes the Studio while a batch is still running."""
    emulator.config.faults = FaultConfig(reset=1.0, operations=("create",), providers=("openai",))
    first = make_studio()
    batch = first.batch([f"cell re-run {i}" for i in range(4)], models="sora-2", wait=False)
    second = make_studio()                                  # opens on the same ledger, auto-resumes
    jobs = second.resume(progress=False)
    assert {j.id for j in jobs} >= set(batch.ids)
    for j in jobs:
        assert_complete(j.row)
    for i in range(4):
        assert emulator.counters.prompt_creates(f"cell re-run {i}") == 1


def test_a_ledger_written_before_provider_seed_migrates_and_resumes(make_studio, emulator, tmp_path):
    """A schema-1 ledger (the seed asked for in ``extra.request_seed``, ``seed`` overwritten with
    the provider's on completion, no ``provider_seed`` column) with unsent jobs in it: opening it
    upgrades it, the jobs are sent once with the seed asked for, and the seeds land in two columns."""
    first = make_studio(resume=False)
    seeded = _insert_unsent(first, "old ledger, seed asked", model="seedance-1-pro", provider="runware",
                            size="864x480", seconds=5, seed=3, variations=2)
    (free,) = _insert_unsent(first, "old ledger, no seed", model="seedance-1-pro", provider="runware",
                             size="864x480", seconds=5)
    first.close()
    with Ledger(tmp_path / "ledger.db") as led:  # as the sorakit before this one wrote them
        for jid in [*seeded, free]:
            row = led.get(jid)
            led.update(jid, extra={**row["extra"], "request_seed": row["seed"]})
        led.insert(job_id="job_done", prompt="finished long ago", provider="runware", model="seedance-1-pro",
                   status="completed", seed=8, extra={"client_ref": "r", "request_seed": 7})
        with led.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE jobs DROP COLUMN provider_seed")
            conn.exec_driver_sql("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    second = make_studio()
    jobs = {j.id: j for j in second.resume(progress=False)}
    assert sorted(jobs) == sorted([*seeded, free])
    for j in jobs.values():
        assert_complete(j.row)
        assert "request_seed" not in j.row["extra"]
    assert [jobs[i].row["seed"] for i in seeded] == [3, 3]                        # asked, kept
    assert sorted(jobs[i].row["provider_seed"] for i in seeded) == [3, 4]          # used, per variation
    assert emulator.counters.prompt_creates("old ledger, seed asked") == 1
    sent = sorted(j.seed for j in emulator.jobs("runware") if j.prompt == "old ledger, seed asked")
    assert sent == [3, 4]                                                          # sent with seed 3
    unseeded = jobs[free].row
    assert unseeded["seed"] is None and isinstance(unseeded["provider_seed"], int)
    assert jobs[free].seed == unseeded["provider_seed"]                           # what gets it again
    done = second.ledger.get("job_done")
    assert (done["seed"], done["provider_seed"], done["extra"]) == (7, 8, {"client_ref": "r"})
