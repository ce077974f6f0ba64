"""Regenerate the README screenshots in a real JupyterLab (headless Debian Chromium).

    python tests/browser/make_screenshots.py            # docs/gallery.png (+ tests/artifacts/*.png)

The gallery shows twelve emulated videos: six prompts × two models, as a data scientist would
after a first comparison run. The PNG is palette-quantised to stay small for the README.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from lab import REPO, Lab, browser_page, notebook, open_and_run  # noqa: E402

PROMPTS = [
    "A corgi surfing a turquoise wave at golden hour, slow motion",
    "A paper boat drifting down a rainy city gutter, macro lens",
    "Northern lights over a frozen lake, time-lapse",
    "A barista pouring latte art, top-down shot",
    "A red fox trotting through fresh snow, telephoto",
    "Neon-lit Tokyo alley at night in the rain, handheld camera",
]

GALLERY_CELLS = [
    "import os\nos.environ['SORAKIT_QUIET'] = '1'\nfrom sorakit.engine import Studio\n"
    "studio = Studio(emulate=True, ledger='ledger.db', time_scale=0.02)",
    f"batch = studio.batch({PROMPTS!r},\n    models=['veo-3-fast', 'kling-3-standard'], providers=['runware'],"
    " seeds=[7], progress=False)\nbatch[0].rate(5)\n"
    "batch[3].rate(4); batch[3].tag('keeper')\nlen(batch)",
    "studio.gallery(columns=4)",
    "studio.browse()",
]


def shrink_png(path: Path, max_width: int, budget: int = 290_000) -> int:
    """Fit a screenshot in ``budget`` bytes: true colour if it fits, else a dithered 256-colour
    palette, narrower until it fits. Returns the final size in bytes."""
    import io

    from PIL import Image

    with Image.open(path) as im:
        src = im.convert("RGB")
    width = min(max_width, src.width)
    while True:
        im = src if width == src.width else src.resize((width, round(src.height * width / src.width)), Image.LANCZOS)
        for candidate in (im, im.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                          dither=Image.Dither.FLOYDSTEINBERG)):
            buf = io.BytesIO()
            candidate.save(buf, format="PNG", optimize=True)
            if buf.tell() <= budget:
                path.write_bytes(buf.getvalue())
                return buf.tell()
        width = int(width * 0.9)


def main() -> None:
    docs = REPO / "docs"
    artifacts = REPO / "tests" / "artifacts"
    docs.mkdir(exist_ok=True)
    artifacts.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sorakit-shots-") as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        (root / "gallery.ipynb").write_text(json.dumps(notebook(GALLERY_CELLS)))
        t0 = time.monotonic()
        with Lab(root) as lab, browser_page(1500, 2200) as page:
            open_and_run(page, lab, "gallery.ipynb", timeout_ms=240_000)
            page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
            page.wait_for_function("() => [...document.querySelectorAll('.sk-gallery img.sk-poster')]"
                                   ".filter(i => i.complete && i.naturalWidth > 0).length === 12", timeout=60_000)
            time.sleep(0.5)
            gallery = page.locator(".sk-gallery").first
            gallery.scroll_into_view_if_needed()
            out = docs / "gallery.png"
            gallery.screenshot(path=str(out))
            size = shrink_png(out, 1200, budget=290_000)
            print(f"{out} {size / 1024:.0f} KB")
            browser = page.locator(".sk-browser").first
            browser.scroll_into_view_if_needed()
            browser.locator(".sk-rowplay").nth(1).click()  # a row played in place
            page.locator(".sk-browser .sk-bstage video").wait_for(timeout=30_000)
            time.sleep(0.5)
            browser.screenshot(path=str(artifacts / "ledger_browser.png"))
            shrink_png(artifacts / "ledger_browser.png", 1300, budget=600_000)
        print(f"done in {time.monotonic() - t0:.0f}s")


if __name__ == "__main__":
    main()
