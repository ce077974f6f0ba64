"""Validation before any network call: each error names the field, the value and what is allowed."""

import base64
import datetime as dt
import io

import pytest
from PIL import Image

from sorakit import ValidationError, VideoRequest
from sorakit.catalog import estimate, plan

TODAY = dt.date(2026, 11, 22)
BEFORE = dt.date(2026, 9, 1)


def png(w, h) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 30, 30)).save(buf, "PNG")
    return buf.getvalue()


def rejects(field, **kw):
    emulated = kw.pop("emulated", False)
    today = kw.pop("today", TODAY)
    with pytest.raises(ValidationError) as info:
        plan(VideoRequest(**kw), emulated=emulated, today=today)
    assert info.value.field == field, str(info.value)
    text = str(info.value)
    assert field in text and "allowed" in text
    return info.value


def test_defaults_filled_in():
    p = plan(VideoRequest("a red fox", model="veo-3-fast", provider="runware"), today=TODAY)
    assert (p.size, p.seconds, p.audio, p.variations, p.provider_model) == ("1280x720", 8.0, True, 1, "google:3@1")
    assert p.estimated_cost == pytest.approx(1.20)


def test_provider_defaults_to_first_live_offer():
    # Google shut veo-3.0-generate-001 down at the Gemini API on 2026-06-30: runware comes first now
    assert plan(VideoRequest("x" * 5, model="veo-3"), today=TODAY).offer.provider == "runware"
    assert plan(VideoRequest("x" * 5, model="veo-3"), today=dt.date(2026, 6, 29)).offer.provider == "gemini"
    assert plan(VideoRequest("x" * 5, model="kling-3-standard"), today=TODAY).offer.provider == "runware"


def test_unknown_model_suggests():
    e = rejects("model", prompt="hi", model="veo-3-fats")
    assert "veo-3-fast" in str(e)


def test_unknown_provider_lists_providers():
    e = rejects("provider", prompt="hi", model="veo-3", provider="replicate")
    assert "gemini" in str(e.allowed)


def test_model_not_offered_by_provider():
    e = rejects("provider", prompt="hi", model="veo-3", provider="openai")
    assert e.allowed == ["gemini", "runware", "runcrate"]


def test_sora_after_shutdown_is_refused_live_but_emulated_ok():
    e = rejects("model", prompt="hi", model="sora-2", provider="openai")
    assert "2026-09-24" in str(e) and "emulator" in str(e)
    for provider in ("openai", "runware", "runcrate"):
        rejects("model", prompt="hi", model="sora-2", provider=provider)
        p = plan(VideoRequest("hi", model="sora-2", provider=provider), emulated=True, today=TODAY)
        assert p.emulated
    assert plan(VideoRequest("hi", model="sora-2", provider="openai"), today=BEFORE).offer.id == "sora-2"


def test_check_dates_false_skips_shutdown_dates_without_claiming_emulation():
    # a live job sent before the shutdown, planned again from its ledger row after it
    p = plan(VideoRequest("hi", model="sora-2", provider="openai"), today=TODAY, check_dates=False)
    assert p.offer.id == "sora-2" and not p.emulated
    assert plan(VideoRequest("hi", model="sora-2"), today=TODAY, check_dates=False).provider.name == "openai"
    # every other check still runs
    e = rejects("size", prompt="hi", model="sora-2", provider="openai", size="1920x1080", emulated=True)
    with pytest.raises(ValidationError) as info:
        plan(VideoRequest("hi", model="sora-2", provider="openai", size="1920x1080"), today=TODAY, check_dates=False)
    assert str(info.value) == str(e)


def test_size_not_offered():
    e = rejects("size", prompt="hi", model="sora-2", provider="openai", size="1920x1080", emulated=True)
    assert e.allowed == ["720x1280", "1280x720"]


def test_size_malformed():
    rejects("size", prompt="hi", model="veo-3", size="big")


def test_width_without_height():
    e = rejects("height", prompt="hi", model="veo-3", width=1280)
    assert "width was given without height" in str(e)


def test_width_height_pair_works_and_must_agree_with_size():
    p = plan(VideoRequest("hi", model="veo-3", width=720, height=1280), today=TODAY)
    assert p.size == "720x1280"
    rejects("size", prompt="hi", model="veo-3", width=720, height=1280, size="1280x720")


def test_seconds_as_string_or_number_but_only_allowed_values():
    assert plan(VideoRequest("hi", model="sora-2", seconds="8"), emulated=True, today=TODAY).seconds == 8
    assert plan(VideoRequest("hi", model="sora-2", seconds=12), emulated=True, today=TODAY).seconds == 12
    e = rejects("seconds", prompt="hi", model="sora-2", seconds=10, emulated=True)
    assert e.allowed == ["4", "8", "12"]
    rejects("seconds", prompt="hi", model="sora-2", seconds="eight", emulated=True)
    rejects("seconds", prompt="hi", model="sora-2", seconds=True, emulated=True)


@pytest.mark.parametrize("provider,lo,hi", [("openai", 1, 32000), ("runware", 2, 6000)])
def test_prompt_length_limits_per_provider(provider, lo, hi):
    kw = dict(model="sora-2", provider=provider, emulated=True)
    plan(VideoRequest("x" * lo, model="sora-2", provider=provider), emulated=True, today=TODAY)
    plan(VideoRequest("x" * hi, model="sora-2", provider=provider), emulated=True, today=TODAY)
    e = rejects("prompt", prompt="x" * (hi + 1), **kw)
    assert f"{lo} to {hi}" in str(e)
    rejects("prompt", prompt="x" * (lo - 1) if lo > 1 else "   ", **kw)


def test_seed_where_not_accepted_and_out_of_range():
    e = rejects("seed", prompt="hi", model="veo-3.1", provider="gemini", seed=1, emulated=True)
    assert "runware, vertex" in str(e)
    # runware-sdk schemas: klingai:kling-video@3-standard has no seed field
    rejects("seed", prompt="hi", model="kling-3-standard", provider="runware", seed=1)
    rejects("seed", prompt="hi", model="veo-3-fast", provider="runware", seed=-1)
    rejects("seed", prompt="hi", model="veo-3-fast", provider="runware", seed=2**32)
    assert plan(VideoRequest("hi", model="veo-3-fast", provider="runware", seed=7), today=TODAY).seed == 7


def test_variations_limits():
    rejects("variations", prompt="hi", model="sora-2", variations=2, emulated=True)
    rejects("variations", prompt="hi", model="veo-3-fast", provider="runware", variations=5)
    p = plan(VideoRequest("hi", model="veo-3-fast", provider="runware", variations=3), today=TODAY)
    assert p.estimated_cost == pytest.approx(3 * 8 * 0.15)


def test_audio_rules():
    rejects("audio", prompt="hi", model="sora-2", audio=False, emulated=True)
    rejects("audio", prompt="hi", model="seedance-1-pro", audio=True)
    p = plan(VideoRequest("hi", model="veo-3", provider="runware", audio=False), today=TODAY)
    assert p.rate == pytest.approx(0.20)


def test_negative_prompt_only_where_supported():
    rejects("negative_prompt", prompt="hi", model="sora-2", negative_prompt="blur", emulated=True)
    # runware-sdk schemas: the google:3@* Veo models take no negativePrompt
    rejects("negative_prompt", prompt="hi", model="veo-3.1", provider="runware", negative_prompt="blur")
    p = plan(VideoRequest("hi", model="kling-3-standard", negative_prompt=" blur "), today=TODAY)
    assert p.negative_prompt == "blur"


def test_input_image_must_match_size_at_openai():
    e = rejects("input_image", prompt="hi", model="sora-2", size="1280x720", input_image=png(640, 360), emulated=True)
    assert "1280x720" in str(e)
    p = plan(VideoRequest("hi", model="sora-2", size="1280x720", input_image=png(1280, 720)), emulated=True, today=TODAY)
    assert p.input_image_mime == "image/png" and len(p.input_image_sha256) == 64


def test_input_image_other_providers_any_size_and_forms(tmp_path):
    f = tmp_path / "frame.png"
    f.write_bytes(png(300, 200))
    for image in (f, str(f), png(300, 200), "data:image/png;base64," + base64.b64encode(png(30, 20)).decode()):
        plan(VideoRequest("hi", model="veo-3-fast", provider="runware", input_image=image), today=TODAY)
    url = plan(VideoRequest("hi", model="veo-3-fast", provider="runware", input_image="https://example.com/a.png"), today=TODAY)
    assert url.input_image_url == "https://example.com/a.png" and url.input_image is None


def test_unreadable_images():
    rejects("input_image", prompt="hi", model="veo-3", input_image=b"not an image")
    rejects("input_image", prompt="hi", model="veo-3", input_image="/no/such/file.png")
    rejects("input_image", prompt="hi", model="veo-3", input_image=12)


def test_frame_image_with_source_video():
    rejects("input_image", prompt="hi", model="sora-2", action="remix", source_video_id="video_1",
            input_image=png(720, 1280), emulated=True)


def test_remix_needs_capability_and_source():
    rejects("source_video_id", prompt="hi", model="sora-2", action="remix", emulated=True)
    rejects("action", prompt="hi", model="veo-3", action="remix", source_video_id="v")
    rejects("action", prompt="hi", model="sora-2", source_video_id="video_1", emulated=True)
    rejects("action", prompt="hi", model="sora-2", action="upscale", emulated=True)
    p = plan(VideoRequest("hi", model="sora-2", action="remix", source_video_id="video_1"), emulated=True, today=TODAY)
    assert p.action == "remix"


def test_estimate_batch_breakdown_and_unknown():
    est = estimate([
        VideoRequest("a fox", model="veo-3-fast", provider="runware", variations=2),
        VideoRequest("a bear", model="kling-3-standard", seconds=10),
        VideoRequest("a cat", model="hailuo-02"),
    ], today=TODAY)
    assert [l.subtotal for l in est.lines] == [pytest.approx(2.4), pytest.approx(0.84), None]
    assert est.total == pytest.approx(3.24)
    assert est.unknown == 1 and not est.complete
    assert "unknown" in str(est) and "unknown price" in est.summary()
    df = est.df
    assert list(df.subtotal.isna()) == [False, False, True]
    assert "<table>" in est._repr_html_()
