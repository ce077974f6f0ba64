"""The job book's group commit (`sorakit.engine._core.book`): deferred entries — progress writes and a
finished task's lease release — ride on the next transaction someone waits for, or get their own
`DEFER_SECONDS` later, or at the latest when the book closes; they are told only after their commit."""

from __future__ import annotations

import asyncio
import time

from sorakit.engine._core.book import DEFER_SECONDS, Book
from sorakit.ledger import Ledger

OWNER = "ann@a:1:x"


class _Budget:
    def settle(self, *a):
        pass


class _Counting(Ledger):
    """A ledger that counts its group-commit transactions."""

    transactions = 0

    def update_many(self, *a, **kw):
        self.transactions += 1
        return super().update_many(*a, **kw)


def _book(tmp_path, n: int = 3) -> tuple[Book, _Counting, list[str]]:
    led = _Counting(tmp_path / "l.db")
    ids = led.insert_many([{"prompt": f"p{i}", "provider": "openai", "status": "queued"} for i in range(n)])
    led.claim(ids, OWNER, 60)
    book = Book(led, _Budget(), {}, OWNER, recent=10)
    for jid in ids:
        book.remember(dict(led.get(jid)))
    return book, led, ids


def test_a_deferred_write_rides_on_the_next_commit_and_is_told_after_it(tmp_path):
    book, led, (a, b, _) = _book(tmp_path)
    told = []
    book.subscribe(lambda jid, changes: told.append((jid, changes.get("status"), led.get(jid)["status"])))

    async def main():
        book.write_later(a, status="in_progress", progress=10)
        assert told == [] and led.transactions == 0 and led.get(a)["status"] == "queued"  # not yet
        assert book.rows[a]["status"] == "in_progress" and book.live[a]["status"] == "queued"  # cache only
        await book.write(b, status="in_progress", progress=50)     # someone waits: one transaction
        assert led.transactions == 1
        assert told == [(a, "in_progress", "in_progress"), (b, "in_progress", "in_progress")]  # commit order
        assert book.rows[a]["progress"] == 10 and book.live[a]["status"] == "in_progress"
        await book.aclose()
    asyncio.run(main())
    assert led.get(a)["progress"] == 10


def test_a_deferred_write_alone_is_committed_after_defer_seconds(tmp_path):
    book, led, (a, _, _) = _book(tmp_path)

    async def main():
        t0 = time.monotonic()
        book.write_later(a, progress=30)
        while book.live[a].get("progress") != 30 and time.monotonic() - t0 < 10:  # told after its commit
            await asyncio.sleep(0.01)
        waited = time.monotonic() - t0
        assert led.transactions == 1 and waited >= DEFER_SECONDS * 0.9, waited
        assert led.get(a)["progress"] == 30 and book.rows[a]["progress"] == 30
        await book.aclose()
    asyncio.run(main())


def test_many_deferred_entries_share_one_transaction_and_close_commits_them(tmp_path):
    book, led, ids = _book(tmp_path, 6)

    async def main():
        for i, jid in enumerate(ids[:3]):
            book.write_later(jid, progress=i + 1)
        book.release_later(ids[3:])                          # a finished task's leases
        assert {owner for owner, _ in led.leases(ids[3:]).values()} == {OWNER} and led.transactions == 0
        await book.aclose()                                  # before DEFER_SECONDS: close commits them
    t0 = time.monotonic()
    asyncio.run(main())
    assert time.monotonic() - t0 < DEFER_SECONDS and led.transactions == 1
    assert [led.get(j)["progress"] for j in ids[:3]] == [1, 2, 3]
    assert all(led.get(j)["lease_owner"] is None for j in ids[3:])
    assert all(led.get(j)["lease_owner"] == OWNER for j in ids[:3])


def test_a_deferred_write_that_fails_is_logged_and_the_others_are_committed(tmp_path, caplog):
    book, led, (a, b, _) = _book(tmp_path)
    told = []
    book.subscribe(lambda jid, changes: told.append(jid))

    async def main():
        book.write_later("job_missing", progress=5)
        book.write_later(a, progress=7)
        await book.write(b, progress=9)
        await book.aclose()
    asyncio.run(main())
    assert led.get(a)["progress"] == 7 and led.get(b)["progress"] == 9
    assert "a deferred ledger update was not committed" in caplog.text and "job_missing" in caplog.text
    assert told == [a, b]                                    # the failed one is never told


def test_a_later_write_of_the_same_job_absorbs_its_deferred_one(tmp_path):
    """queued -> in_progress (deferred), then downloading (awaited) before it was committed: one
    statement with both, and the subscribers are told downloading only — never a state the ledger
    had already left when they hear of it."""
    book, led, (a, b, _) = _book(tmp_path)
    told = []
    book.subscribe(lambda jid, changes: told.append((jid, changes.get("status"), changes.get("progress"),
                                                     led.get(jid)["status"])))

    async def main():
        book.write_later(a, status="in_progress", progress=40)
        book.write_later(b, status="in_progress", progress=10)         # another job's: kept
        await book.write(a, status="downloading", extra={"video_id": "v1"})
        await book.aclose()
    asyncio.run(main())
    assert told == [(b, "in_progress", 10, "in_progress"), (a, "downloading", 40, "downloading")]
    row = led.get(a)
    assert (row["status"], row["progress"], row["extra"]["video_id"]) == ("downloading", 40, "v1")
    assert led.transactions == 1


def test_while_busy_a_commit_waits_the_window_for_others_and_a_lone_write_goes_at_once(tmp_path, monkeypatch):
    from sorakit.engine._core import book as book_module

    assert 0 < book_module.COMMIT_WINDOW < book_module.BUSY_SPAN
    # "busy" spans the whole test, however slow this machine is between its steps
    monkeypatch.setattr(book_module, "BUSY_SPAN", 60.0)
    COMMIT_WINDOW = book_module.COMMIT_WINDOW
    book, led, (a, b, c) = _book(tmp_path)

    async def main():
        t0 = time.monotonic()
        await book.write(a, progress=1)                       # idle ledger: no window
        lone = time.monotonic() - t0
        loop = asyncio.get_running_loop()
        first = loop.create_task(book.write(b, progress=2))   # busy now: waits the window ...
        await asyncio.sleep(COMMIT_WINDOW / 5)
        await book.write(c, progress=3)                       # ... which this one joins
        await first
        await book.aclose()
        return lone
    lone = asyncio.run(main())
    assert led.transactions == 2 and lone < 1.0
    assert [led.get(j)["progress"] for j in (a, b, c)] == [1, 2, 3]


def test_a_claim_keeps_the_lease_a_queued_release_would_have_dropped(tmp_path):
    """A task stops (its lease release is deferred) and the job is claimed again at once (a retried
    download, a wait, a settle): the queued release must not free the lease after the claim."""
    from sorakit.engine._core.leases import Leases
    from sorakit.engine._policy import Policy

    book, led, (a, b, _) = _book(tmp_path)
    leases = Leases(book, Policy(), {"claims": 0}, OWNER, {})

    async def main():
        book.release_later([a, b])                 # two tasks ended here
        assert await leases.claim([a], force=False) == [a]   # a is driven again at once
        await book.aclose()                        # the deferred release is committed now
    asyncio.run(main())
    assert led.get(a)["lease_owner"] == OWNER      # still ours: it is being driven
    assert led.get(b)["lease_owner"] is None       # released as asked
