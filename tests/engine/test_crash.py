"""Crash trials: a separate process runs a batch of 20 jobs against the emulator served by this test
process over loopback and is killed with SIGKILL at a random moment; this process resumes.

Afterwards: no row lost, every job created exactly once (the emulator's counters), every file
complete and checksum-true.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine._helpers import assert_complete, fast_policy
from sorakit.emulator import EmulatorConfig
from sorakit.engine import Studio
from sorakit.ledger import Ledger

CHILD = Path(__file__).with_name("_crash_child.py")
OPENAI = [f"crash trial openai job {i}" for i in range(10)]
RUNWARE = [f"crash trial runware job {i}" for i in range(10)]


@pytest.fixture
def emulator_config():
    """Jobs take about two seconds, so every kill lands while the batch is in flight."""
    return EmulatorConfig(time_scale=0.05, seed=4321)


def _read_until(proc: subprocess.Popen, marker: str, timeout: float) -> None:
    found = threading.Event()

    def reader():
        for line in proc.stdout:
            if line.strip() == marker:
                found.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    if not found.wait(timeout):
        proc.kill()
        raise AssertionError(f"the child never printed {marker}")


@pytest.mark.slow
@pytest.mark.parametrize("trial", [1, 2, 3, 4])
def test_sigkill_at_a_random_moment_then_resume(trial, tmp_path, emulator_server, emulator):
    rng = random.Random(1000 + trial)
    ledger, media = tmp_path / "ledger.db", tmp_path / "media"
    env = {**os.environ, "SORAKIT_QUIET": "1",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2])] + sys.path)}
    proc = subprocess.Popen([sys.executable, str(CHILD), str(ledger), str(media), emulator_server.base_url],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        _read_until(proc, "STARTED", timeout=60)
        # early (creates in flight), middle (polling), late (downloads); trial 4: right after the insert
        time.sleep({1: rng.uniform(0.02, 0.3), 2: rng.uniform(0.3, 0.9), 3: rng.uniform(1.9, 2.3), 4: 0.0}[trial])
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    with Ledger(ledger) as led:
        before = led.df
    assert len(before) == 20                                       # the batch rows were committed first
    killed_states = {k: v for k, v in before["status"].value_counts().to_dict().items() if v}
    print(f"trial {trial}: killed with {killed_states}, {int(before['attempts'].sum())} create attempts")

    studio = Studio(ledger, media_dir=media, emulate=True, emulator=emulator_server.base_url,
                    policy=fast_policy(), resume=False)
    try:
        jobs = studio.resume(progress=False)
        assert len(jobs) == sum(n for s, n in killed_states.items() if s != "completed")
        rows = studio.ledger.rows()
    finally:
        studio.close()
    assert len(rows) == 20
    for row in rows:
        assert_complete(row)
    for p in OPENAI:
        assert emulator.counters.prompt_creates(p, "openai") == 1, (p, killed_states)
    for p in RUNWARE:
        assert emulator.counters.prompt_creates(p, "runware") == 1, (p, killed_states)
    assert emulator.counters["openai"]["creates"] == 10 and emulator.counters["runware"]["creates"] == 10
