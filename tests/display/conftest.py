"""Fixtures for the notebook-UI tests.

``fake`` is a stand-in Studio over the real Ledger whose jobs move only when the test says so
(exact control of progress, failures and threads). ``studio`` is the real
``sorakit.Studio(emulate=True)`` used by the end-to-end widget tests.
"""

import os
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parent))  # after tests/, so `conftest` stays tests/conftest.py

from fake_studio import FakeStudio  # noqa: E402


os.environ.setdefault("SORAKIT_QUIET", "1")


@pytest.fixture
def fake(tmp_path):
    st = FakeStudio(tmp_path)
    yield st
    st.close()


@pytest.fixture
def studio(tmp_path):
    from sorakit.engine import Studio

    st = Studio(emulate=True, ledger=tmp_path / "ledger.db", time_scale=0.02)
    yield st
    st.close()


@pytest.fixture
def manual_studio(tmp_path, emulator_server):
    """A real Studio on the emulator over loopback HTTP; with ``emulator_clock`` a `ManualClock`
    its jobs finish only when the test advances ``emulator.clock``."""
    from sorakit.engine import Policy, Studio

    st = Studio(emulate=True, ledger=tmp_path / "ledger.db", emulator=emulator_server.base_url,
                policy=Policy(poll_initial=0.05, poll_max=0.3), max_wait=60)
    yield st
    st.close()
