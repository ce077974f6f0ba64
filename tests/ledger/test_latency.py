"""Ledger.latency: a model's past latency at a provider (median, p90, count) from the ledger itself,
on SQLite and PostgreSQL, with latencies seeded by hand (no clock involved)."""

from __future__ import annotations

import datetime as dt

import pytest

from sorakit import ValidationError
from sorakit.ledger import Latency

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


def seed(led, model, provider, latencies, *, emulated=True, status="completed", start=0):
    rows = [dict(provider=provider, model=model, prompt=f"p{i}", status=status, latency_s=float(s),
                 emulated=emulated, completed_at=T0 + dt.timedelta(minutes=start + i))
            for i, s in enumerate(latencies)]
    return led.insert_many(rows)


def test_median_p90_and_count_of_completed_runs(led):
    seed(led, "sora-2", "openai", [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    seed(led, "sora-2", "openai", [5000], status="failed")                  # not a latency
    seed(led, "sora-2", "runware", [1, 1, 1])                               # another provider
    lat = led.latency("sora-2", "openai")
    assert (lat.count, lat.median_s, lat.p90_s) == (10, 55.0, 91.0)
    assert lat.describe() == "usually ready in ~55 s (median of 10 runs, p90 91 s)"
    assert lat.brief() == "usually ~55 s"
    assert led.latency("sora-2").count == 13                                # any provider


def test_no_history_says_so(led):
    lat = led.latency("kling-3-standard", "relay")
    assert lat == Latency("kling-3-standard", "relay", 0, None, None)
    assert lat.describe() == "no history for this model yet"
    assert lat.brief() == "no history yet"


def test_emulated_and_real_runs_are_kept_apart_and_the_newest_window_counts(led):
    seed(led, "veo-3-fast", "gemini", [2, 2, 2], emulated=True)
    seed(led, "veo-3-fast", "gemini", [300, 100, 200], emulated=False)
    assert led.latency("veo-3-fast", "gemini", emulated=False).median_s == 200
    assert led.latency("veo-3-fast", "gemini", emulated=True).median_s == 2
    seed(led, "veo-3", "gemini", [600] * 5, start=0)                        # old and slow
    seed(led, "veo-3", "gemini", [60] * 5, start=100)                       # newer and fast
    lat = led.latency("veo-3", "gemini", window=5)
    assert (lat.count, lat.median_s, lat.p90_s) == (5, 60, 60)
    assert "2 min" not in lat.describe() and led.latency("veo-3", "gemini").count == 10


def test_long_latencies_read_in_minutes(led):
    seed(led, "sora-2-pro", "openai", [185, 185, 600])
    assert led.latency("sora-2-pro", "openai").describe() == "usually ready in ~3 min 5 s (median of 3 runs, p90 8 min 37 s)"


@pytest.mark.parametrize("kw,field", [({"model": ""}, "model"), ({"model": "m", "provider": 3}, "provider"),
                                      ({"model": "m", "window": 0}, "window"),
                                      ({"model": "m", "emulated": "yes"}, "emulated")])
def test_bad_arguments_name_the_field(led, kw, field):
    with pytest.raises(ValidationError) as e:
        led.latency(**kw)
    assert e.value.field == field
