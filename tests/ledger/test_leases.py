"""Leases (one driver per job, judged by the database clock) and the ``user`` column, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

import random
import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from sorakit import ValidationError
from sorakit.ledger import Ledger, current_user
from sorakit.ledger._schema import db_now

from engine._helpers import wait_until


def _pending(led: Ledger, n: int) -> list[str]:
    return led.insert_many([{"prompt": f"lease {i}", "provider": "openai"} for i in range(n)])


def _db_time(led: Ledger) -> float:
    """The database server's now, as epoch seconds."""
    with led.engine.connect() as conn:
        value = conn.execute(sa.select(db_now(led.engine.dialect.name))).scalar_one()
    return value.timestamp() if isinstance(value, datetime) else float(value)


@pytest.mark.parametrize("n", [1, 16, 17, 40])
def test_release_frees_only_the_owners_leases_few_or_many(led, n):
    """A few ids go one prepared statement each, more by chunked IN lists: the same answer."""
    from sorakit.ledger._ledger import _RELEASE_EACH

    assert _RELEASE_EACH == 16  # the sizes above straddle it
    ids = _pending(led, n + 2)
    led.claim(ids[:n], "ann@a:1:x", 60)
    led.claim(ids[n:], "bob@b:2:y", 60)
    def revs():  # SQLite's change stamps (what Ledger.df's snapshot reads changes by)
        with led.engine.connect() as conn:
            return dict(conn.exec_driver_sql("SELECT job_id, _rev FROM jobs").all())

    sqlite = led.engine.dialect.name == "sqlite"
    before = revs() if sqlite else None
    assert sorted(led.release([*ids, "job_unknown"], "ann@a:1:x")) == sorted(ids[:n])
    assert all(led.get(i)["lease_owner"] is None and led.get(i)["lease_until"] is None for i in ids[:n])
    assert all(led.get(i)["lease_owner"] == "bob@b:2:y" for i in ids[n:])
    if sqlite:  # a freed row is stamped after its last change, the others are not
        after = revs()
        assert all(after[i] > before[i] for i in ids[:n]) and all(after[i] == before[i] for i in ids[n:])
    assert led.release(ids, "ann@a:1:x") == []


def test_a_lease_is_held_by_one_owner_until_released(led):
    ids = _pending(led, 3)
    assert sorted(led.claim(ids, "ann@a:1:x", 60)) == sorted(ids)
    assert led.claim(ids, "bob@b:2:y", 60) == []                 # held: nobody else gets it
    assert sorted(led.claim(ids, "ann@a:1:x", 60)) == sorted(ids)  # the holder claims again
    row = led.get(ids[0])
    assert row["lease_owner"] == "ann@a:1:x"
    assert led.leases(ids[:1]) == {ids[0]: ("ann@a:1:x", True)}
    assert led.release(ids[:2], "bob@b:2:y") == []              # not bob's to release
    assert sorted(led.release(ids[:2], "ann@a:1:x")) == sorted(ids[:2])
    assert led.get(ids[0])["lease_owner"] is None and led.get(ids[0])["lease_until"] is None
    assert sorted(led.claim(ids, "bob@b:2:y", 60)) == sorted(ids[:2])
    assert led.claim(ids[2:], "bob@b:2:y", 60, force=True) == ids[2:]   # resume(force=True)
    assert led.renew(ids, "ann@a:1:x", 60) == []                # ann lost them all: her heartbeat says so
    assert sorted(led.renew(ids, "bob@b:2:y", 60)) == sorted(ids)


def test_the_lease_runs_by_the_database_clock(led):
    (jid,) = _pending(led, 1)
    before = _db_time(led)
    led.claim([jid], "ann@a:1:x", 30)
    until = led.get(jid)["lease_until"].timestamp()
    assert before + 30 <= until <= _db_time(led) + 30
    # a short lease: the holder stops beating (it died) and the job is free once it runs out
    led.claim([jid], "ann@a:1:x", 0.3)
    assert led.claim([jid], "bob@b:2:y", 60) == []
    wait_until(lambda: led.claim([jid], "bob@b:2:y", 60) == [jid])
    assert _db_time(led) >= until - 30 + 0.3
    assert led.leases([jid]) == {jid: ("bob@b:2:y", True)}


def test_finished_jobs_are_never_claimed(led):
    done, open_ = _pending(led, 2)
    led.update(done, status="completed")
    assert led.claim([done, open_], "ann@a:1:x", 60) == [open_]
    assert led.claim([done], "ann@a:1:x", 60, force=True) == []


def test_a_submission_is_leased_in_its_insert_transaction(led):
    ids = led.insert_many([{"prompt": "fresh"}], lease=("ann@a:1:x", 60))
    assert led.get(ids[0])["lease_owner"] == "ann@a:1:x"
    assert led.claim(ids, "bob@b:2:y", 60) == []


def test_claims_racing_from_many_connections_never_share_a_job(ledger_url):
    """Four owners, each on its own connection, claim the same 120 jobs one by one in their own
    order at the same moment: every job goes to exactly one of them."""
    with Ledger(ledger_url) as first:
        ids = _pending(first, 120)
    won: dict[str, list[str]] = {}
    go = threading.Barrier(4)
    errors: list[BaseException] = []

    def racer(name: str) -> None:
        try:
            with Ledger(ledger_url) as led:
                order = ids[:]
                random.Random(name).shuffle(order)
                go.wait()
                got = won.setdefault(name, [])
                for jid in order:
                    got += led.claim([jid], name, 60)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=racer, args=(f"p{i}@h:{i}:s",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    taken = [j for got in won.values() for j in got]
    assert sorted(taken) == sorted(ids)                       # each once: none twice, none lost
    with Ledger(ledger_url) as led:
        owners = {r["job_id"]: r["lease_owner"] for r in led.rows()}
    for name, got in won.items():
        assert all(owners[j] == name for j in got)


def test_claim_checks_its_arguments(led):
    (jid,) = _pending(led, 1)
    with pytest.raises(ValidationError, match="owner"):
        led.claim([jid], "", 60)
    with pytest.raises(ValidationError, match="seconds"):
        led.claim([jid], "ann@a:1:x", 0)
    assert led.get(jid)["lease_owner"] is None


# ------------------------------------------------------------------------------------ user
def test_every_row_says_who_asked_for_it(led, monkeypatch):
    monkeypatch.setenv("SORAKIT_USER", "ann")
    a = led.insert(prompt="ann's fox", model="sora-2", estimated_cost=0.4, billed_cost=0.4)
    monkeypatch.setenv("SORAKIT_USER", "bob")
    b, c = led.insert_many([{"prompt": "bob's heron", "model": "sora-2", "billed_cost": 1.0},
                            {"prompt": "bob's owl", "model": "veo-3", "billed_cost": 2.5}])
    named = led.insert(prompt="by name", user="cy", billed_cost=0.25)
    assert [led.get(j)["user"] for j in (a, b, c, named)] == ["ann", "bob", "bob", "cy"]
    assert list(led.query(user="bob").job_id) == [b, c]
    assert list(led.query(user=["ann", "cy"]).job_id) == [a, named]
    spend = led.cost_by("user")
    assert list(spend.user) == ["ann", "bob", "cy"]
    assert list(spend["count"]) == [1, 2, 1]
    assert list(spend.billed_cost) == pytest.approx([0.4, 3.5, 0.25])
    by_two = led.cost_by(["user", "model"], user="bob")
    assert [(u, m) for u, m in zip(by_two.user, by_two.model)] == [("bob", "sora-2"), ("bob", "veo-3")]
    assert str(led.df["user"].dtype) == "category"
    with pytest.raises(ValidationError, match="user"):
        led.query(user=3)


def test_without_sorakit_user_the_os_user_is_recorded(monkeypatch):
    import getpass

    monkeypatch.delenv("SORAKIT_USER", raising=False)
    monkeypatch.setattr(getpass, "getuser", lambda: "os-name")
    assert current_user() == "os-name"
    monkeypatch.setenv("SORAKIT_USER", "  ")
    assert current_user() == "os-name"                         # blank means unset


def test_an_old_ledger_gains_user_and_lease_columns(tmp_path):
    path = tmp_path / "old.db"
    created = datetime(2025, 12, 24, tzinfo=timezone.utc).timestamp()
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE jobs (job_id TEXT PRIMARY KEY, prompt TEXT, status TEXT, created_at REAL)")
        raw.execute("INSERT INTO jobs VALUES ('job_old', 'a fox', 'in_progress', ?)", (created,))
    with Ledger(path) as led:
        row = led.get("job_old")
        assert row["user"] is None and row["lease_owner"] is None   # nobody claimed it yet
        assert led.claim(["job_old"], "ann@a:1:x", 60) == ["job_old"]
        assert led.get("job_old")["lease_until"] > datetime.now(timezone.utc) + timedelta(seconds=30)


def test_a_fenced_update_is_written_only_while_the_lease_is_held(led):
    """The engine's write before a create that cannot be taken back (``attempts``): one statement
    that checks the lease, renews it and writes; a lease taken over meanwhile writes nothing."""
    from sorakit.ledger._errors import LeaseLost

    a, b, c = _pending(led, 3)
    led.claim([a, b], "ann@a:1:x", 5)
    led.claim([c], "bob@b:2:y", 60, force=True)
    before = _db_time(led)
    errors = led.update_many([(a, {"attempts": 1}, ("ann@a:1:x", 120)),
                              (c, {"attempts": 1}, ("ann@a:1:x", 120)),     # bob's: not written
                              (b, {"attempts": 2})],                        # unfenced: written
                             release=[], owner="ann@a:1:x")
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], LeaseLost) and errors[1].job_id == c
    row = led.get(a)
    assert row["attempts"] == 1 and row["lease_owner"] == "ann@a:1:x"
    assert row["lease_until"].timestamp() >= before + 120 - 1            # renewed by the same statement
    assert led.get(b)["attempts"] == 2
    assert not led.get(c)["attempts"] and led.get(c)["lease_owner"] == "bob@b:2:y"
    # a group that rolls back (an unknown job) is redone one by one: the fence still holds
    errors = led.update_many([(a, {"attempts": 3}, ("bob@b:2:y", 60)), (c, {"attempts": 4}, ("bob@b:2:y", 60)),
                              ("no-such-job", {"attempts": 1})])
    assert isinstance(errors[0], LeaseLost) and errors[1] is None and errors[2] is not None
    assert led.get(a)["attempts"] == 1 and led.get(c)["attempts"] == 4
    (error,) = led.update_many([(a, {"attempts": 5}, ("", 60))])        # refused before anything is sent
    assert isinstance(error, ValidationError) and "owner" in str(error)
    assert led.get(a)["attempts"] == 1
