"""Shareable reports: ``gallery(...).to_html`` / ``compare(...).to_html`` open in headless Chromium.

The file is opened from disk (``file://``) with nothing else around it: with ``embed=True`` every
video decodes (``readyState >= 2``); without, every poster shows and there is no video element.
"""

import importlib.util
import shutil
import sys
import warnings
from pathlib import Path

import pytest

from conftest import require

sys.path.insert(0, str(Path(__file__).parent))

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]

PROMPTS = ["A heron lifting off a misty lake", "A paper lantern drifting at night"]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    from sorakit.engine import Studio

    st = Studio(emulate=True, ledger=tmp_path_factory.mktemp("report") / "ledger.db", time_scale=0.02)
    batch = st.batch(PROMPTS, models=["seedance-1-pro-fast", "seedance-1-pro"], providers=["runware"],
                     seeds=[5], size="864x480", seconds=5, progress=False)
    assert batch.counts().get("completed") == 4, batch.counts()
    yield st
    st.close()


def _needs_chromium():
    require(shutil.which("chromium") is not None, "Debian chromium is not installed (apt-get install -y chromium)")
    require(importlib.util.find_spec("playwright") is not None, "playwright (python) is not installed")


def _open(page, path: Path) -> None:
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")


def test_gallery_report_with_embedded_videos_plays_offline(studio, tmp_path):
    _needs_chromium()
    from lab import browser_page

    from sorakit.display import gallery

    g = gallery(studio, columns=2, title="Heron test")
    path = g.to_html(tmp_path / "report.html", embed=True)
    text = path.read_text()
    assert text.count("data:video/mp4;base64,") == 4 and "<script" not in text and "http" not in text
    assert "Costs" in text and "total (4 videos)" in text and "Heron test" in text
    with browser_page(1300, 1000) as page:
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        _open(page, path)
        page.wait_for_function("() => { const v = [...document.querySelectorAll('video')];"
                               "return v.length === 4 && v.every(x => x.readyState >= 2 && x.videoWidth === 864); }",
                               timeout=30_000)
        rows = page.locator("table.costs tbody tr").count()
    assert rows == 5  # four videos and the total
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # nothing fetched


def test_reports_without_embedding_show_posters_and_warn_when_embedding_is_large(studio, tmp_path, monkeypatch):
    _needs_chromium()
    from lab import browser_page

    from sorakit import ValidationError
    from sorakit.display import _report, compare

    c = compare(studio)
    path = c.to_html(tmp_path / "compare.html")
    with browser_page(1300, 1000) as page:
        _open(page, path)
        page.wait_for_function("() => { const i = [...document.querySelectorAll('img')];"
                               "return i.length === 4 && i.every(x => x.complete && x.naturalWidth > 0); }",
                               timeout=30_000)
        assert page.locator("video").count() == 0
        heads = page.locator("th").all_inner_texts()
    assert "seedance-1-pro-fast@runware" in heads and "seedance-1-pro@runware" in heads

    monkeypatch.setattr(_report, "EMBED_WARN_BYTES", 1000)
    with pytest.warns(UserWarning, match="MB of video"):
        c.to_html(tmp_path / "big.html", embed=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.to_html(tmp_path / "small.html")  # posters only: no warning
    with pytest.raises(ValidationError) as e:
        c.to_html(tmp_path / "report.pdf")
    assert e.value.field == "path" and not (tmp_path / "report.pdf").exists()
