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


def test_unknown_model_operation_and_version(client, manual_emulator):
    manual_emulator.config.serve_unknown_models = False  # an id the catalog lacks answered as unknown
    assert client.post(f"{PATH}/veo-9:predictLongRunning", json={}).json()["error"]["status"] == "NOT_FOUND"
    manual_emulator.config.serve_unknown_models = True
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


def _finished(manual_emulator, client, parameters: dict) -> dict:
    r = client.post(f"{PATH}/veo-3.1-fast-generate-001:predictLongRunning",
                    json={"instances": [{"prompt": "rain"}], "parameters": {"durationSeconds": 4, **parameters}})
    assert r.status_code == 200, r.text
    manual_emulator.test_clock.advance(600)
    return client.post(f"{PATH}/veo-3.1-fast-generate-001:fetchPredictOperation",
                       json={"operationName": r.json()["name"]}).json()


def test_an_inline_source_video_is_extended_by_seven_seconds(manual_emulator, client):
    import base64

    op = _finished(manual_emulator, client, {"aspectRatio": "9:16"})
    data = base64.b64decode(op["response"]["videos"][0]["bytesBase64Encoded"])
    video = {"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": "video/mp4"}
    r = client.post(f"{PATH}/veo-3.1-fast-generate-001:predictLongRunning",
                    json={"instances": [{"prompt": "on", "video": video}], "parameters": {"durationSeconds": 7}})
    assert r.status_code == 200, r.text
    [job] = manual_emulator.store.group(r.json()["name"])
    assert job.kind == "extend" and (job.seconds, job.width, job.height) == (11.0, 720, 1280)
    for bad, text in (({**video, "mimeType": "video/quicktime"}, "mimeType"),
                      ({**video, "bytesBase64Encoded": base64.b64encode(b"not a video").decode()}, "readable")):
        r = client.post(f"{PATH}/veo-3.1-fast-generate-001:predictLongRunning",
                        json={"instances": [{"prompt": "on", "video": bad}]})
        assert r.status_code == 400 and text in r.json()["error"]["message"], r.text


def test_a_source_longer_than_thirty_seconds_is_refused(manual_emulator, client):
    uri = _finished(manual_emulator, client, {"storageUri": "gs://b-1/x/"})["response"]["videos"][0]["gcsUri"]
    for _ in range(4):  # 4 + 7 + 7 + 7 + 7 = 32 s: the fourth extension's source is 25 s, the fifth 32 s
        r = client.post(f"{PATH}/veo-3.1-fast-generate-001:predictLongRunning",
                        json={"instances": [{"prompt": "on", "video": {"gcsUri": uri, "mimeType": "video/mp4"}}],
                              "parameters": {"storageUri": "gs://b-1/x/"}})
        assert r.status_code == 200, r.text
        manual_emulator.test_clock.advance(600)
        uri = client.post(f"{PATH}/veo-3.1-fast-generate-001:fetchPredictOperation",
                          json={"operationName": r.json()["name"]}).json()["response"]["videos"][0]["gcsUri"]
    r = client.post(f"{PATH}/veo-3.1-fast-generate-001:predictLongRunning",
                    json={"instances": [{"prompt": "on", "video": {"gcsUri": uri, "mimeType": "video/mp4"}}]})
    assert r.status_code == 400 and "1 to 30 seconds" in r.json()["error"]["message"]


def test_the_cloud_storage_stand_in_serves_written_objects_to_bearer_callers_only(manual_emulator, client):
    from urllib.parse import quote

    uri = _finished(manual_emulator, client, {"storageUri": "gs://b-1/some dir/"})["response"]["videos"][0]["gcsUri"]
    bucket, obj = uri[len("gs://"):].split("/", 1)
    url = f"/storage/download/storage/v1/b/{bucket}/o/{quote(obj, safe='')}"
    r = client.get(url, params={"alt": "media"})  # the client's x-goog-api-key only
    assert r.status_code == 401 and "Anonymous caller" in r.json()["error"]["message"]
    r = client.get(url, params={"alt": "media"}, headers={"authorization": "Bearer t"})
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and r.content[4:8] == b"ftyp"
    meta = client.get(url, headers={"authorization": "Bearer t"}).json()
    assert meta == {"kind": "storage#object", "bucket": "b-1", "name": obj, "contentType": "video/mp4"}
    r = client.get(f"/storage/download/storage/v1/b/{bucket}/o/nope.mp4", params={"alt": "media"},
                   headers={"authorization": "Bearer t"})
    assert r.status_code == 404
