"""The emulator's enterprise-platform Veo surface beyond what google-genai exercises."""

import httpx
import pytest

BASE = "http://emulator/vertex"
PATH = "/v1/projects/p1/locations/us-central1/publishers/google/models"


@pytest.fixture
def client(manual_emulator):
    with httpx.Client(transport=manual_emulator.sync_transport(), base_url=BASE,
                      headers={"x-goog-api-key": "k"}) as c:
        yield c


def test_lro_get_and_fetch_agree(manual_emulator, client):
    r = client.post(f"{PATH}/veo-3.1-fast-generate-001:predictLongRunning",
                    json={"instances": [{"prompt": "rain"}], "parameters": {"durationSeconds": 4, "seed": 5}})
    name = r.json()["name"]
    assert name.startswith("projects/p1/locations/us-central1/")
    manual_emulator.test_clock.advance(300)
    got = client.get(f"/v1/{name}").json()
    fetched = client.post(f"{PATH}/veo-3.1-fast-generate-001:fetchPredictOperation",
                          json={"operationName": name}).json()
    assert got == fetched and got["done"] and got["response"]["videos"][0]["mimeType"] == "video/mp4"


@pytest.mark.parametrize("body,text", [
    ({"instances": [{"prompt": "x"}], "parameters": {"seed": -1}}, "seed"),
    ({"instances": [{"prompt": "x"}], "parameters": {"storageUri": "s3://b"}}, "storageUri"),
    ({"instances": [{"prompt": "x", "image": {"gcsUri": "gs://b/i.png", "mimeType": "image/png"}}]}, "gcsUri"),
    ({"instances": [{"prompt": "x"}], "parameters": {"sampleCount": 5}}, "sampleCount"),
    ({"instances": [{"prompt": "x"}], "webhookConfig": {}}, "Unknown name \"webhookConfig\""),
])
def test_invalid_requests_name_the_field(client, body, text):
    r = client.post(f"{PATH}/veo-3.1-generate-001:predictLongRunning", json=body)
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert text in r.json()["error"]["message"], r.text


def test_unknown_model_operation_and_version(client):
    assert client.post(f"{PATH}/veo-9:predictLongRunning", json={}).json()["error"]["status"] == "NOT_FOUND"
    r = client.post(f"{PATH}/veo-3.1-generate-001:fetchPredictOperation", json={})
    assert r.status_code == 400 and "operationName" in r.json()["error"]["message"]
    r = client.post(f"{PATH}/veo-3.1-generate-001:fetchPredictOperation",
                    json={"operationName": "projects/p1/locations/us-central1/publishers/google/models/"
                                           "veo-3.1-generate-001/operations/nope"})
    assert r.status_code == 404
    r = client.post(PATH.replace("/v1/", "/v2/") + "/veo-3.1-generate-001:predictLongRunning", json={})
    assert r.status_code == 404 and r.json()["error"]["status"] == "NOT_FOUND"


def test_missing_credentials_when_required(manual_emulator):
    manual_emulator.config.require_key = "tok"
    with httpx.Client(transport=manual_emulator.sync_transport(), base_url=BASE) as anon:
        r = anon.post(f"{PATH}/veo-3.1-generate-001:predictLongRunning", json={})
        assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
        ok = anon.post(f"{PATH}/veo-3.1-generate-001:predictLongRunning", headers={"authorization": "Bearer tok"},
                       json={"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": 4}})
        assert ok.status_code == 200
