"""The enterprise-platform Veo mapping without a network: paths, auth, inline media, safety."""

from __future__ import annotations

import base64

import httpx
import pytest

from sorakit import VideoRequest, plan
from sorakit._exceptions import ConfigurationError, PermissionDenied, ValidationError
from sorakit._types import JobState
from sorakit.catalog import load_catalog
from sorakit.providers.vertex import VertexProvider

CAT = load_catalog()
INFO = CAT.providers["vertex"]
OP = "projects/p-1/locations/us-central1/publishers/google/models/veo-3.1-generate-001/operations/abc-1"


def mk(**kw):
    return plan(VideoRequest("a heron", model="veo-3.1", provider="vertex", **kw), CAT)


def resp(status, body):
    return httpx.Response(status, json=body, request=httpx.Request("POST", "https://x"))


class FakeCreds:
    """The google.auth Credentials interface the provider relies on (valid, token, refresh)."""

    def __init__(self, valid=False):
        self.valid, self.token, self.refreshed = valid, None if not valid else "tok-0", 0

    def refresh(self, request):
        self.refreshed += 1
        self.token, self.valid = f"tok-{self.refreshed}", True


def test_express_mode_path_and_key_header():
    p = VertexProvider(INFO, base_url="https://aiplatform.googleapis.com", api_key="k-1")
    req = p.build_create(mk(seconds=6, seed=3, variations=2), "r")
    assert req.url.path == "/v1/publishers/google/models/veo-3.1-generate-001:predictLongRunning"
    assert req.headers["x-goog-api-key"] == "k-1" and "authorization" not in req.headers
    import json
    params = json.loads(req.content)["parameters"]
    assert params == {"aspectRatio": "16:9", "resolution": "720p", "durationSeconds": 6, "sampleCount": 2,
                      "generateAudio": True, "seed": 3}


def test_project_mode_uses_the_regional_host_and_a_refreshed_bearer_token(monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    creds = FakeCreds()
    p = VertexProvider(INFO, project="p-1", location="europe-west4", credentials=creds, api_version="v1beta1")
    req = p.build_create(mk(size="3840x2160", seconds=4), "r")
    assert str(req.url).startswith("https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/p-1/"
                                   "locations/europe-west4/publishers/google/models/")
    assert req.headers["authorization"] == "Bearer tok-1" and creds.refreshed == 1
    p.build_poll(OP)
    assert creds.refreshed == 1  # a valid token is reused


def test_no_key_and_no_project_is_a_clear_configuration_error(monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    p = VertexProvider(INFO, credentials=FakeCreds(valid=True))
    with pytest.raises(ConfigurationError, match="project"):
        p.build_create(mk(), "r")


@pytest.mark.parametrize("bad", ["../x", "p/1", ""])
def test_path_segments_are_validated(bad):
    with pytest.raises(ValidationError):
        VertexProvider(INFO, project=bad or "..", api_key="k")
    with pytest.raises(ValidationError):
        VertexProvider(INFO, api_key="k").build_poll(OP.replace("p-1", bad or ".."))


def test_poll_is_fetch_predict_operation_at_the_model_of_the_name():
    req = VertexProvider(INFO, api_key="k").build_poll(OP)
    assert req.method == "POST" and req.url.path == (
        "/v1/projects/p-1/locations/us-central1/publishers/google/models/veo-3.1-generate-001:fetchPredictOperation")
    assert req.content == b'{"operationName": "' + OP.encode() + b'"}'


def test_inline_videos_stay_out_of_the_ledger_and_download_by_index():
    p = VertexProvider(INFO, api_key="k")
    b0, b1 = base64.b64encode(b"video-0").decode(), base64.b64encode(b"video-1").decode()
    done = {"name": OP, "done": True, "response": {"videos": [{"bytesBase64Encoded": b0, "mimeType": "video/mp4"},
                                                              {"bytesBase64Encoded": b1, "mimeType": "video/mp4"}]}}
    states = p.parse_poll(OP, resp(200, done))
    assert [s.status for s in states] == ["completed", "completed"]
    assert b0 not in str(states[0].raw) and states[1].provider_video_id == OP + "#sample=1"
    assert p.inline_media(states[1])
    assert p.build_download(states[1]).url.path.endswith(":fetchPredictOperation")
    assert p.decode_media(states[1], resp(200, done)) == b"video-1"
    with pytest.raises(Exception):
        p.decode_media(JobState(OP, "completed", provider_video_id=OP + "#sample=5"), resp(200, done))


def test_safety_filtered_samples_are_failures_not_index_errors():
    p = VertexProvider(INFO, api_key="k")
    b0 = base64.b64encode(b"v").decode()
    states = p.parse_poll(OP, resp(200, {"name": OP, "done": True, "response": {
        "videos": [{"bytesBase64Encoded": b0}], "raiMediaFilteredCount": 1,
        "raiMediaFilteredReasons": ["celebrity"]}}))
    assert [(s.status, s.error_code, s.variation_index) for s in states] == [
        ("completed", None, 0), ("failed", "safety_filtered", 1)]
    [only] = p.parse_poll(OP, resp(200, {"name": OP, "done": True, "response": {"raiMediaFilteredCount": 1}}))
    assert only.status == "failed" and only.error_code == "safety_filtered"


def test_google_errors_keep_the_key_out():
    p = VertexProvider(INFO, api_key="secret-key-1")
    with pytest.raises(PermissionDenied) as e:
        p.parse_create(mk(), resp(403, {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}),
                       "r")
    assert e.value.code == "PERMISSION_DENIED" and "secret-key-1" not in str(e.value)
