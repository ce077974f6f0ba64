"""The columnar snapshot behind ``Ledger.df`` never shows anything a fresh read would not."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

pytest.importorskip("pyarrow")

from sorakit.ledger import Ledger, _cache  # noqa: E402

T0 = datetime(2026, 2, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch):
    monkeypatch.setattr(_cache, "MIN_ROWS", 20)


def _fill(led, n=40, start=0):
    return led.insert_many(
        [
            {
                "prompt": f"prompt {i}",
                "model": ["sora-2", "veo-3", "kling-3-pro"][i % 3],
                "provider": ["openai", "gemini", "runware"][i % 3],
                "status": "completed",
                "created_at": T0 + timedelta(minutes=i),
                "billed_cost": 0.1 * i,
                "tags": ["even"] if i % 2 == 0 else None,
            }
            for i in range(start, start + n)
        ]
    )


def _snapshot(led):
    """``led.df``, and its snapshot written (that happens in a background thread)."""
    df = led.df
    led._snapshots.wait()
    return df


def _fresh(path):
    with Ledger(path, df_cache=False) as plain:
        return plain.df


def test_snapshot_is_written_and_matches_a_fresh_read(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        _fill(led)
        first = _snapshot(led)
        assert led.df_cache_path.exists()
        pd.testing.assert_frame_equal(first, _fresh(path))
        pd.testing.assert_frame_equal(led.df, first)


def test_changes_after_the_snapshot_show_up(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        ids = _fill(led)
        _snapshot(led)  # snapshot at this point
        led.update(ids[3], status="failed", model="brand-new-model", error_code="boom")
        led.tag(ids[4], "late")
        led.rate(ids[5], 2)
        new = led.insert(prompt="newest", status="unknown", created_at=T0 - timedelta(days=1))
        df = led.df
        pd.testing.assert_frame_equal(df, _fresh(path))
        assert df.iloc[0]["job_id"] == new  # oldest first, even when written last
        row = df.set_index("job_id").loc[ids[3]]
        assert (row["status"], row["model"], row["error_code"]) == ("failed", "brand-new-model", "boom")
        assert "brand-new-model" in df["model"].cat.categories
    with Ledger(path) as other_process:  # another ledger object (another notebook) sees it all too
        _fill(other_process, n=30, start=100)
        pd.testing.assert_frame_equal(other_process.df, _fresh(path))


def test_rows_deleted_behind_its_back_are_not_shown(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        ids = _fill(led)
        _snapshot(led)
        with sqlite3.connect(path) as raw:
            raw.execute("DELETE FROM jobs WHERE job_id = ?", (ids[0],))
        df = led.df
        assert ids[0] not in set(df["job_id"]) and len(df) == 39
        pd.testing.assert_frame_equal(df, _fresh(path))


def test_a_snapshot_of_another_ledger_or_a_broken_file_is_ignored(tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    with Ledger(a) as led_a, Ledger(b) as led_b:
        _fill(led_a)
        _fill(led_b, start=500)
        _snapshot(led_a)
        shutil.copy(led_a.df_cache_path, led_b.df_cache_path)  # a copied file from elsewhere
        pd.testing.assert_frame_equal(led_b.df, _fresh(b))
        led_b.df_cache_path.write_bytes(b"ARROW1 not really a snapshot")
        pd.testing.assert_frame_equal(led_b.df, _fresh(b))


def test_small_ledgers_and_unwritable_folders_need_no_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "MIN_ROWS", 1000)
    with Ledger(tmp_path / "small.db") as led:
        _fill(led)
        assert len(_snapshot(led)) == 40
        assert not led.df_cache_path.exists()
    monkeypatch.setattr(_cache, "MIN_ROWS", 20)
    with Ledger(tmp_path / "ro.db") as led:
        _fill(led)
        monkeypatch.setattr(_cache.os, "replace", _raise_oserror)
        assert len(_snapshot(led)) == 40  # the write failed quietly, the frame is still right
        assert not led.df_cache_path.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _raise_oserror(*_args, **_kwargs):
    raise OSError("read-only file system")


def test_df_returns_while_the_snapshot_is_written_and_edits_to_it_stay_out(tmp_path, monkeypatch):
    import threading

    path = tmp_path / "l.db"
    release = threading.Event()
    original = _cache.write

    def slow_write(*args):
        assert release.wait(30)
        return original(*args)

    monkeypatch.setattr(_cache, "write", slow_write)
    with Ledger(path) as led:
        _fill(led)
        df = led.df  # returns although the snapshot write is held up
        assert not led.df_cache_path.exists()
        assert led._snapshots.start(path, df, 0, "x") is False  # one write at a time
        # the caller changes its frame at once, in place
        df.loc[df.index[0], "billed_cost"] = 999.0
        df.loc[df.index[1], "prompt"] = "edited"
        df["seed"] = 7
        release.set()
        led._snapshots.wait()
        assert led.df_cache_path.exists()
    with Ledger(path) as again:
        snap = _cache.read(again.df_cache_path)
        assert snap is not None
        pd.testing.assert_frame_equal(snap.frame, _fresh(path)[list(snap.frame.columns)])  # storage order
        pd.testing.assert_frame_equal(again.df, _fresh(path))


def test_close_waits_for_the_snapshot(tmp_path, monkeypatch):
    import threading
    import time

    path = tmp_path / "l.db"
    original = _cache.write
    started = threading.Event()

    def slow_write(*args):
        started.set()
        time.sleep(0.5)
        return original(*args)

    monkeypatch.setattr(_cache, "write", slow_write)
    led = Ledger(path)
    _fill(led)
    led.df
    assert started.wait(10)
    led.close()
    assert led.df_cache_path.exists()


def test_leftovers_of_killed_writers_and_old_parquet_snapshots_are_removed(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        _fill(led)
        snapshot = led.df_cache_path
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        orphan = snapshot.with_name(f".{snapshot.name}.{int(dead.stdout)}.0badc0de.tmp")
        orphan.write_bytes(b"half a file")
        mine = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.feedf00d.tmp")
        mine.write_bytes(b"another thread of this process may be writing it")
        legacy = path.with_name(path.name + "-df.parquet")
        legacy.write_bytes(b"PAR1 from an earlier sorakit")
        _snapshot(led)
        assert snapshot.exists() and not orphan.exists() and not legacy.exists()
        assert mine.exists()


def test_a_snapshot_truncated_underneath_is_rebuilt_not_fatal(tmp_path):
    """A sync tool or a backup restore may cut the file short while a notebook runs: the snapshot
    is read, not mapped, so that is an unreadable snapshot (rebuilt), never a crashed kernel."""
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        _fill(led)
        _snapshot(led)
        snapshot = led.df_cache_path
        whole = snapshot.read_bytes()
        for cut in (len(whole) // 2, len(whole) - 8):
            with open(snapshot, "r+b") as f:  # in place, the way rsync --inplace would
                f.truncate(cut)
            assert _cache.read(snapshot) is None
            pd.testing.assert_frame_equal(_snapshot(led), _fresh(path))
            assert _cache.read(snapshot) is not None  # written again


def test_a_frame_read_through_the_snapshot_leads_with_the_columns_people_read(tmp_path):
    from sorakit.ledger import FRAME_COLUMNS, LEDGER_COLUMNS

    path = tmp_path / "l.db"
    with Ledger(path) as led:
        _fill(led)
        first = _snapshot(led)
        _fill(led, n=3, start=40)
        again = led.df                                    # the snapshot plus the rows since
        for df in (first, again, _fresh(path)):
            assert tuple(df.columns) == FRAME_COLUMNS
        pd.testing.assert_frame_equal(again, _fresh(path))
        from sorakit.ledger import _cache as cache
        snap = cache.read(led.df_cache_path)
        assert snap is not None and tuple(snap.frame.columns) == LEDGER_COLUMNS  # storage order kept
