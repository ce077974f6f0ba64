"""Runcrate mapping: requests built from plans, responses read into JobStates, keys checked early."""

import json

import httpx
import pytest

from sorakit import VideoRequest, plan
from sorakit._exceptions import (AuthenticationError, BadRequestError, ConfigurationError, RateLimitError,
                                 ServerError, ValidationError)
from sorakit.catalog import load_catalog
from sorakit.providers.runcrate import RuncrateProvider, aspect_ratio, check_api_key

CAT = load_catalog()
INFO = CAT.providers["runcrate"]
KEY = "rc_live_TEST"


def provider(**kw):
    return RuncrateProvider(INFO, api_key=KEY, **kw)


def sora(**kw):
    return plan(VideoRequest(kw.pop("prompt", "a red fox in snow"), model=kw.pop("model", "sora-2"),
                             provider="runcrate", **kw), emulated=True)


def resp(status, body=None, *, headers=None, text=None):
    req = httpx.Request("GET", "https://api.runcrate.ai/v1/videos/x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=req)
    return httpx.Response(status, json=body, headers=headers, request=req)


def test_create_request_has_int_duration_exact_size_and_bearer_key():
    req = provider().build_create(sora(seconds="8", size="720x1280"), "ref-1")
    assert req.method == "POST"
    assert str(req.url) == "https://api.runcrate.ai/v1/videos"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(req.content)
    assert body == {"model": "openai/sora-2", "prompt": "a red fox in snow", "duration": 8,
                    "width": 720, "height": 1280, "aspect_ratio": "9:16"}
    assert isinstance(body["duration"], int)


def test_pro_model_id_and_landscape_aspect():
    body = json.loads(provider().build_create(sora(model="sora-2-pro", size="1792x1024", seconds=12), "r").content)
    assert (body["model"], body["duration"], body["aspect_ratio"]) == ("openai/sora-2-pro", 12, "16:9")
    assert aspect_ratio(1080, 1080) == "1:1"


def test_durations_other_than_4_8_12_are_refused_by_the_plan():
    with pytest.raises(ValidationError) as e:
        sora(seconds=10)
    assert e.value.field == "seconds" and "4, 8, 12" in str(e.value)


@pytest.mark.parametrize("bad", ["sk-proj-abcdefghijklmnop", "rc_test_abcdefghijkl", "rc_live_ABC DEF", " rc_live_X\n"])
def test_malformed_key_is_a_configuration_error_that_never_shows_the_key(bad):
    with pytest.raises(ConfigurationError) as e:
        RuncrateProvider(INFO, api_key=bad)
    text = str(e.value)
    assert "RUNCRATE_API_KEY" in text
    assert bad.strip() not in text and bad not in text
    assert "rc_live_" in text or "whitespace" in text


def test_good_key_and_no_key_are_accepted_and_repr_hides_the_key():
    p = provider()
    assert KEY not in repr(p)
    check_api_key(INFO, None)  # the engine reports a missing key itself
    RuncrateProvider(INFO, api_key="whatever", check_key=False)


def test_create_answer_and_poll_statuses():
    p = provider()
    [s] = p.parse_create(sora(), resp(200, {"id": "vid_1", "status": "queued"}), "r")
    assert (s.provider_job_id, s.status, s.provider_video_id) == ("vid_1", "queued", "vid_1")
    [s] = p.parse_create(sora(), resp(200, {"id": "vid_1"}), "r")
    assert s.status == "submitted"
    assert p.build_poll("vid_1").url == "https://api.runcrate.ai/v1/videos/vid_1"
    seen = [p.parse_poll("vid_1", resp(200, {"id": "vid_1", "status": st, "progress": 40}))[0].status
            for st in ("queued", "processing", "completed", "failed")]
    assert seen == ["queued", "in_progress", "completed", "failed"]
    [done] = p.parse_poll("vid_1", resp(200, {"id": "vid_1", "status": "completed"}))
    assert done.terminal and done.progress == 100


def test_failed_job_tolerates_error_shapes():
    p = provider()
    [a] = p.parse_poll("v", resp(200, {"id": "v", "status": "failed", "error": {"code": "moderation_blocked",
                                                                                "message": "blocked"}}))
    assert (a.error_code, a.error_message) == ("moderation_blocked", "blocked")
    [b] = p.parse_poll("v", resp(200, {"id": "v", "status": "failed", "error": "upstream timed out"}))
    assert (b.error_code, b.error_message) == ("failed", "upstream timed out")
    [c] = p.parse_poll("v", resp(200, {"status": "failed"}))
    assert c.provider_job_id == "v" and c.error_message


def test_download_uses_the_download_endpoint_with_the_key():
    p = provider()
    [s] = p.parse_poll("vid_9", resp(200, {"id": "vid_9", "status": "completed"}))
    req = p.build_download(s)
    assert str(req.url) == "https://api.runcrate.ai/v1/videos/vid_9/download"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    with pytest.raises(ValueError):
        p.build_download(s, "thumbnail")


@pytest.mark.parametrize("status,body,cls,code,message", [
    (400, {"error": {"message": "bad duration", "code": "invalid_duration"}}, BadRequestError, "invalid_duration", "bad duration"),
    (401, {"error": "invalid api key"}, AuthenticationError, None, "invalid api key"),
    (429, {"message": "slow down", "code": "rate_limited"}, RateLimitError, "rate_limited", "slow down"),
    (422, {"detail": [{"msg": "field required", "loc": ["body", "prompt"]}]}, BadRequestError, "validation_error", "field required"),
    (502, None, ServerError, None, "Bad Gateway"),
])
def test_error_envelopes_are_read_tolerantly(status, body, cls, code, message):
    r = resp(status, body, headers={"retry-after": "3", "x-request-id": "req_7"}) if body is not None else \
        resp(status, text="", headers={"retry-after": "3"})
    with pytest.raises(cls) as e:
        provider().parse_create(sora(), r, "ref")
    assert e.value.code == code and message in e.value.message
    assert e.value.provider == "runcrate" and KEY not in str(e.value)
    if status == 429:
        assert e.value.retry_after == 3 and e.value.request_id == "req_7"


def test_not_idempotent_and_no_reconcile():
    p = provider()
    assert not p.create_is_idempotent and not p.supports_reconcile
    with pytest.raises(NotImplementedError):
        p.build_list()


def test_key_check_applies_to_runcrates_host_not_to_the_emulator():
    RuncrateProvider(INFO, base_url="http://127.0.0.1:8000/runcrate/v1", api_key="sk-emulator-local")
    with pytest.raises(ConfigurationError):
        RuncrateProvider(INFO, base_url="https://api.runcrate.ai/v1/", api_key="sk-emulator-local")
    with pytest.raises(ConfigurationError):
        RuncrateProvider(INFO, base_url="http://127.0.0.1:8000/runcrate/v1", api_key="bad", check_key=True)


def test_runcrate_base_is_the_sdks_inference_host():
    """runcrate-sdk 0.5.0 posts ``/v1/videos`` to ``https://api.runcrate.ai``: the catalog's base
    URL is that host plus ``/v1`` (it was ``https://runcrate.com/v1``, a host that is not its API)."""
    config = pytest.importorskip("runcrate._config")
    assert INFO.base_url == config._DEFAULT_INFERENCE_URL + "/v1"


def test_image_to_video_is_sent_as_image_url(tmp_path):
    """Runcrate's docs name ``image_url`` for image-to-video; an overlay that grants the capability
    makes the plan carry an image, which goes out as a data URI (bytes) or as the URL given."""
    import base64
    import io

    from PIL import Image

    overlay = tmp_path / "i2v.toml"
    overlay.write_text('[[models."veo-3".offers]]\nprovider = "runcrate"\n'
                       'capabilities = ["text-to-video", "image-to-video"]\n')
    cat = load_catalog(overlays=[overlay])
    buf = io.BytesIO()
    Image.new("RGB", (1280, 720), (10, 20, 30)).save(buf, "PNG")
    p = plan(VideoRequest("a drone shot", model="veo-3", provider="runcrate", input_image=buf.getvalue()), cat,
             emulated=True)
    body = json.loads(provider().build_create(p, "r").content)
    assert body["image_url"].startswith("data:image/png;base64,")
    assert base64.b64decode(body["image_url"].split(",", 1)[1]) == buf.getvalue()
    assert (body["model"], body["duration"]) == ("google/veo-3.0", 8)
    p = plan(VideoRequest("a drone shot", model="veo-3", provider="runcrate",
                          input_image="https://example.com/frame.png"), cat, emulated=True)
    assert json.loads(provider().build_create(p, "r").content)["image_url"] == "https://example.com/frame.png"
