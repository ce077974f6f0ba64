"""A team on one ledger: real processes open Studios on one SQLite file or one PostgreSQL database
at the same moment and resume while jobs run on the emulator (``_trials.team_trial``).

Nothing is created twice, no job is driven by two live processes, every job completes once; a
SIGKILLed holder's jobs are taken over after its lease runs out. ``bench/stress.py`` prints the
same trial's figures (4 processes, takeover time).
"""

from __future__ import annotations

import pytest

from engine._trials import team_trial, takeover_line

LEASE = 2.0  # lease_seconds of the children's policy (``_team_child.POLICY``)


def _ledger(backend: str, request, tmp_path) -> str:
    if backend == "sqlite":
        return str(tmp_path / "team.db")
    return request.getfixturevalue("fresh_pg_url")


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_two_processes_opening_at_once_never_drive_a_job_twice(backend, request, tmp_path):
    tally = team_trial(tmp_path / "work", tmp_path / "renders", _ledger(backend, request, tmp_path),
                       processes=2, backend=backend)
    assert tally.clean, tally.problems
    assert tally.figures["jobs"] == tally.figures["creates"] == tally.figures["completed"] == [14]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_four_processes_take_over_a_killed_holders_jobs_after_its_lease(backend, request, tmp_path):
    tally = team_trial(tmp_path / "work", tmp_path / "renders", _ledger(backend, request, tmp_path),
                       processes=4, kill=True, backend=backend)
    assert tally.clean, tally.problems
    assert tally.figures["jobs"] == tally.figures["creates"] == tally.figures["completed"] == [14]
    times = tally.figures.get("takeover_s") or []
    assert times, "the holder's jobs were all done before the kill: nothing was taken over"
    # never before the lease could have run out (the last heartbeat renewed it at most 0.3 s
    # before the kill), and not long after it: bounded by the lease, not by a restart
    assert all(LEASE - 0.3 - 0.05 <= t for t in times), takeover_line(tally)
    assert all(t < LEASE + 30 for t in times), takeover_line(tally)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_passive_teammates_adopt_a_killed_holders_jobs(backend, request, tmp_path):
    """Nobody waits or resumes after opening: the open Studios adopt the dead holder's jobs once its
    lease runs out, each job created once and driven by one process."""
    tally = team_trial(tmp_path / "work", tmp_path / "renders", _ledger(backend, request, tmp_path),
                       processes=3, kill=True, backend=backend, passive=True)
    assert tally.clean, tally.problems
    assert tally.figures["jobs"] == tally.figures["creates"] == tally.figures["completed"] == [14]
    times = tally.figures.get("takeover_s") or []
    assert times, "the holder's jobs were all done before the kill: nothing was adopted"
    assert all(LEASE - 0.3 - 0.05 <= t < LEASE + 30 for t in times), takeover_line(tally)
