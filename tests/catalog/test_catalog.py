"""The shipped catalog: every model the protocols document, live/shut-down status, honest prices."""

import datetime as dt
import math

import pytest

from sorakit.catalog import load_catalog, parse_size, resolution_tier

CAT = load_catalog()
SHUTDOWN = dt.date(2026, 9, 24)


def test_documented_models_are_present():
    expected = {"sora-2", "sora-2-pro", "veo-3", "veo-3-fast", "veo-3.1", "veo-3.1-fast", "gemini-omni-flash",
                "kling-3-standard", "seedance-1-pro", "seedance-1-pro-fast", "hailuo-02"}
    assert expected <= set(CAT.models)


def test_every_provider_is_described():
    assert set(CAT.providers) == {"openai", "runware", "runcrate", "relay", "gemini", "vertex"}
    prefixes = [p.emulator_prefix for p in CAT.providers.values()]
    assert len(set(prefixes)) == len(prefixes), "each protocol needs its own emulator prefix"


def test_sora_is_shut_down_everywhere_on_the_date():
    for name in ("sora-2", "sora-2-pro"):
        m = CAT.model(name)
        assert m.status == "shut_down" and m.shut_down == SHUTDOWN
        for offer in m.offers:
            assert offer.served_until == SHUTDOWN
            assert offer.serves_on(dt.date(2026, 9, 23))
            assert not offer.serves_on(SHUTDOWN)


def test_live_models_have_a_live_offer_today():
    today = dt.date(2026, 11, 22)
    for m in CAT:
        if m.status == "live":
            assert any(o.serves_on(today) for o in m.offers), m.name


def test_prices_carry_date_and_source_and_are_positive():
    for offer in CAT.offers():
        for rule in offer.prices:
            assert (rule.usd_per_second or rule.usd_per_video_token) > 0
            assert (rule.usd_per_second is None) != (rule.usd_per_video_token is None)
            assert isinstance(rule.as_of, dt.date)
            assert rule.source.strip()


@pytest.mark.parametrize("model,provider,size,audio,rate", [
    ("sora-2", "openai", "1280x720", True, 0.10),
    ("sora-2-pro", "openai", "1280x720", True, 0.30),
    ("sora-2-pro", "openai", "1792x1024", True, 0.50),
    ("sora-2-pro", "runware", "1024x1792", True, 0.50),
    ("veo-3", "runware", "1280x720", False, 0.20),
    ("veo-3", "runware", "1280x720", True, 0.40),
    ("veo-3-fast", "gemini", "1280x720", True, 0.15),
    ("veo-3", "gemini", "1920x1080", True, 0.40),
    ("kling-3-standard", "runware", "1280x720", True, 0.126),
    ("seedance-1-pro", "runware", "1920x1080", False, 0.0968),
])
def test_documented_prices(model, provider, size, audio, rate):
    w, h = parse_size(size)
    rule = CAT.model(model).offer(provider).price(w, h, audio)
    assert rule is not None and math.isclose(rule.usd_per_second, rate)


@pytest.mark.parametrize("model,provider,size", [
    ("seedance-1-pro", "runware", "864x480"),   # only the 1080p price is published
    ("hailuo-02", "runware", "1920x1080"),      # unconfirmed
    ("veo-3.1", "runware", "1280x720"),         # Runware's price is not in a maintained source
])
def test_unknown_prices_are_unknown_not_zero(model, provider, size):
    w, h = parse_size(size)
    assert CAT.model(model).offer(provider).price(w, h, False) is None


def test_a_per_token_price_has_no_per_second_figure_before_the_job():
    """Gemini Omni bills output video tokens: its rule is known, its per-second estimate is not."""
    rule = CAT.model("gemini-omni-1.2-flash").offer("gemini").price(1280, 720, True)
    assert rule is not None and rule.per_token and rule.usd_per_video_token == 1.2e-05
    assert rule.usd_per_second is None


def test_defaults_are_allowed_values():
    for o in CAT.offers():
        assert o.default_size in o.sizes and o.default_seconds in o.seconds
        assert 1 <= o.max_variations <= 4
        assert o.audio in ("always", "optional", "never")


def test_resolution_tiers():
    assert resolution_tier(1280, 720) == "720p"
    assert resolution_tier(720, 1280) == "720p"
    assert resolution_tier(1792, 1024) == "1080p"
    assert resolution_tier(864, 480) == "480p"
    assert resolution_tier(1920, 1080) == "1080p"


def test_catalog_table_has_one_row_per_offer():
    df = CAT.df
    assert len(df) == len(CAT.offers())
    row = df[(df.model == "hailuo-02") & (df.provider == "runware")].iloc[0]
    assert row.price == "unknown"


def test_custom_catalog_file(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("""
[providers.openai]
title = "x"
protocol = "openai"
emulator_prefix = "/openai/v1"
[models.m1]
title = "M1"
[[models.m1.offers]]
provider = "openai"
id = "m1-id"
sizes = ["1280x720"]
seconds = [5]
prices = [{ usd_per_second = 0.01, as_of = 2026-01-01, source = "test" }]
""")
    cat = load_catalog(path)
    assert cat.model("m1").offer("openai").id == "m1-id"


def test_catalog_naming_unknown_provider_is_rejected(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("""
[models.m1]
[[models.m1.offers]]
provider = "nowhere"
id = "x"
sizes = ["1280x720"]
seconds = [5]
""")
    with pytest.raises(ValueError, match="nowhere"):
        load_catalog(path)


def test_the_default_model_is_live_today_with_a_confirmed_status():
    """One default model for every entry point, and one a user can actually run today."""
    import datetime as dt

    from sorakit import VideoRequest, plan

    cat = load_catalog()
    today = dt.datetime.now(dt.timezone.utc).date()
    model = cat.models[cat.default_model]
    assert model.status == "live"
    live = [o for o in model.offers if o.serves_on(today) and "status" not in o.unconfirmed]
    assert live, f"{cat.default_model}: no offer is live with a confirmed status"
    assert VideoRequest("a fox").model is None                      # filled in by the plan
    p = plan(VideoRequest("a red fox in the snow"), cat)
    assert p.model.name == cat.default_model and p.offer in live and p.price is not None
