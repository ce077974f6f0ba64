"""The blind arena (``studio.arena()``) in a real JupyterLab through headless Chromium: two clips
with no model named on the page, a click and the keys ← → ↓ b each write one vote to the ledger and
bring the next pair; a clip plays in place.

Run this file on its own (it starts a JupyterLab server; heavy on a shared machine).
"""

import json
import sqlite3
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_lab import _needs_browser  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

MODELS = ["seedance-1-pro-fast", "seedance-1-pro"]

CELLS = [
    "import os\nos.environ['SORAKIT_QUIET'] = '1'\nos.environ['SORAKIT_USER'] = 'ada'\n"
    "from sorakit.engine import Studio\n"
    "studio = Studio(emulate=True, ledger='arena.db', time_scale=0.02)\n"
    "batch = studio.batch(['a corgi surfing', 'a paper boat in the rain'], models=" + repr(MODELS) + ",\n"
    "                     providers=['runware'], seeds=[7, 8], size='864x480', seconds=5, progress=False)\n"
    "assert batch.counts().get('completed') == 8, batch.counts()",
    "a = studio.arena(seed=1)\na",
    "pass",
]


def _votes(path: Path) -> list[tuple]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT user, outcome FROM votes ORDER BY created_at").fetchall()
    finally:
        con.close()


def _wait_votes(path: Path, n: int, timeout: float = 15) -> list[tuple]:
    deadline = time.monotonic() + timeout
    got: list = []
    while time.monotonic() < deadline:
        try:
            got = _votes(path)
        except sqlite3.OperationalError:
            got = []
        if len(got) >= n:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{n} votes expected, the ledger has {got!r}")


def test_vote_by_click_and_keys_in_jupyterlab(tmp_path):
    _needs_browser()
    from lab import Lab, browser_page, notebook, open_and_run

    root = tmp_path / "root"
    root.mkdir()
    (root / "arena.ipynb").write_text(json.dumps(notebook(CELLS)))
    db = root / "arena.db"
    with Lab(root) as lab, browser_page(1300, 1400) as page:
        open_and_run(page, lab, "arena.ipynb", timeout_ms=180_000)
        view = page.locator(".sk-arena-view").first
        view.wait_for(timeout=60_000)
        status = view.locator(".sk-arena-status")
        page.wait_for_function("() => document.querySelectorAll('.sk-arena-view .sk-tile').length === 2",
                               timeout=30_000)
        assert "pair 1 of" in status.inner_text()
        shown = view.inner_text()
        for model in MODELS:
            assert model not in shown  # blind: nothing on the page names a model
        assert view.locator(".sk-arena-btn").count() == 4
        # a click on "left is better"
        view.locator(".sk-arena-btn[data-outcome=left]").click()
        assert _wait_votes(db, 1) == [("ada", "left")]
        page.wait_for_function("() => document.querySelector('.sk-arena-status').textContent.includes('pair 2 of')",
                               timeout=15_000)
        assert "left was seedance" in status.inner_text()  # revealed after the vote
        # the keys: → right, ↓ tie, b both bad (the view has the focus after a click)
        for n, key in enumerate(("ArrowRight", "ArrowDown", "b"), start=2):
            view.focus()
            page.keyboard.press(key)
            _wait_votes(db, n)
            page.wait_for_function(f"() => document.querySelector('.sk-arena-status').textContent"
                                   f".includes('pair {n + 1} of') || document.querySelector('.sk-arena-status')"
                                   f".textContent.includes('judged')", timeout=15_000)
        assert [o for _, o in _votes(db)] == ["left", "right", "tie", "both_bad"]
        # a clip plays in place through the arena's comm
        view.locator("button.sk-play").first.click()
        page.wait_for_function("() => { const v = document.querySelector('.sk-arena-view video');"
                               " return v && v.readyState >= 2; }", timeout=30_000)
