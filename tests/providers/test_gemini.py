"""Gemini Veo mapping: operations, safety-filtered results, key header only where it belongs."""

import base64
import datetime as dt
import io
import json

import httpx
import pytest
from PIL import Image

from sorakit import VideoRequest, plan
from sorakit._exceptions import BadRequestError, PermissionDenied, RateLimitError, ValidationError
from sorakit.catalog import load_catalog
from sorakit.providers.gemini import FILE_LIFETIME_S, GeminiProvider

CAT = load_catalog()
INFO = CAT.providers["gemini"]
KEY = "test-gemini-key-not-real"
BASE = "https://generativelanguage.googleapis.com/v1beta"
OP = "models/veo-3.0-fast-generate-001/operations/op123"
DATE = "Sun, 15 Nov 2026 12:00:00 GMT"


def prov(**kw):
    return GeminiProvider(INFO, api_key=KEY, **kw)


def mk(model="veo-3-fast", **kw):
    # Google shut the Developer-API Veo models down (2026-06-30 / 2026-10-22); relays and the emulator
    # still speak this wire shape, so the mapping is tested on an emulated plan
    return plan(VideoRequest(kw.pop("prompt", "a hummingbird in slow motion"), model=model, provider="gemini", **kw),
                emulated=True)


def resp(status, body, headers=None):
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("GET", BASE + "/" + OP))


def done(samples=None, **extra):
    gen = {} if samples is None else {"generatedSamples": [{"video": {"uri": u}} for u in samples]}
    gen.update(extra)
    return {"name": OP, "done": True, "response": {"@type": "type.googleapis.com/x",
                                                   "generateVideoResponse": gen}}


def test_create_request_shape_and_key_header():
    req = prov().build_create(mk(size="720x1280", negative_prompt="blur"), "ref")
    assert req.method == "POST"
    assert str(req.url) == BASE + "/models/veo-3.0-fast-generate-001:predictLongRunning"
    assert req.headers["x-goog-api-key"] == KEY and "authorization" not in req.headers
    assert json.loads(req.content) == {
        "instances": [{"prompt": "a hummingbird in slow motion"}],
        "parameters": {"aspectRatio": "9:16", "resolution": "720p", "durationSeconds": 8,
                       "sampleCount": 1, "negativePrompt": "blur"}}


def test_1080p_duration_person_generation_and_image():
    buf = io.BytesIO()
    Image.new("RGB", (32, 18), (0, 90, 200)).save(buf, "JPEG")
    body = json.loads(prov(person_generation="allow_adult").build_create(
        mk("veo-3.1", size="1920x1080", seconds=6, input_image=buf.getvalue()), "r").content)
    assert body["parameters"] == {"aspectRatio": "16:9", "resolution": "1080p", "durationSeconds": 6,
                                  "sampleCount": 1, "personGeneration": "allow_adult"}
    assert body["instances"][0]["image"] == {"bytesBase64Encoded": base64.b64encode(buf.getvalue()).decode(),
                                             "mimeType": "image/jpeg"}


def test_an_image_url_is_refused_before_sending():
    with pytest.raises(ValidationError, match="inline"):
        prov().build_create(mk(input_image="https://example.com/a.png"), "r")


def test_seed_and_audio_off_are_refused_with_the_reason():
    with pytest.raises(ValidationError) as e:
        mk(seed=42)
    assert e.value.field == "seed" and "Vertex AI" in str(e.value) and "API-key mode" in str(e.value)
    with pytest.raises(ValidationError) as e:
        mk(audio=False)
    assert e.value.field == "audio" and "Vertex AI" in str(e.value)
    assert mk(audio=True).audio is True


def test_operation_lifecycle():
    p = prov()
    [s] = p.parse_create(mk(), resp(200, {"name": OP, "done": False}), "r")
    assert (s.provider_job_id, s.status) == (OP, "submitted")
    poll = p.build_poll(OP)
    assert str(poll.url) == f"{BASE}/{OP}" and poll.headers["x-goog-api-key"] == KEY
    [run] = p.parse_poll(OP, resp(200, {"name": OP, "done": False}))
    assert run.status == "in_progress" and not run.terminal
    uri = BASE + "/files/abc123:download?alt=media"
    [ok] = p.parse_poll(OP, resp(200, done([uri]), headers={"date": DATE}))
    assert (ok.status, ok.video_url, ok.provider_video_id, ok.progress) == ("completed", uri, "files/abc123", 100)
    created = dt.datetime(2026, 11, 15, 12, tzinfo=dt.timezone.utc).timestamp()
    assert ok.video_url_expires_at == created + FILE_LIFETIME_S


def test_several_samples_are_variations():
    states = prov().parse_poll(OP, resp(200, done([BASE + "/files/a:download", BASE + "/files/b:download"])))
    assert [(s.variation_index, s.provider_video_id) for s in states] == [(0, "files/a"), (1, "files/b")]


def test_safety_filtered_result_is_a_failed_state_never_an_index_error():
    reasons = ["Video generation was blocked: a person's likeness (code 58061214)."]
    for body in (done(raiMediaFilteredCount=1, raiMediaFilteredReasons=reasons),
                 done([], raiMediaFilteredCount=1, raiMediaFilteredReasons=reasons)):
        [s] = prov().parse_poll(OP, resp(200, body))
        assert (s.status, s.error_code) == ("failed", "safety_filtered")
        assert s.error_message == reasons[0] and s.terminal
    [s] = prov().parse_poll(OP, resp(200, done(raiMediaFilteredCount=1)))
    assert s.error_code == "safety_filtered" and "safety filter" in s.error_message
    [s] = prov().parse_poll(OP, resp(200, {"name": OP, "done": True, "response": {}}))
    assert (s.status, s.error_code) == ("failed", "no_output")


def test_partly_filtered_keeps_the_delivered_video():
    states = prov().parse_poll(OP, resp(200, done([BASE + "/files/a:download"], raiMediaFilteredCount=1,
                                                  raiMediaFilteredReasons=["celebrity"])))
    assert [(s.status, s.variation_index) for s in states] == [("completed", 0), ("failed", 1)]


def test_operation_error_is_a_failed_state_with_its_code():
    [s] = prov().parse_poll(OP, resp(200, {"name": OP, "done": True,
                                           "error": {"code": 13, "message": "internal error", "status": "INTERNAL"}}))
    assert (s.status, s.error_code, s.error_message) == ("failed", "INTERNAL", "internal error")


@pytest.mark.parametrize("status,gstatus,reason,cls", [(400, "INVALID_ARGUMENT", "FIELD_INVALID", BadRequestError),
                                                       (429, "RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED", RateLimitError),
                                                       (403, "PERMISSION_DENIED", "SERVICE_DISABLED", PermissionDenied)])
def test_google_error_envelope(status, gstatus, reason, cls):
    body = {"error": {"code": status, "message": "nope", "status": gstatus,
                      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]}}
    with pytest.raises(cls) as e:
        prov().parse_create(mk(), resp(status, body), "r")
    assert e.value.code == gstatus and "nope" in e.value.message and reason in e.value.message
    assert KEY not in str(e.value) and e.value.provider == "gemini"


def test_a_wrong_key_is_an_authentication_error_though_google_answers_400():
    """Google answers a wrong key with 400 INVALID_ARGUMENT + ErrorInfo API_KEY_INVALID (the published
    example is tests/published/gemini-veo/wrong-key-400.json); code catching AuthenticationError sees it."""
    from sorakit import AuthenticationError

    body = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                      "status": "INVALID_ARGUMENT",
                      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}
    with pytest.raises(AuthenticationError) as e:
        prov().parse_create(mk(), resp(400, body), "r")
    assert (e.value.status_code, e.value.code) == (400, "API_KEY_INVALID")


def test_download_key_goes_only_to_the_gemini_host_or_below_the_base_url():
    from sorakit._types import JobState

    p = prov()
    real = p.build_download(JobState(OP, "completed", video_url=BASE + "/files/a:download?alt=media"))
    assert real.headers["x-goog-api-key"] == KEY
    other = p.build_download(JobState(OP, "completed", video_url="https://evil.example.com/files/a"))
    assert "x-goog-api-key" not in other.headers
    emu = GeminiProvider(INFO, base_url="http://127.0.0.1:8123/gemini/v1beta", api_key=KEY)
    inside = emu.build_download(JobState(OP, "completed", video_url="http://127.0.0.1:8123/gemini/v1beta/files/a:download"))
    assert inside.headers["x-goog-api-key"] == KEY
    for url in ("http://127.0.0.1:8123/openai/v1/videos/x/content", "http://127.0.0.1:9999/gemini/v1beta/files/a",
                "http://127.0.0.1:8123/gemini/v1betax/files/a"):
        assert "x-goog-api-key" not in emu.build_download(JobState(OP, "completed", video_url=url)).headers


def test_repr_hides_the_key():
    assert KEY not in repr(prov())
