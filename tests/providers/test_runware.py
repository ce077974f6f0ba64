"""Runware mapping: task arrays, client-chosen taskUUID, getResponse states, errors envelope."""

import base64
import io
import json

import httpx
import pytest
from PIL import Image

from sorakit import VideoRequest, plan
from sorakit._exceptions import (AuthenticationError, ConflictError, InsufficientCredits, ModerationError,
                                 NotFoundError, RateLimitError, ServerError)
from sorakit.catalog import load_catalog
from sorakit.providers import RunwareProvider, make_provider

CAT = load_catalog()
INFO = CAT.providers["runware"]
KEY = "test-PLANTED-runware-0000"
UUID = "0f8c3c1e-6a7b-4c55-9b7e-2d7f3a0c1e11"


def provider(**options):
    return make_provider(INFO, api_key=KEY, **options)


def veo(**kw):
    return plan(VideoRequest(kw.pop("prompt", "a heron takes off"), model=kw.pop("model", "veo-3-fast"),
                             provider="runware", **kw))


def resp(status, body=None, *, headers=None):
    req = httpx.Request("POST", "https://api.runware.ai/v1")
    return httpx.Response(status, json=body, headers=headers, request=req)


def png(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (0, 90, 200)).save(buf, "PNG")
    return buf.getvalue()


def test_registry_and_idempotent_create():
    assert isinstance(provider(), RunwareProvider)
    assert RunwareProvider.create_is_idempotent is True


def test_video_inference_task_carries_every_field():
    req = provider().build_create(veo(seed=7, variations=3, audio=False), UUID)
    assert req.method == "POST" and str(req.url) == "https://api.runware.ai/v1"
    assert req.headers["authorization"] == f"Bearer {KEY}"
    (task,) = json.loads(req.content)
    assert task == {
        "taskType": "videoInference", "taskUUID": UUID, "model": "google:3@1",
        "positivePrompt": "a heron takes off", "duration": 8, "seed": 7,
        "numberResults": 3, "deliveryMethod": "async", "includeCost": True, "outputFormat": "MP4",
        "width": 1280, "height": 720, "providerSettings": {"google": {"generateAudio": False}},
    }
    # negativePrompt only where the runware-sdk schema has it (klingai:kling-video@3-standard)
    (kling,) = json.loads(provider().build_create(veo(model="kling-3-standard", negative_prompt="blur"), UUID).content)
    assert kling["negativePrompt"] == "blur" and "seed" not in kling


def test_frame_image_is_a_data_uri_and_replaces_width_height():
    (task,) = json.loads(provider().build_create(veo(input_image=png(64, 36)), UUID).content)
    assert "width" not in task and "height" not in task
    image = task["inputs"]["frameImages"][0]
    assert image["frame"] == "first" and image["image"].startswith("data:image/png;base64,")
    assert base64.b64decode(image["image"].split(",", 1)[1])[:4] == b"\x89PNG"


def test_video_id_for_remix_has_neither_size_nor_frames():
    p = plan(VideoRequest("make it night", model="sora-2", provider="runware", action="remix",
                          source_video_id="vid-1"), emulated=True)
    (task,) = json.loads(provider().build_create(p, UUID).content)
    assert task["inputs"] == {"videoId": "vid-1"} and "width" not in task


def test_ack_is_submitted_and_conflict_means_already_exists():
    p = provider()
    st = p.parse_create(veo(), resp(200, {"data": [{"taskType": "videoInference", "taskUUID": UUID}]}), UUID)
    assert [(s.provider_job_id, s.status) for s in st] == [(UUID, "submitted")]
    with pytest.raises(ConflictError):
        p.parse_create(veo(), resp(409, {"errors": [{"code": "conflictTaskUUID", "message": "used",
                                                      "taskUUID": UUID}]}), UUID)
    with pytest.raises(ConflictError):  # some services answer a reused UUID with a 400 and a code
        p.parse_create(veo(), resp(400, {"errors": [{"code": "duplicateTaskUUID", "message": "dup",
                                                      "taskUUID": UUID}]}), UUID)


def test_poll_is_a_get_response_task():
    (task,) = json.loads(provider().build_poll(UUID).content)
    assert task == {"taskType": "getResponse", "taskUUID": UUID}


def test_only_success_is_done_and_pending_is_processing():
    p = provider()
    states = p.parse_poll(UUID, resp(200, {"data": [
        {"taskType": "videoInference", "taskUUID": UUID, "status": "processing"},
        {"taskType": "videoInference", "taskUUID": UUID, "status": "pending"},
        {"taskType": "videoInference", "taskUUID": UUID, "status": "completed"},  # not a Runware word
    ]}))
    assert [s.status for s in states] == ["in_progress"] * 3 and not any(s.terminal for s in states)


def test_several_results_become_several_states_with_cost_and_seed():
    p = provider()
    items = [
        {"taskType": "videoInference", "taskUUID": UUID, "status": "success", "videoUUID": f"v{i}",
         "videoURL": f"https://vm.runware.ai/video/v{i}.mp4", "seed": 7 + i, "cost": 0.8,
         "outputs": {"videoId": f"v{i}"}}
        for i in range(2)
    ] + [{"taskType": "videoInference", "taskUUID": UUID, "status": "processing"}]
    states = p.parse_poll(UUID, resp(200, {"data": items}))
    assert [(s.status, s.variation_index, s.seed, s.billed_cost, s.provider_video_id) for s in states] == [
        ("completed", 0, 7, 0.8, "v0"), ("completed", 1, 8, 0.8, "v1"), ("in_progress", 2, None, None, None)]
    assert states[0].video_url.endswith("v0.mp4")


SAFETY_CODES = ["contentPolicyViolation", "providerContentPolicyViolation", "sensitiveContentDetected",
                "unsafeContentDetected", "nsfwContentDetected", "moderationFailed", "promptBlocked"]


@pytest.mark.parametrize("code", SAFETY_CODES)
def test_failed_item_inside_data_with_a_safety_code_is_moderation(code):
    """Runware sends a failed result as a ``data`` item with a nested ``error`` (PROTOCOLS §2); the
    safety codes are runware-sdk ``errors.py``'s. Before, sorakit read flat code/message and showed
    code "error" with a stringified dict."""
    body = {"data": [{"taskType": "videoInference", "taskUUID": UUID, "status": "error", "cost": 0.0,
                      "error": {"code": code, "message": "blocked by the provider's policy"}}]}
    (st,) = provider().parse_poll(UUID, resp(200, body))
    assert st.status == "failed" and st.error_code == "moderation_blocked" and st.billed_cost == 0.0
    assert st.error_message == f"blocked by the provider's policy (runware code {code})"


def test_failed_item_inside_data_with_another_code_keeps_it():
    body = {"data": [{"taskType": "videoInference", "taskUUID": UUID, "status": "error",
                      "error": {"code": "inferenceError", "message": "the provider failed"}}]}
    (st,) = provider().parse_poll(UUID, resp(200, body))
    assert (st.status, st.error_code, st.error_message) == ("failed", "inferenceError", "the provider failed")


@pytest.mark.parametrize("code", SAFETY_CODES)
def test_synchronous_safety_refusal_is_a_moderation_error(code):
    body = {"errors": [{"code": code, "message": "no", "taskType": "videoInference", "taskUUID": UUID}]}
    with pytest.raises(ModerationError):
        provider().parse_create(veo(), resp(400, body), UUID)


def test_error_envelopes_raise_the_right_class():
    p = provider()
    cases = [
        (401, "invalidApiKey", AuthenticationError), (402, "insufficientCredits", InsufficientCredits),
        (404, "taskNotFound", NotFoundError), (429, "rateLimitExceeded", RateLimitError),
        (503, "serviceUnavailable", ServerError), (400, "contentModeration", ModerationError),
    ]
    for status, code, cls in cases:
        body = {"errors": [{"code": code, "message": f"{code} happened", "taskType": "getResponse",
                            "taskUUID": UUID}]}
        with pytest.raises(cls) as e:
            p.parse_create(veo(), resp(status, body, headers={"retry-after": "2"}), UUID) if status == 400 \
                else p.parse_poll(UUID, resp(status, body, headers={"retry-after": "2"}))
        assert KEY not in str(e.value)
    with pytest.raises(RateLimitError) as e:
        p.parse_poll(UUID, resp(429, {"errors": [{"code": "rateLimitExceeded", "message": "x"}]},
                                headers={"retry-after": "2"}))
    assert e.value.retry_after == 2.0


def test_download_never_sends_the_key_to_another_host():
    p = provider()
    (st,) = p.parse_poll(UUID, resp(200, {"data": [{"taskUUID": UUID, "status": "success", "videoUUID": "v",
                                                    "videoURL": "https://cdn.example.net/v.mp4"}]}))
    req = p.build_download(st)
    assert str(req.url) == "https://cdn.example.net/v.mp4" and "authorization" not in req.headers
    same = make_provider(INFO, base_url="http://127.0.0.1:9/runware/v1", api_key=KEY)
    st.video_url = "http://127.0.0.1:9/runware/v1/media/v.mp4"
    assert same.build_download(st).headers["authorization"] == f"Bearer {KEY}"
