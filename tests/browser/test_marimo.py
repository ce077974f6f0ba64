"""marimo: the example app (``notebooks/marimo_gallery.py``) served headless, driven in Chromium.

``marimo run --headless`` serves the app on 127.0.0.1 (a free port, no token); the test waits for
the gallery's posters (marimo renders anywidgets in a shadow root: Playwright's locators pierce
it), plays one (the bytes stream over marimo's anywidget messages) and asserts the browser decodes
it; plays a job's card (``job_card``, the card Jupyter shows); then asks for a new video through
sorakit's own form (``RequestForm``): types a prompt, picks a model and a size, presses Generate,
waits for the job's card under the form to complete, plays it there and asserts the video decodes.
A second small app (``marimo_arena.py``) shows the blind arena: a vote and its undo reach the ledger.
"""

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import require

sys.path.insert(0, str(Path(__file__).parent))

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

from lab import ARTIFACTS, REPO  # noqa: E402

APP = REPO / "notebooks" / "marimo_gallery.py"


@contextlib.contextmanager
def serve(app: Path, folder: Path):
    """``marimo run --headless`` of ``app`` on 127.0.0.1 (a free port, no token); yields its URL.
    Its Python process writes into ``folder`` (``SORAKIT_MARIMO_DIR``)."""
    require(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install -y chromium)")
    require(importlib.util.find_spec("playwright") is not None, "playwright (python) is not installed")
    require(importlib.util.find_spec("marimo") is not None, "marimo is not installed (the test extra has it)")
    from lab import free_port

    port = free_port()
    env = {**os.environ, "SORAKIT_MARIMO_DIR": str(folder), "SORAKIT_QUIET": "1", "SORAKIT_CLIP_CHECKS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log = open(folder / "marimo.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "marimo", "run", str(app), "--headless", "--no-token",
                             "--port", str(port), "--host", "127.0.0.1"],
                            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"marimo exited early:\n{(folder / 'marimo.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(base + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"marimo did not answer:\n{(folder / 'marimo.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield base
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


@pytest.fixture
def marimo_app(tmp_path):
    with serve(APP, tmp_path) as base:
        yield base


def _decoded(video, timeout: float = 30) -> list:
    """The video's [readyState, videoWidth, loop, controls] once it can play (or after ``timeout``)."""
    from lab import until

    def state() -> list:
        return video.evaluate("v => [v.readyState, v.videoWidth, v.loop, v.controls]")

    return until(lambda: (lambda s: s if s[0] >= 2 else None)(state()), timeout) or state()


def test_marimo_app_shows_the_gallery_and_plays_videos(marimo_app):
    from lab import browser_page

    with browser_page(1300, 1600) as page:
        page.goto(marimo_app + "/")
        page.locator("img.sk-poster").nth(1).wait_for(timeout=120_000)
        assert page.locator(".sk-grid-view img.sk-poster").count() == 2
        assert page.locator("video").count() == 0  # posters only until played
        page.locator(".sk-grid-view button.sk-play").nth(1).click()
        video = page.locator(".sk-grid-view video").first
        video.wait_for(timeout=30_000)
        state = _decoded(video)
        assert state[0] >= 2 and state[1] == 864 and state[2] is False and state[3] is True, state
        assert video.evaluate("v => v.dataset.transport") == "binary"  # marimo delivers binary buffers

        # one job's card (the same anywidget ``job`` shows in Jupyter): done, its facts, plays
        card = page.locator(".sk-cards-view .sk-card").first
        card.wait_for(timeout=60_000)
        assert card.get_attribute("data-status") == "completed"
        assert "done" in card.locator(".sk-chip").first.inner_text().lower()
        assert "estimated" in card.locator(".sk-meta").inner_text()
        card.locator("button.sk-play").click()
        state = _decoded(card.locator("video"))
        assert state[0] >= 2 and state[1] == 864, state
        ARTIFACTS.mkdir(exist_ok=True)
        card.screenshot(path=str(ARTIFACTS / "marimo_card.png"))

        form = page.locator(".skf")
        form.locator("textarea.skf-prompt").fill("A red fox trotting through fresh snow, telephoto")
        # every entry goes to Python, which answers with what the chosen offer allows: the provider
        # list follows the model, and a bad seed comes back as the ValidationError's text
        form.locator("select.skf-model").select_option("veo-3-fast")
        form.locator("select.skf-provider option[value='gemini']").wait_for(state="attached", timeout=30_000)
        form.locator("input.skf-seed").fill("abc")
        form.locator("input.skf-seed").press("Tab")
        error = form.locator(".skf-error[data-field='seed']")
        error.wait_for(timeout=30_000)
        assert error.inner_text().startswith("Seed: 'abc' is not allowed"), error.inner_text()
        form.locator("input.skf-seed").fill("")  # blank is random: the error goes
        form.locator("input.skf-seed").press("Tab")
        error.wait_for(state="hidden", timeout=30_000)
        form.locator("select.skf-model").select_option("seedance-1-pro")
        form.locator("select.skf-provider option[value='gemini']").wait_for(state="detached", timeout=30_000)
        form.locator("select.skf-size").select_option("864x480")
        form.locator("select.skf-seconds").select_option("5")
        form.locator(".skf-cost b").first.wait_for(timeout=30_000)
        form.locator("button.skf-submit").click()
        job = form.locator(".sk-card").first
        job.wait_for(timeout=60_000)
        assert "seedance-1-pro@runware" in job.locator(".sk-card-head").inner_text()
        form.locator(".sk-card[data-status='completed'] button.sk-play").wait_for(timeout=120_000)
        assert form.locator(".sk-card").count() == 1
        form.locator(".sk-card button.sk-play").click()
        played = form.locator(".sk-card video").first
        played.wait_for(timeout=30_000)
        state = _decoded(played)
        assert state[0] >= 2 and state[1] == 864 and state[2] is False and state[3] is True, state
        assert played.evaluate("v => v.dataset.transport") == "binary"
        ARTIFACTS.mkdir(exist_ok=True)
        form.screenshot(path=str(ARTIFACTS / "marimo_form.png"))


def test_the_blind_arena_votes_and_undoes_in_marimo(tmp_path):
    """The arena's vote and undo are plain JSON messages (no buffers): a click on a vote button and
    one on undo reach the ledger through marimo's anywidget comm as they do in JupyterLab."""
    from lab import browser_page, ledger, until, wait_ledger

    db = tmp_path / "arena.db"
    votes = "SELECT outcome FROM votes ORDER BY created_at"
    with serve(Path(__file__).parent / "marimo_arena.py", tmp_path) as base, browser_page(1300, 1200) as page:
        page.goto(base + "/")
        view = page.locator(".sk-arena-view")
        page.locator(".sk-arena-view .sk-tile").nth(1).wait_for(timeout=120_000)
        status = view.locator(".sk-arena-status")
        assert "pair 1 of 4" in status.inner_text()
        assert view.locator(".sk-arena-undo").is_disabled()
        view.locator(".sk-arena-btn[data-outcome=right]").click()
        assert wait_ledger(db, votes, [("right",)], timeout=30) == [("right",)]
        assert until(lambda: "pair 2 of 4" in status.inner_text()), status.inner_text()
        view.locator(".sk-arena-undo").click()
        wait_ledger(db, votes, [], timeout=30)
        assert until(lambda: "vote taken back · pair 1 of 4" in status.inner_text()), status.inner_text()
        assert ledger(db, votes) == []
