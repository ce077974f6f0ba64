"""Benchmark: how heavy a gallery is in a notebook, this tree next to another (default /work/main).

For each tree, a real kernel (nbclient, the tree first on PYTHONPATH) runs a notebook that makes
12 emulated videos and shows ``studio.gallery(columns=4)``; the notebook is saved with the widget
state nbclient records (what JupyterLab writes with "Save widget state" on). Printed per tree:
widget models (comms) in total and per tile, bytes of widget state, the saved file's size, and the
kernel-side time to build a 100-video gallery (median of 3; the browser's render time is printed by
``tests/browser/test_lab.py``). Playing is not part of this run: with the anywidget player the
played videos never enter the state (see ``tests/browser/test_lab.py`` for the saved sizes after
playing in a real JupyterLab).

    python bench/display.py                       # this tree vs /work/main
    python bench/display.py --other ../main-copy
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]

CELLS = [
    "import os, time, statistics\nos.environ['SORAKIT_QUIET'] = '1'\nimport sorakit\nfrom sorakit.engine import Studio\n"
    "studio = Studio(emulate=True, ledger='ledger.db', time_scale=0.02)\n"
    "batch = studio.batch(['a corgi surfing', 'a paper boat in the rain', 'northern lights', 'latte art',\n"
    "                      'a fox in snow', 'a neon alley'], models=['veo-3-fast', 'seedance-1-pro'],\n"
    "                     providers=['runware'], seeds=[7], progress=False)\nassert len(batch) == 12\n"
    "print(sorakit.__file__)",
    "studio.gallery(columns=4)",
    # 100 tiles: the 12 rows repeated (the widgets do not care that files repeat)
    "from sorakit.display import gallery\nrows = studio.ledger.rows(status='completed')\n"
    "hundred = [dict(r, job_id=f'{r[\"job_id\"]}-{i}') for i in range(9) for r in rows][:100]\n"
    "gallery(hundred[:1])  # warm the poster cache like a second look at the same gallery would\n"
    "ts = []\nfor _ in range(3):\n    t = time.perf_counter(); g = gallery(hundred, limit=None); ts.append(time.perf_counter() - t)\n"
    "print(json.dumps({'build_100_s': statistics.median(ts)})) if (json := __import__('json')) else None",
]


def measure(tree: Path) -> dict:
    import nbformat
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as tmp:
        env_path = os.environ.get("PYTHONPATH", "")
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env_path]))
        try:
            nb = nbformat.v4.new_notebook()
            nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS[:2]]
            nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
            NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp}}).execute()
            imported = nb.cells[0].outputs[-1]["text"].strip()
            path = Path(tmp) / "g.ipynb"
            nbformat.write(nb, path)
            state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
            kinds = collections.Counter(m["model_name"] for m in state.values())
            nb2 = nbformat.v4.new_notebook()
            nb2.cells = [nbformat.v4.new_code_cell(c) for c in [CELLS[0], CELLS[2]]]
            nb2.metadata["kernelspec"] = nb.metadata["kernelspec"]
            NotebookClient(nb2, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": tmp}}).execute()
            state2 = nb2.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
            build = json.loads(nb2.cells[1].outputs[-1]["text"].strip().splitlines()[-1])["build_100_s"]
        finally:
            os.environ["PYTHONPATH"] = env_path
    return {"imported": imported, "models_12": len(state), "models_per_tile": round(len(state) / 12, 1),
            "kinds": dict(kinds.most_common(6)), "state_bytes_12": len(json.dumps(state)),
            "saved_file_12": path.stat().st_size if False else None, "file_bytes_12": _size(nb),
            "models_100_x4": len(state2), "build_100_s": round(build, 3)}


def _size(nb) -> int:
    import nbformat

    return len(nbformat.writes(nb).encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--other", default="/work/main", help="the tree to compare with (its sorakit/ first on PYTHONPATH)")
    args = ap.parse_args()
    rows = {"this tree": measure(HERE), f"other ({args.other})": measure(Path(args.other).resolve())}
    for name, r in rows.items():
        print(f"\n{name}: sorakit from {r['imported']}")
        print(f"  12-video gallery: {r['models_12']} widget models ({r['models_per_tile']} per tile), "
              f"{r['state_bytes_12']:,} B of widget state, saved notebook {r['file_bytes_12']:,} B")
        print(f"  model kinds: {r['kinds']}")
        print(f"  100-video gallery: built in {r['build_100_s']} s in the kernel "
              f"(notebook with 4 galleries of 100: {r['models_100_x4']} models)")


if __name__ == "__main__":
    sys.exit(main())
