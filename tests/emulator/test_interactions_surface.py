"""The emulator's Interactions API (Gemini Omni Flash) beyond what google-genai exercises."""

import httpx
import pytest

OMNI = "gemini-omni-flash-preview"


@pytest.fixture
def client(manual_emulator):
    with httpx.Client(transport=manual_emulator.sync_transport(), base_url="http://emulator/gemini",
                      headers={"x-goog-api-key": "k"}) as c:
        yield c


def create(client, version="v1beta", **body):
    return client.post(f"/{version}/interactions", json={"model": OMNI, "background": True, **body})


@pytest.mark.parametrize("body,text", [
    ({"input": "x", "background": False}, "background"),
    ({"input": "x", "stream": True}, "stream"),
    ({"input": "x", "temperature": 1}, "Unknown name \"temperature\""),
    ({"input": "x", "response_modalities": ["text"]}, "response_modalities"),
    ({"input": "x", "response_format": {"type": "video", "resolution": "1080p"}}, "resolution"),
    ({"input": "x", "response_format": {"type": "video", "aspect_ratio": "1:1"}}, "aspect_ratio"),
    ({"input": "x", "response_format": {"type": "video", "gcs_uri": "gs://b/"}}, "gcs_uri"),
    ({"input": "x", "previous_interaction_id": "v1_nope"}, "previous_interaction_id"),
    ({"input": [{"type": "audio", "data": "AAAA"}]}, "type 'audio'"),
    ({"input": "x", "generation_config": {"seed": "7"}}, "seed"),
])
def test_invalid_requests_name_the_field(client, body, text):
    r = create(client, **body)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert text in r.json()["error"]["message"], r.text


def test_versions_unknown_model_and_a_turn_on_an_unfinished_interaction(manual_emulator, client):
    assert create(client, version="v1", input="x").status_code == 200
    assert create(client, version="v9", input="x").status_code == 404
    r = client.post("/v1beta/interactions", json={"model": "veo-3.0-generate-001", "input": "x", "background": True})
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"
    first = create(client, input="a bird").json()
    r = create(client, input="now fly", previous_interaction_id=first["id"])
    assert r.status_code == 400 and "still in progress" in r.json()["error"]["message"]
    assert client.get("/v1beta/interactions/v1_unknown").status_code == 404
    manual_emulator.test_clock.advance(300)
    done = client.get(f"/v1beta/interactions/{first['id']}", params={"include_input": "true"}).json()
    assert [s["type"] for s in done["steps"]] == ["user_input", "thought", "model_output"]
