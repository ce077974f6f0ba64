"""The blind arena (``studio.arena()``) in a real JupyterLab through headless Chromium: two clips
with no model named on the page, a click and the keys ← → ↓ b each write one vote to the ledger and
bring the next pair; u and the undo button take the last vote back; a clip plays in place.

Run this file on its own (it starts a JupyterLab server; heavy on a shared machine).
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_lab import lab  # noqa: E402,F401  (the module's private JupyterLab)

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


VOTES = "SELECT user, outcome FROM votes ORDER BY created_at"


def test_vote_by_click_and_keys_in_jupyterlab(lab):
    from lab import browser_page, ledger, open_and_run, wait_ledger

    def votes(n: int) -> list[tuple]:
        return wait_ledger(db, VOTES, lambda got: len(got) >= n, what=f"{n} votes")

    db = lab.root / "arena.db"
    with browser_page(1300, 1400) as page:
        open_and_run(page, lab, "arena.ipynb", timeout_ms=180_000, cells=CELLS)
        view = page.locator(".sk-arena-view").first
        view.wait_for(timeout=60_000)
        status = view.locator(".sk-arena-status")
        page.wait_for_function("() => document.querySelectorAll('.sk-arena-view .sk-tile').length === 2",
                               timeout=30_000)
        assert "pair 1 of" in status.inner_text()
        shown = view.inner_text()
        for model in MODELS:
            assert model not in shown  # blind: nothing on the page names a model
        assert view.locator(".sk-arena-btn[data-outcome]").count() == 4
        undo = view.locator(".sk-arena-undo")
        assert undo.is_disabled()  # nothing to take back yet
        # a click on "left is better"
        view.locator(".sk-arena-btn[data-outcome=left]").click()
        assert votes(1) == [("ada", "left")]
        page.wait_for_function("() => document.querySelector('.sk-arena-status').textContent.includes('pair 2 of')",
                               timeout=15_000)
        assert "left was seedance" in status.inner_text()  # revealed after the vote
        # the keys: → right, ↓ tie, b both bad (the view has the focus after a click)
        for n, key in enumerate(("ArrowRight", "ArrowDown", "b"), start=2):
            view.focus()
            page.keyboard.press(key)
            votes(n)
            page.wait_for_function(f"() => document.querySelector('.sk-arena-status').textContent"
                                   f".includes('pair {n + 1} of') || document.querySelector('.sk-arena-status')"
                                   f".textContent.includes('judged')", timeout=15_000)
        assert [o for _, o in ledger(db, VOTES)] == ["left", "right", "tie", "both_bad"]
        # a slip taken back: key u, then the undo button; each deletes the last vote, its pair returns
        view.focus()
        page.keyboard.press("u")
        wait_ledger(db, VOTES, lambda got: len(got) == 3, what="3 votes after u")
        page.wait_for_function("() => document.querySelector('.sk-arena-status').textContent"
                               ".includes('vote taken back · pair 4 of')", timeout=15_000)
        undo.click()
        wait_ledger(db, VOTES, lambda got: len(got) == 2, what="2 votes after the undo button")
        page.wait_for_function("() => document.querySelector('.sk-arena-status').textContent"
                               ".includes('pair 3 of')", timeout=15_000)
        assert [o for _, o in ledger(db, VOTES)] == ["left", "right"] and not undo.is_disabled()
        # a clip plays in place through the arena's comm
        view.locator("button.sk-play").first.click()
        page.wait_for_function("() => { const v = document.querySelector('.sk-arena-view video');"
                               " return v && v.readyState >= 2; }", timeout=30_000)
