"""The form in a real kernel (nbclient), including one where the user already applied
nest_asyncio: the submit returns at once, the card is driven from the engine's thread while the
kernel is idle, and the finished job plays."""

import os
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]

CELLS = [
    "import nest_asyncio\nnest_asyncio.apply()",
    "import os, time\nos.environ['SORAKIT_QUIET'] = '1'\nfrom sorakit.engine import Studio\n"
    "from sorakit.emulator import Emulator, EmulatorConfig, ManualClock\n"
    "clock = ManualClock()  # emulated jobs run only when the notebook moves this clock\n"
    "studio = Studio(emulate=True, ledger='ledger.db', emulator=Emulator(EmulatorConfig(time_scale=0.02), clock=clock))\n"
    "f = studio.form(model='seedance-1-pro', provider='runware')\nf",
    "f.set(size='864x480', seconds=5.0, prompt='A lighthouse in a storm')\n"
    "f._on_front_end(f, {'type': 'submit', 'view': 'v1'}, [])  # the page's Generate click\ncard = f.tile_list[0]\n"
    "assert not card.terminal and studio.ledger.get(card.job_id)['status'] != 'completed'  # returned at once\n"
    "print(f.message['text'])",
    "clock.advance(3600)\ndeadline = time.monotonic() + 60\nwhile not (card.terminal and f.tiles[0]['playable']) and time.monotonic() < deadline:  # the card renders after the row turns final\n"
    "    time.sleep(0.1)\nassert card.row['status'] == 'completed', card.row\n"
    "assert f.tiles[0]['playable'] and f.play(0)\n"
    "f._on_front_end(f, {'type': 'rate', 'tile': 0, 'n': 5, 'view': 'v1'}, [])  # the fifth star\n"
    "print('rating', studio.ledger.get(card.job_id)['rating'])",
]


@pytest.mark.slow
def test_form_in_a_kernel_with_nest_asyncio_applied(tmp_path, monkeypatch):
    pytest.importorskip("nest_asyncio")
    from nbclient import NotebookClient

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    form_out = nb.cells[1].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in form_out and "sorakit form" in form_out["text/plain"]
    assert "Started" in "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert "rating 5" in "".join(o.get("text", "") for o in nb.cells[3].outputs)
