"""Run code cells in a real kernel (nbclient) the way a user's notebook would, with this checkout importable."""

import os
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]


def run_cells(cells, folder, monkeypatch, **client_options):
    """Execute ``cells`` (source strings) with ``folder`` as working directory; return the notebook."""
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}},
                   **client_options).execute()
    return nb
