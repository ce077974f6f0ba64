"""Benchmark: how heavy a gallery is in a notebook, this tree next to another (default /work/main).

For each tree, a real kernel (nbclient, the tree first on PYTHONPATH) runs a notebook that makes
12 emulated videos and shows ``studio.gallery(columns=4)``; the notebook is saved with the widget
state nbclient records (what JupyterLab writes with "Save widget state" on). Printed per tree:
widget models (comms) in total and per tile, bytes of widget state, the saved file's size, and the
kernel-side time to build a 100-video gallery with its model count and state (median of 3; the browser's render time is printed by
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
    "import json\nfrom ipywidgets.widgets.widget import _instances\nfrom sorakit.display import gallery\n"
    "rows = studio.ledger.rows(status='completed')\n"
    "hundred = [dict(r, job_id=f'{r[\"job_id\"]}-{i}') for i in range(9) for r in rows][:100]\n"
    "gallery(hundred[:1])  # warm the poster cache like a second look at the same gallery would\n"
    "ts = []\nfor _ in range(3):\n    before = set(_instances)\n    t = time.perf_counter()\n"
    "    g = gallery(hundred, limit=None)\n    ts.append(time.perf_counter() - t)\n"
    "    made = [_instances[k] for k in set(_instances) - before]\n"
    "state = sum(len(json.dumps(w.get_state(), default=lambda b: 'x' * (len(b) * 4 // 3))) for w in made)\n"
    "print(json.dumps({'build_100_s': statistics.median(ts), 'models_100': len(made), 'state_100': state}))",
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
            file_bytes = path.stat().st_size
            state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
            kinds = collections.Counter(m["model_name"] for m in state.values())
            nb2 = nbformat.v4.new_notebook()
            nb2.cells = [nbformat.v4.new_code_cell(c) for c in [CELLS[0], CELLS[2]]]
            nb2.metadata["kernelspec"] = nb.metadata["kernelspec"]
            NotebookClient(nb2, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": tmp}}).execute()
            text = "".join(o.get("text", "") for o in nb2.cells[1].outputs)
            hundred = json.loads([ln for ln in text.splitlines() if ln.startswith("{")][-1])
        finally:
            os.environ["PYTHONPATH"] = env_path
    return {"imported": imported, "models_12": len(state), "models_per_tile": round(len(state) / 12, 1),
            "kinds": dict(kinds.most_common(6)), "state_bytes_12": len(json.dumps(state)),
            "file_bytes_12": file_bytes, "models_100": hundred["models_100"],
            "state_100": hundred["state_100"], "build_100_s": round(hundred["build_100_s"], 3)}


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
        print(f"  100-video gallery: {r['models_100']} new widget models, {r['state_100']:,} B of state, "
              f"built in {r['build_100_s']} s in the kernel (median of 3)")


if __name__ == "__main__":
    sys.exit(main())
