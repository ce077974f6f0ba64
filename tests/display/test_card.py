"""Job cards: live progress from the engine's thread, the player on completion, the provider's
error on failure, and actions that land in the ledger at once."""

import threading
import time

import ipywidgets as widgets
from sorakit.display import job_card, show_job
from sorakit.display._base import is_visible
from sorakit.display._card import progress_text


def test_card_follows_the_job_from_another_thread_and_unsubscribes_when_done(fake):
    job = fake.submit("a corgi surfing", model="veo-3-fast", provider="gemini")
    card = job_card(job)
    assert fake.subscriber_count == 1
    assert "waiting" in card.header.value

    fake.advance(job, status="in_progress", progress=40, submitted_at=time.time() - 20)
    assert card.progress.value == 40
    assert "rendering" in card.header.value.lower()
    text = card.progress_label.value
    assert "40%" in text and "elapsed" in text and "left" in text  # ETA from provider progress

    fake.advance(job, status="completed")
    assert card.terminal
    assert fake.subscriber_count == 0  # stopped listening once terminal
    assert not is_visible(card.progress_row)
    assert card.player.playable and card.player.tip.startswith("Play")  # poster with a play button
    assert card.player.poster.startswith("data:image/webp;base64,UklGR")  # a WebP poster (small in saved state)
    assert card.actions.layout.display == ""


def test_updates_from_engine_thread_only_touch_traits(fake):
    """No Output capture from the thread: a card holds no Output widget at all."""
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    card = job_card(job)
    seen = []

    def walk(w):
        seen.append(type(w))
        for c in getattr(w, "children", ()):
            walk(c)
    walk(card)
    assert widgets.Output not in seen
    errors = []
    t = threading.Thread(target=lambda: [fake.advance(job, status="in_progress", progress=p) for p in (10, 50, 90)])
    t.start()
    t.join()
    assert card.progress.value == 90 and not errors


def test_play_streams_the_cached_file_in_chunks_never_through_synced_state(fake):
    from support.frontend import FakeView

    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    card = job_card(job)
    view = FakeView(card.player)
    assert card.player.bytes_sent == 0 and not card.player.loaded  # nothing sent before the user asks
    state_before = card.player.get_state()
    assert card.player.load(autoplay=True)  # the kernel-side play: tells the views to fetch
    assert view.sent[-1][0] == {"type": "load", "autoplay": True}
    data = view.fetch()
    assert data == open(job.row["file_path"], "rb").read()
    assert view.meta["mime"] == "video/mp4" and card.player.bytes_sent == len(data)
    assert card.player.get_state() == state_before  # the bytes never entered the widget state
    assert max(len(b[0]) for _m, b in view.sent if b) <= view.meta["chunk"]
    [(err, _)] = view.ask({"type": "chunk", "offset": -1, "length": 10})
    assert err["type"] == "error" and "offset=-1" in err["text"]


def test_failure_shows_provider_code_and_message(fake):
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    card = job_card(job)
    fake.advance(job, status="failed", error_code="moderation_blocked",
                 error_message="The prompt was refused by the safety system.")
    assert "moderation_blocked" in card.error.value
    assert "refused by the safety system" in card.error.value
    assert is_visible(card.error)
    assert not is_visible(card.player)
    assert "failed" in card.header.value
    assert fake.subscriber_count == 0


def test_rating_tag_and_note_land_in_the_ledger_at_once(fake):
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    card = job_card(job)
    card.star_buttons[3].click()
    assert fake.ledger.get(job.id)["rating"] == 4
    assert [b.description for b in card.star_buttons] == ["★"] * 4 + ["☆"]
    card.tag_input.value = "beach, keeper"
    assert fake.ledger.get(job.id)["tags"] == ["beach", "keeper"]
    assert card.tag_input.value == ""
    assert "keeper" in card.tags_html.value
    card.note_toggle.click()
    card.note_input.value = "great motion, wrong light"
    card.note_save.click()
    assert fake.ledger.get(job.id)["notes"] == "great motion, wrong light"


def test_remix_from_a_card_starts_a_job_and_shows_its_card(fake):
    job = fake.submit("a fox", model="sora-2", provider="openai")
    fake.advance(job, status="completed")
    card = job_card(job)
    assert card.remix_toggle.layout.display == ""  # sora-2 at openai can remix
    card.remix_input.value = "same fox, at night"
    card.remix_button.click()
    assert len(card.remixes.children) == 1
    assert fake.submitted[-1]["action"] == "remix"
    row = card.remixes.children[0].row
    assert row["prompt"] == "same fox, at night" and row["action"] == "remix"


def test_remix_hidden_where_the_model_cannot_remix(fake):
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    assert job_card(job).remix_toggle.layout.display == "none"


def test_static_fallback_is_a_small_poster_never_the_video(fake):
    job = fake.submit("a fox in the snow", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    bundle = job_card(job)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    html = bundle["text/html"]
    assert "data:image/jpeg;base64," in html and "a fox in the snow" in html
    assert "data:video" not in html
    assert len(html) < 40_000 * 4 / 3 + 2_000
    assert "sorakit job" in bundle["text/plain"]
    embedded = job_card(job, embed=True)._repr_mimebundle_()["text/html"]
    assert "data:video/mp4;base64," in embedded  # only when asked


def test_show_job_displays_the_card(fake, monkeypatch):
    shown = []
    monkeypatch.setattr("sorakit.display._card.display", shown.append)
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    assert show_job(job) is None
    assert shown and shown[0].job_id == job.id


def test_progress_text_reads_like_words():
    now = 1000.0
    assert progress_text({"status": "queued", "created_at": 990.0}, now) == "waiting in the provider's queue · 0:10 elapsed"
    # one format from the first second to the last (it switched from "9.1 s" to "1:38")
    assert "0:09 elapsed" in progress_text({"status": "queued", "created_at": 990.9}, now)
    assert "1:38 elapsed" in progress_text({"status": "queued", "created_at": 902.0}, now)

    assert "about" in progress_text({"status": "in_progress", "progress": 50, "submitted_at": 980.0}, now)
    assert "resume" in progress_text({"status": "timed_out_waiting"}, now)


def test_amounts_keep_the_digits_that_make_totals_add_up():
    """Issue 25 item 6: "$0.48 · 5 s × $0.10/s" for a $0.0968/s price; a total of $1.94 under four
    tiles reading $0.48."""
    from sorakit.display._format import money
    from sorakit.display._request import rate_text

    assert rate_text(0.0968) == "$0.0968" and rate_text(0.1) == "$0.10" and rate_text(0.125) == "$0.125"
    assert money(5 * 0.0968) == "$0.484" and money(4 * 5 * 0.0968) == "$1.936"
    assert money(0.8) == "$0.80" and money(1234.5) == "$1,234.50" and money(0.004) == "$0.004"
    assert money(None) == "unknown" and money(-0.25) == "-$0.25"


def test_a_job_sorakit_stopped_waiting_for_shows_no_running_clock():
    row = {"status": "timed_out_waiting", "error_code": "not_cancelled", "submitted_at": 900.0}
    text = progress_text(row, 1000.0)
    assert "stopped waiting" in text and "elapsed" not in text


def test_card_and_caption_show_the_seed_that_made_the_video(fake):
    from sorakit.display._gallery import caption_html

    job = fake.submit("a fox", model="veo-3-fast", provider="runware", seed=11)
    card = job_card(job)
    assert "seed\u00a0<b>11</b>" in card.meta.value               # asked for, before it ran
    fake.advance(job, status="completed", provider_seed=12)      # the provider used another
    assert "seed\u00a0<b>12</b>" in card.meta.value and "seed\u00a0<b>11</b>" not in card.meta.value
    assert "seed\u00a012" in caption_html(fake.ledger.get(job.id))
    chose = fake.submit("a heron", model="veo-3-fast", provider="runware")
    card = job_card(chose)
    fake.advance(chose, status="completed")
    assert "seed <b>not reported</b>" in card.meta.value          # none asked, none reported
    fake.advance(chose, provider_seed=4242)
    assert "seed\u00a0<b>4242</b>" in job_card(chose).meta.value
