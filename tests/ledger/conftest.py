"""Ledger fixtures: every core test runs against SQLite and against a real PostgreSQL server."""

from __future__ import annotations

from typing import Iterator

import pytest

from sorakit.ledger import Ledger


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request) -> str:
    return request.param


@pytest.fixture
def ledger_url(backend: str, request, tmp_path) -> str:
    """Where a fresh, empty ledger lives: an SQLite file, or its own PostgreSQL schema."""
    if backend == "sqlite":
        return str(tmp_path / "ledger.db")
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def led(ledger_url: str) -> Iterator[Ledger]:
    with Ledger(ledger_url) as ledger:
        yield ledger
