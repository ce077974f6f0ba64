"""Each provider maps its real "model no longer available" answer to ModelUnavailable, and only that."""

import httpx
import pytest

from sorakit import ModelUnavailable, VideoRequest, plan
from sorakit._exceptions import BadRequestError, NotFoundError, ServerError
from sorakit.catalog import load_catalog
from sorakit.providers import make_provider

CAT = load_catalog(overlays=())


def prov(name, key="test-key-not-real"):
    return make_provider(CAT.providers[name], api_key="rc_live_TEST" if name == "runcrate" else key)


def resp(status, body):
    return httpx.Response(status, json=body, request=httpx.Request("POST", "https://example.test/x"))


def raised(name, status, body):
    p = prov(name)
    with pytest.raises(Exception) as info:
        p.raise_for_error(resp(status, body))
    return info.value


def test_google_404_no_longer_available():
    e = raised("gemini", 404, {"error": {"code": 404, "status": "NOT_FOUND", "message":
                                         "models/veo-3.1-generate-preview is no longer available."}})
    assert isinstance(e, ModelUnavailable) and e.status_code == 404
    other = raised("gemini", 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "Operation x not found"}})
    assert isinstance(other, NotFoundError) and not isinstance(other, ModelUnavailable)


def test_openai_model_not_found():
    e = raised("openai", 404, {"error": {"message": "The model `sora-2` does not exist or you do not have access "
                                                    "to it.", "type": "invalid_request_error", "code": "model_not_found"}})
    assert isinstance(e, ModelUnavailable) and e.code == "model_not_found"
    assert not isinstance(raised("openai", 400, {"error": {"message": "bad size", "code": "invalid_value"}}),
                          ModelUnavailable)


@pytest.mark.parametrize("code,gone", [("unknownModel", True), ("modelDisabled", True),
                                       ("modelUnavailable", False), ("invalidWidth", False)])
def test_runware_codes(code, gone):
    p = prov("runware")
    req = plan(VideoRequest("a heron", model="veo-3.1", provider="runware"))
    body = {"errors": [{"code": code, "message": "x", "parameter": "model", "taskType": "videoInference"}]}
    with pytest.raises(Exception) as info:
        p.parse_create(req, resp(400, body), "0f8c3c1e-6a7b-4c55-9b7e-2d7f3a0c1e11")
    assert isinstance(info.value, ModelUnavailable) is gone
    if not gone:  # modelUnavailable: runware-sdk calls it a temporary provider error
        assert isinstance(info.value, (BadRequestError, ServerError))


def test_runcrate_model_not_found():
    e = raised("runcrate", 404, {"error": {"message": "Model 'google/veo-3.0' is no longer available.",
                                           "code": "model_not_found"}})
    assert isinstance(e, ModelUnavailable)


def test_the_explained_message_names_date_and_replacement():
    e = raised("gemini", 404, {"error": {"code": 404, "message": "models/veo-3.0-generate-001 is no longer available."}})
    text = e.explained("veo-3", "veo-3.0-generate-001", CAT.shutdown_text("veo-3", "gemini"))
    assert str(text).startswith("gemini HTTP 404")
    assert text.message.startswith("veo-3 (veo-3.0-generate-001) is no longer available at gemini: shut down "
                                   "2026-06-30; suggested replacement: gemini-omni-1.2-flash (at gemini).")
