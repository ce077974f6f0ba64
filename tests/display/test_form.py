"""The request form (``studio.form()``, one anywidget in every front end): only what the chosen
model and provider allow, a live estimate, readable validation messages beside their field, and a
submit that returns at once with a job card below. Driven from Python as its page drives it: the
page writes the user's entries into the synced ``value`` (here ``f.set``) and reads back what
Python computed (``choices``, ``errors``, ``cost``...)."""

import io
import warnings

import pytest
from PIL import Image

from sorakit import ValidationError
from sorakit.catalog import load_catalog
from sorakit.display import RequestForm, form


def _labels(pairs):
    return [label for label, _value in pairs]


def _values(pairs):
    return [value for _label, value in pairs]


def test_sizes_and_durations_are_exactly_what_the_offer_allows(fake):
    f = form(fake)
    cat = load_catalog()
    for model, provider in [("veo-3", "gemini"), ("veo-3", "runware"), ("kling-3-standard", "runware"),
                            ("seedance-1-pro", "runware"), ("sora-2", "openai")]:
        v = f.set(model=model, provider=provider)
        assert (v["model"], v["provider"]) == (model, provider)
        offer = cat.models[model].offer(provider)
        assert _values(f.choices["sizes"]) == list(offer.sizes)
        assert _values(f.choices["seconds"]) == [float(s) for s in offer.seconds]
        assert f.choices["max_variations"] == offer.max_variations
        assert v["size"] in offer.sizes and v["seconds"] in [float(s) for s in offer.seconds]
        # an entry the offer does not allow is replaced by one it does, never sent
        assert f.set(size="123x45")["size"] in offer.sizes
        assert f.set(seconds=3.5)["seconds"] in [float(s) for s in offer.seconds]


def test_provider_choice_follows_the_model(fake):
    f = form(fake)
    f.set(model="veo-3-fast")
    assert _values(f.providers) == ["gemini", "runware", "relay"]
    f.set(model="hailuo-02")
    assert _values(f.providers) == ["runware"] and f.value["provider"] == "runware"


def test_shut_down_model_is_marked(fake):
    f = form(fake)
    labels = dict((v, l) for l, v in f.models)
    assert labels["sora-2"] == "Sora 2 — shut down 2026-09-24"
    assert labels["veo-3"] == "Veo 3"
    f.set(model="sora-2")
    assert any("stopped 2026-09-24" in l for l in _labels(f.providers))
    # the emulator still serves it: allowed, and the form says so
    assert "emulator still serves it" in f.notice["text"]
    assert f.can_submit


def test_shut_down_model_cannot_be_submitted_to_a_real_provider(fake, monkeypatch):
    monkeypatch.setattr(fake, "emulated", lambda provider=None: False)
    f = form(fake)
    assert f.value["model"] != "sora-2"  # a live model is picked by default
    assert "sora-2" not in _values(f.models)  # shut down at every real provider: not offered
    v = f.set(model="sora-2", prompt="a fox")
    assert v["model"] != "sora-2" and f.submit() is not None  # the entry falls back to a served model
    assert not any(s["model"] == "sora-2" for s in fake.submitted)


def test_prompt_counter_counts_against_the_providers_limit(fake):
    f = form(fake)
    f.set(model="veo-3", provider="gemini", prompt="x" * 30)
    assert "30 / 1,024" in f.counter and not f.over
    f.set(prompt="x" * 1100)
    assert f.over
    assert "1024" in f.errors["prompt"] or "1,024" in f.errors["prompt"]
    f.set(provider="runware")
    assert "1,100 / 6,000" in f.counter and not f.over
    assert "prompt" not in f.errors


def test_estimate_updates_as_fields_change_and_unknown_is_never_zero(fake):
    f = form(fake)
    f.set(model="sora-2", provider="openai", seconds=4.0)
    assert "$0.40" in f.cost
    f.set(seconds=12.0)
    assert "$1.20" in f.cost
    f.set(model="kling-3-standard", provider="runware")
    f.set(seconds=10.0, audio=False)
    assert "$0.84" in f.cost
    f.set(audio=True)
    assert "$1.26" in f.cost
    f.set(variations=2)
    assert "$2.52" in f.cost
    f.set(model="hailuo-02")  # no price in the catalog
    assert "unknown" in f.cost and "$0.00</b>" not in f.cost


def test_remaining_budget_is_shown(fake):
    fake.budget.cap, fake.budget.spent, fake.budget.remaining = 5.0, 1.5, 3.5
    f = form(fake)
    assert "$3.50" in f.cost and "$5.00" in f.cost
    f.set(model="veo-3", provider="gemini")  # $3.20
    f.set(model="veo-3", provider="runware")
    f.set(variations=2)  # $6.40 > $3.50
    assert "exceed the budget" in f.cost


def test_negative_prompt_and_image_only_where_supported(fake):
    f = form(fake)
    f.set(model="veo-3", provider="gemini")
    assert f.choices["negative_prompt"] and f.choices["image"]
    f.set(model="sora-2", provider="runcrate")
    assert not f.choices["negative_prompt"] and not f.choices["image"]
    f.set(model="kling-3-standard", provider="relay")
    assert not f.choices["negative_prompt"]


def test_seed_blank_means_random_and_bad_seed_is_a_message(fake):
    f = form(fake)
    f.set(model="veo-3", provider="runware")
    assert f.choices["seed"] and "seed" not in f.request_fields()
    f.set(seed="abc")
    assert "seed" in f.errors["seed"].lower() and "integer" in f.errors["seed"]
    f.set(seed="42")
    assert "seed" not in f.errors and f.request_fields()["seed"] == 42
    v = f.set(provider="gemini")  # takes no seed
    assert not f.choices["seed"] and v["seed"] == ""


def test_validation_error_shows_in_the_form_not_as_a_traceback(fake, monkeypatch):
    f = form(fake)
    f.set(model="veo-3", provider="gemini", prompt="")
    press = lambda: f._on_front_end(f, {"type": "submit", "view": "v1"}, [])  # noqa: E731 - the page's click
    press()  # no exception escapes
    assert "prompt" in f.errors["prompt"].lower()

    def refuse(*a, **k):
        raise ValidationError("seconds", 9, ["8"], "veo-3 at gemini")
    monkeypatch.setattr(fake, "submit", refuse)
    f.set(prompt="a fox")
    press()
    text = f.errors["seconds"]
    assert text.startswith("Duration:") and "9 is not allowed" in text and "use 8" in text
    assert "Traceback" not in f.message.get("text", "")


def test_unexpected_errors_are_shown_too(fake, monkeypatch):
    f = form(fake)
    monkeypatch.setattr(fake, "submit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    f.set(prompt="a fox")
    f.submit()
    assert f.message == {"kind": "error", "text": "RuntimeError: disk full"}


def test_submit_returns_at_once_and_appends_a_card(fake):
    f = form(fake, model="veo-3-fast@runware")  # opened on this model: its default size and duration
    f._on_front_end(f, {"type": "submit", "view": "v1",
                        "value": {"prompt": "a corgi surfing", "seed": "7", "variations": 2}}, [])
    assert fake.submitted[-1] == {"prompt": "a corgi surfing", "model": "veo-3-fast", "provider": "runware",
                                  "size": "1280x720", "seconds": 8.0, "variations": 2, "seed": 7,
                                  "audio": True}
    assert len(f.tiles) == 1
    card = f.tiles[0]
    assert card["status"] == "pending" and card["active"]
    fake.advance(card["id"], status="completed", seed=7)
    assert "seed\u00a07" in f.tiles[0]["meta"]  # the seed used is shown after the run


def test_image_upload_is_sent_as_bytes(fake):
    f = form(fake)
    f.set(model="veo-3", provider="runware")
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(buf, "PNG")
    data = buf.getvalue()
    f.set_image(data, "first.png")
    assert "first.png" in f.image_info and "64×36" in f.image_info
    assert f.request_fields()["input_image"] == data
    f.set_image(None)
    assert "input_image" not in f.request_fields()


def test_remix_from_offers_completed_jobs_that_can_be_remixed(fake):
    remixable = fake.submit("a fox", model="sora-2", provider="openai")
    other = fake.submit("a cat", model="veo-3-fast", provider="gemini")
    fake.advance(remixable, status="completed")
    fake.advance(other, status="completed")
    f = form(fake)
    values = _values(f.remixes)
    assert remixable.id in values and other.id not in values
    v = f.set(remix_from=remixable.id, model="veo-3")
    assert v["model"] == "sora-2"  # a remix keeps its source's model (the page disables the choice)
    f.set(prompt="the fox, at night")
    f.submit()
    assert fake.submitted[-1]["action"] == "remix"
    assert "remix" in f.tiles[0]["specs"]


def test_the_retired_ipywidgets_form_names_give_the_anywidget_with_a_warning(fake):
    from sorakit.display import StudioForm

    with pytest.warns(DeprecationWarning, match="StudioForm is retired"):
        assert isinstance(StudioForm(fake), RequestForm)
    with pytest.warns(DeprecationWarning, match="ui='ipywidgets'"):
        assert isinstance(form(fake, ui="ipywidgets"), RequestForm)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert isinstance(form(fake), RequestForm)
