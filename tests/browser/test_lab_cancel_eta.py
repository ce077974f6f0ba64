"""Cancel from a job card, and the card's ETA line, in a real JupyterLab through headless Chromium.

The emulator runs in this test's process (a uvicorn server on 127.0.0.1 over a manual clock, so
the job stays running until cancelled and its counters are readable here); the notebook's Studio
talks to it over loopback HTTP. The ledger is seeded with three earlier runs of the model, so the
card must say "usually ready in ~40 s (median of 3 runs, p90 48 s)" while the job runs without a
progress figure. Clicking Cancel must turn the card ``cancelled`` and reach the emulator as one
interaction cancel. The time from click to the card showing ``cancelled`` is printed (a figure,
not a bound).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lab import ARTIFACTS, until  # noqa: E402
from test_lab import lab  # noqa: E402,F401  (the same private JupyterLab fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

SETUP = """import os, datetime as dt
os.environ['SORAKIT_QUIET'] = '1'
from sorakit.engine import Policy, Studio
studio = Studio(emulate=True, ledger='cancel.db', emulator={url!r}, policy=Policy(poll_initial=0.1, poll_max=0.5))
done = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
studio.ledger.insert_many([dict(provider='gemini', model='gemini-omni-flash', prompt='earlier', status='completed',
                                emulated=True, latency_s=float(s), completed_at=done) for s in (30, 40, 50)])"""
SUBMIT = "job = studio.submit('a paper crane unfolds on a desk', model='gemini-omni-flash', provider='gemini', seconds=6)\njob"


@pytest.fixture(scope="module")
def emulator_server(tmp_path_factory):
    from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer, ManualClock

    emu = Emulator(EmulatorConfig(time_scale=0.01, seed=5, render_eagerly=False),
                   tmp_path_factory.mktemp("emu-media"), clock=ManualClock())
    with EmulatorServer(emu, host="127.0.0.1", port=0) as server:
        yield server
    emu.close()


def test_cancel_from_the_card_and_the_eta_line_in_jupyterlab(lab, emulator_server):
    from lab import browser_page, open_and_run

    emu = emulator_server.emulator
    with browser_page(1280, 1400) as page:
        open_and_run(page, lab, "cancel.ipynb", cells=[SETUP.format(url=emulator_server.base_url), SUBMIT])
        card = page.locator(".sk-cards-view .sk-card").last
        card.wait_for(timeout=30_000)
        # the ETA line, from the seeded history, while the interaction runs without a progress figure
        page.wait_for_function(
            "() => [...document.querySelectorAll('.sk-progress-text')].some(e => e.textContent.includes("
            "'usually ready in ~40 s (median of 3 runs, p90 48 s)'))", timeout=30_000)
        eta_text = card.locator(".sk-progress-text").inner_text()
        page.wait_for_function("() => [...document.querySelectorAll('.sk-progress-text')]"
                               ".some(e => e.textContent.includes('elapsed'))", timeout=30_000)
        # the card counts elapsed time from the submit, so the create may still be on its way here
        until(lambda: emu.counters["gemini"]["creates"] >= 1, timeout=30, every=0.05)
        assert emu.counters["gemini"]["creates"] == 1 and emu.counters["gemini"]["cancel_calls"] == 0
        button = card.locator(".sk-cancel")
        assert button.is_visible()
        t0 = time.monotonic()
        button.click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.sk-cards-view .sk-card .sk-chip')]"
            ".some(e => e.textContent.trim().toLowerCase() === 'cancelled')", timeout=30_000)
        click_to_cancelled = time.monotonic() - t0
        page.wait_for_function("() => [...document.querySelectorAll('.sk-cancel-box')]"
                               ".some(e => e.textContent.includes('billed: unconfirmed'))", timeout=10_000)
        assert card.locator(".sk-message").inner_text().strip() == ""   # the box says it (one, not two)
        assert "cancelled at gemini" in card.locator(".sk-cancel-box").inner_text()
        assert not button.is_visible()
        counters = emu.counters["gemini"]
        assert (counters["cancel_calls"], counters["cancels"]) == (1, 1)
        [posted] = emu.requests.entries("POST", "/cancel")
        assert "/interactions/" in posted.path
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".jp-OutputArea-output").last.screenshot(path=str(ARTIFACTS / "lab_card_cancelled.png"))
    print(f"\nETA line: {eta_text!r}; click -> card 'cancelled' took {click_to_cancelled:.2f}s; "
          f"emulator gemini cancel_calls={counters['cancel_calls']} cancels={counters['cancels']}")
