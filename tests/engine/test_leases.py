"""Leases in the engine: what a user sees when a job is driven by this process, by a teammate's
process, or by a process that died. (Several real processes at once: ``test_team.py``.)"""

from __future__ import annotations

import threading

import pytest

from engine._helpers import assert_complete, fast_policy, wait_until
from sorakit import JobFailed, JobTimeout, SorakitError
from sorakit.ledger import Ledger

TEAMMATE = "bob@laptop-2:4242:f00d"


def _unsent(studio, prompt: str) -> str:
    """A row written exactly as a submit writes it, then freed (as if its process had closed)."""
    req = studio._request(prompt, "sora-2", None, {})
    p, rt = studio._plan(req)
    launch = studio._prepare([(p, rt)], as_batch=False, budget=None, allow_unknown_cost=True, timeout=None,
                             wait=False, raise_=False)
    (jid,) = studio._loop.run(studio._engine.insert(launch.prepared[0][2]))
    studio.ledger.release([jid], studio._engine.owner)
    return jid


@pytest.fixture
def lease_policy():
    return fast_policy(lease_seconds=1.0, lease_heartbeat=0.1, lease_watch=0.05)


def test_a_submission_is_leased_to_its_process_until_it_ends(make_studio, emulator, lease_policy):
    emulator.config.time_scale = 0.2                        # a job takes several seconds
    studio = make_studio(policy=lease_policy, resume=False)
    job = studio.submit("leased while it runs", model="sora-2")
    row = studio.ledger.get(job.id)
    assert row["lease_owner"] == studio._engine.owner
    # the heartbeat keeps it: a teammate's claim fails long after the first lease would have run out
    with Ledger(studio.ledger.location) as other:
        for _ in range(4):
            assert other.claim([job.id], TEAMMATE, 60) == []
            threading.Event().wait(0.5)
        assert other.get(job.id)["status"] not in ("completed", "failed")   # still running: leased
    job.wait(timeout=60)
    assert_complete(job.row)
    wait_until(lambda: job.row["lease_owner"] is None and job.row["lease_until"] is None)  # released


def test_closing_a_studio_frees_its_jobs_at_once(make_studio, emulator, lease_policy, tmp_path):
    emulator.config.time_scale = 0.05
    first = make_studio(policy=fast_policy(lease_seconds=600), resume=False)
    batch = first.batch(["closed early 1", "closed early 2"], models="sora-2", wait=False, progress=False)
    first.close()
    with Ledger(tmp_path / "ledger.db") as led:
        rows = [led.get(j) for j in batch.ids]
    assert all(r["lease_owner"] is None for r in rows if r["status"] not in ("completed", "failed"))
    second = make_studio(policy=lease_policy, resume=False)
    jobs = second.resume(progress=False)                    # no wait for a 10-minute lease
    assert {j.id for j in jobs} == {r["job_id"] for r in rows if r["status"] != "completed"}
    for j in batch.ids:
        assert_complete(second.job(j).row)
    for i in (1, 2):
        assert emulator.counters.prompt_creates(f"closed early {i}") == 1


def test_waiting_on_a_teammates_job_watches_the_ledger(make_studio, emulator, lease_policy, capsys, monkeypatch):
    studio = make_studio(policy=lease_policy, resume=False)
    jid = _unsent(studio, "my teammate drives this one")
    assert studio.ledger.claim([jid], TEAMMATE, 60) == [jid]
    monkeypatch.delenv("SORAKIT_QUIET")
    assert studio.resume(progress=False) == []
    out = capsys.readouterr().out
    assert "1 unfinished job(s) are driven by another process" in out and TEAMMATE in out
    job = studio.job(jid)
    with pytest.raises(JobTimeout):
        job.wait(timeout=0.3)                              # watched, not driven: nothing sent
    assert emulator.counters.total("requests") == 0
    result: list = []

    def wait() -> None:
        try:
            job.wait(timeout=30)
        except Exception as exc:  # noqa: BLE001 - checked below
            result.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    threading.Event().wait(0.3)
    assert waiter.is_alive()                                       # still watching
    # the teammate's process ends it: the wait reports what the ledger says
    studio.ledger.update(jid, status="failed", error_code="moderation_blocked", error_message="refused")
    waiter.join(30)
    assert not waiter.is_alive()
    assert isinstance(result[0], JobFailed) and "refused" in str(result[0])
    assert emulator.counters.total("requests") == 0
    assert studio.ledger.get(jid)["lease_owner"] == TEAMMATE       # never taken from a live holder


def test_a_dead_holders_job_is_taken_over_once_its_lease_runs_out(make_studio, emulator, lease_policy):
    studio = make_studio(policy=lease_policy, resume=False, adopt=False)   # the wait's own takeover
    jid = _unsent(studio, "the holder died")
    studio.ledger.update(jid, attempts=1, status="unknown")           # it may have sent the create
    assert studio.ledger.claim([jid], TEAMMATE, 600) == [jid]
    assert studio.resume(progress=False) == []                     # leased: left alone
    assert studio.ledger.claim([jid], TEAMMATE, 0.3) == [jid]      # its last beat; then it died
    job = studio.job(jid).wait(timeout=30)                         # watches, then takes over
    assert_complete(job.row)
    assert job.row["extra"].get("reconciled") is None or job.row["attempts"] >= 1
    assert emulator.counters.prompt_creates("the holder died") == 1
    assert studio._engine.stats["takeovers"] == 1


def test_a_lease_taken_by_force_stops_the_local_driver(make_studio, emulator, lease_policy):
    emulator.config.time_scale = 0.2                               # long enough to be taken mid-run
    studio = make_studio(policy=lease_policy, resume=False)
    job = studio.submit("forced away", model="sora-2")
    wait_until(lambda: studio.ledger.get(job.id)["status"] in ("queued", "in_progress"))
    with Ledger(studio.ledger.location) as other:
        assert other.claim([job.id], TEAMMATE, 60, force=True) == [job.id]   # resume(force=True) there
    wait_until(lambda: not studio._engine.is_active(job.id))
    polls = emulator.counters["openai"]["polls"]
    threading.Event().wait(0.5)
    assert emulator.counters["openai"]["polls"] == polls          # this process polls no more
    with pytest.raises((SorakitError, JobTimeout)):
        studio._loop.run(studio._engine.wait(job.id, 0.1))
    assert studio.ledger.get(job.id)["lease_owner"] == TEAMMATE


def test_lease_timings_are_checked_when_the_policy_is_made():
    from sorakit import ValidationError
    from sorakit.engine import Policy

    with pytest.raises(ValidationError, match="lease_heartbeat") as err:
        Policy(lease_seconds=10, lease_heartbeat=10)
    assert "less than lease_seconds" in str(err.value)
    with pytest.raises(ValidationError, match="lease_seconds"):
        Policy(lease_seconds=0)
    with pytest.raises(ValidationError, match="lease_watch"):
        Policy(lease_watch=-1)
    assert Policy().lease_seconds == 60 and Policy().lease_heartbeat == 15


def test_a_restarted_kernel_resumes_its_dead_predecessors_jobs_at_once(make_studio, emulator):
    """Same machine, the holder's process is gone: no need to wait out its lease. Another
    machine's holder is never judged by a pid: its lease must run out."""
    import socket
    import subprocess
    import sys

    from sorakit.engine._engine import OWNER

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(gone.stdout)
    studio = make_studio(resume=False)
    mine = _unsent(studio, "my dead kernel's job")
    theirs = _unsent(studio, "a teammate's job, same pid number elsewhere")
    assert OWNER["host"] == socket.gethostname()
    studio.ledger.claim([mine], f"me@{OWNER['host']}:{dead_pid}:old", 600)
    studio.ledger.claim([theirs], f"bob@not-{OWNER['host']}:{dead_pid}:x", 600)
    (job,) = studio.resume(progress=False)
    assert job.id == mine
    assert_complete(job.row)
    assert studio.ledger.get(theirs)["lease_owner"] == f"bob@not-{OWNER['host']}:{dead_pid}:x"
    assert emulator.counters.prompt_creates("a teammate's job, same pid number elsewhere") == 0


def test_cancelling_a_job_a_teammate_drives_sends_nothing_and_says_who(make_studio, emulator):
    studio = make_studio(resume=False)
    jid = _unsent(studio, "cancelled from the wrong laptop")
    assert studio.ledger.claim([jid], TEAMMATE, 60) == [jid]
    result = studio.job(jid).cancel()
    assert result.cancelled is False and TEAMMATE in result.reason
    assert emulator.counters.total("requests") == 0
    row = studio.ledger.get(jid)
    assert row["status"] == "pending" and row["lease_owner"] == TEAMMATE   # the holder may still send it


def test_an_open_studio_adopts_a_dead_holders_jobs_without_anyone_waiting(make_studio, emulator, lease_policy,
                                                                          capsys, monkeypatch):
    """A teammate's kernel died holding jobs; this Studio is open but its user does nothing: the
    jobs finish here once the lease runs out (nobody calls wait or resume), created once."""
    setup = make_studio(policy=lease_policy, resume=False, adopt=False)
    held = [_unsent(setup, f"orphan {i}") for i in range(3)]
    setup.ledger.update(held[0], attempts=1, status="unknown")        # it may have sent this create
    assert setup.ledger.claim(held, TEAMMATE, 0.5) == held              # its last beat; then it died
    freed = _unsent(setup, "released on purpose: resume() decides")    # lease_owner NULL
    monkeypatch.delenv("SORAKIT_QUIET")
    passive = make_studio(policy=lease_policy, resume=False)           # adopt defaults to True
    wait_until(lambda: all(passive.ledger.get(j)["status"] == "completed" for j in held), timeout=30)
    for j in held:
        assert_complete(passive.ledger.get(j))
    for i in range(3):
        assert emulator.counters.prompt_creates(f"orphan {i}") == 1
    assert passive._engine.stats["adopted"] == 3
    out = capsys.readouterr().out
    assert out.count("took over") == 1 and "3 unfinished job(s)" in out and TEAMMATE in out
    row = passive.ledger.get(freed)
    assert row["status"] == "pending" and row["lease_owner"] is None   # released rows wait for resume()
    assert emulator.counters.prompt_creates("released on purpose: resume() decides") == 0


def test_adopt_false_leaves_a_dead_holders_jobs_to_a_person(make_studio, emulator, lease_policy):
    setup = make_studio(policy=lease_policy, resume=False, adopt=False)
    jid = _unsent(setup, "left for a person")
    assert setup.ledger.claim([jid], TEAMMATE, 0.2) == [jid]
    studio = make_studio(policy=lease_policy, resume=False, adopt=False)
    threading.Event().wait(1.5)                                        # 15 heartbeats, lease long gone
    assert studio.ledger.get(jid)["status"] == "pending"
    assert emulator.counters.total("requests") == 0
    assert studio._engine.stats["adopted"] == 0
    (job,) = studio.resume(progress=False)                             # a person's resume still does it
    assert job.id == jid
    assert_complete(job.row)


def test_adopt_is_checked_when_the_studio_is_made(tmp_path):
    from sorakit import ValidationError
    from sorakit.engine import Studio

    with pytest.raises(ValidationError, match="adopt"):
        Studio(tmp_path / "l.db", adopt="yes")


def test_a_process_that_lost_its_lease_before_sending_sends_nothing(make_studio, emulator):
    """A job waiting for a slot is taken over by a teammate (this process stalled past its lease).
    When the slot frees, this process must not send the create: the teammate may send it too, and
    an OpenAI create sent twice is billed twice. The heartbeat is slow here, so only the check made
    right before the send can catch it."""
    emulator.config.time_scale = 0.05
    studio = make_studio(policy=fast_policy(lease_seconds=60, lease_heartbeat=30), resume=False,
                         concurrency=1, adopt=False)
    first = studio.submit("holds the only slot", model="sora-2")
    second = studio.submit("waits for the slot", model="sora-2")
    assert studio.ledger.get(second.id)["attempts"] in (0, None)
    with Ledger(studio.ledger.location) as other:
        assert other.claim([second.id], TEAMMATE, 60, force=True) == [second.id]   # taken meanwhile
    first.wait(timeout=60)
    wait_until(lambda: not studio._engine.is_active(second.id))
    assert emulator.counters.prompt_creates("waits for the slot") == 0              # nothing sent
    row = studio.ledger.get(second.id)
    assert row["lease_owner"] == TEAMMATE and row["status"] == "pending" and not row["attempts"]
    assert studio._engine.stats["fenced"] == 1


def test_two_takeovers_of_one_job_in_one_process_start_one_driver(make_studio, emulator):
    """The adoption loop and a job.wait() can take the same job over at the same moment: both claim
    it (the lease is this process's either way), and only one may drive it, or it is created twice."""
    import asyncio

    studio = make_studio(resume=False, adopt=False)
    jid = _unsent(studio, "taken over twice at once")
    row = studio.ledger.get(jid)
    eng = studio._engine

    async def both():
        return await asyncio.gather(eng.resume_rows([row], studio._row_runtime),
                                    eng.resume_rows([row], studio._row_runtime))

    results = studio._loop.run(both())
    assert all(jid in driving for driving, _, _ in results)
    assert_complete(studio.job(jid).wait(timeout=60).row)
    assert emulator.counters.prompt_creates("taken over twice at once") == 1
