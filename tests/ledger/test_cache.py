"""The columnar snapshot behind ``Ledger.df`` never shows anything a fresh read would not."""

from __future__ import annotations

import shutil
import sqlite3
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


def _fresh(path):
    with Ledger(path, df_cache=False) as plain:
        return plain.df


def test_snapshot_is_written_and_matches_a_fresh_read(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        _fill(led)
        first = led.df
        assert led.df_cache_path.exists()
        pd.testing.assert_frame_equal(first, _fresh(path))
        pd.testing.assert_frame_equal(led.df, first)


def test_changes_after_the_snapshot_show_up(tmp_path):
    path = tmp_path / "l.db"
    with Ledger(path) as led:
        ids = _fill(led)
        led.df  # snapshot at this point
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
        led.df
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
        led_a.df
        shutil.copy(led_a.df_cache_path, led_b.df_cache_path)  # a copied file from elsewhere
        pd.testing.assert_frame_equal(led_b.df, _fresh(b))
        led_b.df_cache_path.write_bytes(b"PAR1 not really parquet")
        pd.testing.assert_frame_equal(led_b.df, _fresh(b))


def test_small_ledgers_and_unwritable_folders_need_no_snapshot(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "MIN_ROWS", 1000)
    with Ledger(tmp_path / "small.db") as led:
        _fill(led)
        assert len(led.df) == 40
        assert not led.df_cache_path.exists()
    monkeypatch.setattr(_cache, "MIN_ROWS", 20)
    with Ledger(tmp_path / "ro.db") as led:
        _fill(led)
        monkeypatch.setattr(_cache.os, "replace", _raise_oserror)
        assert len(led.df) == 40  # the write failed quietly, the frame is still right
        assert not led.df_cache_path.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def _raise_oserror(*_args, **_kwargs):
    raise OSError("read-only file system")
