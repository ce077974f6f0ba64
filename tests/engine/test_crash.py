"""Crash trials: a separate process runs a batch of 20 jobs against an emulator served by this test
process over loopback and is killed with SIGKILL at a random moment; this process resumes.

Afterwards: no row lost, every job created exactly once (the emulator's counters), every file
complete and checksum-true. The trial itself lives in ``engine/_trials.py`` (``make stress``
repeats it many times).
"""

from __future__ import annotations

import random

import pytest

from engine._trials import crash_trial


@pytest.mark.slow
@pytest.mark.parametrize("trial", [1, 2, 3, 4])
def test_sigkill_at_a_random_moment_then_resume(trial, tmp_path, emulator_media_dir):
    rng = random.Random(1000 + trial)
    # early (creates in flight), middle (polling), late (downloads); trial 4: right after the insert
    moment = {1: rng.uniform(0.02, 0.3), 2: rng.uniform(0.3, 0.9), 3: rng.uniform(1.9, 2.3), 4: 0.0}[trial]
    tally = crash_trial(tmp_path, emulator_media_dir, moment)
    print(tally.line())
    assert tally.trials == 1 and tally.clean, tally.problems
