"""A saved notebook with a 12-video gallery stays small: posters, never the videos.

The notebook is executed by nbclient in a real kernel against the real Studio and emulator, then
saved twice: with the widget state nbclient records (what JupyterLab writes when "Save widget
state" is on) and without it (JupyterLab's default). Both must stay under 500 KB.
"""

import json

import nbformat
import pytest
from support.notebook import REPO, run_cells

LIMIT = 500_000
ARTIFACTS = REPO / "tests" / "artifacts"

PROMPTS = [
    "A corgi surfing a wave at golden hour, slow motion",
    "A paper boat drifting down a rainy city gutter, macro lens",
    "Northern lights over a frozen lake, time-lapse",
    "A barista pouring latte art, top-down shot",
    "A red fox trotting through fresh snow, telephoto",
    "Neon-lit Tokyo alley at night in the rain, handheld camera",
]

CELLS = [
    "import os\nos.environ['SORAKIT_QUIET'] = '1'\nfrom sorakit.engine import Studio\n"
    "studio = Studio(emulate=True, ledger='ledger.db', time_scale=0.02)",
    f"batch = studio.batch({PROMPTS!r}, models=['veo-3-fast', 'seedance-1-pro'], providers=['runware'], seeds=[7], progress=False)\n"
    "assert batch.counts().get('completed') == 12, batch.counts()\nlen(batch)",
    "studio.gallery(columns=4)",
]


@pytest.mark.slow
def test_saved_notebook_with_a_12_video_gallery_stays_under_500_kb(tmp_path, monkeypatch, checks_on):
    nb = run_cells(CELLS, tmp_path, monkeypatch)

    gallery_out = nb.cells[-1].outputs
    assert len(gallery_out) == 1
    data = gallery_out[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in data
    html = data["text/html"]
    assert html.count("data:image/jpeg;base64,") == 12  # a poster per video for GitHub / nbviewer
    assert "data:video" not in html

    videos = sorted((tmp_path / "sorakit-media").rglob("*.mp4"))
    assert len(videos) == 12
    video_bytes = sum(v.stat().st_size for v in videos)

    with_state = tmp_path / "with_widget_state.ipynb"
    nbformat.write(nb, with_state)
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert not any(m["model_name"] == "VideoModel" for m in state.values())  # no video until played
    without = tmp_path / "default_lab_save.ipynb"
    nb.metadata.pop("widgets")
    nbformat.write(nb, without)

    # nbviewer / HTML export of the default save: no widget state, so the poster fallback is shown
    from nbconvert import HTMLExporter

    exported, _ = HTMLExporter().from_notebook_node(nbformat.read(without, as_version=4))
    assert exported.count("data:image/jpeg;base64,") == 12

    sizes = {"with widget state": with_state.stat().st_size, "without widget state": without.stat().st_size,
             "the 12 videos themselves": video_bytes}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "notebook_size.json").write_text(json.dumps(sizes, indent=2))
    print(f"\nsaved 12-video gallery notebook: {sizes}")
    assert sizes["with widget state"] < LIMIT
    assert sizes["without widget state"] < LIMIT


BROWSER_LIMIT = 250_000
"""Bytes: a 12-video gallery plus a 1,000-row ledger browser, saved with widget state (issue 23 item 4;
``tests/browser/test_browser_grid.py`` checks the same in JupyterLab after playing all twelve)."""


@pytest.mark.slow
def test_a_gallery_and_a_1000_row_ledger_browser_saved_with_widget_state_stay_under_250_kb(tmp_path, monkeypatch, checks_on):
    cells = [
        CELLS[0],
        CELLS[1] + "\ndone = [j.row for j in batch]\n"
        "keep = ('model', 'provider', 'status', 'size', 'seconds', 'estimated_cost', 'billed_cost', 'file_path',\n"
        "        'poster_path', 'sha256', 'emulated', 'latency_s')\n"
        "studio.ledger.insert_many([dict({k: done[i % 12][k] for k in keep}, prompt=f'row {i}: a fox {i % 7}')\n"
        "                           for i in range(988)])\nassert len(studio.ledger.df) == 1000",
        "studio.gallery(batch, columns=4)",
        "b = studio.browse()\nb",
    ]
    nb = run_cells(cells, tmp_path, monkeypatch)
    html = nb.cells[-1].outputs[0]["data"]["text/html"]
    assert "1000</b> jobs" in html and html.count("<tr>") == 26  # the fallback: totals and the newest 25
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    [browser] = [m for m in state.values() if m["state"].get("_kind") == "browser"]
    assert len(json.dumps(browser)) < 40_000  # its module, style and filters; no row
    assert "row 900" not in json.dumps(browser)
    path = tmp_path / "gallery_and_browser.ipynb"
    nbformat.write(nb, path)
    size = path.stat().st_size
    print(f"\n12-video gallery + 1,000-row browser, saved with widget state by nbclient: {size} bytes")
    assert size <= BROWSER_LIMIT
