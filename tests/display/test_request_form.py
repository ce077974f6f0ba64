"""The request form (``RequestForm``, what ``form(studio)`` shows in every front end), kernel side.

Most tests drive a real ``Studio`` against the emulator over loopback HTTP on a manual clock (jobs
move only when told) and press the form's buttons the way its page does: custom messages into
``_on_front_end``. The fake Studio records every submit.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import subprocess
import sys
import types

import pytest
from PIL import Image

from engine._helpers import wait_until as until

from sorakit import ValidationError
from sorakit.catalog import load_catalog
from sorakit.display import RequestForm, form
from sorakit.emulator import ManualClock

TODAY = dt.datetime.now(dt.timezone.utc).date()


@pytest.fixture
def emulator_clock():
    return ManualClock()


@pytest.fixture
def studio(manual_studio):
    return manual_studio


class Page:
    """What the page sends and receives: custom messages in, replies recorded."""

    def __init__(self, f: RequestForm):
        self.f, self.sent = f, []
        f.send = lambda content, buffers=None: self.sent.append((content, buffers or []))

    def press(self, **content):
        self.f._on_front_end(self.f, {"view": "v1", **content}, [])
        return self.sent[-1] if self.sent else None


def values(pairs):
    return [v for _label, v in pairs]


def remote(job):
    until(lambda: job.row.get("provider_job_id") and job.status in ("queued", "in_progress"))


def test_options_are_exactly_what_the_chosen_offer_allows(studio):
    f = form(studio, ui="anywidget")
    assert isinstance(f, RequestForm)
    cat = load_catalog()
    for model, provider in [("kling-3-standard", "runware"), ("gemini-omni-flash", "gemini"),
                            ("veo-3", "gemini"), ("seedance-1-pro-fast", "runware"), ("sora-2", "openai")]:
        v = f.set(model=model, provider=provider)
        offer = cat.models[model].offer(provider)
        assert (v["model"], v["provider"]) == (model, provider)
        assert values(f.providers) == [o.provider for o in cat.models[model].offers]  # emulator: all usable
        assert values(f.choices["sizes"]) == list(offer.sizes) and v["size"] in offer.sizes
        assert values(f.choices["seconds"]) == [float(s) for s in offer.seconds] and v["seconds"] in offer.seconds
        assert f.choices["max_variations"] == offer.max_variations
        assert f.choices["seed"] == ("seed" in offer.capabilities)
        assert f.choices["negative_prompt"] == ("negative-prompt" in offer.capabilities)
        assert f.choices["image"] == ("image-to-video" in offer.capabilities)
        assert f.choices["audio"] == offer.audio
    # a model change keeps what the new offer also allows and replaces what it does not
    f.set(model="seedance-1-pro-fast", provider="runware", size="864x480", seconds=7.0, seed="42")
    v = f.set(model="kling-3-standard")
    assert v["provider"] == "runware" and v["size"] == "1280x720" and v["seconds"] == 5.0 and v["seed"] == ""
    v = f.set(model="hailuo-02")
    assert values(f.providers) == ["runware"] and v["provider"] == "runware"
    assert "unknown" in f.cost and "$0.00</b>" not in f.cost  # no price in the catalog: not $0


def test_only_offers_this_studio_can_submit_are_listed(fake, monkeypatch):
    emulated = form(fake, ui="anywidget")
    labels = dict((v, label) for label, v in emulated.models)
    assert labels["sora-2"] == "Sora 2 — shut down 2026-09-24"  # the emulator still serves it
    monkeypatch.setattr(fake, "emulated", lambda provider=None: False)
    real = form(fake, ui="anywidget")
    names = values(real.models)
    assert "sora-2" not in names and "veo-3" in names
    real.set(model="veo-3-fast")
    assert values(real.providers) == [o.provider for o in load_catalog().models["veo-3-fast"].offers
                                      if o.serves_on(TODAY)]


def test_a_bad_seed_names_field_value_and_range_and_sends_nothing(studio, emulator):
    f = form(studio, ui="anywidget", model="seedance-1-pro-fast@runware")
    page = Page(f)
    f.set(prompt="a fox in snow", seed="abc")
    assert f.errors == {"seed": "Seed: 'abc' is not allowed — use blank (random) or an integer from 0 to 4294967295"}
    assert "fix the request" in f.cost
    page.press(type="submit", value={"seed": "99999999999"})
    assert f.errors["seed"].startswith("Seed: 99999999999 is not allowed")
    assert f.submit() is None and f.tiles == []
    assert emulator.counters.total("requests") == 0 and studio.ledger.rows() == []
    f.set(seed="7")
    assert f.errors == {} and f.request_fields()["seed"] == 7
    remote(f.submit())  # the same request with a seed is sent: the counters above could have moved
    assert emulator.counters.total("creates") == 1 and len(studio.ledger.rows()) == 1


def test_a_blank_prompt_and_the_studios_own_errors_show_in_place(studio, emulator, monkeypatch):
    f = form(studio, ui="anywidget", model="seedance-1-pro-fast@runware")
    assert f.errors == {}  # nothing is an error before the user tries
    assert f.submit() is None
    assert f.errors["prompt"].startswith("Write a prompt first (")
    f.set(prompt="x" * 7000)
    assert f.over and "7,000 / 6,000 characters" == f.counter and "prompt" in f.errors

    def refuse(*a, **k):
        raise ValidationError("seconds", 9, ["8"], "veo-3 at gemini")
    monkeypatch.setattr(studio, "submit", refuse)
    f.set(prompt="a fox")
    f.submit()
    assert f.errors["seconds"].startswith("Duration:") and "9 is not allowed" in f.errors["seconds"]
    monkeypatch.setattr(studio, "submit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    f.submit()
    assert f.message == {"kind": "error", "text": "RuntimeError: disk full"}
    assert emulator.counters.total("requests") == 0


def test_submit_lists_the_job_follows_it_and_plays_it_by_streaming(studio, emulator):
    from display.test_card_cancel_eta import seed_history

    seed_history(studio, "sora-2", "openai", [30, 40, 50])
    f = form(studio, ui="anywidget")
    page = Page(f)
    page.press(type="submit", value={"prompt": "a tram in fog", "model": "sora-2", "provider": "openai",
                                     "seconds": 4})
    assert f.message["kind"] == "ok" and f.message["text"].startswith("Started job_")
    [row] = [r for r in studio.ledger.rows() if r["prompt"] != "earlier"]
    assert (row["prompt"], row["model"], row["provider"], row["seconds"]) == ("a tram in fog", "sora-2", "openai", 4)
    [tile] = f.tiles
    assert tile["id"] == row["job_id"] and tile["active"] and tile["cancellable"]
    remote(f.submitted[0])
    assert emulator.counters.total("creates") == 1
    until(lambda: "usually ready in ~40 s (median of 3 runs" in f.tiles[0]["text"])
    # the tile learns the provider's state through the engine's events, a moment after job.status
    # (seen as 'pending' under load): wait for it before asking the page's poll path
    until(lambda: f.tiles[0]["status"] in ("queued", "in_progress"))
    # the page's second path for live updates: it polls its running jobs and gets their state back
    reply, _ = page.press(type="poll", tiles=[0])
    assert reply["type"] == "jobs" and reply["tiles"]["0"]["status"] in ("queued", "in_progress")
    assert f.polls == 1
    emulator.clock.advance(3600)
    until(lambda: f.tiles[0]["status"] == "completed" and f.tiles[0]["playable"])
    done = f.tiles[0]
    assert not done["active"] and not done["cancellable"] and done["poster"].startswith("data:image/webp")
    until(lambda: row["job_id"] in values(f.remixes))  # a finished sora-2 job can be remixed now
    state = json.dumps({k: v for k, v in f.get_state().items() if k not in ("_esm", "_css")})
    assert "data:video" not in state and len(state) < 60_000  # a poster, never the video
    meta, _ = page.press(type="open", tile=0)
    assert meta["type"] == "meta" and meta["mime"] == "video/mp4"
    got = b""
    while len(got) < meta["size"]:
        chunk, buffers = page.press(type="chunk", tile=0, offset=len(got), length=meta["chunk"])
        got += bytes(buffers[0])
    assert got[4:8] == b"ftyp" and f.bytes_sent == meta["size"]


def test_cancel_calls_through_and_the_list_says_what_happened(studio, emulator):
    f = form(studio, ui="anywidget", model="gemini-omni-flash@gemini")
    page = Page(f)
    f.set(prompt="a paper crane unfolds", seconds=6)
    job = f.submit()
    remote(job)
    page.press(type="cancel", tile=0)
    assert emulator.counters["gemini"]["cancel_calls"] == 1
    until(lambda: f.tiles[0]["status"] == "cancelled")
    assert f.tiles[0]["said"] == {}                      # the job's own box says it: one box
    assert f.tiles[0]["cancelled"].startswith("Cancelled · billed: unconfirmed: cancelled at gemini")
    assert "google-genai" not in f.tiles[0]["cancelled"]
    assert not f.tiles[0]["active"] and not f.tiles[0]["cancellable"]
    assert "Cancelled · billed: unconfirmed" in f.tiles[0]["cancelled"]


def test_a_provider_that_cannot_stop_it_is_said(studio, emulator):
    f = form(studio, ui="anywidget", model="sora-2@openai")
    f.set(prompt="a tram in fog")
    job = f.submit()
    remote(job)
    result = f.cancel(job)
    assert result is not None and not result.cancelled
    assert f.tiles[0]["said"] == {} and "HTTP 400" in f.tiles[0]["cancelled"]
    assert f.tiles[0]["cancelled"].startswith("Not cancelled: sorakit stopped waiting")
    assert not f.tiles[0]["active"] and f.tiles[0]["shown_status"] == "not_cancelled"
    assert emulator.counters["openai"]["cancel_calls"] == 1


def test_the_list_says_stop_waiting_where_the_provider_has_no_cancel(studio, emulator):
    f = form(studio, ui="anywidget", model="seedance-1-pro@runware")
    f.set(prompt="a tram in fog")
    job = f.submit()
    remote(job)
    until(lambda: f.tiles[0]["cancel_label"] == "Stop waiting")
    assert "only stops sorakit waiting" in f.tiles[0]["cancel_tip"]
    f.cancel(job)
    t = f.tiles[0]
    assert t["said"] == {} and not t["active"] and not t["cancellable"] and t["text"] == ""
    assert "sdk" not in t["cancelled"].lower() and "PROTOCOLS" not in t["cancelled"]


def test_remix_from_an_earlier_job(studio, emulator):
    src = studio.submit("a fox at dawn", model="sora-2", provider="openai", seconds=4)
    remote(src)
    emulator.clock.advance(3600)
    src.wait(timeout=30)
    f = form(studio, ui="anywidget", model="kling-3-standard@runware")
    assert values(f.remixes) == ["", src.id]
    v = f.set(remix_from=src.id, prompt="the same fox, at night")
    assert (v["model"], v["provider"]) == ("sora-2", "openai")  # a remix keeps the source's offer
    assert f.request_fields() == {"model": "sora-2", "provider": "openai", "action": "remix",
                                  "source_video_id": src.video_id}
    job = f.submit()
    row = job.row
    assert (row["action"], row["source_video_id"], row["prompt"]) == ("remix", src.video_id, "the same fox, at night")
    assert [t["id"] for t in f.tiles] == [job.id] and "remix" in f.tiles[0]["specs"]
    v = f.set(remix_from="")
    assert v["remix_from"] == "" and "action" not in f.request_fields()


def test_the_first_frame_image_arrives_as_bytes(studio):
    f = form(studio, ui="anywidget", model="veo-3@gemini")
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(buf, "PNG")
    data = buf.getvalue()
    Page(f).press(type="image", name="first.png", data=base64.b64encode(data).decode())
    assert f.image_info.startswith("first.png · 64×36")
    assert f.request_fields()["input_image"] == data
    Page(f).press(type="image", clear=True)
    assert "input_image" not in f.request_fields()


CHOICES = [
    dict(model="veo-3-fast", provider="runware", seed="7", variations=2),
    dict(model="kling-3-standard", provider="runware", seconds=10.0, audio=False, variations=3),
    dict(model="veo-3", provider="gemini", negative_prompt="  blurry, text  "),
    dict(model="seedance-1-pro-fast", provider="runware", size="864x480", seconds=6.0, seed="0"),
]


@pytest.mark.parametrize("choice", CHOICES, ids=lambda c: f"{c['model']}@{c['provider']}")
def test_the_form_sends_exactly_the_choices_made(fake, choice):
    """(Once a comparison with the retired ipywidgets form, which sent the same.) Each entry reaches
    ``studio.submit`` as the Studio takes it: the seed an integer, the negative prompt trimmed; what
    was not chosen is something the offer allows."""
    f = form(fake)
    f.set(**choice, prompt="a corgi surfing")
    offer = load_catalog().models[choice["model"]].offer(choice["provider"])
    f.submit()
    [sent] = fake.submitted
    assert sent == {"prompt": "a corgi surfing", **f.request_fields()}
    assert (sent["model"], sent["provider"]) == (choice["model"], choice["provider"])
    assert sent["size"] == choice.get("size", sent["size"]) and sent["size"] in offer.sizes
    assert sent["seconds"] == choice.get("seconds", sent["seconds"]) and sent["seconds"] in offer.seconds
    assert sent.get("variations", 1) == choice.get("variations", 1)
    assert ("seed" in sent) == ("seed" in choice) and sent.get("seed") == (int(choice["seed"]) if "seed" in choice
                                                                          else None)
    assert sent.get("negative_prompt") == (choice["negative_prompt"].strip() if "negative_prompt" in choice else None)
    if offer.audio == "optional":
        assert sent["audio"] is choice.get("audio", sent["audio"])
    assert "$" in f.cost


def test_the_form_remixes_through_the_studio(fake):
    src = fake.submit("a fox", model="sora-2", provider="openai")
    fake.advance(src, status="completed")
    f = form(fake)
    assert values(f.remixes) == ["", src.id]
    f.set(remix_from=src.id, prompt="at night")
    f.submit()
    assert fake.submitted[-1]["action"] == "remix" and fake.submitted[-1]["prompt"] == "at night"


def test_form_is_the_anywidget_in_every_front_end(fake, monkeypatch):
    assert isinstance(form(fake), RequestForm)
    mo = types.ModuleType("marimo")
    mo.running_in_notebook = lambda: True
    monkeypatch.setitem(sys.modules, "marimo", mo)
    assert isinstance(form(fake), RequestForm)
    assert isinstance(fake_form := form(fake, ui="anywidget", model="veo-3@gemini"), RequestForm)
    assert fake_form.value["model"] == "veo-3"
    with pytest.raises(ValidationError) as e:
        form(fake, ui="qt")
    assert e.value.field == "ui"


def test_importing_sorakit_does_not_import_marimo():
    code = "import sys, sorakit, sorakit.display; print('marimo' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_how_a_job_ended_is_plain_text_in_the_list_and_html_on_the_card(studio):
    """The page sets these as textContent: an escaped entity would show as '&#x27;' to the user."""
    from sorakit.display._card import JobCard
    from sorakit.display._grid import Tile
    from sorakit.display._rows import Item

    f = form(studio, ui="anywidget")
    msg = "the model can't draw <hands> & feet"
    failed = studio.ledger.get(studio.ledger.insert(prompt="p", provider="runware", model="seedance-1-pro",
                                                    status="failed", error_code="safety", error_message=msg))
    cancelled = studio.ledger.get(studio.ledger.insert(prompt="p", provider="gemini", model="gemini-omni-flash",
                                                       status="cancelled", error_message=msg))
    tile = lambda row: f._tile_data(Tile(Item(row, None, studio), f._tile_changed, caption=lambda _r: ""))
    assert tile(failed)["failed"] == f"The provider reported a failure · safety: {msg}"
    assert tile(failed)["cancelled"] == ""
    assert tile(cancelled)["cancelled"] == f"Cancelled: {msg}"
    card = JobCard(failed, studio=studio)  # the same words on a card: [kind, head, code, detail], as text
    assert card.shown["outcome"] == ["failed", "The provider reported a failure", "safety", msg]


def test_the_form_takes_a_model_id_the_catalog_does_not_list(fake):
    """The open catalog in the form: opened on ``"id@provider"`` it lists that id (marked as not
    in the catalog), offers the provider's usual sizes, sends the id and says the price is unknown."""
    value = "gemini-omni-9.9-flash@gemini"
    f = form(fake, model=value)
    assert f.value["model"] == value and f.value["provider"] == "gemini"
    label = dict((v, l) for l, v in f.models)[value]
    assert label.startswith("gemini-omni-9.9-flash — not in the catalog")
    assert f.offer.catalogued is False and f.offer.id == "gemini-omni-9.9-flash"
    assert "not in the catalog" in f.notice["text"]
    f.set(prompt="a corgi surfing")
    assert "is not in the catalog" in f.cost
    f.submit()
    assert len(fake.submitted) == 1 and fake.submitted[0]["model"] == value


def test_an_uncatalogued_id_runs_from_the_form_on_the_emulator(studio, emulator):
    f = form(studio, ui="anywidget", model="acme-video-9@relay")
    Page(f).press(type="submit", value={"prompt": "a tram in fog", "model": "acme-video-9@relay",
                                        "provider": "relay"})
    assert f.message["kind"] == "ok", f.message
    remote(f.submitted[0])
    emulator.clock.advance(3600)
    until(lambda: f.submitted[0].status == "completed")
    row = f.submitted[0].row
    assert (row["model"], row["provider"], row["provider_model"]) == ("acme-video-9", "relay", "acme-video-9")


def test_the_started_line_goes_once_its_jobs_are_done(studio, emulator):
    """Issue 25 item 8: "Started job…; it runs in the background" stayed after the job was done."""
    f = form(studio, model="sora-2@openai")
    f.set(prompt="a tram in fog", seconds=4)
    job = f.submit()
    assert "Started" in f.message.get("text", "")
    remote(job)
    emulator.clock.advance(3600)
    job.wait(timeout=30)
    until(lambda: "Started" not in f.message.get("text", ""))


def test_the_form_says_its_keyboard_shortcut(fake):
    from sorakit.display._esm import esm

    f = form(fake)
    assert "Ctrl+Enter" in f._esm and f._esm == esm("form")   # the Generate button's title says it
    assert "e.ctrlKey || e.metaKey" in f._esm                   # and Ctrl/Cmd+Enter submits
    from sorakit.catalog import load_catalog
    assert "Veo" not in load_catalog().providers["gemini"].title     # Gemini Omni is not a Veo model
