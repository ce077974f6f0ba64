"""Where a ledger lives: defaults, paths, URLs, and never showing a password."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlalchemy

from sorakit.ledger import DEFAULT_FILENAME, Ledger, LedgerError


def test_default_is_a_file_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("SORAKIT_LEDGER", raising=False)
    monkeypatch.chdir(tmp_path)
    with Ledger() as led:
        led.insert(prompt="x")
        assert led.path == tmp_path / DEFAULT_FILENAME
    assert (tmp_path / DEFAULT_FILENAME).exists()


def test_environment_variable_chooses_the_ledger(tmp_path, monkeypatch):
    target = tmp_path / "team" / "shared.db"
    monkeypatch.setenv("SORAKIT_LEDGER", str(target))
    monkeypatch.chdir(tmp_path)
    with Ledger() as led:
        led.insert(prompt="x")
    assert target.exists() and not (tmp_path / DEFAULT_FILENAME).exists()


def test_a_directory_or_an_sqlite_url_work_too(tmp_path):
    with Ledger(tmp_path) as led:
        job = led.insert(prompt="x")
    assert (tmp_path / DEFAULT_FILENAME).exists()
    with Ledger(f"sqlite:///{tmp_path / DEFAULT_FILENAME}") as same:
        assert same.get(job)["prompt"] == "x"


def test_sqlite_file_is_in_wal_mode_with_normal_sync(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        led.insert(prompt="x")
        with led.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_in_memory_ledger_is_shared_by_threads(tmp_path):
    with Ledger(":memory:") as led:
        def work(n):
            for i in range(25):
                job = led.insert(prompt=f"{n}-{i}")
                led.update(job, status="completed")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(led) == 100
        assert set(led.df["status"]) == {"completed"}
        assert led.path is None and repr(led) == "Ledger(':memory:')"


def test_threads_sharing_one_file_ledger_lose_nothing(tmp_path):
    led = Ledger(tmp_path / "l.db")
    errors = []

    def work(n):
        try:
            for i in range(30):
                job = led.insert(prompt=f"{n}-{i}")
                led.tag(job, f"t{n}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(led) == 120
    assert led.cost_by("tag")["count"].tolist() == [30, 30, 30, 30]
    led.close()


def test_repr_and_errors_never_show_a_password():
    with pytest.raises(LedgerError) as info:
        Ledger("postgresql+psycopg://bob:hunter2@127.0.0.1:1/videos?connect_timeout=2")
    text = str(info.value)
    assert "hunter2" not in text
    assert "bob:***@127.0.0.1:1/videos" in text


@pytest.mark.postgres
def test_repr_masks_the_password_of_a_live_postgres_url(postgres_url):
    url = postgres_url.replace("postgres@", "postgres:s3cr%40t@") + "?sslpassword=topsecret"
    with Ledger(url) as led:
        led.insert(prompt="x")
        for text in (repr(led), str(led), led.location):
            assert "s3cr" not in text and "topsecret" not in text
            assert "postgres:***@127.0.0.1" in text
        assert led.path is None and led.df_cache_path is None


def test_a_plain_postgresql_url_uses_psycopg_3():
    with pytest.raises(LedgerError) as info:
        Ledger("postgresql://u:pw@127.0.0.1:1/db?connect_timeout=2")
    assert "postgresql+psycopg://u:***@" in str(info.value)


def test_a_table_that_is_not_a_ledger_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT)")
    with pytest.raises(LedgerError, match="not a sorakit ledger"):
        Ledger(path)


def test_big_ledger_reports_are_served_by_indexes_on_sqlite(tmp_path):
    # cost by model and day, and resume's pending(), stay fast on a big ledger: no sort or scan
    with Ledger(tmp_path / "l.db") as led:
        led.insert(model="sora-2", billed_cost=1.0)
        seen = []

        @sqlalchemy.event.listens_for(led.engine, "before_cursor_execute")
        def _capture(conn, cursor, statement, *args):
            seen.append(statement)

        assert led.cost_by(["model", "day"])["count"].tolist() == [1]
        cost_sql = seen[-1]
        assert len(led.pending()) == 1
        pending_sql = seen[-1]
        with led.engine.connect() as conn:
            def plan(sql):
                return " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, (1,) * sql.count("?")))

            cost_plan, pending_plan = plan(cost_sql), plan(pending_sql)
    assert "ix_jobs_model_day" in cost_plan and "TEMP B-TREE" not in cost_plan
    assert "ix_jobs_active" in pending_plan and "TEMP B-TREE" not in pending_plan
