"""The card's Cancel button and its ETA line, on a real Studio talking to the emulator over
loopback HTTP on a manual clock (jobs move only when told)."""

from __future__ import annotations

import datetime as dt
import json
import pytest

from engine._helpers import wait_until

from sorakit.display import JobCard, form, gallery
from sorakit.emulator import ManualClock

pytestmark = pytest.mark.parametrize("emulator_clock", [ManualClock()])


@pytest.fixture
def studio(manual_studio):
    return manual_studio


until = wait_until


def press(widget, **content):
    """What the page sends on a click (``tile`` 0: the card's job, or the form's first)."""
    widget._on_front_end(widget, {"view": "v1", "tile": 0, **content}, [])


def seed_history(studio, model, provider, latencies):
    done = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    studio.ledger.insert_many([dict(provider=provider, model=model, prompt="earlier", status="completed",
                                    emulated=True, latency_s=float(s), completed_at=done) for s in latencies])


def remote(job):
    until(lambda: job.row.get("provider_job_id") and job.status in ("queued", "in_progress"))


def test_cancel_on_the_card_stops_an_omni_job_and_the_card_says_so(studio, emulator):
    seed_history(studio, "gemini-omni-flash", "gemini", [30, 40, 50])
    job = studio.submit("a paper crane unfolds", model="gemini-omni-flash", provider="gemini", seconds=6)
    remote(job)
    card = JobCard(job)
    label = card.shown["text"]
    assert "usually ready in ~40 s (median of 3 runs, p90 48 s)" in label
    assert card.shown["cancellable"] and card.shown["active"]
    press(card, type="cancel")                             # the page's Cancel click
    assert emulator.counters["gemini"]["cancel_calls"] == 1
    until(lambda: card.row["status"] == "cancelled")
    until(lambda: card.shown["status"] == "cancelled")
    t = card.shown
    assert t["said"] == {}                                # one box says it, not two
    kind, head, _code, detail = t["outcome"]
    assert kind == "cancelled" and head == "Cancelled · billed: unconfirmed"
    assert "cancelled at gemini" in detail and "google-genai" not in detail
    assert not t["active"] and not t["cancellable"]       # nothing left running
    assert t["chip"][0] == "cancelled" and not t["playable"]


def test_a_provider_that_cannot_stop_it_is_said_on_the_card(studio, emulator):
    job = studio.submit("a tram in fog", model="sora-2")
    remote(job)
    card = JobCard(job)
    assert "no history for this model yet" in card.shown["text"]
    result = card.cancel()
    assert result is not None and not result.cancelled
    until(lambda: card.row["status"] == "timed_out_waiting")
    t = card.shown
    assert t["said"] == {}                                # one box says it, not two
    kind, head, _code, detail = t["outcome"]
    assert kind == "refused" and head == "Not cancelled: sorakit stopped waiting, the job may still run and bill"
    assert "HTTP 400" in detail and "openai 3." not in detail   # no SDK sources
    assert not t["cancellable"] and not t["active"] and t["text"] == ""
    assert emulator.counters["openai"]["cancel_calls"] == 1


def test_the_forms_job_list_cancels_and_the_gallery_filters_cancelled(studio, emulator):
    f = form(studio, model="gemini-omni-flash", provider="gemini")
    f.set(prompt="a lantern drifts")
    [job] = [f.submit()]
    remote(job)
    [card] = f.tiles
    assert card["cancellable"] and card["id"] == job.id
    press(f, type="cancel")
    until(lambda: job.status == "cancelled")
    g = gallery(studio, status="cancelled")
    assert [t.job_id for t in g.tile_list] == [job.id]
    assert gallery(studio).tiles == []                                  # the default shows completed ones


def test_the_live_batch_gallery_shows_the_expected_finish(studio, emulator):
    from sorakit.display._gallery import show_batch

    seed_history(studio, "sora-2", "openai", [50, 60, 70])
    batch = studio.batch(["one", "two"], models="sora-2", wait=False)
    live = show_batch(batch)
    header = live.widget.header
    assert "2 still running" in header and "expected to finish in ~" in header
    assert "(2 left, 32 at a time at openai; from past runs&#x27; median)" in header \
        or "(2 left, 32 at a time at openai; from past runs' median)" in header
    fresh = studio.batch(["three"], models="kling-3-standard@relay", wait=False)
    assert "no history for kling-3-standard@relay yet" in show_batch(fresh).widget.header
    live.close()


def test_each_tile_of_a_live_gallery_says_how_long_its_model_usually_takes(studio, emulator):
    from sorakit.display._gallery import show_batch

    seed_history(studio, "sora-2", "openai", [50, 60, 70])
    batch = studio.batch(["one", "two"], models="sora-2", wait=False)
    other = studio.batch(["three"], models="kling-3-standard@relay", wait=False)
    for job in [*batch, *other]:
        remote(job)
    live = show_batch(batch)
    labels = [t["label"] for t in live.widget.tiles]
    assert all("usually ~60 s" in label for label in labels), labels
    fresh = show_batch(other)
    assert "no history yet" in fresh.widget.tiles[0]["label"]
    from_ledger = gallery(studio, status=batch[0].status)   # tiles built from ledger rows, not Jobs
    assert {t.job_id for t in from_ledger.tile_list} >= {j.id for j in batch}
    sora = [t["label"] for t, tile in zip(from_ledger.tiles, from_ledger.tile_list) if tile.job_id in batch.ids]
    assert len(sora) == 2 and all("usually ~60 s" in label for label in sora), sora
    for job in [*batch, *other]:
        job.cancel()
    live.close()
    fresh.close()


@pytest.mark.parametrize("model,provider", [("seedance-1-pro", "runware"), ("veo-3", "runcrate")])
def test_a_provider_without_cancel_says_stop_waiting_before_the_click_and_one_box_after(
        studio, emulator, model, provider):
    """Issue 25 item 4: the button promised a cancel; afterwards the card said STILL RUNNING with a
    counting elapsed time, explained twice and quoted "runware-sdk 1.8.0 client.py ... PROTOCOLS.md §2"."""
    job = studio.submit("a kite over dunes", model=model, provider=provider)
    remote(job)
    card = JobCard(job)
    assert card.shown["cancel_label"] == "Stop waiting"
    tip = card.shown["cancel_tip"]
    assert "only stops sorakit waiting" in tip and "billed" in tip
    result = card.cancel()
    assert result is not None and not result.cancelled
    until(lambda: card.row["status"] == "timed_out_waiting")
    t = card.shown
    assert t["said"] == {} and t["outcome"][0] == "refused"     # one box
    assert t["chip"][0] == "not cancelled" and t["shown_status"] == "not_cancelled"
    assert not t["active"] and not t["cancellable"] and t["text"] == ""   # no elapsed time counting
    seen = json.dumps(t["outcome"]) + json.dumps(t["meta"]) + t["text"]
    for dev in ("sdk", "SDK", ".py", "PROTOCOLS", "§"):
        assert dev not in seen, (dev, seen)
    assert "job.wait() or studio.resume()" in t["outcome"][3]


def test_the_cancel_button_says_cancel_where_the_provider_can(studio, emulator):
    job = studio.submit("a paper crane unfolds", model="gemini-omni-flash", provider="gemini", seconds=6)
    remote(job)
    assert JobCard(job).shown["cancel_label"] == "Cancel"


def test_plain_reason_drops_nested_sources_and_keeps_the_facts(emulator_clock):
    from sorakit.display._card import plain_reason

    msg = ("cancel requested, but Runware documents no way to stop a video task once sent (its SDK's "
           "cancel_event only stops the client waiting); the task runs to the end and is billed (runware-sdk "
           "1.8.0 client.py (cancel_event aborts polling only); PROTOCOLS.md §2 (no cancel task)). sorakit "
           "stopped waiting; job.wait() or studio.resume() still fetches the video and records its cost")
    assert plain_reason(msg) == ("Runware documents no way to stop a video task once sent; the task runs to the "
                                 "end and is billed. sorakit stopped waiting; job.wait() or studio.resume() "
                                 "still fetches the video and records its cost")
    assert plain_reason("refused (HTTP 400: busy)") == "refused (HTTP 400: busy)"
