"""Gemini Omni Flash mapping without a network: the interaction body, states, inline media."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from sorakit import VideoRequest, plan
from sorakit._exceptions import ValidationError
from sorakit._types import JobState
from sorakit.catalog import load_catalog
from sorakit.providers.gemini import GeminiProvider

CAT = load_catalog()
BASE = "https://generativelanguage.googleapis.com/v1beta"


def prov(base=BASE):
    return GeminiProvider(CAT.providers["gemini"], base_url=base, api_key="k-omni")


def mk(**kw):
    return plan(VideoRequest("a lantern", model="gemini-omni-1.2-flash", provider="gemini", **kw), CAT)


def resp(status, body):
    return httpx.Response(status, json=body, request=httpx.Request("GET", "https://x"))


def test_create_body_text_and_image():
    req = prov().build_create(mk(size="720x1280", seconds=6, seed=2), "r")
    assert str(req.url) == BASE + "/interactions" and req.headers["x-goog-api-key"] == "k-omni"
    assert json.loads(req.content) == {
        "model": "gemini-omni-1.2-flash", "background": True, "input": "a lantern",
        "response_format": {"type": "video", "aspect_ratio": "9:16", "duration": "6s"},
        "generation_config": {"seed": 2}}
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1280, 720)).save(buf, "PNG")
    body = json.loads(prov().build_create(mk(input_image=buf.getvalue()), "r").content)
    [step] = body["input"]
    assert step["type"] == "user_input" and [c["type"] for c in step["content"]] == ["text", "image"]


@pytest.mark.parametrize("size,resolution,aspect", [
    ("640x360", "360p", "16:9"), ("1080x1920", "1080p", "9:16"), ("3840x2160", "4k", "16:9"),
])
def test_create_body_names_the_resolution_beyond_the_720p_default(size, resolution, aspect):
    fmt = json.loads(prov().build_create(mk(size=size, seconds=15), "r").content)["response_format"]
    assert fmt == {"type": "video", "aspect_ratio": aspect, "duration": "15s", "resolution": resolution}


def test_a_size_omni_cannot_render_is_refused_naming_the_size():
    from sorakit.providers._interactions import interaction_body

    p = mk(size="1280x720")
    odd = type(p).__new__(type(p))
    odd.__dict__.update(p.__dict__, width=1000, height=1000)
    with pytest.raises(ValidationError) as info:
        interaction_body(odd)
    assert "size" in str(info.value) and "1000x1000" in str(info.value) and "640x360" in str(info.value)


def test_remix_continues_the_interaction_and_checks_the_id():
    p = mk(action="remix", source_video_id="v1_abc")
    assert json.loads(prov().build_create(p, "r").content)["previous_interaction_id"] == "v1_abc"
    with pytest.raises(ValidationError):
        prov().build_create(mk(action="remix", source_video_id="../v1_abc"), "r")
    with pytest.raises(ValidationError):
        prov().build_poll("v1_abc/../../files")


def test_states_inline_uri_and_failure():
    data = base64.b64encode(b"mp4-bytes").decode()
    inline = {"id": "v1_a", "status": "completed",
              "steps": [{"type": "model_output", "content": [{"type": "video", "data": data,
                                                              "mime_type": "video/mp4"}]}]}
    [s] = prov().parse_poll("v1_a", resp(200, inline))
    assert s.status == "completed" and s.video_url is None and data not in str(s.raw)
    assert prov().inline_media(s) and str(prov().build_download(s).url) == BASE + "/interactions/v1_a"
    assert prov().decode_media(s, resp(200, inline)) == b"mp4-bytes"
    uri = {"id": "v1_b", "status": "completed",
           "steps": [{"type": "model_output", "content": [{"type": "video", "uri": BASE + "/files/f1:download"}]}]}
    [u] = prov().parse_poll("v1_b", resp(200, uri))
    assert u.video_url == BASE + "/files/f1:download" and not prov().inline_media(u)
    [f] = prov().parse_poll("v1_c", resp(200, {"id": "v1_c", "status": "failed",
                                              "errors": [{"code": "SAFETY", "message": "blocked"}]}))
    assert (f.status, f.error_code, f.error_message) == ("failed", "safety_filtered", "blocked")
    [r] = prov().parse_poll("v1_d", resp(200, {"id": "v1_d", "status": "in_progress"}))
    assert r.status == "in_progress" and r.provider_job_id == "v1_d"


def test_completed_interaction_reports_its_video_tokens():
    """``usage.output_tokens_by_modality`` (google-genai 3.6.1 ``_gaos/types/interactions/usage.py``):
    the video entries are the job's output video tokens; absent or malformed usage is None."""
    data = base64.b64encode(b"mp4-bytes").decode()
    done = {"id": "v1_t", "status": "completed",
            "steps": [{"type": "model_output", "content": [{"type": "video", "data": data,
                                                            "mime_type": "video/mp4"}]}],
            "usage": {"total_output_tokens": 46_400,
                      "output_tokens_by_modality": [{"modality": "text", "tokens": 64},
                                                    {"modality": "video", "tokens": 46_336}]}}
    [s] = prov().parse_poll("v1_t", resp(200, done))
    assert s.output_video_tokens == 46_336 and s.billed_cost is None  # the engine prices the tokens
    for usage in (None, {}, {"output_tokens_by_modality": "x"},
                  {"output_tokens_by_modality": [{"modality": "video", "tokens": "9"}]}):
        body = dict(done, usage=usage) if usage is not None else {k: v for k, v in done.items() if k != "usage"}
        assert prov().parse_poll("v1_t", resp(200, body))[0].output_video_tokens is None


def test_emulator_https_uri_downloads_by_name_through_the_base():
    p = prov("http://127.0.0.1:8123/gemini/v1beta")
    req = p.build_download(JobState("v1_e", "completed",
                                    video_url="https://127.0.0.1:8123/gemini/v1beta/files/ab12:download?alt=media"))
    assert str(req.url) == "http://127.0.0.1:8123/gemini/v1beta/files/ab12:download?alt=media"
    assert req.headers["x-goog-api-key"] == "k-omni"
    other = p.build_download(JobState("v1_e", "completed", video_url="https://evil.example/gemini/v1beta/files/a"))
    assert "x-goog-api-key" not in other.headers and other.url.host == "evil.example"
