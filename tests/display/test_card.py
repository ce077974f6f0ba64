"""Job cards (one anywidget): live progress from the engine's thread, the video on completion, the
provider's error on failure, and actions that land in the ledger at once. What the page shows is
the card's entry of the synced ``tiles`` (``card.shown``); clicks are the page's custom messages."""

import json
import threading
import time

import anywidget
from sorakit.display import JobCard, job_card, show_job
from sorakit.display._card import progress_text
from sorakit.display._esm import esm


def press(card, **content):
    """What the page sends when the user clicks on the card (``tile`` 0 is the card's job)."""
    card._on_front_end(card, {"view": "v1", "tile": 0, **content}, [])


def test_card_follows_the_job_from_another_thread_and_unsubscribes_when_done(fake):
    job = fake.submit("a corgi surfing", model="veo-3-fast", provider="gemini")
    card = job_card(job)
    assert isinstance(card, anywidget.AnyWidget) and card._kind == "card"
    assert fake.subscriber_count == 1
    assert card.shown["chip"] == ["waiting", "grey"] and card.shown["active"]

    fake.advance(job, status="in_progress", progress=40, submitted_at=time.time() - 20)
    assert card.shown["progress"] == 40
    assert card.shown["chip"][0] == "rendering"
    text = card.shown["text"]
    assert "40%" in text and "elapsed" in text and "left" in text  # ETA from provider progress

    fake.advance(job, status="completed")
    assert card.terminal
    assert fake.subscriber_count == 0  # stopped listening once terminal
    t = card.shown
    assert not t["active"] and not t["cancellable"] and t["text"] == ""
    assert t["playable"] and t["tip"].startswith("Play")  # poster with a play button
    assert t["poster"].startswith("data:image/webp;base64,UklGR")  # a WebP poster (small in saved state)
    assert t["chip"] == ["done", "green"] and t["meta"][0].startswith("estimated $")


def test_updates_from_engine_thread_only_touch_traits(fake):
    """No Output capture from the thread: a card is one widget model, no children at all."""
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    card = job_card(job)
    assert not hasattr(card, "children")
    t = threading.Thread(target=lambda: [fake.advance(job, status="in_progress", progress=p) for p in (10, 50, 90)])
    t.start()
    t.join()
    assert card.shown["progress"] == 90


def test_the_elapsed_time_moves_once_a_second_while_running(fake):
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="queued", submitted_at=time.time() - 5)
    card = job_card(job)
    first = card.shown["text"]
    assert "elapsed" in first
    deadline = time.time() + 5
    while card.shown["text"] == first and time.time() < deadline:
        time.sleep(0.1)
    assert card.shown["text"] != first  # the ticker moved the clock without any engine event


def test_play_streams_the_cached_file_in_chunks_never_through_synced_state(fake):
    from support.frontend import FakeView

    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    card = job_card(job)
    view = FakeView(card)
    assert card.bytes_sent == 0 and not card.loaded  # nothing sent before the user asks
    state_before = card.get_state()
    data = view.fetch(tile=0)
    assert data == open(job.row["file_path"], "rb").read()
    assert view.meta["mime"] == "video/mp4" and card.bytes_sent == len(data)
    assert card.get_state() == state_before  # the bytes never entered the widget state
    assert max(len(b[0]) for _m, b in view.sent if b) <= view.meta["chunk"]
    [(err, _)] = view.ask({"type": "chunk", "offset": -1, "length": 10, "tile": 0})
    assert err["type"] == "error" and "offset=-1" in err["text"]


def test_failure_shows_provider_code_and_message(fake):
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    card = job_card(job)
    fake.advance(job, status="failed", error_code="moderation_blocked",
                 error_message="The prompt was refused by the safety system.")
    kind, head, code, detail = card.shown["outcome"]
    assert (kind, code) == ("failed", "moderation_blocked")
    assert "refused by the safety system" in detail
    assert "moderation_blocked" in card.shown["failed"]
    assert card.shown["chip"] == ["failed", "red"] and not card.shown["playable"]
    assert fake.subscriber_count == 0


def test_rating_tag_and_note_land_in_the_ledger_at_once(fake):
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    card = job_card(job)
    edits = []
    card._on_edit = edits.append
    press(card, type="rate", n=4)
    assert fake.ledger.get(job.id)["rating"] == 4 and card.shown["rating"] == 4
    press(card, type="tag", text="beach, keeper")
    assert fake.ledger.get(job.id)["tags"] == ["beach", "keeper"]
    assert card.shown["tags"] == ["beach", "keeper"]
    press(card, type="note", text="great motion, wrong light")
    assert fake.ledger.get(job.id)["notes"] == "great motion, wrong light"
    assert card.shown["notes"] == "great motion, wrong light"
    assert [e["rating"] for e in edits] == [4, 4, 4]  # the browser re-reads the ledger after each


def test_remix_from_a_card_starts_a_job_and_shows_its_card(fake):
    job = fake.submit("a fox", model="sora-2", provider="openai")
    fake.advance(job, status="completed")
    card = job_card(job)
    assert card.shown["remixable"]  # sora-2 at openai can remix
    press(card, type="remix", prompt="same fox, at night")
    assert fake.submitted[-1]["action"] == "remix"
    assert len(card.tiles) == 2  # the remix's card, below the original
    assert card.tiles[1]["prompt"] == "same fox, at night" and "remix" in card.tiles[1]["specs"]
    press(card, type="remix", prompt="  ")
    assert "Describe the change" in card.tiles[0]["said"]["text"]


def test_remix_hidden_where_the_model_cannot_remix(fake):
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    assert not job_card(job).shown["remixable"]


def test_static_fallback_is_a_small_poster_never_the_video(fake):
    job = fake.submit("a fox in the snow", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    bundle, _meta = job_card(job)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    html = bundle["text/html"]
    assert "data:image/jpeg;base64," in html and "a fox in the snow" in html
    assert "data:video" not in html
    assert len(html) < 40_000 * 4 / 3 + 2_000
    assert "sorakit job" in bundle["text/plain"]
    embedded = job_card(job, embed=True)._repr_mimebundle_()[0]["text/html"]
    assert "data:video/mp4;base64," in embedded  # only when asked


def test_a_cards_saved_state_is_small_and_carries_no_form_code(fake):
    job = fake.submit("a fox in the snow", model="veo-3-fast", provider="gemini")
    fake.advance(job, status="completed")
    card = job_card(job)
    state = json.dumps({k: v for k, v in card.get_state().items() if k not in ("_esm", "_css")})
    assert len(state) < 60_000 and "data:video" not in state
    assert card._esm == esm("card") and "renderForm" not in card._esm and "renderCards" in card._esm


def test_show_job_displays_the_card(fake, monkeypatch):
    shown = []
    monkeypatch.setattr("sorakit.display._card.display", shown.append)
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    assert show_job(job) is None
    assert shown and isinstance(shown[0], JobCard) and shown[0].job_id == job.id


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


def test_a_running_card_answers_the_pages_poll_with_its_state(fake):
    """The second path for live updates (front ends whose comm drops sends from the engine's thread):
    while its job runs the page asks for it; the answer is what ``tiles`` would show."""
    job = fake.submit("a fox", model="veo-3-fast", provider="gemini")
    card = job_card(job)
    sent = []
    card.send = lambda content, buffers=None: sent.append(content)
    fake.advance(job, status="in_progress", progress=55)
    press(card, type="poll", tiles=[0, 7, "x"])  # indexes it does not have are ignored
    [reply] = sent
    assert reply["type"] == "jobs" and reply["view"] == "v1" and list(reply["tiles"]) == ["0"]
    assert reply["tiles"]["0"]["progress"] == 55 and reply["tiles"]["0"]["active"]
    assert card.polls == 1 and card.poll_ms > 0


def test_a_job_as_a_marimo_cells_last_line_is_its_card(studio, monkeypatch):
    """marimo calls ``_display_`` (before any ``_repr_*_``): a Job answers with its card wrapped for
    marimo (``mo.ui.anywidget``), the widget Jupyter shows. ``test_marimo.py`` sees it in a page."""
    import sys
    import types

    mo = types.ModuleType("marimo")
    mo.ui = types.SimpleNamespace(anywidget=lambda w: ("anywidget", w))
    mo.Html = lambda text: ("html", text)
    monkeypatch.setitem(sys.modules, "marimo", mo)
    job = studio.submit("a fox", model="seedance-1-pro-fast", provider="runware")
    kind, card = job._display_()
    assert kind == "anywidget" and isinstance(card, JobCard) and card.job_id == job.id


def test_card_and_caption_show_the_seed_that_made_the_video(fake):
    from sorakit.display._gallery import caption_html

    job = fake.submit("a fox", model="veo-3-fast", provider="runware", seed=11)
    fake.advance(job, status="completed", provider_seed=12)      # asked 11, the provider used 12
    meta = job_card(job).shown["meta"]
    assert "seed\u00a012" in meta and "seed\u00a011" not in meta
    assert "seed\u00a012" in caption_html(fake.ledger.get(job.id))
    chose = fake.submit("a heron", model="veo-3-fast", provider="runware")
    fake.advance(chose, status="completed")
    assert "seed not reported" in job_card(chose).shown["meta"]  # none asked, none reported
    fake.advance(chose, provider_seed=4242)
    assert "seed\u00a04242" in job_card(chose).shown["meta"]
