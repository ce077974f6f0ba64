"""Shared test set-up. Fixtures live in tests/support/ (one module per area) and load as plugins.

System-dependent tests (PostgreSQL, Chromium) skip loudly when the tool is missing, except under
CI=true, where a missing tool fails the test: CI installs everything, so nothing may be skipped.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = ["support.pg", "support.emu", "support.s3"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# sorakit's user cache holds a refreshed catalog overlay (`sorakit models --update`) that
# load_catalog() merges: the suite must judge the shipped catalog, never what a developer fetched.
if "SORAKIT_CACHE" not in os.environ:
    import tempfile

    os.environ["SORAKIT_CACHE"] = tempfile.mkdtemp(prefix="sorakit-test-cache-")

# Every Studio the tests open decodes each finished clip in a background thread (~0.2 s CPU a clip)
# unless told not to: off by default here, through the same knob a user has. The tests about the
# checks (and the pages that show them) turn them on with ``clip_checks=True`` or ``checks_on``.
if "SORAKIT_CLIP_CHECKS" not in os.environ:
    os.environ["SORAKIT_CLIP_CHECKS"] = "0"


@pytest.fixture
def checks_on(monkeypatch):
    """Clip checks on for every Studio this test opens without ``clip_checks=``."""
    monkeypatch.setenv("SORAKIT_CLIP_CHECKS", "1")


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI=true) when a system tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: .ci/run must install it")
    pytest.skip(f"SKIPPED LOUDLY: {reason} (install it, or run .ci/run, to cover this test)")
