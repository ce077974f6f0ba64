"""The request form: only what the chosen model and provider allow, a live estimate, readable
validation messages, and a submit that returns at once with a card below."""

import datetime as dt
import io

from PIL import Image

from sorakit import ValidationError
from sorakit.catalog import load_catalog
from sorakit.display import form


def _labels(dropdown):
    return [label for label, _value in dropdown.options]


def _values(dropdown):
    return [value for _label, value in dropdown.options]


def test_sizes_and_durations_are_exactly_what_the_offer_allows(fake):
    f = form(fake)
    cat = load_catalog()
    for model, provider in [("veo-3", "gemini"), ("veo-3", "runware"), ("kling-3-standard", "runware"),
                            ("seedance-1-pro", "runware"), ("sora-2", "openai")]:
        f.model.value = model
        f.provider.value = provider
        offer = cat.models[model].offer(provider)
        assert _values(f.size) == list(offer.sizes)
        assert _values(f.seconds) == [float(s) for s in offer.seconds]
        assert f.variations.max == offer.max_variations
        assert f.size.value in offer.sizes


def test_provider_choice_follows_the_model(fake):
    f = form(fake)
    f.model.value = "veo-3-fast"
    assert _values(f.provider) == ["gemini", "runware", "relay"]
    f.model.value = "hailuo-02"
    assert _values(f.provider) == ["runware"]


def test_shut_down_model_is_marked(fake):
    f = form(fake)
    labels = dict((v, l) for l, v in f.model.options)
    assert labels["sora-2"] == "Sora 2 — shut down 2026-09-24"
    assert labels["veo-3"] == "Veo 3"
    f.model.value = "sora-2"
    assert any("stopped 2026-09-24" in l for l in _labels(f.provider))
    # the emulator still serves it: allowed, and the form says so
    assert "emulator still serves it" in f.model_note.value
    assert not f.submit_button.disabled


def test_shut_down_model_cannot_be_submitted_to_a_real_provider(fake, monkeypatch):
    monkeypatch.setattr(fake, "emulated", lambda provider=None: False)
    f = form(fake)
    assert f.model.value != "sora-2"  # a live model is picked by default
    f.model.value = "sora-2"
    assert "cannot be submitted" in f.model_note.value
    assert f.submit_button.disabled
    f.prompt.value = "a fox"
    assert f.submit() is None
    assert fake.submitted == []


def test_prompt_counter_counts_against_the_providers_limit(fake):
    f = form(fake)
    f.model.value, f.provider.value = "veo-3", "gemini"
    f.prompt.value = "x" * 30
    assert "30 / 1,024" in f.counter.value
    f.prompt.value = "x" * 1100
    assert "sk-over" in f.counter.value
    assert "1024" in f.errors["prompt"].value or "1,024" in f.errors["prompt"].value
    f.provider.value = "runware"
    assert "1,100 / 6,000" in f.counter.value and "sk-over" not in f.counter.value
    assert f.errors["prompt"].value == ""


def test_estimate_updates_as_fields_change_and_unknown_is_never_zero(fake):
    f = form(fake)
    f.model.value, f.provider.value = "sora-2", "openai"
    f.seconds.value = 4.0
    assert "$0.40" in f.cost.value
    f.seconds.value = 12.0
    assert "$1.20" in f.cost.value
    f.model.value, f.provider.value = "kling-3-standard", "runware"
    f.seconds.value = 10.0
    f.audio.value = False
    assert "$0.84" in f.cost.value
    f.audio.value = True
    assert "$1.26" in f.cost.value
    f.variations.value = 2
    assert "$2.52" in f.cost.value
    f.model.value = "hailuo-02"  # no price in the catalog
    assert "unknown" in f.cost.value and "$0.00</b>" not in f.cost.value


def test_remaining_budget_is_shown(fake):
    fake.budget.cap, fake.budget.spent, fake.budget.remaining = 5.0, 1.5, 3.5
    f = form(fake)
    assert "$3.50" in f.cost.value and "$5.00" in f.cost.value
    f.model.value, f.provider.value = "veo-3", "gemini"  # $3.20
    f.model.value, f.provider.value = "veo-3", "runware"
    f.variations.value = 2  # $6.40 > $3.50
    assert "exceed the budget" in f.cost.value


def test_negative_prompt_and_image_only_where_supported(fake):
    f = form(fake)
    f.model.value, f.provider.value = "veo-3", "gemini"
    assert f.neg_box.layout.display == "" and f.image_box.layout.display == ""
    f.model.value, f.provider.value = "sora-2", "runcrate"
    assert f.neg_box.layout.display == "none" and f.image_box.layout.display == "none"
    f.model.value, f.provider.value = "kling-3-standard", "relay"
    assert f.neg_box.layout.display == "none"


def test_seed_blank_means_random_and_bad_seed_is_a_message(fake):
    f = form(fake)
    f.model.value, f.provider.value = "veo-3", "runware"
    assert f.seed.placeholder == "random" and "seed" not in f.request_fields()
    f.seed.value = "abc"
    assert "seed" in f.errors["seed"].value.lower() and "integer" in f.errors["seed"].value
    f.seed.value = "42"
    assert f.errors["seed"].value == "" and f.request_fields()["seed"] == 42
    f.provider.value = "gemini"  # takes no seed
    assert f.seed.disabled


def test_validation_error_shows_in_the_form_not_as_a_traceback(fake, monkeypatch):
    f = form(fake)
    f.model.value, f.provider.value = "veo-3", "gemini"
    f.prompt.value = ""
    f.submit_button.click()  # no exception escapes
    assert "prompt" in f.errors["prompt"].value.lower()

    def refuse(*a, **k):
        raise ValidationError("seconds", 9, ["8"], "veo-3 at gemini")
    monkeypatch.setattr(fake, "submit", refuse)
    f.prompt.value = "a fox"
    f.submit_button.click()
    text = f.errors["seconds"].value
    assert text.startswith("Duration:") and "9 is not allowed" in text and "use 8" in text
    assert "Traceback" not in f.message.value


def test_unexpected_errors_are_shown_too(fake, monkeypatch):
    f = form(fake)
    monkeypatch.setattr(fake, "submit", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("disk full")))
    f.prompt.value = "a fox"
    f.submit_button.click()
    assert "RuntimeError: disk full" in f.message.value


def test_submit_returns_at_once_and_appends_a_card(fake):
    f = form(fake, model="veo-3-fast@runware")  # opened on this model: its default size and duration
    f.prompt.value = "a corgi surfing"
    f.seed.value = "7"
    f.variations.value = 2
    f.submit_button.click()
    assert fake.submitted[-1] == {"prompt": "a corgi surfing", "model": "veo-3-fast", "provider": "runware",
                                  "size": "1280x720", "seconds": 8.0, "variations": 2, "seed": 7,
                                  "audio": True}
    assert len(f.jobs.children) == 1
    card = f.jobs.children[0]
    assert card.row["status"] == "pending"
    fake.advance(card.job_id, status="completed", seed=7)
    assert "seed\u00a0<b>7</b>" in card.meta.value  # the seed used is shown after the run


def test_image_upload_is_sent_as_bytes(fake):
    f = form(fake)
    f.model.value, f.provider.value = "veo-3", "runware"
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(buf, "PNG")
    data = buf.getvalue()
    f.image.value = ({"name": "first.png", "type": "image/png", "size": len(data),
                      "content": memoryview(data),
                      "last_modified": dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)},)
    assert "first.png" in f.image_info.value and "64×36" in f.image_info.value
    assert f.request_fields()["input_image"] == data
    f.image_clear.click()
    assert "input_image" not in f.request_fields()


def test_remix_from_offers_completed_jobs_that_can_be_remixed(fake):
    remixable = fake.submit("a fox", model="sora-2", provider="openai")
    other = fake.submit("a cat", model="veo-3-fast", provider="gemini")
    fake.advance(remixable, status="completed")
    fake.advance(other, status="completed")
    f = form(fake)
    values = _values(f.remix_from)
    assert remixable.id in values and other.id not in values
    f.remix_from.value = remixable.id
    assert f.model.value == "sora-2" and f.model.disabled and f.submit_button.description == "Remix"
    f.prompt.value = "the fox, at night"
    f.submit_button.click()
    assert fake.submitted[-1]["action"] == "remix"
    assert f.jobs.children[0].row["action"] == "remix"
