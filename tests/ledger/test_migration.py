"""Opening a ledger written by an older sorakit upgrades it in place and keeps its data."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pandas as pd
import pytest
import sqlalchemy as sa

from sorakit.ledger import FRAME_COLUMNS, LEDGER_COLUMNS, SCHEMA_VERSION, Ledger

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
    assert tuple(df.columns) == FRAME_COLUMNS and len(df) == 2
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


def _as_before_stamps(led: Ledger) -> None:
    """Turn a ledger into what sorakit wrote before writes stopped bumping a shared counter: a
    ``_rev`` column (with its index) holding write-transaction numbers and a ``rev`` row in ``meta``."""
    with led.engine.begin() as conn:
        if led.engine.dialect.name != "sqlite":  # SQLite ledgers still have the column
            conn.exec_driver_sql("ALTER TABLE jobs ADD COLUMN _rev BIGINT")
            conn.exec_driver_sql("CREATE INDEX ix_jobs_rev ON jobs (_rev)")
        ids = [r[0] for r in conn.exec_driver_sql("SELECT job_id FROM jobs ORDER BY job_id")]
        for n, job in enumerate(ids, start=1):
            conn.exec_driver_sql("UPDATE jobs SET _rev = %d WHERE job_id = '%s'" % (n, job))
        conn.exec_driver_sql("INSERT INTO meta (key, value) VALUES ('rev', '%d')" % len(ids))


def _meta(led: Ledger) -> list[tuple]:
    with led.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT key, value FROM meta ORDER BY key")]


def test_ledgers_with_the_old_write_counter_open_and_stop_bumping_it(ledger_url, monkeypatch):
    from sorakit.ledger import _cache

    monkeypatch.setattr(_cache, "MIN_ROWS", 3)
    with Ledger(ledger_url) as led:
        old = led.insert_many([{"prompt": f"old {i}", "created_at": CREATED, "billed_cost": 0.1} for i in range(4)])
        _as_before_stamps(led)
    with Ledger(ledger_url) as led:
        meta = _meta(led)
        assert ("rev", "4") in meta
        before = led.df  # on SQLite this writes a snapshot (MIN_ROWS is 3)
        led._snapshots.wait()
        assert list(before["job_id"]) == old
        new = led.insert(prompt="new", created_at=CREATED, billed_cost=1.0)
        led.update(old[0], status="failed")
        led.tag(old[1], "kept")
        assert _meta(led) == meta  # the counter row is left as it was: no write touches it
        df = led.df  # snapshot plus the rows written since
        with Ledger(ledger_url, df_cache=False) as plain:
            pd.testing.assert_frame_equal(df, plain.df)
        assert set(df["job_id"]) == {*old, new}
        assert df.set_index("job_id").loc[old[0], "status"] == "failed"
        assert led.get(old[1])["tags"] == ["kept"]
        if led.engine.dialect.name == "sqlite":  # stamps keep growing past the old counter values
            with led.engine.connect() as conn:
                stamps = dict(conn.exec_driver_sql("SELECT job_id, _rev FROM jobs").all())
            assert min(stamps[new], stamps[old[0]], stamps[old[1]]) > max(stamps[j] for j in old[2:])


SEED_CASES = {  # job: (seed asked, seed the row held, status) -> (seed, provider_seed) after the upgrade
    "a": ((11, 12, "completed"), (11, 12)),       # the provider reported another seed
    "b": ((11, 11, "completed"), (11, 11)),       # ... or the one asked for
    "c": ((None, 987, "completed"), (None, 987)),  # none asked, the provider chose
    "d": ((5, 5, "pending"), (5, None)),           # not sent yet: nothing used
    "e": ((None, None, "in_progress"), (None, None)),
}


def test_a_schema_1_ledger_splits_the_seed_it_asked_for_from_the_one_the_provider_used(ledger_url, monkeypatch):
    """Schema 1 kept the seed asked for in ``extra.request_seed`` and overwrote ``seed`` with the
    provider's on completion; schema 2 has both columns and the key is gone."""
    monkeypatch.setattr(Ledger._split_seeds, "__defaults__", (2,))  # pages of 2 rows
    with Ledger(ledger_url) as led:
        for name, ((asked, held, status), _) in SEED_CASES.items():
            led.insert(job_id=f"job_{name}", prompt=name, status=status, seed=held,
                       extra={"client_ref": f"ref-{name}", "owner": "me", "request_seed": asked})
        led.insert(job_id="job_older", prompt="before request_seed existed", seed=3, extra={"client_ref": "r"})
        led.insert(job_id="job_bare", prompt="no extra at all", seed=4)
        with led.engine.begin() as conn:  # what a version-1 ledger looks like
            conn.exec_driver_sql("ALTER TABLE jobs DROP COLUMN provider_seed")
            conn.exec_driver_sql("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Ledger(ledger_url) as led:
        for name, (_, (seed, used)) in SEED_CASES.items():
            row = led.get(f"job_{name}")
            assert (row["seed"], row["provider_seed"]) == (seed, used), name
            assert row["extra"] == {"client_ref": f"ref-{name}", "owner": "me"}
        older, bare = led.get("job_older"), led.get("job_bare")
        assert (older["seed"], older["provider_seed"], older["extra"]) == (3, None, {"client_ref": "r"})
        assert (bare["seed"], bare["provider_seed"]) == (4, None)
        df = led.df.set_index("job_id")
        assert df.loc["job_a", "seed"] == 11 and df.loc["job_a", "provider_seed"] == 12
        assert not df["extra"].str.contains("request_seed").any()
        with led.engine.connect() as conn:
            version = conn.execute(sa.text("SELECT value FROM meta WHERE key = 'schema_version'")).scalar_one()
        assert int(version) == SCHEMA_VERSION == 2
        led.update("job_a", seed=11)  # writable as usual
    with Ledger(ledger_url) as again:  # opened again: nothing left to change
        assert again.get("job_a")["provider_seed"] == 12 and again.get("job_d")["seed"] == 5
