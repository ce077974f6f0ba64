"""Opening a ledger written by an older sorakit upgrades it in place and keeps its data."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from sorakit.ledger import LEDGER_COLUMNS, SCHEMA_VERSION, Ledger

OLD_ROWS = [
    ("job_old1", "openai", "sora-2", "completed", "a lighthouse in a storm", 0.4),
    ("job_old2", "gemini", "veo-3", "in_progress", "a bee on lavender", None),
]
CREATED = datetime(2025, 12, 24, 18, 30, tzinfo=timezone.utc)


def _check_upgraded(led: Ledger) -> None:
    assert len(led) == 2
    old = led.get("job_old1")
    assert (old["provider"], old["model"], old["status"], old["prompt"]) == OLD_ROWS[0][1:5]
    assert old["billed_cost"] == pytest.approx(0.4)
    assert old["created_at"] == CREATED
    assert old["tags"] == [] and old["rating"] is None  # new columns exist, empty
    assert [r["job_id"] for r in led.pending()] == ["job_old2"]
    df = led.df
    assert tuple(df.columns) == LEDGER_COLUMNS and len(df) == 2
    led.rate("job_old1", 4)  # a column the old ledger did not have
    new = led.insert(prompt="after the upgrade", tags=["v2"])
    assert led.get(new)["tags"] == ["v2"] and led.get("job_old1")["rating"] == 4
    with led.engine.connect() as conn:
        have = {c["name"] for c in sa.inspect(conn).get_columns("jobs")}
        version = conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one()
    assert set(LEDGER_COLUMNS) <= have
    assert int(version) == SCHEMA_VERSION


def test_old_sqlite_ledger_gains_new_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as raw:
        raw.execute(
            "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, provider TEXT, model TEXT, status TEXT, "
            "prompt TEXT, billed_cost REAL, created_at REAL)"
        )
        raw.executemany(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?)", [(*r, CREATED.timestamp()) for r in OLD_ROWS]
        )
    with Ledger(path) as led:
        _check_upgraded(led)
    with Ledger(path) as again:  # a second open finds nothing to do
        assert len(again) == 3


@pytest.mark.postgres
def test_old_postgres_ledger_gains_new_columns_and_keeps_its_rows(fresh_pg_url):
    engine = sa.create_engine(fresh_pg_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE jobs (job_id TEXT PRIMARY KEY, provider TEXT, model TEXT, status TEXT, "
                "prompt TEXT, billed_cost DOUBLE PRECISION, created_at TIMESTAMPTZ)"
            )
        )
        for r in OLD_ROWS:
            conn.execute(
                sa.text("INSERT INTO jobs VALUES (:a, :b, :c, :d, :e, :f, :g)"),
                dict(zip("abcdef", r), g=CREATED),
            )
    engine.dispose()
    with Ledger(fresh_pg_url) as led:
        _check_upgraded(led)


def test_a_ledger_from_a_newer_sorakit_opens_with_a_warning(tmp_path):
    path = tmp_path / "new.db"
    with Ledger(path) as led:
        led.insert(prompt="x")
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.warns(UserWarning, match="newer"):
        led = Ledger(path)
    with led:
        assert len(led) == 1
        led.insert(prompt="still writable")
