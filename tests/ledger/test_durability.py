"""Crash and concurrency safety with real separate processes.

* Several processes appending to the same ledger at once lose no row (SQLite file and PostgreSQL).
* A process killed (SIGKILL) in the middle of writing loses no row whose insert/update had returned.
* Writers on PostgreSQL do not queue behind each other: no shared row is updated by every write.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sorakit.ledger import Ledger

REPO = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import os, sys, time
    from sorakit.ledger import Ledger
    location, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    led = Ledger(location)
    while not os.path.exists(go):  # start together, to collide as much as possible
        time.sleep(0.005)
    for i in range(n):
        if i % 10 == 9:  # some bulk writes in the mix
            led.insert_many([{"prompt": f"{name}-{i}-{k}", "batch_id": name} for k in range(5)])
        else:
            job = led.insert(prompt=f"{name}-{i}", batch_id=name, provider="emulator")
            led.update(job, status="completed", progress=100)
    led.close()
    """
)

OVERLAPPING = textwrap.dedent(
    """
    import os, sys, time
    import sqlalchemy as sa
    from sorakit.ledger import Ledger
    location, name, rounds, writers, folder = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    led = Ledger(location)
    step = {"round": 0}

    @sa.event.listens_for(led.engine, "after_cursor_execute")
    def hold_the_transaction_open(conn, cursor, statement, params, context, executemany):
        # this writer's INSERT / UPDATE has run, its transaction is still open: wait until every
        # writer is at the same point, so that all the transactions overlap. A shared row updated
        # by every write (a counter) would keep all but one writer waiting on its row lock.
        what = statement.split()[0].lower()
        if what not in ("insert", "update"):
            return
        prefix = f"r{step['round']}-{what}-"
        open(os.path.join(folder, prefix + name), "w").close()
        deadline = time.monotonic() + 90
        while sum(f.startswith(prefix) for f in os.listdir(folder)) < writers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the other writers never reached {prefix}: they wait on a lock")
            time.sleep(0.01)

    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.01)
    for r in range(rounds):
        step["round"] = r
        job = led.insert(prompt=f"{name}-{r}", batch_id=name, provider="emulator")
        led.update(job, status="completed", billed_cost=0.25)
    led.close()
    """
)

KILLED = textwrap.dedent(
    """
    import sys
    from sorakit.ledger import Ledger
    led = Ledger(sys.argv[1])
    i = 0
    while True:
        job = led.insert(prompt=f"row {i}", status="submitted")
        print("inserted", job, flush=True)
        led.update(job, status="completed", billed_cost=0.1 * i)
        print("updated", job, flush=True)
        i += 1
    """
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _location(backend: str, tmp_path: Path, request) -> str:
    if backend == "sqlite":
        return str(tmp_path / "shared.db")
    return request.getfixturevalue("fresh_pg_url")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_processes_appending_at_once_lose_no_row(backend, tmp_path, request):
    location = _location(backend, tmp_path, request)
    Ledger(location).close()  # create the schema once, as a notebook would have
    go = tmp_path / "go"
    procs, per_proc, writers = [], 40, 3
    for w in range(writers):
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, location, f"w{w}", str(per_proc), str(go)],
                env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        )
    time.sleep(0.5)
    go.touch()
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    bulk_calls = per_proc // 10
    per_writer = (per_proc - bulk_calls) + bulk_calls * 5
    with Ledger(location) as led:
        df = led.df
        assert len(led) == writers * per_writer == len(df)
        assert df["job_id"].is_unique
        assert df.groupby("batch_id").size().to_dict() == {f"w{w}": per_writer for w in range(writers)}
        single = df[df["provider"] == "emulator"]
        assert (single["status"] == "completed").all()  # every update landed too


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_killed_process_loses_no_committed_row(backend, tmp_path, request):
    location = _location(backend, tmp_path, request)
    Ledger(location).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, location], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    inserted, updated = [], []
    deadline = time.monotonic() + 60
    try:
        while len(updated) < 60 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            what, job = line.split()
            (inserted if what == "inserted" else updated).append(job)
        os.kill(proc.pid, signal.SIGKILL)  # mid-write, no chance to clean up
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert len(updated) >= 60, proc.stderr.read()
    # anything printed after the last line we read was committed too; nothing we saw may be missing
    with Ledger(location) as led:
        for job in inserted:
            assert job in led
        for job in updated:
            assert led.get(job)["status"] == "completed"
        assert len(led) >= len(inserted)
        led.insert(prompt="the ledger is still writable")
    if backend == "sqlite":
        with sqlite3.connect(location) as raw:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.postgres
def test_postgres_writers_do_not_serialise_on_a_shared_row(fresh_pg_url, tmp_path):
    """Four writer processes each hold their insert (then update) transaction open until all four
    have written: that only finishes if no write waits for another's commit, which a counter row
    bumped by every write (the old ``meta.rev``) would make every write do."""
    Ledger(fresh_pg_url).close()
    with Ledger(fresh_pg_url) as led, led.engine.connect() as conn:
        meta_before = conn.exec_driver_sql("SELECT key, value FROM meta ORDER BY key").all()
    writers, rounds = 4, 3
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OVERLAPPING, fresh_pg_url, f"w{w}", str(rounds), str(writers), str(tmp_path)],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for w in range(writers)
    ]
    time.sleep(0.5)
    (tmp_path / "go").touch()
    for p in procs:
        _out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    with Ledger(fresh_pg_url) as led, led.engine.connect() as conn:
        df = led.df
        meta_after = conn.exec_driver_sql("SELECT key, value FROM meta ORDER BY key").all()
    assert len(df) == writers * rounds
    assert df.groupby("batch_id").size().to_dict() == {f"w{w}": rounds for w in range(writers)}
    assert (df["status"] == "completed").all() and df["billed_cost"].sum() == 0.25 * writers * rounds
    assert meta_after == meta_before  # no shared row changed by any of the 24 writes
