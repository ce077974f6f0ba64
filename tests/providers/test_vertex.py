"""The enterprise-platform Veo mapping without a network: paths, auth, inline media, safety."""

from __future__ import annotations

import base64

import httpx
import pytest

from sorakit import VideoRequest, plan
from sorakit._exceptions import ConfigurationError, PermissionDenied, ProviderError, ValidationError
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


# ------------------------------------------------------------------ extension and Cloud Storage
def test_storage_uri_is_sent_and_validated():
    p = VertexProvider(INFO, api_key="k", storage_uri="gs://my-bucket/runs/")
    import json
    assert json.loads(p.build_create(mk(seconds=4), "r").content)["parameters"]["storageUri"] == "gs://my-bucket/runs/"
    for bad in ("s3://b/x", "gs://", "gs://UPPER/x", "my-bucket/x", 7):
        with pytest.raises(ValidationError) as e:
            VertexProvider(INFO, api_key="k", storage_uri=bad)
        assert e.value.field == "storage_uri"


def test_extension_sends_the_gcs_uri_or_the_file_inline():
    import dataclasses
    import json
    p = VertexProvider(INFO, api_key="k")
    gcs = "gs://b-1/veo/op/sample_0.mp4"
    by_uri = plan(VideoRequest("on", model="veo-3.1", provider="vertex", action="extend", source_video_id=gcs), CAT)
    assert by_uri.seconds == 7 and not p.wants_source_file(by_uri)
    body = json.loads(p.build_create(by_uri, "r").content)
    assert body["instances"][0]["video"] == {"gcsUri": gcs, "mimeType": "video/mp4"}
    assert body["parameters"]["durationSeconds"] == 7
    by_id = plan(VideoRequest("on", model="veo-3.1", provider="vertex", action="extend",
                              source_video_id=OP + "#sample=0"), CAT)
    assert p.wants_source_file(by_id)
    with pytest.raises(ValidationError) as e:  # the engine did not attach the file
        p.build_create(by_id, "r")
    assert e.value.field == "source_video_id"
    body = json.loads(p.build_create(dataclasses.replace(by_id, source_video=b"mp4-bytes"), "r").content)
    assert body["instances"][0]["video"] == {"bytesBase64Encoded": base64.b64encode(b"mp4-bytes").decode(),
                                             "mimeType": "video/mp4"}
    with pytest.raises(ValidationError):  # an extension adds 7 s on the enterprise platform
        plan(VideoRequest("on", model="veo-3.1", provider="vertex", action="extend", source_video_id=gcs,
                          seconds=8), CAT)


def test_a_gcs_sample_is_completed_with_its_uri_and_downloaded_through_the_json_api_with_oauth_only():
    gcs = "gs://b-1/runs 1/abc/sample_0.mp4"
    done = {"name": OP, "done": True, "response": {"videos": [{"gcsUri": gcs, "mimeType": "video/mp4"}]}}
    oauth = VertexProvider(INFO, project="p-1", credentials=FakeCreds(valid=True))
    [state] = oauth.parse_poll(OP, resp(200, done))
    assert (state.status, state.video_url) == ("completed", gcs) and not oauth.inline_media(state)
    req = oauth.build_download(state)
    assert str(req.url) == ("https://storage.googleapis.com/download/storage/v1/b/b-1/o/"
                            "runs%201%2Fabc%2Fsample_0.mp4?alt=media")
    assert req.headers["authorization"] == "Bearer tok-0"
    # the token goes to that exact shape on the storage host, nowhere else
    assert oauth.key_allowed_for(req.url)
    for other in ("https://storage.googleapis.com/upload/storage/v1/b/b-1/o",
                  "https://storage.googleapis.com/download/storage/v1/b/b-1/o/a/b",
                  "https://evil.example/download/storage/v1/b/b-1/o/x",
                  "http://storage.googleapis.com/download/storage/v1/b/b-1/o/x"):
        assert not oauth.key_allowed_for(other), other
    express = VertexProvider(INFO, api_key="k-1", storage_uri="gs://b-1/runs/")
    assert not express.key_allowed_for(req.url)  # an API key never goes to Cloud Storage
    [state] = express.parse_poll(OP, resp(200, done))
    with pytest.raises(ProviderError) as e:
        express.build_download(state)
    assert e.value.code == "gcs_needs_oauth" and gcs in e.value.message and "k-1" not in str(e.value)


def test_explicit_credentials_win_over_an_api_key():
    p = VertexProvider(INFO, api_key="k-1", project="p-1", credentials=FakeCreds(valid=True))
    req = p.build_create(mk(seconds=4), "r")
    assert req.headers["authorization"] == "Bearer tok-0" and "x-goog-api-key" not in req.headers
    assert "/projects/p-1/" in req.url.path
