"""One teammate's process in the lease trials (``_trials.team_trial``).

    python _team_child.py holder LEDGER MEDIA_DIR EMULATOR_URL OUT_JSON PREFIX
        submits 6 jobs (4 OpenAI, 2 Runware; one at a time) with prompts starting PREFIX, prints STARTED, waits
        for them (the trial may SIGKILL it first) and writes what it drove to OUT_JSON.
    python _team_child.py worker LEDGER MEDIA_DIR EMULATOR_URL OUT_JSON GO_FILE
        waits for GO_FILE, opens a Studio (which resumes on opening, like a notebook), resumes,
        prints WAITING, then waits for every job in the ledger (watching the ones other processes drive, taking
        over those whose driver died) and writes OUT_JSON.

    python _team_child.py passive LEDGER MEDIA_DIR EMULATOR_URL OUT_JSON GO_FILE
        waits for GO_FILE, opens a Studio (which resumes on opening), prints WAITING, then does
        nothing a person would do (no wait, no resume): it only reads the ledger until every job
        has ended there, while its Studio adopts the jobs of a holder that stopped renewing.

OUT_JSON: ``{"owner", "claims": {job_id: epoch seconds first claimed}, "stats", "statuses"}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from sorakit.engine import Batch, Engine, Policy, Studio

POLICY = Policy(poll_initial=0.05, poll_max=0.5, retry_initial=0.02, retry_max=0.3, reconcile_grace=0.5,
                reconcile_slack=60.0, progress_write_interval=0.1, request_timeout=10.0,
                lease_seconds=2.0, lease_heartbeat=0.3, lease_watch=0.1)


CLAIMS: dict = {}
"""job id -> when this process first took its lease (a claim, or a submission's insert)."""


def _record_claims() -> None:
    """Note every lease this process takes, from the Studio's first resume on (test-only wrap)."""
    claim, insert = Engine._claim, Engine.insert

    async def recorded_claim(self, job_ids, force, *more):
        taken = await claim(self, job_ids, force, *more)
        now = time.time()
        for j in taken:
            CLAIMS.setdefault(j, now)
        return taken

    async def recorded_insert(self, rows):
        ids = await insert(self, rows)
        now = time.time()
        for j in ids:
            CLAIMS.setdefault(j, now)
        return ids

    Engine._claim, Engine.insert = recorded_claim, recorded_insert


def _report(studio: Studio, out: str) -> None:
    rows = studio.ledger.rows()
    Path(out).write_text(json.dumps({
        "owner": studio._engine.owner, "claims": CLAIMS, "stats": studio._engine.stats,
        "statuses": {r["job_id"]: r["status"] for r in rows}}))


def holder(ledger: str, media: str, url: str, out: str, prefix: str) -> None:
    # one job at a time: the holder keeps (and leases) queued jobs for a while, as a busy kernel does
    studio = Studio(ledger, media_dir=media, emulate=True, emulator=url, policy=POLICY, resume=False,
                    concurrency=1)
    a = studio.batch([f"{prefix} openai {i}" for i in range(4)], models="sora-2", wait=False, progress=False)
    b = studio.batch([f"{prefix} runware {i}" for i in range(2)], models="seedance-1-pro", providers="runware",
                     size="864x480", seconds=5, seeds=[77], wait=False, progress=False)
    print("STARTED", flush=True)
    a.wait(timeout=120)
    b.wait(timeout=120)
    _report(studio, out)
    studio.close()


def worker(ledger: str, media: str, url: str, out: str, go: str) -> None:
    while not Path(go).exists():
        time.sleep(0.005)
    studio = Studio(ledger, media_dir=media, emulate=True, emulator=url, policy=POLICY)  # resumes
    studio.resume(wait=False, progress=False)
    ids = [r["job_id"] for r in studio.ledger.rows()]
    print("WAITING", flush=True)
    Batch(studio, [studio.job(j) for j in ids]).wait(timeout=120)
    _report(studio, out)
    studio.close()


def passive(ledger: str, media: str, url: str, out: str, go: str) -> None:
    while not Path(go).exists():
        time.sleep(0.005)
    studio = Studio(ledger, media_dir=media, emulate=True, emulator=url, policy=POLICY)  # resumes, adopts
    print("WAITING", flush=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = studio.ledger.rows()
        if rows and all(r["status"] in ("completed", "failed", "cancelled") for r in rows):
            break
        time.sleep(0.2)
    _report(studio, out)
    studio.close()


def _play_another_machine(role: str) -> None:
    """Each child plays a teammate's machine: a lease of another host is never judged by its
    pid (that is the same-machine fast path), so a dead holder's jobs wait for its lease to run out."""
    from sorakit.engine import _engine

    _engine.OWNER["host"] = f"{role}-{os.getpid()}.team.test"
    _engine.LEASE_OWNER = f"{role}@{_engine.OWNER['host']}:{os.getpid()}:{_engine.OWNER['session']}"


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    _play_another_machine(role)
    _record_claims()
    {"holder": holder, "worker": worker, "passive": passive}[role](*args)
