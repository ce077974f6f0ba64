"""`make demo`'s closing summary: its cost lines add up — jobs without an estimate (priced only from
what the provider reported) are counted apart, and the billed total is the sum of its parts."""

from __future__ import annotations

import re

from sorakit._demo import summary
from sorakit.ledger import Ledger


def _ledger(tmp_path, rows):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        led.insert_many([{"prompt": "p", "model": m, "provider": "runware", "status": "completed", "seconds": 5,
                          "estimated_cost": est, "billed_cost": billed} for m, est, billed in rows])
    return path


def _money(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\$(\d+\.\d\d)", text)]


def test_jobs_without_an_estimate_are_counted_apart_and_billed_adds_up(tmp_path):
    text = summary(_ledger(tmp_path, [("a", 0.405, 0.405), ("a", 0.405, 0.405), ("b", None, 0.556032),
                                      ("b", None, 0.556032), ("c", 0.8, None)]))
    est_line, billed_line = text.splitlines()[2:4]
    assert est_line == "  estimated cost $1.61 for 3 jobs; 2 more had no estimate (priced by what the provider reported)"
    total, part, other = _money(billed_line)
    assert round(part + other, 2) == total and (part, other) == (0.81, 1.11)
    assert "(+1 jobs not billed yet or unknown)" in billed_line and "for the 3" in billed_line


def test_one_line_when_every_job_had_an_estimate(tmp_path):
    text = summary(_ledger(tmp_path, [("a", 0.4, 0.4), ("b", 0.8, 0.8)]))
    assert text.splitlines()[2] == "  estimated cost $1.20 for 2 jobs; billed $1.20 (emulated: nothing was charged)"
