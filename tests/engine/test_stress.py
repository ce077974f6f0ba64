"""The short version of ``make stress`` that CI runs: every kind of trial once, all counts zero.

Runs ``bench/stress.py`` as a user would (a subprocess), so the script and its exit code are what
is tested; the full ten-minute run is ``make stress``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_short_stress_run_prints_all_zero_counts():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "stress.py"), "--seconds", "0", "--seed", "2026",
                           "--writer-rows", "60"],
                          capture_output=True, text=True, timeout=840, env={**os.environ, "SORAKIT_QUIET": "1"})
    out = proc.stdout
    total = re.search(r"^TOTAL (.*)$", out, re.M)
    assert total, out + proc.stderr[-2000:]
    counts = dict((k.strip(), int(v)) for k, v in (part.split(":") for part in total.group(1).split(",")))
    # crash, four storms, two writers, four team trials (SQLite / PostgreSQL, with and without a kill)
    teams = 4 if "SKIPPED the PostgreSQL" not in out else 2
    if IN_CI:
        assert teams == 4, out
    assert counts["trials"] == 6 + teams
    assert {k: v for k, v in counts.items() if k != "trials"} == {
        "duplicate creates": 0, "lost rows": 0, "corrupt files": 0, "non terminal after wait": 0,
        "driven twice": 0, "other": 0}, out
    assert re.search(r"takeover after SIGKILL: \d+ job\(s\), median [\d.]+ s", out), out
    assert proc.returncode == 0, out
