"""The README's "In a notebook" tour as a new user meets it, in JupyterLab (light and dark theme)
and in a served marimo app, asserting on what a person sees (issue 25).

The notebook walks the tour cell by cell: the form (submitted with Ctrl+Enter), a generated job's
card (running, then done), ``ledger.df.head()``, a batch mixing a seed with a model that takes none
(``skip_invalid=True``) and its gallery, a comparison, the ledger browser, a cancel on a provider
that has one (Gemini Omni Flash) and on one that has none (Runware), and two gallery videos played.
The emulator runs in this test's process on the wall clock (two of them: a fast one for the tour,
and one whose jobs run for ten minutes, so the cancels happen while the jobs render).

``tour_checks.js`` then reads every sorakit widget on the page (through marimo's shadow roots):

- no error box and no traceback text in any widget;
- no element whose content overflows its box (scrollWidth > clientWidth + 1, same for height),
  except elements meant to scroll or clip, listed in the script (select, textarea, video, img,
  the tile's two-line prompt clamp, the video stage);
- no text cut by an ellipsis where the whole value is short (≤ 40 characters); no dropdown cutting
  its chosen option; no input cutting its placeholder;
- every total equal to the sum of what it totals, as displayed (gallery and comparison headers
  against their tiles, the browser's cost total against its rows);
- every estimate recomputable from the seconds and the per-second price shown beside it.

Both themes are checked on the same page (JupyterLab switches theme live). Screenshots go to
tests/artifacts/ (gitignored). The figures read are printed.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lab import ARTIFACTS, needs_browser, until  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

CHECKS = (Path(__file__).parent / "tour_checks.js").read_text()

SETUP = """import os
os.environ['SORAKIT_QUIET'] = '1'
import sorakit
from sorakit.engine import Policy
policy = Policy(poll_initial=0.05, poll_max=0.3)
studio = sorakit.Studio(emulate=True, ledger='tour.db', emulator={fast!r}, policy=policy)
slow = sorakit.Studio(emulate=True, ledger='slow.db', emulator={slow!r}, policy=policy)"""

CELLS = [
    "studio.form(model='seedance-1-pro@runware')",
    "job = studio.generate('A red fox trotting through fresh snow, low tracking shot',\n"
    "                      model='seedance-1-pro', provider='runware', seed=7)\njob",
    "studio.ledger.df.head()",
    "studio.estimate(['a fox', 'a heron'], models=['seedance-1-pro', 'kling-3-standard'])",
    "batch = studio.batch(['a fox', 'a heron'], models=['seedance-1-pro@runware', 'kling-3-standard@runware'],\n"
    "                     seeds=[1, 2], skip_invalid=True)",
    "studio.gallery(batch)",
    "studio.compare(prompts=['a fox'], models=['gemini-omni-1.2-flash@gemini', 'seedance-1-pro@runware'])",
    "omni = slow.submit('a kite over dunes', model='gemini-omni-1.2-flash', provider='gemini', seconds=6)\nomni",
    "tram = slow.submit('a tram in fog', model='seedance-1-pro', provider='runware')\ntram",
    "studio.browse()",
    "from sorakit.display import player; player(job)",
]


@pytest.fixture(scope="module")
def emulators(tmp_path_factory):
    """(fast, slow) emulator servers on 127.0.0.1, on the wall clock."""
    from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer

    media = tmp_path_factory.mktemp("tour-emu-media")
    fast = Emulator(EmulatorConfig(time_scale=0.02, seed=25, render_eagerly=False), media)
    slow = Emulator(EmulatorConfig(seed=26, render_eagerly=False, generation_seconds=600.0), media)
    with EmulatorServer(fast, host="127.0.0.1", port=0) as f, EmulatorServer(slow, host="127.0.0.1", port=0) as s:
        yield f, s
    fast.close()
    slow.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    needs_browser()
    from lab import Lab

    root = tmp_path_factory.mktemp("tour") / "root"
    root.mkdir()
    server = Lab(root)
    # every cell rendered (no windowing): a widget scrolled out of view is checked too
    tracker = server.home / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    with server:
        yield server


def check(page, where: str, exclude: tuple[str, ...] = ()) -> dict:
    result = page.evaluate(CHECKS, list(exclude))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"tour_problems_{where.split(',')[0].replace(' ', '_')}.txt").write_text(
        "\n".join(result["problems"]) + "\n" + json.dumps(result["figures"], indent=1))
    assert result["figures"]["roots"] > 0, f"{where}: no sorakit widget on the page"
    assert not result["problems"], f"{where}:\n" + "\n".join(result["problems"])
    return result["figures"]


def outputs(page, i: int):
    """The output area of the notebook's cell ``i``."""
    return page.locator(".jp-Notebook .jp-Cell").nth(i).locator(".jp-OutputArea")


def test_the_readme_tour_in_jupyterlab_light_and_dark(lab, emulators):
    from lab import browser_page, open_and_run

    fast, slow = emulators
    t0 = time.monotonic()
    cells = [SETUP.format(fast=fast.base_url, slow=slow.base_url), *CELLS]
    ARTIFACTS.mkdir(exist_ok=True)
    figures = {}
    with browser_page(1280, 1000) as page:
        open_and_run(page, lab, "tour.ipynb", timeout_ms=150_000, cells=cells)
        ran = time.monotonic() - t0

        # the form: Ctrl+Enter in the prompt submits it; its job is listed, runs and finishes
        form = outputs(page, 1).locator(".skf")
        form.locator("textarea.skf-prompt").fill("A heron lifting off a misty lake")
        form.locator("textarea.skf-prompt").press("Control+Enter")
        job = outputs(page, 1).locator(".sk-jobs .sk-card").first
        job.wait_for(timeout=30_000)
        job.locator(".sk-play").wait_for(timeout=60_000)
        page.wait_for_function("() => !document.querySelector('.skf .skf-msg.skf-ok')", timeout=20_000)
        assert outputs(page, 1).locator(".jp-OutputArea-output").count() == 1  # no second cell run

        # the generated card: done, with its player
        card = outputs(page, 2).locator(".sk-cards-view .sk-card")
        assert "done" in card.locator(".sk-chip").first.inner_text().lower()

        # ledger.df.head() leads with what people read
        head = outputs(page, 3).locator("table.dataframe thead th").all_inner_texts()
        assert head[1:5] == ["prompt", "model", "provider", "status"], head[:8]

        # the batch's gallery says what skip_invalid left out
        for i in (5, 6):
            page.wait_for_function(
                "(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];"
                " return c && c.querySelectorAll('.sk-grid-view img.sk-poster').length === 4; }", arg=i,
                timeout=60_000)
            assert "4 combinations left out" in outputs(page, i).locator(".sk-ghead").inner_text()

        # the ledger browser's grid: its library and first page come from the kernel after the cell ran
        page.wait_for_function("() => document.querySelectorAll('.sk-browser .sk-btable td.sk-c-cost').length > 0",
                               timeout=60_000)
        figures["while jobs run"] = check(page, "light theme, two jobs rendering")
        # a running card: its elapsed time is a clock from the first second ("0:07", never "7.1 s")
        running = outputs(page, 9).locator(".sk-cards-view .sk-card .sk-progress-text").inner_text()
        assert re.search(r"\b\d+:\d\d elapsed", running) and not re.search(r"\d s elapsed", running), running

        # cancel where the provider has one: cancelled
        omni = outputs(page, 8).locator(".sk-cards-view .sk-card")
        button = omni.locator(".sk-cancel")
        page.wait_for_function("(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];"
                               " const b = c && c.querySelector('.sk-cancel');"
                               " return b && b.offsetParent && b.textContent.includes('Cancel'); }", arg=8,
                               timeout=30_000)
        button.click()
        omni.locator(".sk-cancel-box").wait_for(timeout=30_000)
        assert omni.locator(".sk-chip").first.inner_text().lower() == "cancelled"
        assert omni.locator(".sk-message").inner_text().strip() == ""        # one box, not two
        assert omni.locator(".sk-progress-row").is_hidden()

        # where it has none: the button says so before the click, one plain box after
        tram = outputs(page, 9).locator(".sk-cards-view .sk-card")
        page.wait_for_function("(i) => { const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];"
                               " const b = c && c.querySelector('.sk-cancel');"
                               " return b && b.offsetParent && b.textContent.includes('Stop waiting'); }", arg=9,
                               timeout=30_000)
        assert "only stops sorakit waiting" in tram.locator(".sk-cancel").get_attribute("title")
        tram.locator(".sk-cancel").click()
        tram.locator(".sk-cancel-box").wait_for(timeout=30_000)
        assert tram.locator(".sk-cancel-box").count() == 1 and tram.locator(".sk-message").inner_text().strip() == ""
        assert tram.locator(".sk-chip").first.inner_text().lower() == "not cancelled"
        assert tram.locator(".sk-progress-row").is_hidden()
        said = tram.inner_text()
        for dev in ("sdk", "SDK", ".py", "PROTOCOLS", "§"):
            assert dev not in said, (dev, said)

        # play two gallery videos: muted, one at a time
        gallery = outputs(page, 6)
        gallery.locator("button.sk-play").nth(0).click()
        page.wait_for_function("(i) => { const v = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                               ".querySelector('video'); return v && v.readyState >= 2; }", arg=6, timeout=30_000)
        gallery.locator("video").first.evaluate("v => v.play()")
        gallery.locator("button.sk-play").nth(0).click()   # the next tile's button (the first is a video now)
        page.wait_for_function("(i) => { const v = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                               ".querySelectorAll('video'); return v.length === 2 && v[1].readyState >= 2; }",
                               arg=6, timeout=30_000)
        gallery.locator("video").nth(1).evaluate("v => v.play()")
        page.wait_for_function("(i) => { const v = document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
                               ".querySelectorAll('video'); return !v[1].paused && v[0].paused; }", arg=6,
                               timeout=10_000)
        assert gallery.locator("video").evaluate_all("vs => vs.every(v => v.muted)")

        for theme, light in (("JupyterLab Light", "true"), ("JupyterLab Dark", "false")):
            page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
            page.wait_for_function("(l) => document.body.dataset.jpThemeLight === l", arg=light, timeout=30_000)
            page.wait_for_timeout(500)  # the theme's CSS applied
            figures[theme] = check(page, theme)
            tag = "light" if light == "true" else "dark"
            for i, what in ((1, "form"), (2, "card"), (6, "gallery"), (7, "compare"), (8, "cancelled"),
                            (9, "stopped_waiting"), (10, "browser")):
                outputs(page, i).screenshot(path=str(ARTIFACTS / f"tour_lab_{tag}_{what}.png"))
    print(f"\ntour in JupyterLab: cells ran in {ran:.1f}s, whole test {time.monotonic() - t0:.1f}s; figures: "
          + json.dumps(figures)[:1500])


MARIMO_APP = '''import marimo

app = marimo.App(width="medium")


@app.cell
def _():
    import os

    import marimo as mo

    os.environ["SORAKIT_QUIET"] = "1"
    import sorakit
    from sorakit.display import compare, form, gallery, player
    from sorakit.engine import Policy

    folder = os.environ["SORAKIT_MARIMO_DIR"]
    policy = Policy(poll_initial=0.05, poll_max=0.3)
    studio = sorakit.Studio(emulate=True, ledger=os.path.join(folder, "tour.db"),
                            emulator=os.environ["TOUR_FAST"], policy=policy)
    slow = sorakit.Studio(emulate=True, ledger=os.path.join(folder, "slow.db"),
                          emulator=os.environ["TOUR_SLOW"], policy=policy)
    return compare, form, gallery, mo, player, slow, studio


@app.cell
def _(form, mo, slow):
    mo.ui.anywidget(form(slow, model="seedance-1-pro@runware"))
    return


@app.cell
def _(gallery, mo, studio):
    batch = studio.batch(["a fox", "a heron"], models=["seedance-1-pro@runware", "kling-3-standard@runware"],
                         seeds=[1, 2], skip_invalid=True, progress=False)
    mo.ui.anywidget(gallery(batch))
    return (batch,)


@app.cell
def _(batch, compare, mo, studio):
    mo.ui.anywidget(compare(studio, prompts=["a fox"], models=["gemini-omni-1.2-flash@gemini", "seedance-1-pro@runware"]))
    return


@app.cell
def _(batch, mo, player):
    mo.ui.anywidget(player(batch[0]))
    return


if __name__ == "__main__":
    app.run()
'''


def test_the_tour_in_a_served_marimo_app(tmp_path, emulators):
    """The widgets that render in marimo (anywidgets: the request form, gallery, comparison and
    player), served by ``marimo run --headless``, checked like the JupyterLab tour; the form's job
    is stopped with its "Stop waiting" button (Runware has no cancel)."""
    import os

    from lab import browser_page
    from test_marimo import serve

    fast, slow = emulators
    app = tmp_path / "tour_app.py"
    app.write_text(MARIMO_APP)
    t0 = time.monotonic()
    os.environ["TOUR_FAST"], os.environ["TOUR_SLOW"] = fast.base_url, slow.base_url  # read by the app
    try:
        with serve(app, tmp_path) as base, browser_page(1280, 1600) as page:
            figures = _marimo_tour(page, base)
    finally:
        del os.environ["TOUR_FAST"], os.environ["TOUR_SLOW"]
    print(f"\ntour in marimo: {time.monotonic() - t0:.1f}s; figures: " + json.dumps(figures)[:800])


def _marimo_tour(page, base: str) -> dict:
    """The marimo page: wait for the widgets, stop the form's job, play a video, check the page."""
    page.goto(base + "/")
    page.locator(".sk-grid-view img.sk-poster").nth(3).wait_for(timeout=120_000)   # the batch's gallery
    page.wait_for_function(
        "() => { const all = (r) => [...r.querySelectorAll('*')].flatMap(e => e.shadowRoot ? [e, ...all(e.shadowRoot)] : [e]);"
        " return all(document).filter(e => e.matches && e.matches('img.sk-poster')).length >= 7; }",
        timeout=120_000)                                                                # + compare (2) + player
    assert "4 combinations left out" in page.locator(".sk-ghead").first.inner_text()
    form = page.locator(".skf")
    form.locator("textarea.skf-prompt").fill("a tram in fog")
    form.locator("textarea.skf-prompt").press("Control+Enter")                    # the keyboard shortcut
    job = form.locator(".sk-card").first
    job.wait_for(timeout=60_000)
    stop = job.locator("button.sk-cancel")
    until(lambda: stop.inner_text() == "Stop waiting")
    assert stop.inner_text() == "Stop waiting" and "only stops sorakit waiting" in stop.get_attribute("title")
    stop.click()
    said = job.locator(".sk-outcome")
    until(lambda: "Not cancelled" in said.inner_text())
    assert said.count() == 1 and said.inner_text().startswith("Not cancelled: sorakit stopped waiting")
    assert "sdk" not in said.inner_text().lower() and "not cancelled" in job.locator(".sk-chip").first.inner_text().lower()
    assert job.locator(".sk-message").is_hidden()                               # one box, not two
    assert job.locator(".sk-progress-row").is_hidden()                          # no elapsed time counting
    assert job.locator(".sk-stage").is_hidden()                                 # nor a "rendering" stage
    grid = page.locator(".sk-grid-view").first                                  # play a gallery video
    grid.locator("button.sk-play").first.click()
    video = grid.locator("video").first
    video.wait_for(timeout=30_000)
    until(lambda: video.evaluate("v => v.readyState") >= 2)
    assert video.evaluate("v => [v.readyState >= 2, v.muted, v.loop]") == [True, True, False]
    figures = check(page, "marimo")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tour_marimo.png"), full_page=True)
    return figures
