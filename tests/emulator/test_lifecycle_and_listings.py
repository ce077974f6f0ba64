"""Shut-down models and model listings as the emulator serves them, judged by the official SDKs
(openai, runcrate-sdk, runware-sdk's error mapping), plus Runcrate's create body and 404-before-done."""

from __future__ import annotations

import uuid

import openai
import pytest

runcrate = pytest.importorskip("runcrate")
runware_errors = pytest.importorskip("runware.errors")

from sorakit.emulator import ManualClock  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
RC_KEY = "rc_live_" + "t" * 8  # shorter than a real key


@pytest.fixture
def oa(emulator_server):
    with openai.OpenAI(base_url=emulator_server.url("openai"), api_key="sk-emulator-test", max_retries=0,
                       timeout=30) as c:
        yield c


@pytest.fixture
def rc(emulator_server):
    # the SDK appends /v1/videos to its inference URL, as on https://api.runcrate.ai
    client = runcrate.Runcrate(api_key=RC_KEY, inference_url=emulator_server.base_url + "/runcrate", max_retries=0)
    yield client
    client.close()


def test_openai_sdk_lists_models_and_meets_model_not_found(oa, emulator):
    assert [m.id for m in oa.models.list()] == []  # Sora is shut down in the catalog: nothing listed
    emulator.config.shut_down.clear()
    created = oa.videos.create(model="sora-2", prompt="a red fox", seconds="4")  # the emulator still serves it
    assert created.status == "queued"
    emulator.shut_down("sora-2", "openai")
    with pytest.raises(openai.NotFoundError) as info:
        oa.videos.create(model="sora-2", prompt="a red fox", seconds="4")
    assert info.value.code == "model_not_found" and "sora-2" in info.value.message


def test_gemini_listing_and_no_longer_available(emu_client, emulator):
    body = emu_client.get("/gemini/v1beta/models").json()
    # every Developer-API Veo offer and the Omni preview / 1.1 ids are shut down in the catalog: only the
    # live Omni Flash id (interactions) is listed
    assert [m["name"] for m in body["models"]] == ["models/gemini-omni-1.2-flash"]
    emulator.shut_down("veo-3.1", "gemini")
    r = emu_client.post("/gemini/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
                        json={"instances": [{"prompt": "a heron"}], "parameters": {}})
    err = r.json()["error"]
    assert r.status_code == 404 and err["status"] == "NOT_FOUND" and "is no longer available" in err["message"]


def test_runware_model_search_and_unknown_model(emu_client, emulator):
    task = {"taskType": "modelSearch", "taskUUID": str(uuid.uuid4()), "capabilities": ["io:text-to-video"],
            "limit": 100}
    (item,) = emu_client.post("/runware/v1", json=[task]).json()["data"]
    assert item["taskType"] == "modelSearch" and item["totalResults"] == len(item["results"])
    airs = {r["air"] for r in item["results"]}
    assert "google:gemini@omni-flash-1.1" in airs and "openai:3@1" not in airs  # retired 2026-09-24
    page = emu_client.post("/runware/v1", json=[{**task, "limit": 2, "offset": 2}]).json()["data"][0]
    assert [r["air"] for r in page["results"]] == [r["air"] for r in item["results"]][2:4]
    emulator.shut_down("google:3@2", "runware")
    video = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "model": "google:3@2",
             "positivePrompt": "a heron", "width": 1280, "height": 720, "duration": 8, "deliveryMethod": "async"}
    r = emu_client.post("/runware/v1", json=[video])
    (err,) = r.json()["errors"]
    assert r.status_code == 400 and err["code"] == "unknownModel" and err["parameter"] == "model"
    assert runware_errors.parse_api_error(r.json()).code == "notFound"  # the SDK's reading of it
    listed = emu_client.post("/runware/v1", json=[task]).json()["data"][0]
    assert "google:3@2" not in {r["air"] for r in listed["results"]}


@pytest.fixture
def emulator_clock():
    return ManualClock()


def test_runcrate_sdk_create_poll_download_and_404_before_done(rc, emulator):
    job = rc.models.generate_video(model="google/veo-3.0", prompt="a drone over mountains", duration=6,
                                   aspect_ratio="16:9")
    assert job.status == "queued"
    with pytest.raises(runcrate.NotFoundError):  # Runcrate: no file before completion
        rc.models.download_video(job.id)
    emulator.clock.advance(600)
    assert rc.models.get_video_status(job.id).status == "completed"
    assert rc.models.download_video(job.id)[4:8] == b"ftyp"
    emulator.shut_down("veo-3", "runcrate")
    with pytest.raises(runcrate.NotFoundError) as info:
        rc.models.generate_video(model="google/veo-3.0", prompt="again", duration=6)
    assert info.value.code == "model_not_found"


def test_runcrate_image_url_and_duration_seconds(emu_client, emulator, make_png):
    import base64

    image = "data:image/png;base64," + base64.b64encode(make_png(1280, 720)).decode()
    r = emu_client.post("/runcrate/v1/videos", json={"model": "google/veo-3.0", "prompt": "x", "duration": 8,
                                                     "image_url": image})
    assert r.status_code == 400 and r.json()["error"]["param"] == "image_url"  # no image-to-video claimed
    r = emu_client.post("/runcrate/v1/videos", json={"model": "google/veo-3.0", "prompt": "x",
                                                     "duration_seconds": 4})
    assert r.status_code == 200
    listed = emu_client.get("/runcrate/v1/models").json()
    assert [m["id"] for m in listed["data"]] == ["google/veo-3.0"]
