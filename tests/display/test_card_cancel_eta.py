"""The card's Cancel button and its ETA line, on a real Studio talking to the emulator over
loopback HTTP on a manual clock (jobs move only when told)."""

from __future__ import annotations

import datetime as dt
import pytest

from engine._helpers import wait_until

from sorakit.display import JobCard, form, gallery
from sorakit.emulator import ManualClock

pytestmark = pytest.mark.parametrize("emulator_clock", [ManualClock()])


@pytest.fixture
def studio(manual_studio):
    return manual_studio


until = wait_until


def shown(widget) -> bool:
    return "sk-hidden" not in widget._dom_classes


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
    label = card.progress_label.value
    assert "usually ready in ~40 s (median of 3 runs, p90 48 s)" in label
    assert shown(card.cancel_button) and shown(card.progress_row)
    card.cancel_button.click()
    assert emulator.counters["gemini"]["cancel_calls"] == 1
    until(lambda: card.row["status"] == "cancelled")
    assert card.message.value == ""                       # one box says it, not two
    assert "Cancelled · billed: unconfirmed" in card.error.value and shown(card.error)
    assert "cancelled at gemini" in card.error.value and "google-genai" not in card.error.value
    assert not shown(card.progress_row)                   # nothing left running
    assert "cancelled" in card.header.value


def test_a_provider_that_cannot_stop_it_is_said_on_the_card(studio, emulator):
    job = studio.submit("a tram in fog", model="sora-2")
    remote(job)
    card = JobCard(job)
    assert "no history for this model yet" in card.progress_label.value
    result = card.cancel()
    assert result is not None and not result.cancelled
    until(lambda: card.row["status"] == "timed_out_waiting")
    assert card.message.value == ""                       # one box says it, not two
    assert "Not cancelled: sorakit stopped waiting, the job may still run and bill" in card.error.value
    assert "HTTP 400" in card.error.value and "openai 3." not in card.error.value   # no SDK sources
    assert not shown(card.cancel_button) and shown(card.error) and not shown(card.progress_row)
    assert emulator.counters["openai"]["cancel_calls"] == 1


def test_the_forms_job_list_cancels_and_the_gallery_filters_cancelled(studio, emulator):
    f = form(studio, model="gemini-omni-flash", provider="gemini")
    f.prompt.value = "a lantern drifts"
    [job] = [f.submit()]
    remote(job)
    [card] = f.jobs.children
    assert card.cancel_button is not None
    card.cancel_button.click()
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
    assert card.cancel_button.description == "Stop waiting"
    assert "only stops sorakit waiting" in card.cancel_button.tooltip and "billed" in card.cancel_button.tooltip
    result = card.cancel()
    assert result is not None and not result.cancelled
    until(lambda: card.row["status"] == "timed_out_waiting")
    assert card.message.value == "" and shown(card.error)
    assert card.error.value.count("sk-cancel-box") == 1
    assert "not cancelled" in card.header.value and "still running" not in card.header.value
    assert not shown(card.progress_row) and not shown(card.cancel_button)   # no elapsed time counting
    seen = card.header.value + card.error.value + card.meta.value
    for dev in ("sdk", "SDK", ".py", "PROTOCOLS", "§"):
        assert dev not in seen, (dev, seen)
    assert "job.wait() or studio.resume()" in card.error.value


def test_the_cancel_button_says_cancel_where_the_provider_can(studio, emulator):
    job = studio.submit("a paper crane unfolds", model="gemini-omni-flash", provider="gemini", seconds=6)
    remote(job)
    assert JobCard(job).cancel_button.description == "Cancel"


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
