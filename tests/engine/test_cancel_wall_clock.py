"""Cancel on the wall clock, as a user meets it (issue 25, item 1).

tests/engine/test_cancel.py drives time by hand and cancels while the job is still queued; here
the emulator runs on the real clock (Unix seconds ~1.8e9) and the job is cancelled while it is
rendering. The emulator's state after such a cancel once recursed forever (``cancelled_at - 1e-9``
equals ``cancelled_at`` at that magnitude): every poll answered 500, the ledger row stayed
``in_progress`` and ``job.wait()`` ended in JobTimeout.
"""

from __future__ import annotations

import time

import pytest

from engine._helpers import wait_until
from sorakit import JobFailed
from sorakit.emulator import EmulatorConfig


@pytest.fixture
def emulator_config():
    return EmulatorConfig(time_scale=0.05, seed=1234, render_eagerly=False)  # ~6 s of rendering


def test_gemini_omni_flash_cancelled_while_rendering_ends_cancelled(studio, emulator):
    job = studio.submit("a kite over dunes", model="gemini-omni-flash", provider="gemini", seconds=6)

    def rendering() -> bool:
        pid = job.row.get("provider_job_id")
        jobs = emulator.store.group(pid) if pid else []
        return bool(jobs) and jobs[0].state(emulator.clock.now())[0] == "in_progress" \
            and jobs[0].state(emulator.clock.now())[1] > 5

    wait_until(rendering, timeout=30)
    assert emulator.clock.now() > 1.7e9                      # the wall clock, not a clock near zero
    result = job.cancel()
    assert (result.cancelled, result.how, result.billed) == (True, "cancel", "unconfirmed")
    [emu_job] = emulator.store.group(job.row["provider_job_id"])
    status, progress = emu_job.state(emulator.clock.now())
    assert status == "cancelled" and 0 < progress < 100
    row = job.row
    assert row["status"] == "cancelled" and row["completed_at"] is not None
    assert not studio._engine.is_active(job.id)
    assert job.id not in [r["job_id"] for r in studio.ledger.pending()]
    t0 = time.monotonic()
    with pytest.raises(JobFailed) as err:
        job.wait(timeout=10)
    assert time.monotonic() - t0 < 2 and "cancel" in str(err.value).lower()
