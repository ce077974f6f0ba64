"""Engine test set-up: a Studio talking to the test's emulator over real loopback HTTP, fast timings."""

from __future__ import annotations

import pytest

from engine._helpers import fast_policy
from sorakit.engine import Studio



@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    """No notices in engine tests unless a test asks (monkeypatch.delenv)."""
    monkeypatch.setenv("SORAKIT_QUIET", "1")


@pytest.fixture(autouse=True)
def _catalog_day(monkeypatch):
    """Studios judge the catalog's age against the day it was checked, never the wall clock
    (a test that wants the staleness notice patches ``_today`` itself)."""
    from sorakit.catalog import load_catalog
    from sorakit.engine import _studio

    monkeypatch.setattr(_studio, "_today", lambda: load_catalog(overlays=()).as_of)


@pytest.fixture
def make_studio(tmp_path, emulator_server):
    """``make_studio(**kw)``: a Studio on a ledger in tmp_path, emulated by ``emulator_server``."""
    made = []

    def make(**kw):
        kw.setdefault("ledger", tmp_path / "ledger.db")
        kw.setdefault("media_dir", tmp_path / "media")
        kw.setdefault("emulate", True)
        kw.setdefault("emulator", emulator_server.base_url)
        kw.setdefault("policy", fast_policy())
        kw.setdefault("max_wait", 60)
        studio = Studio(**kw)
        made.append(studio)
        return studio

    yield make
    for s in made:
        s.close()


@pytest.fixture
def studio(make_studio):
    return make_studio()
