"""The cost notebook on a ledger two people share: it shows spend per person."""

from __future__ import annotations

from pathlib import Path

import pytest

from sorakit.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_cost_notebook_shows_spend_per_person_on_a_team_ledger(tmp_path):
    import nbformat

    from sorakit._demo import run_notebooks

    ledger = tmp_path / "team.db"
    with Ledger(ledger) as led:
        for user, cost, n in (("ann", 0.8, 2), ("bob", 2.5, 3)):
            led.insert_many([dict(prompt=f"{user}'s clip {i}", model="seedance-1-pro", provider="runware",
                                  status="completed", estimated_cost=cost, billed_cost=cost,
                                  billed_cost_source="provider", emulated=True, user=user, seconds=5)
                             for i in range(n)])
    out = tmp_path / "out"
    out.mkdir()
    (record,) = run_notebooks([ROOT / "notebooks" / "03_cost_analysis.ipynb"], out,
                              {"EMULATE": True, "LEDGER": str(ledger), "MEDIA_DIR": str(tmp_path / "media"),
                               "TIME_SCALE": 0.02}, timeout=600, html=False)
    nb = nbformat.read(record["executed"], as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and 'cost_by("user")' in c.source)
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
    assert "ann" in shown and "bob" in shown, cell.outputs
    assert "7.5" in shown and "1.6" in shown                      # bob 3 x 2.5, ann 2 x 0.8
    assert any("image/png" in o.get("data", {}) for o in cell.outputs)   # the bar chart
