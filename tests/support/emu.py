"""Emulator fixtures, shared by every area's tests (loaded as a plugin by tests/conftest.py).

- ``emulator_config``: the `EmulatorConfig` the ``emulator`` fixture uses (time_scale 0.01,
  seed 1234). Override it in a test module or conftest to change behaviour::

      @pytest.fixture
      def emulator_config():
          return EmulatorConfig(time_scale=0.05, concurrency_per_key=2)

- ``emulator_clock``: None (wall clock). Override with a `ManualClock` to drive time by hand.
- ``emulator``: a fresh `Emulator` (closed after the test). Rendered media is cached by content
  in one directory per test session (``emulator_media_dir``), so equal videos render once.
- ``emulator_server``: a real uvicorn server on a free loopback port over ``emulator``
  (``.base_url`` = ``http://127.0.0.1:PORT``, ``.url("openai")`` = ``.../openai/v1``).
- ``emu_client``: ``httpx.Client`` into ``emulator`` in-process (no port), base URL
  ``http://emulator.test``; faults look like a real socket's (``httpx.RemoteProtocolError``).
- ``emu_async_transport``: an ``httpx`` async transport into ``emulator`` for ``httpx.AsyncClient``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer, ManualClock

EMU_BASE_URL = "http://emulator.test"


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    """Fast, seeded settings: a sora-2 4 s job completes in about half a second."""
    return EmulatorConfig(time_scale=0.01, seed=1234)


@pytest.fixture
def emulator_clock():
    """The clock the ``emulator`` fixture uses: None = wall clock. Override with a ManualClock."""
    return None


@pytest.fixture(scope="session")
def emulator_media_dir(tmp_path_factory) -> Path:
    """One render cache per test session (content-addressed, so tests cannot see each other's jobs)."""
    return tmp_path_factory.mktemp("emulator-media")


@pytest.fixture
def emulator(emulator_config, emulator_clock, emulator_media_dir):
    """A fresh emulator; closed (renders finished, threads stopped) after the test."""
    emu = Emulator(emulator_config, media_dir=emulator_media_dir, clock=emulator_clock)
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture
def emulator_server(emulator):
    """The ``emulator`` served by uvicorn on 127.0.0.1 at a free port."""
    with EmulatorServer(emulator, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def emu_client(emulator):
    """A blocking httpx client into the emulator, no port."""
    with httpx.Client(transport=emulator.sync_transport(), base_url=EMU_BASE_URL, timeout=30) as client:
        yield client


@pytest.fixture
def emu_async_transport(emulator):
    """An async httpx transport into the emulator: ``httpx.AsyncClient(transport=...)``."""
    return emulator.transport()


@pytest.fixture
def manual_emulator(emulator_media_dir):
    """An emulator on a `ManualClock` (``emu.test_clock.advance(s)`` moves time), rendering on demand."""
    clock = ManualClock()
    emu = Emulator(EmulatorConfig(time_scale=0.01, render_eagerly=False), emulator_media_dir, clock=clock)
    emu.test_clock = clock
    yield emu
    emu.close()
