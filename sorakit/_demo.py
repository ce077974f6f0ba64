"""`sorakit demo`: run the companion notebooks on the built-in emulator and write reports.

Each notebook is executed in a fresh kernel with a parameters cell injected after the cell tagged
``parameters`` (the papermill convention), so the notebooks stay runnable by hand unchanged.
All notebooks share one fresh ledger, so the cost analysis sees the jobs of the others.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["inject_parameters", "run_notebooks", "run_demo"]


def inject_parameters(nb, params: Mapping[str, object]) -> None:
    """Insert a cell assigning `params` right after the cell tagged ``parameters`` (or first)."""
    import nbformat

    lines = ["# Parameters injected by sorakit demo"] + [f"{k} = {v!r}" for k, v in params.items()]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = ["injected-parameters"]
    index = next((i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])), -1)
    nb.cells.insert(index + 1, cell)


def run_notebooks(paths: Sequence[Path], out: Path, params: Mapping[str, object],
                  timeout: int = 900, html: bool = True) -> list[dict]:
    """Execute each notebook into `out` (``NAME.ipynb`` and ``NAME.html``); return one record each."""
    import nbformat
    from nbclient import NotebookClient

    results = []
    for path in paths:
        started = time.perf_counter()
        nb = nbformat.read(path, as_version=4)
        inject_parameters(nb, params)
        print(f"  running {path.name} ...", flush=True)
        # No saved widget state: static pages then show each output's poster fallback (text/html)
        # instead of an empty widget placeholder, and the files stay small. The kernel's own
        # stderr (start-up warnings) goes to a log beside the reports, not the console.
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=False,
                                resources={"metadata": {"path": str(out)}})
        with open(out / f"{path.stem}.kernel.log", "w") as log:
            client.execute(stderr=log)
        executed = out / path.name
        nbformat.write(nb, executed)
        record = {"notebook": path.name, "executed": executed, "seconds": time.perf_counter() - started}
        if html:
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nb)
            report = out / (path.stem + ".html")
            report.write_text(body, encoding="utf-8")
            record["html"] = report
        print(f"  done    {path.name} in {record['seconds']:.0f}s", flush=True)
        results.append(record)
    return results


def run_demo(out_dir: str | os.PathLike = "out", notebooks_dir: str | os.PathLike = "notebooks",
             time_scale: float = 0.02) -> int:
    """Run every notebook in `notebooks_dir` on the emulator; reports and a ledger go to `out_dir`."""
    try:
        import nbclient  # noqa: F401
        import nbconvert  # noqa: F401
    except ImportError:
        print("sorakit demo needs nbclient and nbconvert: pip install 'sorakit[lab]'", file=sys.stderr)
        return 2
    notebooks = sorted(Path(notebooks_dir).glob("[0-9]*.ipynb"))
    if not notebooks:
        print(f"sorakit demo: no notebooks found in {Path(notebooks_dir).resolve()}", file=sys.stderr)
        return 2
    out = Path(out_dir).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ledger = out / "demo-ledger.db"
    params = {"EMULATE": True, "LEDGER": str(ledger), "MEDIA_DIR": str(out / "media"),
              "TIME_SCALE": time_scale}
    print(f"sorakit demo: {len(notebooks)} notebooks on the built-in emulator (no API key, no network)")
    started = time.perf_counter()
    results = run_notebooks(notebooks, out, params)
    print()
    print(summary(ledger))
    print(f"  wall time {time.perf_counter() - started:.0f}s")
    print("  reports:")
    for r in results:
        print(f"    {r['html']}")
    print(f"  executed notebooks and the ledger are in {out}")
    print("  next: `make lab` opens the notebooks in JupyterLab")
    return 0


def summary(ledger_path: str | os.PathLike) -> str:
    """A few lines on what the ledger holds: jobs by status, seconds of video, cost."""
    from .ledger import Ledger

    with Ledger(ledger_path) as led:
        df = led.df
    if df.empty:
        return "summary: the ledger is empty"
    done = df[df.status == "completed"]
    by_status = ", ".join(f"{n} {s}" for s, n in df.status.value_counts().items() if n)
    return "\n".join([
        f"summary: {len(df)} jobs ({by_status})",
        f"  {done.seconds.sum():.0f} s of video across {done.model.nunique()} models "
        f"and {done.provider.nunique()} providers",
        *_cost_lines(df),
    ])


def _cost_lines(df) -> list[str]:
    """Estimated and billed totals that add up: the jobs without an estimate (priced only once the
    provider reported what they used) are counted apart, and billed is split the same way."""
    priced = df.estimated_cost.notna()
    n_priced, n_other = int(priced.sum()), int((~priced).sum())
    billed = df.billed_cost
    # cents first, then the sum: the total shown is the sum of the parts shown
    part_priced, part_other = (round(float(billed[rows].fillna(0).sum()), 2) for rows in (priced, ~priced))
    total = f"${part_priced + part_other:.2f}"
    if billed.isna().any():
        total += f" (+{int(billed.isna().sum())} jobs not billed yet or unknown)"
    if not n_other:
        return [f"  estimated cost ${df.estimated_cost.sum():.2f} for {n_priced} jobs; billed {total} "
                f"(emulated: nothing was charged)"]
    return [f"  estimated cost ${df.estimated_cost.sum():.2f} for {n_priced} jobs; {n_other} more had no "
            f"estimate (priced by what the provider reported)",
            f"  billed {total}: ${part_priced:.2f} for the {n_priced}, ${part_other:.2f} for the {n_other} "
            f"(emulated: nothing was charged)"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_demo())
