"""Relay mapping and registration: size <-> resolution/aspect, n results, configurable relays."""

import base64
import datetime as dt
import io
import json

import httpx
import pytest
from PIL import Image

from sorakit import VideoRequest, plan
from sorakit._exceptions import BadRequestError, ConfigurationError, NotFoundError, ValidationError
from sorakit.catalog import estimate, load_catalog
from sorakit.providers.relay import (RelayProvider, register_relay, registered_relays, relay_catalog,
                                     relay_config, relay_format, relay_size, unregister_relay)

# the process-wide registry is the deprecated spelling of Studio(relays=...); it must keep working
pytestmark = pytest.mark.filterwarnings("ignore:register_relay\\(\\) is deprecated:DeprecationWarning")

CAT = load_catalog()
BASE = "https://relay.example.com/v1"
KEY = "sk-relay-TESTKEY000000"
TODAY = dt.date(2026, 11, 15)


@pytest.fixture
def clean_registry():
    before = set(registered_relays())
    yield
    for name in set(registered_relays()) - before:
        unregister_relay(name)


def canonical(**kw):
    return RelayProvider(CAT.providers["relay"], base_url=BASE, api_key=KEY, **kw)


def mk(model="veo-3-fast", catalog=CAT, provider="relay", **kw):
    return plan(VideoRequest(kw.pop("prompt", "a lighthouse at dusk"), model=model, provider=provider, **kw),
                catalog, emulated=True, today=TODAY)


def resp(status, body=None, url=BASE + "/videos/generations/x", headers=None):
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("GET", url))


@pytest.mark.parametrize("size,res,aspect", [
    ((1280, 720), "720p", "16:9"), ((720, 1280), "720p", "9:16"), ((1080, 1080), "1080p", "1:1"),
    ((854, 480), "480p", "16:9"), ((864, 480), "480p", "16:9"), ((480, 854), "480p", "9:16"),
    ((1920, 1080), "1080p", "16:9"), ((1080, 1920), "1080p", "9:16"),
])
def test_size_maps_to_resolution_and_aspect_ratio(size, res, aspect):
    assert relay_format(*size) == (res, aspect)
    back = relay_size(res, aspect)
    assert relay_format(*back) == (res, aspect)


def test_reverse_mapping_is_exact_and_odd_sizes_are_refused():
    assert relay_size("720p", "16:9") == (1280, 720)
    assert relay_size("720p", "9:16") == (720, 1280)
    assert relay_size("1080p", "1:1") == (1080, 1080)
    assert relay_size("480p", "16:9") == (854, 480)
    for bad in [(1000, 700), (3840, 2160)]:
        with pytest.raises(ValueError):
            relay_format(*bad)


def test_create_body_for_each_relay_model():
    p = canonical()
    cases = [("veo-3-fast", "720x1280", 8, "veo3-fast", "720p", "9:16"),
             ("kling-3-standard", "1080x1080", 10, "kling-v3", "1080p", "1:1"),
             ("seedance-1-pro", "854x480", 5, "seedance-1-pro", "480p", "16:9"),
             ("sora-2", "1280x720", 12, "sora-2", "720p", "16:9")]
    for model, size, secs, rid, res, aspect in cases:
        req = p.build_create(mk(model, size=size, seconds=secs), "ref")
        assert str(req.url) == BASE + "/videos/generations"
        assert req.headers["authorization"] == f"Bearer {KEY}"
        body = json.loads(req.content)
        assert body == {"model": rid, "prompt": "a lighthouse at dusk", "duration": secs,
                        "resolution": res, "aspect_ratio": aspect, "n": 1}


def test_image_is_sent_as_a_data_uri_and_variations_as_n():
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(buf, "PNG")
    png = buf.getvalue()
    body = json.loads(canonical(webhook_url="https://hooks.example/x").build_create(
        mk(input_image=png, variations=3), "r").content)
    assert body["image"] == "data:image/png;base64," + base64.b64encode(png).decode()
    assert body["n"] == 3 and body["webhook_url"] == "https://hooks.example/x"


def test_n_results_become_one_state_per_video_with_variation_index():
    p = canonical()
    [s] = p.parse_create(mk(variations=2), resp(200, {"id": "gen_1", "status": "queued"}), "r")
    assert (s.provider_job_id, s.status) == ("gen_1", "submitted")
    assert str(p.build_poll("gen_1").url) == BASE + "/videos/generations/gen_1"
    [run] = p.parse_poll("gen_1", resp(200, {"id": "gen_1", "status": "processing", "progress": "40%"}))
    assert (run.status, run.progress) == ("in_progress", 40)
    states = p.parse_poll("gen_1", resp(200, {"id": "gen_1", "status": "completed", "data": [
        {"url": "https://cdn.example.net/a.mp4"}, {"url": "https://cdn.example.net/b.mp4"}]}))
    assert [(s.status, s.variation_index, s.video_url) for s in states] == [
        ("completed", 0, "https://cdn.example.net/a.mp4"), ("completed", 1, "https://cdn.example.net/b.mp4")]


def test_completed_without_results_and_failures_are_failed_states_not_crashes():
    p = canonical()
    [s] = p.parse_poll("g", resp(200, {"status": "completed", "data": []}))
    assert (s.status, s.error_code) == ("failed", "no_output")
    [s] = p.parse_poll("g", resp(200, {"status": "failed", "error": {"code": "content_policy", "message": "nope"}}))
    assert (s.status, s.error_code, s.error_message) == ("failed", "content_policy", "nope")
    [s] = p.parse_poll("g", resp(200, {"status": "failed", "error": "upstream said no"}))
    assert (s.error_code, s.error_message) == ("failed", "upstream said no")


def test_errors_are_read_tolerantly():
    p = canonical()
    with pytest.raises(BadRequestError) as e:
        p.parse_create(mk(), resp(400, {"error": {"message": "model not found", "type": "invalid_request_error"}}), "r")
    assert e.value.code == "invalid_request_error" and e.value.provider == "relay"
    with pytest.raises(NotFoundError) as e:
        p.parse_poll("x", resp(404, {"message": "task not exist"}))
    assert "task not exist" in str(e.value)


def test_download_sends_the_key_only_to_the_relay_itself():
    p = canonical()
    [cdn] = p.parse_poll("g", resp(200, {"status": "completed", "data": [{"url": "https://cdn.example.net/a.mp4"}]}))
    assert "authorization" not in p.build_download(cdn).headers
    [own] = p.parse_poll("g", resp(200, {"status": "completed", "data": [{"url": "/v1/files/a.mp4"}]}))
    req = p.build_download(own)
    assert str(req.url) == "https://relay.example.com/v1/files/a.mp4"
    assert req.headers["authorization"] == f"Bearer {KEY}"


def test_the_canonical_relay_needs_a_base_url():
    with pytest.raises(ConfigurationError, match="base URL"):
        RelayProvider(CAT.providers["relay"], api_key=KEY)


def test_register_a_new_api_style_relay_in_a_few_lines(clean_registry):
    cfg = register_relay(
        "newapi", base_url="https://newapi.example.org/v1", key_env="NEWAPI_KEY",
        models={"veo-3-fast": "veo-3.0-fast", "kling-3-standard": {"id": "kling-v3-std", "seconds": [5]}},
        paths={"create": "video/generations", "poll": "video/generations/{id}"},
        auth_header="x-api-key", auth_scheme=None,
        prices={"veo-3-fast": {"usd_per_second": 0.12, "as_of": "2026-11-01", "source": "newapi pricing page"}},
    )
    assert relay_config("newapi") is cfg
    cat = cfg.extend(CAT)
    info = cat.providers["newapi"]
    assert (info.protocol, info.base_url, info.key_env) == ("relay", "https://newapi.example.org/v1", ("NEWAPI_KEY",))
    assert "newapi" in cat.model("veo-3-fast").providers and "relay" in cat.model("veo-3-fast").providers
    assert "newapi" not in CAT.providers  # the shipped catalog is untouched

    p_veo = mk("veo-3-fast", catalog=cat, provider="newapi", size="1920x1080")
    assert p_veo.provider_model == "veo-3.0-fast" and p_veo.estimated_cost == pytest.approx(0.96)
    p_kling = mk("kling-3-standard", catalog=cat, provider="newapi")
    assert p_kling.offer.seconds == (5.0,) and p_kling.estimated_cost is None  # unknown, never 0
    with pytest.raises(ValidationError):
        mk("kling-3-standard", catalog=cat, provider="newapi", seconds=10)
    with pytest.raises(ValidationError):
        mk("sora-2", catalog=cat, provider="newapi")
    line = estimate(VideoRequest("x", model="kling-3-standard", provider="newapi"), cat, emulated=True).lines[0]
    assert line.subtotal is None and line.provider == "newapi"

    prov = RelayProvider(info, api_key="nk-TEST")  # configuration comes from the registry by name
    req = prov.build_create(p_veo, "r")
    assert str(req.url) == "https://newapi.example.org/v1/video/generations"
    assert req.headers["x-api-key"] == "nk-TEST" and "authorization" not in req.headers
    body = json.loads(req.content)
    assert (body["model"], body["resolution"], body["aspect_ratio"]) == ("veo-3.0-fast", "1080p", "16:9")
    assert str(prov.build_poll("t1").url) == "https://newapi.example.org/v1/video/generations/t1"
    # the emulator can stand in for it: same protocol, the emulator's base URL
    emu = RelayProvider(info, base_url="http://127.0.0.1:9/relay/v1", api_key="k")
    assert str(emu.build_create(p_veo, "r").url) == "http://127.0.0.1:9/relay/v1/video/generations"


def test_relay_catalog_includes_every_registered_relay(clean_registry):
    register_relay("r-one", base_url="https://one.example/v1", models={"sora-2": "sora-2-hd"})
    register_relay("r-two", base_url="https://two.example/v1", models={"seedance-1-pro": "doubao-seedance"})
    cat = relay_catalog(CAT)
    assert {"r-one", "r-two"} <= set(cat.providers)
    assert [o.provider for o in cat.offers(provider="r-two")] == ["r-two"]
    assert cat.model("sora-2").offer("r-one").served_until == CAT.model("sora-2").offer("relay").served_until
    only = relay_catalog(CAT, ["r-one"])
    assert "r-two" not in only.providers
    # registering again replaces, and extending an extended catalog does not duplicate offers
    register_relay("r-one", base_url="https://one.example/v2", models={"sora-2": "sora2"})
    again = relay_catalog(cat)
    assert [o.id for o in again.offers(provider="r-one")] == ["sora2"]


def test_limits_for_models_without_a_relay_offer_come_from_like(clean_registry):
    cfg = register_relay("hub", base_url="https://hub.example/v1", models={"veo-3": "veo3"})
    offer = cfg.extend(CAT).model("veo-3").offer("hub")
    assert offer.sizes == CAT.model("veo-3").offers[0].sizes and offer.prices == ()
    cfg = register_relay("hub", base_url="https://hub.example/v1", models={"veo-3": "veo3"}, like="runware")
    assert cfg.extend(CAT).model("veo-3").offer("hub").max_variations == 4


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="Bad Name"), "relay name"),
    (dict(name="openai"), "already a provider"),
    (dict(base_url="relay.example.com"), "http"),
    (dict(models={"nope-9": "x"}), "unknown model"),
    (dict(models={}), "models="),
    (dict(paths={"poll": "videos/generations"}), "{id}"),
    (dict(paths={"list": "x"}), "unknown path"),
    (dict(prices={"sora-2": {"usd_per_second": 0.1}}), "as_of and source"),
    (dict(prices={"sora-2": {"usd_per_second": 0, "as_of": "2026-01-01", "source": "x"}}), "positive"),
    (dict(prices={"veo-3": {"usd_per_second": 0.1, "as_of": "2026-01-01", "source": "x"}}), "does not serve"),
    (dict(models={"sora-2": {"id": "s", "sizes": ["1000x700"]}}), "resolution"),
    (dict(models={"sora-2": {"id": "s", "colour": "red"}}), "cannot override"),
    (dict(auth_header="bad header"), "header"),
])
def test_registration_mistakes_are_clear_configuration_errors(clean_registry, kwargs, match):
    args = dict(name="myrelay", base_url=BASE, models={"sora-2": "sora-2"})
    args.update(kwargs)
    with pytest.raises(ConfigurationError, match=match):
        register_relay(args.pop("name"), **args)
    assert "myrelay" not in registered_relays()
