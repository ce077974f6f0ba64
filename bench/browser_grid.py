"""The ledger browser's grid, side by side with the grid widgets it was chosen over, on 100,000 ledger
rows in a real JupyterLab (headless Debian Chromium, ``tests/browser/lab.py``).

    python bench/browser_grid.py                       # all candidates, 100,000 rows, 3 runs
    python bench/browser_grid.py --rows 20000 --runs 2 --only sorakit,itables

The ledger: ``--rows`` rows made as ``bench/ledger.py`` makes them (10 models on 5 providers, 60
days, prompts of 80-200 characters), each prompt starting with its number (``r000123``) so a page
can tell which rows it shows; every completed row has a real video file and one of ``--posters``
distinct WebP poster files (copies of an emulated job's poster), so thumbnails cost what they cost.

Per candidate (each in its own notebook; the cell that builds the data is not timed):

* first paint: from running the cell that shows the widget to the first row's text in the page
  (the first run: a fresh page, nothing cached; then the median of the re-runs of that cell);
* filter change: typing one row's number (``r054321``, or the last row's) into the widget's own text search (sorakit:
  the prompt filter, whose input waits 250 ms for more keys before it asks: included) until that row
  is the only one shown; and for sorakit choosing one model in its model dropdown until the
  totals say the new count (median of ``--runs``);
* saved: the .ipynb saved with widget state ("Save widget state automatically") right after the
  first paint, and the widget's synced state as JSON;
* ES module: the widget's ``_esm`` (what every model saves in the notebook) and, for sorakit, the
  grid library the kernel sends the page once (not saved).

Candidates: ``sorakit`` (``studio.browse()``: DataTables from the itables wheel, rows in the
kernel), ``itables`` (``itables.widget.ITable(df)``: its defaults, which downsample to ``maxBytes``
= 64 KB), ``itables-all`` (``ITable(df, maxBytes=0)``: every row in the state), ``quak``
(``quak.Widget(df)``: DuckDB in the kernel, Mosaic in the page), ``buckaroo``
(``BuckarooInfiniteWidget(df)``: AG Grid, rows fetched on scroll). A candidate that does not paint
within ``--timeout`` seconds is reported as such. Nothing is asserted: this prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "tests" / "browser"))
sys.path.insert(0, str(HERE / "bench"))

from lab import Lab, browser_page, notebook, open_and_run, save  # noqa: E402

COLS = ["created_at", "model", "provider", "status", "estimated_cost", "billed_cost", "rating", "tags", "prompt",
        "seconds", "size", "user", "latency_s"]
SETUP = ("import os\nos.environ['SORAKIT_QUIET'] = '1'\nimport json\nimport sorakit\nfrom sorakit.engine import Studio\n"
         "studio = Studio(emulate=True, ledger={db!r})\n"
         "df = studio.ledger.df[{cols!r}].iloc[::-1].reset_index(drop=True)\n"
         "df['created_at'] = df['created_at'].astype(str)\n"
         "for c in ('model', 'provider', 'status', 'size', 'user', 'tags', 'prompt'):\n"
         "    df[c] = df[c].astype(object)\n")
SHOW = {
    "sorakit": ("", "w = studio.browse()\nw"),
    "itables": ("from itables.widget import ITable\n", "w = ITable(df)\nw"),
    "itables-all": ("from itables.widget import ITable\n", "w = ITable(df, maxBytes=0)\nw"),
    "quak": ("import quak\n", "w = quak.Widget(df)\nw"),
    "buckaroo": ("from buckaroo.buckaroo_widget import BuckarooInfiniteWidget\n", "w = BuckarooInfiniteWidget(df)\nw"),
}
# the text of a cell's output, into open shadow roots (quak draws in one)
DEEP = """(node) => { const parts = []; const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
  for (const c of n.childNodes) { if (c.nodeType === 3) parts.push(c.textContent); else walk(c); } };
  walk(node); return parts.join(' '); }"""
RUN_CELL = """async ([index, timeout, deep]) => {
  const DEEPTEXT = eval(deep);
  const nb = window.jupyterapp.shell.currentWidget.content, cell = nb.widgets[index];
  nb.activeCellIndex = index;
  const t0 = performance.now();
  window.jupyterapp.commands.execute('notebook:run-cell');
  await new Promise(r => setTimeout(r, 30));
  return await new Promise((resolve) => {
    const poll = () => {
      const out = cell.node.querySelector('.jp-OutputArea');
      const text = out ? DEEPTEXT(out) : '';
      const t = performance.now() - t0;
      if (/r\\d{6}/.test(text)) return resolve(t / 1000);
      if (t > timeout * 1000) return resolve(null);
      setTimeout(poll, 20);
    };
    poll();
  });
}"""
# type TOKEN into the first text input of the output (into shadow roots), wait until it is the only row
FILTER_TEXT = """async ([index, token, timeout, deep]) => {
  const DEEPTEXT = eval(deep);
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const out = cell.node.querySelector('.jp-OutputArea');
  const inputs = [];
  const walk = (n) => { if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.children || []) { if (c.tagName === 'INPUT' && (c.type === 'search' || c.type === 'text')) inputs.push(c); walk(c); } };
  walk(out);
  const input = inputs.find(i => i.dataset.filter === 'text') || inputs[0];
  if (!input) return 'no text search';
  input.focus();
  input.value = '';
  input.dispatchEvent(new Event('input', { bubbles: true }));
  await new Promise(r => setTimeout(r, 600));
  const t0 = performance.now();
  input.value = token;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  input.dispatchEvent(new KeyboardEvent('keyup', { bubbles: true, key: '1' }));
  return await new Promise((resolve) => {
    const poll = () => {
      const ids = DEEPTEXT(out).match(/r\\d{6}/g) || [];
      const t = performance.now() - t0;
      if (ids.length && ids.every(x => x === token)) return resolve(t / 1000);
      if (t > timeout * 1000) return resolve(null);
      setTimeout(poll, 20);
    };
    poll();
  });
}"""
FILTER_MODEL = """async ([index, model, timeout]) => {
  const cell = window.jupyterapp.shell.currentWidget.content.widgets[index];
  const s = cell.node.querySelector('select[data-filter=model]');
  const totals = cell.node.querySelector('.sk-btotals');
  const info = () => (cell.node.querySelector('.dt-info') || {}).textContent || '';
  const before = info();
  const t0 = performance.now();
  s.value = model;
  s.dispatchEvent(new Event('change', { bubbles: true }));
  return await new Promise((resolve) => {
    const poll = () => {
      const t = performance.now() - t0;
      const now = info();
      if (now && now !== before && !cell.node.querySelector('.dt-processing[style*="block"]')) return resolve([t / 1000, now, totals.textContent]);
      if (t > timeout * 1000) return resolve(null);
      setTimeout(poll, 20);
    };
    poll();
  });
}"""


def make_ledger(root: Path, rows: int, posters: int) -> tuple[str, str]:
    """A ledger of ``rows`` rows with real media; returns its path and one model name."""
    from ledger import make_rows  # bench/ledger.py

    from sorakit.engine import Studio

    db = root / "grid.db"
    st = Studio(emulate=True, ledger=db, time_scale=0.02)
    try:
        job = st.generate("a paper boat in a rainy gutter", model="seedance-1-pro-fast@runware", size="864x480",
                          seconds=5, progress=False)
        row = job.row
        src = Path(row["poster_path"])
        pdir = root / "posters"
        pdir.mkdir()
        paths = []
        for i in range(posters):
            p = pdir / f"p{i:04d}{src.suffix}"
            shutil.copyfile(src, p)
            paths.append(str(p))
        rng = random.Random(7)
        users = ["ann", "bob", "cem", "dia"]
        batch = 20_000
        for start in range(0, rows, batch):
            chunk = make_rows(min(batch, rows - start), start, rows, rng)
            for i, r in enumerate(chunk, start):
                r["prompt"] = f"r{i:06d} {r['prompt']}"
                r["user"] = users[i % 4]
                if r.get("file_path"):
                    r["file_path"] = row["file_path"]
                    r["poster_path"] = paths[i % posters]
                    r["sha256"] = row["sha256"]
                if i % 17 == 0:
                    r["rating"] = 1 + i % 5
            st.ledger.insert_many(chunk)
        model = chunk[0]["model"]
        _ = st.ledger.df  # the columnar snapshot a kernel would find (as after any earlier session)
    finally:
        st.close()
    return str(db), model


def esm_sizes() -> dict:
    from sorakit.display._browser import LedgerBrowser, grid_library

    out = {"sorakit": len(LedgerBrowser.class_traits()["_esm"].default_value.encode())}
    out["sorakit (grid library, sent once, not saved)"] = len(grid_library()[0].encode())
    import importlib.util

    for name, mod, rel in (("itables", "itables", "widget/static/widget.js"), ("quak", "quak", "widget.js"),
                           ("buckaroo", "buckaroo", "static/widget.js")):
        spec = importlib.util.find_spec(mod)
        if spec and spec.origin:
            out[name] = (Path(spec.origin).parent / rel).stat().st_size
    return out


def measure(name: str, root: Path, db: str, model: str, runs: int, timeout: float, token: str,
            shots: Path | None = None) -> dict:
    pre, show = SHOW[name]
    nbdir = root / name
    nbdir.mkdir()
    path = nbdir / "b.ipynb"
    setup = SETUP.format(db=db, cols=COLS) + pre
    state = ("import json\n_s = {k: v for k, v in w.get_state().items() if k not in ('_esm', '_css')}\n"
             "print('STATE', len(json.dumps(_s, default=str)))")
    path.write_text(json.dumps(notebook([setup, "pass", state])))
    out: dict = {}
    with Lab(nbdir, save_widget_state=True) as lab, browser_page(1400, 1200) as page:
        open_and_run(page, lab, "b.ipynb", timeout_ms=int(timeout * 4000))
        page.evaluate("(src) => window.jupyterapp.shell.currentWidget.content.widgets[1].model.sharedModel.setSource(src)",
                      show)
        first = page.evaluate(RUN_CELL, [1, timeout, DEEP])
        out["first paint, fresh page (s)"] = round(first, 3) if first is not None else "none in time"
        if first is None:
            if shots is not None:
                page.screenshot(path=str(shots / f"grid-{name}.png"), full_page=False)
            return out
        time.sleep(1.0)
        save(page)
        out["saved .ipynb (KB)"] = round(path.stat().st_size / 1000, 1)
        page.evaluate("() => { const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = 2; "
                      "window.jupyterapp.commands.execute('notebook:run-cell'); }")
        out_area = "window.jupyterapp.shell.currentWidget.content.widgets[2].node.querySelector('.jp-OutputArea')"
        page.wait_for_function(f"() => {out_area}.textContent.includes('STATE')", timeout=60_000)
        text = page.evaluate(f"() => {out_area}.textContent")
        try:
            out["synced state (KB)"] = round(int(text.split("STATE")[1].split()[0]) / 1000, 1)
        except (IndexError, ValueError):
            pass
        again = [page.evaluate(RUN_CELL, [1, timeout, DEEP]) for _ in range(runs)]
        ok = [t for t in again if t is not None]
        out["first paint, re-run (s, median)"] = round(statistics.median(ok), 3) if ok else None
        time.sleep(1.0)
        texts = []
        for _ in range(runs):
            t = page.evaluate(FILTER_TEXT, [1, token, min(timeout, 30), DEEP])
            texts.append(t)
        if shots is not None:
            page.screenshot(path=str(shots / f"grid-{name}.png"), full_page=False)
        good = [t for t in texts if isinstance(t, (int, float))]
        out["text filter to 1 row (s, median)"] = (round(statistics.median(good), 3) if good
                                                   else (texts[0] if isinstance(texts[0], str) else "row not shown"))
        if name == "sorakit":
            page.evaluate(FILTER_TEXT.replace("input.value = token;", "input.value = '';"), [1, "", 5, DEEP])
            models = []
            for i in range(runs):
                pick = model if i % 2 == 0 else ""
                r = page.evaluate(FILTER_MODEL, [1, pick, timeout])
                if r:
                    models.append(r[0])
            out["model dropdown filter (s, median)"] = round(statistics.median(models), 3) if models else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--posters", type=int, default=500)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--only", default=",".join(SHOW))
    ap.add_argument("--screenshots", default=None, help="a folder for a screenshot of each grid after the text filter")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.monotonic()
        db, model = make_ledger(root, args.rows, args.posters)
        print(f"ledger of {args.rows:,} rows made in {time.monotonic() - t0:.0f} s; model filter: {model}", flush=True)
        results = {}
        for name in names:
            t0 = time.monotonic()
            try:
                token = f"r{min(54321, args.rows - 1):06d}"
                shots = Path(args.screenshots) if args.screenshots else None
                results[name] = measure(name, root, db, model, args.runs, args.timeout, token, shots)
            except Exception as exc:  # a candidate that breaks is a result too
                results[name] = {"error": f"{type(exc).__name__}: {str(exc)[:160]}"}
            print(f"{name}: {results[name]} ({time.monotonic() - t0:.0f} s)", flush=True)
    sizes = esm_sizes()
    keys = []
    for r in results.values():
        keys += [k for k in r if k not in keys]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.rows:,} rows, headless Chromium, JupyterLab on 127.0.0.1; load average now {load} "
          f"on {os.cpu_count()} cores (other work slows every figure)")
    print(f"{'':38}" + "".join(f"{n:>14}" for n in names))
    for k in keys:
        print(f"{k:38}" + "".join(f"{str(results[n].get(k, '-')):>14}" for n in names))
    print("ES module (KB)".ljust(38) + "".join(
        f"{round(sizes.get(n.split('-')[0], 0) / 1000, 1):>14}" for n in names))
    print(f"sorakit's grid library, sent by the kernel once per page, not saved: "
          f"{sizes['sorakit (grid library, sent once, not saved)'] / 1000:.1f} KB")


if __name__ == "__main__":
    main()
