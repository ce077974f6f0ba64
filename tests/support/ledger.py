"""Helpers for the ledger's bulk-read tests."""

from __future__ import annotations

import pandas as pd

from sorakit.ledger import Ledger, _pages


def row_by_row(led: Ledger) -> pd.DataFrame:
    """``led.df`` read row by row with SQL (the page decoder switched off): the reference every
    bulk read must equal."""
    available = _pages.available
    _pages.available = lambda: False
    try:
        return led.df
    finally:
        _pages.available = available
