"""Every emulator surface answers a body that is not the JSON it wants in its own service's error
shape (all read it through ``_surface.read_json``), creates no job, and tells a syntax error from JSON
of the wrong type where its service does."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient

VERTEX = "/vertex/v1/projects/p1/locations/us-central1/publishers/google/models/veo-3.1-fast-generate-001"
HEADERS = {"Authorization": "Bearer test-key", "x-goog-api-key": "test-key", "content-type": "application/json"}


def _openai(err, problem):
    assert set(err["error"]) == {"message", "type", "param", "code"}
    if problem == "syntax":
        assert "could not parse the JSON body" in err["error"]["message"] and err["error"]["code"] is None
    else:
        assert err["error"]["message"] == "The request body must be a JSON object."
        assert err["error"]["code"] == "invalid_type"


def _runware(err, problem):
    assert err["data"] == [] and len(err["errors"]) == 1
    assert err["errors"][0]["code"] == "invalidRequest"
    assert err["errors"][0]["message"] == ("The request body is not valid JSON." if problem == "syntax" else
                                           "The request body must be a JSON array of task objects.")


def _plain(code):
    def check(err, problem):
        assert err["error"]["code"] == code
        assert err["error"]["message"] == ("The request body is not valid JSON." if problem == "syntax" else
                                           "The request body must be a JSON object.")
    return check


def _google(err, problem):
    assert err["error"] == {"code": 400, "status": "INVALID_ARGUMENT",
                            "message": "Invalid JSON payload received. Expected an object."}


SURFACES = {
    "openai": ("/openai/v1/videos", _openai),
    "runware": ("/runware/v1", _runware),
    "runcrate": ("/runcrate/v1/videos", _plain("invalid_request")),
    "relay": ("/relay/v1/videos/generations", _plain("invalid_parameter")),
    "gemini": ("/gemini/v1beta/models/veo-3.1-generate-preview:predictLongRunning", _google),
    "interactions": ("/gemini/v1beta/interactions", _google),
    "vertex": (VERTEX + ":predictLongRunning", _google),
    "vertex-fetch": (VERTEX + ":fetchPredictOperation", _google),
}
# a JSON array is the right type for Runware (then it is an empty task list), the wrong one elsewhere
BODIES = {"syntax": b'{"prompt": "a fox', "type": b'["a fox"]'}


@pytest.mark.parametrize("problem", sorted(BODIES))
@pytest.mark.parametrize("surface", sorted(SURFACES))
def test_malformed_json_is_refused_in_the_surface_own_shape(manual_emulator, surface, problem):
    path, check = SURFACES[surface]
    body = b'{"taskType": "videoInference"}' if surface == "runware" and problem == "type" else BODIES[problem]
    with httpx.Client(transport=manual_emulator.sync_transport(), base_url="http://emulator") as client:
        r = client.post(path, content=body, headers=HEADERS)
    assert r.status_code == 400, r.text
    check(r.json(), problem)
    assert len(manual_emulator.store) == 0


@pytest.mark.parametrize("surface", ["runcrate", "relay", "gemini", "interactions", "vertex"])
def test_an_empty_body_is_refused_like_a_non_object(manual_emulator, surface):
    path, check = SURFACES[surface]
    with httpx.Client(transport=manual_emulator.sync_transport(), base_url="http://emulator") as client:
        r = client.post(path, content=b"  ", headers=HEADERS)
    assert r.status_code == 400
    check(r.json(), "empty")


def test_empty_bodies_where_the_service_reads_them_as_no_fields(manual_emulator):
    with httpx.Client(transport=manual_emulator.sync_transport(), base_url="http://emulator") as client:
        openai = client.post("/openai/v1/videos", content=b"", headers=HEADERS).json()["error"]
        fetch = client.post(VERTEX + ":fetchPredictOperation", content=b"", headers=HEADERS).json()["error"]
    assert openai["param"] == "prompt"  # OpenAI: an empty body is an empty object, so prompt is missing
    assert fetch["message"] == "operationName is required."


def test_a_runware_websocket_frame_that_is_not_a_task_array(manual_emulator):
    with TestClient(manual_emulator.app) as client, client.websocket_connect("/runware/v1") as ws:
        for frame in ('[{"taskType": ', '{"taskType": "ping"}', "[]", "[1]"):
            ws.send_text(frame)
            assert ws.receive_json()["errors"] == [
                {"code": "invalidRequest", "message": "A frame must be a JSON array of task objects."}]
    assert len(manual_emulator.store) == 0
