"""Shared test set-up. Fixtures live in tests/support/ (one module per area) and load as plugins.

System-dependent tests (PostgreSQL, Chromium) skip loudly when the tool is missing, except under
CI=true, where a missing tool fails the test: CI installs everything, so nothing may be skipped.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

pytest_plugins = ["support.pg", "support.emu"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# Notebooks run under nbmake in their own kernels, which inherit the environment: always the
# emulator (even on a machine with real keys), quick, and one throwaway ledger for all three.
_NOTEBOOK_ENV = {"SORAKIT_EMULATE": "1", "SORAKIT_TIME_SCALE": "0.02"}
_saved_env: dict = {}


def pytest_runtest_setup(item):
    if item.path.suffix == ".ipynb":
        folder = getattr(item.config, "_sorakit_nb_dir", None)
        if folder is None:
            import tempfile

            folder = item.config._sorakit_nb_dir = tempfile.mkdtemp(prefix="sorakit-notebooks-")
        env = {**_NOTEBOOK_ENV, "SORAKIT_LEDGER": os.path.join(folder, "ledger.db"),
               "SORAKIT_MEDIA": os.path.join(folder, "media")}
        for key, value in env.items():
            _saved_env[key] = os.environ.get(key)
            os.environ[key] = value


def pytest_runtest_teardown(item):
    if item.path.suffix == ".ipynb":
        for key, value in _saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _saved_env.clear()


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI=true) when a system tool the test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: .ci/run must install it")
    pytest.skip(f"SKIPPED LOUDLY: {reason} (install it, or run .ci/run, to cover this test)")
