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
def test_saved_notebook_with_a_12_video_gallery_stays_under_500_kb(tmp_path, monkeypatch):
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
