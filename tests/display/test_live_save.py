"""A live display saves its final state: a report shows the finished videos, not "pending" tiles.

A widget's static ``text/html`` fallback is computed when it is displayed, while the jobs are
still pending. When a blocking ``studio.batch(...)`` / ``studio.generate(...)`` returns, its live
display is re-rendered in place, so the saved notebook (and its HTML export) keeps the finished
posters.
"""

import pytest
from support.notebook import run_cells

CELLS = [
    "import os\nos.environ['SORAKIT_QUIET'] = '1'\nfrom sorakit.engine import Studio\n"
    "studio = Studio(emulate=True, ledger='ledger.db', time_scale=0.02)",
    "batch = studio.batch(['a heron at dawn', 'a koi pond in rain'], models='veo-3-fast', "
    "providers='runware', seeds=[3])",
    "job = studio.generate('a kite over dunes', model='kling-3-standard', provider='runware')",
]


@pytest.mark.slow
def test_saved_live_displays_show_the_finished_videos(tmp_path, monkeypatch):
    nb = run_cells(CELLS, tmp_path, monkeypatch, store_widget_state=False)

    for cell, posters in ((nb.cells[1], 2), (nb.cells[2], 1)):
        shown = [o for o in cell.outputs if o.get("output_type") == "display_data"]
        assert len(shown) == 1, [o.get("output_type") for o in cell.outputs]
        html = shown[0]["data"]["text/html"]
        assert html.count("data:image/jpeg;base64,") == posters, html[:500]
        assert "pending" not in html and "submitted" not in html
