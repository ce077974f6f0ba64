"""``Ledger.df`` reads a big SQLite ledger from the mapped file only when the file is exactly the
read transaction's snapshot, never drops SQLite's locks, and never leaves a mapping behind."""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import weakref
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from sorakit.ledger import Ledger, _filemap, _ledger, _pages  # noqa: E402
from support.ledger import row_by_row  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (_pages.available() and _filemap.available()), reason="needs Linux or macOS, Python 3.11+ and pyarrow 16+"
)

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def decode_every_size(monkeypatch):
    monkeypatch.setattr(_ledger, "_PAGES_MIN_BYTES", 0)


def rows(n: int, start: int = 0) -> list[dict]:
    return [
        dict(prompt=f"a fox {i} " * (i % 7 + 1), seed=i, created_at=T0 + timedelta(seconds=i), billed_cost=i / 100)
        for i in range(start, start + n)
    ]


def reference(path) -> pd.DataFrame:
    with Ledger(path, df_cache=False) as led:
        return row_by_row(led)


def test_the_newest_commits_still_in_the_wal_are_copied_back_and_read_from_the_file(tmp_path):
    path = tmp_path / "my ledger #1 é%20.db"  # a name that needs quoting in a file: URI
    with Ledger(path, df_cache=False) as led:
        led.insert_many(rows(3000))
        led.insert_many(rows(5, start=3000))  # a small commit: stays in the -wal file
        assert os.path.getsize(f"{path}-wal") > 0
        df = led.df
        assert led._last_full_read == "mapped file"
        assert len(df) == 3005 and df["seed"].max() == 3004
    pd.testing.assert_frame_equal(df, reference(path), check_exact=True)


def test_an_older_reader_elsewhere_means_a_copy_of_the_snapshot(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path, df_cache=False) as led:
        led.insert_many(rows(2000))
        old = sqlite3.connect(path, isolation_level=None)
        try:
            old.execute("BEGIN")
            assert old.execute("SELECT count(*) FROM jobs").fetchone() == (2000,)  # holds that snapshot
            led.insert_many(rows(500, start=2000))  # cannot be copied into the file past `old`
            df = led.df
            assert led._last_full_read == "copy"
            assert len(df) == 2500
            assert old.execute("SELECT count(*) FROM jobs").fetchone() == (2000,)
        finally:
            old.close()
        df_after = led.df
        assert led._last_full_read == "mapped file"
    pd.testing.assert_frame_equal(df, reference(path), check_exact=True)
    pd.testing.assert_frame_equal(df_after, df, check_exact=True)


CHILD_WRITE = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO t VALUES (2)")
    con.execute("COMMIT")
    print("wrote")
except sqlite3.OperationalError as exc:
    print("locked" if "locked" in str(exc) else exc)
"""


def _other_process_writes(path) -> str:
    out = subprocess.run([sys.executable, "-c", CHILD_WRITE, str(path)], capture_output=True, text=True, timeout=60)
    return out.stdout.strip() or out.stderr


def test_mapping_the_file_keeps_this_processes_sqlite_locks(tmp_path):
    """POSIX drops every lock a process holds on a file when it closes *any* descriptor of that
    file. A rollback-journal database shows it plainly: the writer's RESERVED lock is a lock on
    the database file itself."""
    path = tmp_path / "plain.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # this process now holds the write lock
    holder.execute("INSERT INTO t VALUES (1)")
    try:
        assert _other_process_writes(path) == "locked"
        for _ in range(3):
            view = _filemap.map_file(path, os.path.getsize(path))
            assert bytes(view[:16]) == b"SQLite format 3\x00"
            del view
        gc.collect()
        assert _other_process_writes(path) == "locked"  # still ours

        # the hazard the module avoids is real: one open() and close() elsewhere frees the lock
        os.close(os.open(path, os.O_RDONLY))
        assert _other_process_writes(path) == "wrote"
    finally:
        holder.close()


def test_the_mapping_goes_away_with_the_last_view(tmp_path, monkeypatch):
    path = tmp_path / "l.db"
    maps: list[weakref.ref] = []
    original = _filemap.FileMap.__init__

    def spy(self, fd, length):
        original(self, fd, length)
        maps.append(weakref.ref(self))

    monkeypatch.setattr(_filemap.FileMap, "__init__", spy)
    with Ledger(path, df_cache=False) as led:
        led.insert_many(rows(1000))
        df = led.df
        assert led._last_full_read == "mapped file" and maps
        gc.collect()
        assert all(m() is None for m in maps), "the decoded frame still refers to the mapped file"
        assert df["prompt"].str.startswith("a fox").all()  # the frame owns its text


def test_the_descriptor_of_a_deleted_file_is_closed(tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    for p in (a, b):
        with sqlite3.connect(p) as con:
            con.execute("CREATE TABLE t (x)")
    _filemap.map_file(a, 4096)
    key_a = (os.stat(a).st_dev, os.stat(a).st_ino)
    fd_a = _filemap._DESCRIPTORS[key_a]
    _filemap.map_file(a, 4096)
    assert _filemap._DESCRIPTORS[key_a] == fd_a  # one descriptor per file, reused
    a.unlink()
    _filemap.map_file(b, 4096)
    assert key_a not in _filemap._DESCRIPTORS
    try:  # closed (its number may already serve another file)
        assert os.fstat(fd_a).st_ino != key_a[1]
    except OSError:
        pass


def test_a_file_shorter_than_asked_is_refused(tmp_path):
    path = tmp_path / "short.db"
    path.write_bytes(b"x" * 100)
    with pytest.raises(OSError, match="100 bytes"):
        _filemap.map_file(path, 4096)


def test_read_hints_apply_to_maps_and_ignore_anything_else(tmp_path):
    path = tmp_path / "l.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    view = _filemap.map_file(path, 4096)
    owner = view.obj._owner
    seen = []
    original = owner.advise
    owner.advise = lambda advice: (seen.append(advice), original(advice))
    _filemap.advise(view, "scattered")
    _filemap.advise(view, "all")
    _filemap.advise(view, "something else")
    import mmap

    assert seen == [mmap.MADV_RANDOM, mmap.MADV_NORMAL, mmap.MADV_WILLNEED]
    assert bytes(view[:16]) == b"SQLite format 3\x00"  # still readable after the hints
    _filemap.advise(memoryview(b"not a map"), "all")  # a copy: nothing to advise, no error
