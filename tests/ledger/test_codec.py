"""Job ids and value conversion, as the rest of sorakit relies on them."""

from __future__ import annotations

import multiprocessing
import os
import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sorakit import ValidationError
from sorakit.ledger import Ledger, new_job_id
from sorakit.ledger._codec import to_utc

UTC = timezone.utc


def test_job_ids_are_short_unique_and_sort_by_creation_time():
    ids = [new_job_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(len(i) == 30 and re.fullmatch(r"job_[0-9a-hjkmnp-tv-z]{26}", i) for i in ids[:100])


def _child_ids(q):
    q.put([new_job_id() for _ in range(2000)])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_processes_do_not_repeat_the_parents_ids():
    ids = [new_job_id() for _ in range(10)]  # leave sequence state behind
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_ids, args=(q,))
    p.start()
    mine = [new_job_id() for _ in range(2000)]
    theirs = q.get(timeout=30)
    p.join(timeout=30)
    assert not set(ids + mine) & set(theirs)


@pytest.mark.parametrize(
    "value, want",
    [
        (datetime(2026, 1, 2, 3, 4, 5, 6), datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("2026-01-02T03:04:05.000006Z", datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("2026-01-02 05:04:05.000006+02:00", datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
        (date(2026, 1, 2), datetime(2026, 1, 2, tzinfo=UTC)),
        (np.datetime64("2026-01-02T03:04:05"), datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (None, None),
        (pd.NaT, None),
        (float("nan"), None),
    ],
)
def test_datetimes_are_read_from_every_usual_form(value, want):
    assert to_utc(value) == want


def test_unreadable_datetimes_are_validation_errors():
    for bad in ("yesterday-ish", object(), [2026, 1, 2]):
        with pytest.raises(ValidationError):
            to_utc(bad, "completed_at")


@settings(max_examples=30, deadline=None)
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2105, 12, 31), timezones=st.just(UTC)))
def test_any_microsecond_datetime_round_trips_exactly_through_sqlite(memory_ledger, when):
    # SQLite keeps REAL epoch seconds: exact to the microsecond from 1970 to 2106 (2**32 s)
    job = memory_ledger.insert(created_at=when, completed_at=when + timedelta(microseconds=1))
    row = memory_ledger.get(job)
    assert row["created_at"] == when
    assert row["completed_at"] - row["created_at"] == timedelta(microseconds=1)
    df = memory_ledger.query(since=when, until=when + timedelta(microseconds=1))
    assert job in set(df["job_id"])
    assert df.set_index("job_id").loc[job, "created_at"] == pd.Timestamp(when)


@pytest.fixture(scope="module")
def memory_ledger():
    with Ledger(":memory:") as led:
        yield led


def test_frames_are_the_same_without_the_pyarrow_fast_path(tmp_path, monkeypatch):
    from sorakit.ledger import _codec

    with Ledger(tmp_path / "l.db") as led:
        led.insert(prompt="ünïcode ✓", tags=["a", "b"], extra={"k": [1]}, model="sora-2")
        led.insert(prompt=None, model="veo-3")
        fast = led.df
        monkeypatch.setattr(_codec, "_ARROW_STRINGS", False)
        pd.testing.assert_frame_equal(led.df, fast)
