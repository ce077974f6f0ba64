"""OpenAI Videos mapping: requests built from plans, hand-made responses read into JobStates."""

import io
import json

import httpx
import pytest
from PIL import Image

from sorakit import VideoRequest, plan
from sorakit._exceptions import (AuthenticationError, BadRequestError, ModerationError, NotFoundError,
                                 RateLimitError, ServerError)
from sorakit.catalog import load_catalog
from sorakit.providers import OpenAIProvider, make_provider

CAT = load_catalog()
INFO = CAT.providers["openai"]
KEY = "test-PLANTED-openai-0000"


def provider(base_url=None, **options):
    return make_provider(INFO, base_url=base_url, api_key=KEY, **options)


def sora(**kw):
    return plan(VideoRequest(kw.pop("prompt", "a red fox in snow"), model=kw.pop("model", "sora-2"),
                             provider="openai", **kw), emulated=True)


def resp(status, body=None, *, headers=None, text=None):
    req = httpx.Request("GET", "https://api.openai.com/v1/videos/x")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=req)
    return httpx.Response(status, json=body, headers=headers, request=req)


def video(**kw):
    base = {"id": "video_123", "object": "video", "model": "sora-2", "status": "queued", "progress": 0,
            "created_at": 1_780_000_000, "completed_at": None, "expires_at": None,
            "prompt": "a red fox in snow", "size": "720x1280", "seconds": "4",
            "remixed_from_video_id": None, "error": None}
    base.update(kw)
    return base


def png(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def test_registry_finds_the_openai_protocol():
    assert isinstance(provider(), OpenAIProvider)
    assert OpenAIProvider.create_is_idempotent is False and OpenAIProvider.supports_reconcile


def test_text_to_video_sends_seconds_as_a_string_and_the_exact_size():
    req = provider().build_create(sora(seconds=8, size="1280x720"), "ref-1")
    assert req.method == "POST" and str(req.url) == "https://api.openai.com/v1/videos"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    body = json.loads(req.content)
    assert body == {"model": "sora-2", "prompt": "a red fox in snow", "seconds": "8", "size": "1280x720"}
    assert isinstance(body["seconds"], str)


def test_any_base_url_works_for_relays_with_their_own_model_names():
    p = provider("http://127.0.0.1:4000/v1/", model_ids={"sora-2": "openai/sora-2"})
    req = p.build_create(sora(), "r")
    assert str(req.url) == "http://127.0.0.1:4000/v1/videos"
    assert json.loads(req.content)["model"] == "openai/sora-2"
    p2 = provider("http://relay.local/v1", canonical_model_ids=True)
    assert json.loads(p2.build_create(sora(model="sora-2-pro"), "r").content)["model"] == "sora-2-pro"


def test_image_to_video_uploads_input_reference_as_multipart():
    req = provider().build_create(sora(size="1280x720", input_image=png(1280, 720)), "r")
    ctype = req.headers["content-type"]
    assert ctype.startswith("multipart/form-data")
    body = req.read()
    assert b'name="input_reference"; filename="reference.png"' in body
    assert b'name="seconds"\r\n\r\n4' in body and b'name="size"\r\n\r\n1280x720' in body


def test_image_url_goes_as_input_reference_object():
    req = provider().build_create(sora(input_image="https://example.com/frame.png"), "r")
    assert json.loads(req.content)["input_reference"] == {"image_url": "https://example.com/frame.png"}


def test_remix_extend_edit_paths():
    p = provider()
    r = p.build_create(sora(action="remix", source_video_id="video_9", prompt="make it night"), "r")
    assert str(r.url).endswith("/videos/video_9/remix") and json.loads(r.content) == {"prompt": "make it night"}
    e = p.build_create(sora(action="extend", source_video_id="video_9", seconds=8), "r")
    assert str(e.url).endswith("/videos/extensions")
    assert json.loads(e.content) == {"video": {"id": "video_9"}, "prompt": "a red fox in snow", "seconds": "8"}
    d = p.build_create(sora(action="edit", source_video_id="video_9"), "r")
    assert str(d.url).endswith("/videos/edits") and json.loads(d.content)["video"] == {"id": "video_9"}


def test_poll_reads_status_progress_hint_and_expiry():
    p = provider()
    st = p.parse_poll("video_123", resp(200, video(status="in_progress", progress=42),
                                         headers={"openai-poll-after-ms": "1500"}))[0]
    assert (st.status, st.progress, st.poll_after) == ("in_progress", 42, 1.5)
    done = p.parse_poll("video_123", resp(200, video(status="completed", progress=100,
                                                      expires_at=1_780_003_600)))[0]
    assert done.status == "completed" and done.terminal
    assert done.video_url_expires_at == 1_780_003_600 and done.provider_video_id == "video_123"
    assert done.poll_after is None


def test_moderation_blocked_job_is_failed_with_its_code():
    st = provider().parse_poll("v", resp(200, video(status="failed", error={
        "code": "moderation_blocked", "message": "Your request was blocked."})))[0]
    assert st.status == "failed" and st.error_code == "moderation_blocked"
    assert "blocked" in st.error_message


def test_errors_map_to_the_exception_tree_without_the_key():
    p = provider()
    body = {"error": {"message": "Your request was blocked by our moderation system.", "type": "invalid_request_error",
                      "param": "prompt", "code": "moderation_blocked"}}
    with pytest.raises(ModerationError) as e:
        p.parse_create(sora(), resp(400, body, headers={"x-request-id": "req_1"}), "r")
    assert e.value.status_code == 400 and e.value.request_id == "req_1" and e.value.param == "prompt"
    with pytest.raises(RateLimitError) as e:
        p.parse_poll("v", resp(429, {"error": {"message": "slow down", "type": "rate_limit", "param": None,
                                               "code": None}}, headers={"retry-after-ms": "250"}))
    assert e.value.retry_after == 0.25
    with pytest.raises(AuthenticationError) as e:
        p.parse_poll("v", resp(401, {"error": {"message": "Incorrect API key provided: sk-te***0000.",
                                               "type": "invalid_request_error", "param": None,
                                               "code": "invalid_api_key"}}))
    assert KEY not in str(e.value) and KEY not in repr(p)
    with pytest.raises(ServerError):
        p.parse_poll("v", resp(502, text="bad gateway"))
    with pytest.raises(NotFoundError):
        p.parse_poll("v", resp(404, {"error": {"message": "gone", "type": "invalid_request_error",
                                               "param": None, "code": "video_expired"}}))
    with pytest.raises(BadRequestError):
        p.parse_create(sora(), resp(400, {"error": {"message": "bad size", "type": "invalid_request_error",
                                                     "param": "size", "code": "invalid_value"}}), "r")


def test_download_variants_use_the_content_endpoint():
    p = provider()
    st = p.parse_poll("video_123", resp(200, video(status="completed")))[0]
    for variant in ("video", "thumbnail", "spritesheet"):
        req = p.build_download(st, variant)
        assert req.url.path == "/v1/videos/video_123/content" and req.url.params["variant"] == variant
    with pytest.raises(ValueError):
        p.build_download(st, "gif")


def test_list_pages_and_matching_for_reconciliation():
    p = provider()
    req = p.build_list(after="video_5", limit=500)
    assert req.url.params["limit"] == "100" and req.url.params["order"] == "desc"
    assert req.url.params["after"] == "video_5"
    page = {"object": "list", "data": [video(id="video_b", created_at=1_780_000_100),
                                         video(id="video_a", created_at=1_780_000_000)],
            "first_id": "video_b", "last_id": "video_a", "has_more": True}
    states, cursor = p.parse_list(resp(200, page))
    assert [s.provider_job_id for s in states] == ["video_b", "video_a"] and cursor == "video_a"
    assert p.parse_list(resp(200, {**page, "has_more": False}))[1] is None
    pl = sora(seconds=4, size="720x1280")
    assert p.matches(pl, states[0], created_after=1_780_000_050)
    assert not p.matches(pl, states[1], created_after=1_780_000_050)          # created before the send
    other = p.parse_list(resp(200, {**page, "data": [video(prompt="another prompt")]}))[0][0]
    assert not p.matches(pl, other, created_after=0)                           # different prompt
    bigger = p.parse_list(resp(200, {**page, "data": [video(size="1280x720")]}))[0][0]
    assert not p.matches(pl, bigger, created_after=0)                          # different size
    longer = p.parse_list(resp(200, {**page, "data": [video(seconds="8")]}))[0][0]
    assert not p.matches(pl, longer, created_after=0)                          # different duration


def test_create_response_is_acknowledged_state():
    st = provider().parse_create(sora(), resp(200, video()), "ref")[0]
    assert st.provider_job_id == "video_123" and st.status == "queued" and st.raw["prompt"]
