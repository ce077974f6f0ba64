"""The companion notebooks as committed: no outputs, a parameters cell, and what `make demo` needs.

Executing them is nbmake's job (pyproject: ``--nbmake`` over ``notebooks/``), against the
emulator with a throwaway ledger (tests/conftest.py sets SORAKIT_EMULATE and SORAKIT_LEDGER).
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


def test_the_three_workflows_are_there():
    assert [p.name for p in NOTEBOOKS] == [
        "01_prompt_exploration.ipynb", "02_model_comparison.ipynb", "03_cost_analysis.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs: strip them"
            assert cell.get("execution_count") is None, f"{path.name} cell {i} has an execution count"
    assert "widgets" not in nb.get("metadata", {}), f"{path.name} carries saved widget state"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_has_one_parameters_cell_with_the_demo_knobs(path):
    nb = json.loads(path.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters' (papermill convention)"
    source = "".join(tagged[0]["source"])
    for knob in ("EMULATE", "LEDGER", "MEDIA_DIR", "TIME_SCALE", "BUDGET"):
        assert f"{knob} =" in source, f"{path.name}: parameters cell lacks {knob}"


def test_demo_injects_parameters_after_the_tagged_cell():
    import nbformat

    from sorakit._demo import inject_parameters

    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    inject_parameters(nb, {"EMULATE": True, "TIME_SCALE": 0.02})
    injected = nb.cells[index + 1]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert "EMULATE = True" in injected.source and "TIME_SCALE = 0.02" in injected.source
