"""The emulator's Gemini Veo surface: operations, safety filter, keyed downloads, Google errors."""

import base64
import io

import av
import httpx
import pytest
from PIL import Image

from sorakit import VideoRequest, plan
from sorakit._exceptions import AuthenticationError, BadRequestError, NotFoundError, PermissionDenied, RateLimitError
from sorakit.catalog import load_catalog
from sorakit.providers.gemini import GeminiProvider

CAT = load_catalog()
KEY = "test-gemini-key-not-real"
BASE = "http://emulator/gemini/v1beta"
FAST = "veo-3.0-fast-generate-001"


@pytest.fixture
def emu(manual_emulator):
    return manual_emulator


@pytest.fixture
def client(emu):
    with httpx.Client(transport=emu.sync_transport(), base_url=BASE, headers={"x-goog-api-key": KEY}) as c:
        yield c


def start(client, model=FAST, prompt="a heron takes off", image=None, **params):
    inst = {"prompt": prompt}
    if image is not None:
        inst["image"] = image
    return client.post(f"/models/{model}:predictLongRunning", json={"instances": [inst], "parameters": params})


def test_operation_lifecycle_and_keyed_download(emu, client):
    emu.config.require_key = KEY
    r = start(client, aspectRatio="9:16", resolution="720p", durationSeconds=8, sampleCount=1,
              negativePrompt="blur", personGeneration="allow_all")
    assert r.status_code == 200
    op = r.json()
    assert op["done"] is False and op["name"].startswith(f"models/{FAST}/operations/")
    assert client.get(f"/{op['name']}").json() == {"name": op["name"], "done": False}
    emu.test_clock.advance(60)
    done = client.get(f"/{op['name']}").json()
    assert done["done"] is True
    [sample] = done["response"]["generateVideoResponse"]["generatedSamples"]
    uri = sample["video"]["uri"]
    # https like the real service (google-genai files.download only reads names from https URIs)
    assert uri.startswith(BASE.replace("http://", "https://") + "/files/") and uri.endswith(":download?alt=media")
    anon = httpx.Client(transport=emu.sync_transport())
    r = anon.get(uri)
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    wrong = anon.get(uri, headers={"x-goog-api-key": "AIzaWRONG"})
    assert wrong.status_code == 400 and wrong.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
    video = client.get(uri)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as c:
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (720, 1280)
        assert len(c.streams.audio) == 1  # Veo 3 always has sound
    assert client.get(uri.split("?")[0] + "?alt=media", params={"key": KEY}).status_code == 200


def test_safety_filter_gives_a_done_operation_without_samples(emu, client):
    name = start(client, prompt="a blocked-term rally").json()["name"]
    emu.test_clock.advance(60)
    gen = client.get(f"/{name}").json()["response"]["generateVideoResponse"]
    assert "generatedSamples" not in gen
    assert gen["raiMediaFilteredCount"] == 1 and "safety filter" in gen["raiMediaFilteredReasons"][0]


@pytest.mark.parametrize("params,text", [
    ({"seed": 1}, "Vertex AI"),
    ({"generateAudio": False}, "Vertex AI"),
    ({"fps": 24}, "Enterprise Agent Platform"),
    ({"bogus": 1}, "Unknown name \"bogus\""),
    ({"durationSeconds": 5}, "durationSeconds"),
    ({"aspectRatio": "1:1"}, "aspectRatio"),
    ({"resolution": "1080p", "aspectRatio": "9:16"}, "does not support"),  # veo-3 fast: 1080p only 16:9
    ({"sampleCount": 2}, "sampleCount"),
    ({"personGeneration": "everyone"}, "personGeneration"),
])
def test_invalid_arguments(client, params, text):
    r = start(client, **params)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["status"] == "INVALID_ARGUMENT" and err["code"] == 400 and text in err["message"]


def test_other_errors(emu, client):
    assert start(client, model="veo-9").status_code == 200  # an id the catalog lacks: served (open catalog)
    emu.config.serve_unknown_models = False  # ... or answered as the service answers an id it does not know
    r = start(client, model="veo-9")
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    emu.config.serve_unknown_models = True
    assert start(client, prompt="guardrail-term").status_code == 400
    assert start(client, prompt="x" * 1025).status_code == 400
    assert client.get("/models/veo-3.0-fast-generate-001/operations/nope").status_code == 404
    emu.config.require_key = KEY
    anon = httpx.Client(transport=emu.sync_transport(), base_url=BASE)
    r = start(anon)
    assert r.status_code == 403 and r.json()["error"]["status"] == "PERMISSION_DENIED"
    emu.config.require_key = None
    emu.config.rate_limit_per_minute = 1
    assert start(client).status_code == 200
    r = start(client)
    assert r.status_code == 429 and r.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert int(r.headers["retry-after"]) >= 1


def test_image_to_video_and_veo_31_portrait_1080p(emu, client):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 200, 0)).save(buf, "PNG")
    img = {"bytesBase64Encoded": base64.b64encode(buf.getvalue()).decode(), "mimeType": "image/png"}
    r = start(client, model="veo-3.1-generate-preview", image=img, resolution="1080p", aspectRatio="9:16",
              durationSeconds=4)
    assert r.status_code == 200, r.text
    [job] = emu.store.group(r.json()["name"])
    assert (job.size, job.seconds, job.spec.input_image) == ("1080x1920", 4, buf.getvalue())
    bad = dict(img, mimeType="image/gif")
    assert start(client, image=bad).status_code == 400


def test_gemini_provider_round_trip(emu, client):
    emu.config.require_key = KEY
    prov = GeminiProvider(CAT.providers["gemini"], base_url=BASE, api_key=KEY)
    p = plan(VideoRequest("a tide pool at dawn", model="veo-3-fast", provider="gemini", negative_prompt="text"), emulated=True)
    [s] = prov.parse_create(p, client.send(prov.build_create(p, "r")), "r")
    assert s.status == "submitted"
    [run] = prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert run.status == "in_progress"
    emu.test_clock.advance(60)
    [done] = prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert done.status == "completed" and done.video_url_expires_at
    req = prov.build_download(done)
    assert req.headers["x-goog-api-key"] == KEY
    assert httpx.Client(transport=emu.sync_transport()).send(req).status_code == 200
    # the safety filter arrives as a failed state, not a crash
    f = plan(VideoRequest("blocked-term", model="veo-3-fast", provider="gemini"), emulated=True)
    [s] = prov.parse_create(f, client.send(prov.build_create(f, "r")), "r")
    emu.test_clock.advance(60)
    [bad] = prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert (bad.status, bad.error_code) == ("failed", "safety_filtered") and "safety filter" in bad.error_message


def test_google_errors_read_by_the_provider(emu, client):
    prov = GeminiProvider(CAT.providers["gemini"], base_url=BASE, api_key="AIzaWRONG")
    emu.config.require_key = KEY
    p = plan(VideoRequest("x", model="veo-3-fast", provider="gemini"), emulated=True)
    with pytest.raises(AuthenticationError) as e:  # Google's 400 API_KEY_INVALID is a wrong key
        prov.parse_create(p, client.send(prov.build_create(p, "r")), "r")
    assert (e.value.status_code, e.value.code) == (400, "API_KEY_INVALID")
    assert "AIzaWRONG" not in str(e.value)
    nokey = GeminiProvider(CAT.providers["gemini"], base_url=BASE)
    with pytest.raises(PermissionDenied):
        nokey.parse_create(p, client.send(nokey.build_create(p, "r")), "r")
    good = GeminiProvider(CAT.providers["gemini"], base_url=BASE, api_key=KEY)
    with pytest.raises(NotFoundError):
        good.parse_poll("models/x/operations/y", client.send(good.build_poll("models/x/operations/y")))
    emu.config.rate_limit_per_minute = 1
    emu.limiter.reset()
    good.parse_create(p, client.send(good.build_create(p, "r")), "r")
    with pytest.raises(RateLimitError) as e:
        good.parse_create(p, client.send(good.build_create(p, "r")), "r")
    assert e.value.code == "RESOURCE_EXHAUSTED" and e.value.retry_after


def _img(color=(10, 200, 90)):
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(buf, "PNG")
    return {"bytesBase64Encoded": base64.b64encode(buf.getvalue()).decode(), "mimeType": "image/png"}


def test_every_field_google_genai_2_sends_is_accepted(emu, client):
    """lastFrame, referenceImages, enhancePrompt and a top-level webhookConfig (google-genai 2.34
    ``_GenerateVideosConfig_to_mldev``), then a video extension of the result by its file URI."""
    model = "veo-3.1-generate-preview"
    r = client.post(f"/models/{model}:predictLongRunning", json={
        "instances": [{"prompt": "a door opens", "image": _img(), "lastFrame": _img((200, 0, 0))}],
        "parameters": {"durationSeconds": 8, "enhancePrompt": True},
        "webhookConfig": {"uri": "https://example.invalid/hook"}})
    assert r.status_code == 200, r.text
    r = client.post(f"/models/{model}:predictLongRunning", json={
        "instances": [{"prompt": "a toy robot", "referenceImages": [{"image": _img(), "referenceType": "asset"},
                                                                   {"image": _img(), "referenceType": "STYLE"}]}],
        "parameters": {"durationSeconds": 8}})
    assert r.status_code == 200, r.text
    name = r.json()["name"]
    emu.test_clock.advance(120)
    uri = client.get(f"/{name}").json()["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    ext = client.post(f"/models/{model}:predictLongRunning", json={
        "instances": [{"prompt": "it keeps walking", "video": {"uri": uri}}], "parameters": {}})
    assert ext.status_code == 200, ext.text
    [job] = emu.store.group(ext.json()["name"])
    assert job.kind == "extend" and job.seconds == 8 + 7


@pytest.mark.parametrize("instance,text", [
    ({"prompt": "x", "lastFrame": "AAAA"}, "lastFrame needs instances[0].image"),
    ({"prompt": "x", "referenceImages": [{"image": {"bytesBase64Encoded": "AAAA", "mimeType": "image/png"}}]},
     "referenceImages[0].image.bytesBase64Encoded"),
    ({"prompt": "x", "referenceImages": [{"referenceType": "pose"}]}, "referenceType"),
    ({"prompt": "x", "video": {"uri": "https://elsewhere.example/files/abc:download"}}, "not a video this service made"),
    ({"prompt": "x", "mask": {}}, "Unknown name \"mask\""),
])
def test_new_fields_are_validated_by_name(client, instance, text):
    r = client.post("/models/veo-3.1-generate-preview:predictLongRunning",
                    json={"instances": [instance], "parameters": {}})
    assert r.status_code == 400 and text in r.json()["error"]["message"], r.text


def test_every_path_under_the_prefix_answers_in_googles_shape(emu):
    with httpx.Client(transport=emu.sync_transport(), base_url="http://emulator") as c:
        for method, path in (("GET", "/gemini/v1/unknown"), ("POST", "/gemini/v2/models/x:predictLongRunning"),
                             ("DELETE", "/gemini/v1beta/files/abc:download"), ("GET", "/vertex/v1/x")):
            r = c.request(method, path)
            err = r.json()["error"]
            assert r.status_code in (404, 405) and err["code"] == r.status_code and "status" in err, (path, r.text)


def test_the_request_log_records_what_was_sent(emu, client):
    emu.requests.clear()
    start(client, durationSeconds=8)
    [entry] = emu.requests.entries("POST")
    assert entry.path == f"/gemini/v1beta/models/{FAST}:predictLongRunning"
    assert entry.headers["x-goog-api-key"] == "***" and entry.json()["parameters"] == {"durationSeconds": 8}
