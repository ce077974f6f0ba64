"""Benchmark in a real JupyterLab (headless Chromium), this tree next to another (default /work/main):
the saved size of a 12-video gallery notebook ("Save widget state" on) with posters only, after
playing one video and after playing all twelve; and the time from running a cell to the first and
to all posters of a 100-video gallery. Prints the figures side by side (nothing asserted: the size
target is asserted by ``tests/browser/test_lab.py``).

    python bench/display_lab.py                  # this tree vs /work/main
    python bench/display_lab.py --other ../old
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests" / "browser"))

from lab import Lab, browser_page, notebook, open_and_run, save  # noqa: E402

SETUP = ("import os\nos.environ['SORAKIT_QUIET'] = '1'\nimport sorakit\nfrom sorakit.engine import Studio\n"
         "from sorakit.display import gallery\n"
         "studio = Studio(emulate=True, ledger={db!r}, time_scale=0.02)\n")
BATCH = ("batch = studio.batch(['a corgi surfing', 'a paper boat in the rain', 'northern lights', 'latte art',\n"
         "                      'a fox in snow', 'a neon alley'], models=['veo-3-fast', 'seedance-1-pro'],\n"
         "                     providers=['runware'], seeds=[7], progress=False)\nassert len(batch) == 12")
HUNDRED = ("rows = studio.ledger.rows(status='completed')\n"
           "hundred = [dict(r, job_id=f\"{r['job_id']}-{i}\") for i in range(9) for r in rows][:100]\n"
           "gallery(hundred[:1], limit=None)._repr_mimebundle_()")
# posters: the old gallery drew ipywidgets Images (img.widget-image), the new one img.sk-poster
POSTERS = "'.sk-gallery img.sk-poster, .sk-gallery img.widget-image'"
PLAY = ".sk-gallery button.sk-play:visible, .sk-gallery .sk-play.jupyter-button:visible"


def measure(tree: Path, tmp: Path) -> dict:
    root = tmp / (tree.name + "-12")
    root.mkdir()
    db = str(root / "sizes.db")
    path = root / "g.ipynb"
    path.write_text(json.dumps(notebook([SETUP.format(db=db) + BATCH, "studio.gallery(columns=4)"])))
    out: dict = {}
    lab = Lab(root, save_widget_state=True)
    lab.pythonpath = (str(tree),)  # that tree's sorakit in the kernel, not this one
    with lab, browser_page(1400, 1400) as page:
        open_and_run(page, lab, "g.ipynb", timeout_ms=240_000)
        shown = f"() => [...document.querySelectorAll({POSTERS})].filter(i => i.complete && i.naturalWidth > 0).length"
        page.wait_for_function(f"() => ({shown})() === 12", timeout=60_000)
        save(page)
        out["12 posters"] = path.stat().st_size
        for n in range(1, 13):
            page.locator(PLAY).first.click()
            page.wait_for_function(f"() => [...document.querySelectorAll('.sk-gallery video')]"
                                   f".filter(v => v.readyState >= 2).length === {n}", timeout=60_000)
            if n in (1, 12):
                page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty = true")
                save(page)
                out[f"after playing {n}"] = path.stat().st_size
    other = tmp / (tree.name + "-100")
    other.mkdir()
    (other / "h.ipynb").write_text(json.dumps(notebook([SETUP.format(db=db) + HUNDRED, "pass"])))
    lab = Lab(other)
    lab.pythonpath = (str(tree),)
    with lab, browser_page(1400, 1400) as page:
        open_and_run(page, lab, "h.ipynb", timeout_ms=240_000)
        render = page.evaluate(f"""() => new Promise((resolve, reject) => {{
            const nb = window.jupyterapp.shell.currentWidget.content, cell = nb.widgets[1];
            cell.model.sharedModel.setSource('gallery(hundred, limit=None)');
            nb.activeCellIndex = 1;
            const t0 = performance.now();
            let first = null;
            window.jupyterapp.commands.execute('notebook:run-cell');
            const poll = () => {{
              const n = [...cell.node.querySelectorAll({POSTERS})].filter(i => i.complete && i.naturalWidth > 0).length;
              const t = performance.now() - t0;
              if (n > 0 && first === null) first = t;
              if (n >= 100) return resolve([first / 1000, t / 1000]);
              if (t > 120000) return reject(new Error('only ' + n + ' posters after 120 s'));
              requestAnimationFrame(poll);
            }};
            poll();
        }})""")
        out["100-gallery: first poster (s)"] = round(render[0], 3)
        out["100-gallery: all 100 posters (s)"] = round(render[1], 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--other", default="/work/main")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = {"this tree": measure(HERE, Path(tmp)), f"other ({args.other})": measure(Path(args.other).resolve(), Path(tmp))}
    keys = list(next(iter(rows.values())))
    print(f"\n{'':34}" + "".join(f"{name:>28}" for name in rows))
    for k in keys:
        print(f"{k:34}" + "".join(f"{rows[name][k]:>28,}" for name in rows))


if __name__ == "__main__":
    main()
