"""The Runware surface over real loopback HTTP with httpx, as a Runware client would use it."""

from __future__ import annotations

import base64
import hashlib
import io
import time
import uuid

import av
import httpx
import numpy as np
import pytest

SORA = "openai:3@1"


@pytest.fixture
def rw(emulator_server):
    with httpx.Client(base_url=emulator_server.url("runware"), timeout=30,
                      headers={"Authorization": "Bearer rw-test-key"}) as client:
        yield client


@pytest.fixture
def rw_local(emulator):
    """In-process (no port): the same envelopes, cheaper for the many validation cases."""
    with httpx.Client(transport=emulator.sync_transport(), base_url="http://emulator.test/runware/v1") as client:
        yield client


def submit(rw, **task):
    task = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "deliveryMethod": "async",
            "model": SORA, "positivePrompt": "a lighthouse in a storm", "duration": 4, **task}
    if "width" not in task and "inputs" not in task:
        task.update(width=1280, height=720)
    return task, rw.post("", json=[task])


def poll(rw, task_uuid, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        r = rw.post("", json=[{"taskType": "getResponse", "taskUUID": task_uuid}])
        assert r.status_code == 200, r.text
        body = r.json()
        items = body["data"] + body.get("errors", [])
        if items and all(i["status"] in ("success", "error") for i in items):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def first_frame(data: bytes) -> np.ndarray:
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def test_number_results_include_cost_and_distinct_files(rw, emulator):
    # seed: openai:3@1 takes none (the catalog follows Runware's schemas), google:3@1 does
    task, r = submit(rw, model="google:3@1", duration=4, numberResults=3, seed=7, includeCost=True,
                     providerSettings={"google": {"generateAudio": False}})
    assert r.status_code == 200
    assert r.json() == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    first = rw.post("", json=[{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).json()
    assert [i["status"] for i in first["data"]] == ["processing"] * 3
    body = poll(rw, task["taskUUID"])
    items = body["data"]
    assert len(items) == 3 and "errors" not in body
    assert all(i["status"] == "success" and i["taskUUID"] == task["taskUUID"] for i in items)
    assert [i["seed"] for i in items] == [7, 8, 9]
    assert len({i["videoUUID"] for i in items}) == 3
    assert all(i["outputs"]["videoId"] == i["videoUUID"] for i in items)
    assert all(i["cost"] == pytest.approx(0.10 * 4) for i in items)  # catalog: $0.10/s google:3@1 silent
    hashes = set()
    for item in items:
        assert item["videoURL"].startswith(rw.base_url.scheme + "://127.0.0.1:")
        video = httpx.get(item["videoURL"])  # a CDN URL: no key needed
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        hashes.add(hashlib.sha256(video.content).hexdigest())
    assert len(hashes) == 3
    assert emulator.counters["runware"]["creates"] == 1 and emulator.counters["runware"]["jobs"] == 3
    assert emulator.counters.prompt_creates("a lighthouse in a storm", "runware") == 1


def test_cost_is_always_a_number_with_include_cost_and_audio_changes_it(rw, emulator):
    """runware-sdk 1.8.0 types ``VideoInferenceResult.cost`` as a float: with ``includeCost`` the
    emulator reports a number even where the catalog has no price (an id it lacks, or an offer
    such as ``google:3@3`` while unpriced) — then the emulator figure, the median of the priced
    Runware offers (old behaviour: ``cost: null``)."""
    from sorakit.emulator.runware import RunwareSurface

    priced = sorted(r.usd_per_second for o in emulator.catalog.offers(provider="runware") for r in o.prices)
    figure = emulator.surfaces["runware"].emulator_rate()
    assert isinstance(emulator.surfaces["runware"], RunwareSurface) and priced[0] <= figure <= priced[-1]
    unlisted, r = submit(rw, model="acme:9@9", duration=5, includeCost=True)
    assert r.status_code == 200, r.text
    veo31_fast = emulator.catalog.offer_by_id("runware", "google:3@3")
    fast, r = submit(rw, model="google:3@3", duration=8, includeCost=True)
    assert r.status_code == 200, r.text
    kling_audio, _ = submit(rw, model="klingai:kling-video@3-standard", duration=5, includeCost=True,
                            providerSettings={"klingai": {"generateAudio": True}})
    kling_quiet, _ = submit(rw, model="klingai:kling-video@3-standard", duration=5, includeCost=True)
    no_cost, _ = submit(rw)
    (item,) = poll(rw, unlisted["taskUUID"])["data"]
    assert isinstance(item["cost"], float) and item["cost"] == pytest.approx(figure * 5)
    (item,) = poll(rw, fast["taskUUID"])["data"]
    rule = veo31_fast.price(1280, 720, veo31_fast.default_audio)
    assert isinstance(item["cost"], float)
    assert item["cost"] == pytest.approx((rule.usd_per_second if rule else figure) * 8)
    assert poll(rw, kling_audio["taskUUID"])["data"][0]["cost"] == pytest.approx(0.126 * 5)
    assert poll(rw, kling_quiet["taskUUID"])["data"][0]["cost"] == pytest.approx(0.084 * 5)
    assert "cost" not in poll(rw, no_cost["taskUUID"])["data"][0]


def test_frame_image_first_frame_and_video_id_remix(rw, make_png):
    image = make_png(1280, 720, (230, 120, 20))
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    task, r = submit(rw, inputs={"frameImages": [{"image": uri, "frame": "first"}]})
    assert r.status_code == 200, r.text
    item = poll(rw, task["taskUUID"])["data"][0]
    frame = first_frame(httpx.get(item["videoURL"]).content)
    assert frame.shape == (720, 1280, 3)
    assert np.abs(np.median(frame.reshape(-1, 3), axis=0) - (230, 120, 20)).max() < 30  # the image shows

    bare, r = submit(rw, inputs={"frameImages": [base64.b64encode(make_png(720, 1280)).decode()]})
    assert r.status_code == 200
    remix, r = submit(rw, positivePrompt="the lighthouse at dawn", inputs={"videoId": item["videoUUID"]})
    assert r.status_code == 200, r.text
    remixed = poll(rw, remix["taskUUID"])["data"][0]
    data = httpx.get(remixed["videoURL"]).content
    with av.open(io.BytesIO(data)) as c:
        assert (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height) == (1280, 720)
    assert poll(rw, bare["taskUUID"])["data"][0]["status"] == "success"


def test_reused_task_uuid_is_a_conflict(rw, emulator):
    task, r = submit(rw)
    assert r.status_code == 200
    again = rw.post("", json=[task])
    assert again.status_code == 409
    err = again.json()["errors"][0]
    assert err["code"] == "conflictTaskUUID" and err["taskUUID"] == task["taskUUID"]
    assert err["taskType"] == "videoInference" and again.json()["data"] == []
    assert emulator.counters.job_creates(task["taskUUID"]) == 2  # sent twice ...
    assert emulator.counters["runware"]["creates"] == 1  # ... made once
    assert emulator.counters["runware"]["conflicts"] == 1 and len(emulator.jobs("runware")) == 1


@pytest.mark.parametrize("changes, code, parameter", [
    ({"positivePrompt": "a"}, "invalidPositivePrompt", "positivePrompt"),
    ({"positivePrompt": "x" * 6001}, "invalidPositivePrompt", "positivePrompt"),
    ({"width": 1280, "height": None}, "invalidHeight", "height"),
    ({"width": 640, "height": 360}, "invalidWidth", "width"),
    ({"model": "openai:9@9"}, "invalidModel", "model"),
    ({"duration": 7}, "unsupportedDuration", "duration"),
    ({"numberResults": 5}, "invalidNumberResults", "numberResults"),
    ({"model": "google:3@1", "seed": -1}, "invalidSeed", "seed"),
    ({"seed": 7}, "unknownParameter", "seed"),  # openai:3@1 has no seed field
    ({"model": "google:3@1", "negativePrompt": "blur"}, "unknownParameter", "negativePrompt"),
    ({"outputQuality": 10}, "invalidOutputQuality", "outputQuality"),
    ({"outputFormat": "WEBM"}, "unsupportedOutputFormat", "outputFormat"),
    ({"deliveryMethod": "sync"}, "invalidDeliveryMethod", "deliveryMethod"),
    ({"taskUUID": "not-a-uuid"}, "invalidTaskUUID", "taskUUID"),
    ({"inputs": {"videoId": "0b7f5e8a-0000-4000-8000-000000000000"}, "width": 1280, "height": 720},
     "invalidInputs", "inputs.videoId"),
    ({"inputs": {"videoId": "0b7f5e8a-0000-4000-8000-000000000000"}, "width": None, "height": None},
     "invalidVideoId", "inputs.videoId"),
    ({"inputs": {"frameImages": ["https://example.com/a.png"]}, "width": None, "height": None},
     "invalidFrameImages", "inputs.frameImages"),
    ({"width": None, "height": None}, "invalidWidth", "width"),
    ({"positivePrompt": "a guardrail-term scene"}, "contentPolicyViolation", "positivePrompt"),
])
def test_validation_error_envelopes(rw_local, emulator, changes, code, parameter, monkeypatch):
    monkeypatch.setattr(emulator.config, "serve_unknown_models", False)  # unknown ids answered as unknown
    task = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "deliveryMethod": "async",
            "model": SORA, "positivePrompt": "valid prompt", "duration": 4, "width": 1280, "height": 720}
    task.update(changes)
    task = {k: v for k, v in task.items() if v is not None}
    r = rw_local.post("", json=[task])
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["data"] == [] and len(body["errors"]) == 1
    err = body["errors"][0]
    assert (err["code"], err["parameter"], err["taskType"]) == (code, parameter, "videoInference")
    assert err["message"] and len(emulator.jobs("runware")) == 0


def test_request_level_errors(rw, emulator_server, emulator):
    r = rw.post("", json={"taskType": "getResponse"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "invalidRequest"
    r = rw.post("", content=b"[{", headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = rw.post("", json=[{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "taskNotFound"
    r = rw.post("", json=[{"taskType": "imageInference", "taskUUID": str(uuid.uuid4())}])
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "invalidTaskType"
    assert rw.get("").status_code == 405

    emulator.config.require_key = "rw-right-key"
    r = rw.post("", json=[{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
    assert r.status_code == 401
    assert r.json()["errors"][0] == {"code": "invalidApiKey", "message": r.json()["errors"][0]["message"],
                                     "parameter": "apiKey", "taskType": "authentication"}
    # the key may also come as an authentication task instead of the header
    with httpx.Client(base_url=emulator_server.url("runware")) as anon:
        task = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "deliveryMethod": "async",
                "model": SORA, "positivePrompt": "keyed by task", "duration": 4, "width": 1280, "height": 720}
        r = anon.post("", json=[{"taskType": "authentication", "apiKey": "rw-right-key"}, task])
        assert r.status_code == 200 and r.json()["data"][1]["taskUUID"] == task["taskUUID"]
    emulator.config.require_key = None

    emulator.config.rate_limit_per_minute = 2
    codes = [rw.post("", json=[{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).status_code
             for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = rw.post("", json=[{"taskType": "getResponse", "taskUUID": task["taskUUID"]}])
    assert limited.json()["errors"][0]["code"] == "rateLimitExceeded"
    assert int(limited.headers["retry-after"]) >= 1 and int(limited.headers["retry-after-ms"]) > 0
    assert emulator.counters["runware"]["rate_limited"] == 2 and emulator.counters["runware"]["auth_failures"] == 1


def test_moderation_is_a_failed_data_item_and_costs_nothing(rw):
    task, r = submit(rw, positivePrompt="a scene with the blocked-term", numberResults=2, includeCost=True)
    assert r.status_code == 200
    body = poll(rw, task["taskUUID"])
    assert "errors" not in body and len(body["data"]) == 2
    for item in body["data"]:
        assert item["status"] == "error" and item["cost"] == 0
        assert item["error"]["code"] == "providerContentPolicyViolation" and item["error"]["message"]
        assert item["taskUUID"] == task["taskUUID"] and item["taskType"] == "videoInference"
    from runware.errors import derive_code  # the official SDK judges the code a safety one
    assert derive_code(body["data"][0]["error"]["code"]) == "safety"


def test_video_url_expires(rw, emulator):
    task, _ = submit(rw)
    item = poll(rw, task["taskUUID"])["data"][0]
    assert httpx.get(item["videoURL"]).status_code == 200
    emulator.config.url_ttl_seconds = 0.0
    gone = httpx.get(item["videoURL"])
    assert gone.status_code == 410 and gone.json()["errors"][0]["code"] == "expired"
    assert gone.headers["x-request-id"].startswith("req_")
    assert httpx.get(item["videoURL"].replace(item["videoUUID"], str(uuid.uuid4()))).status_code == 404
    # polling still answers: the task is done, only the file is gone
    assert poll(rw, task["taskUUID"])["data"][0]["status"] == "success"


def test_balance_runs_out_with_402(rw_local, emulator):
    emulator.config.balance_usd = 1.0
    task = {"taskType": "videoInference", "deliveryMethod": "async", "model": SORA,
            "positivePrompt": "paid for", "duration": 4, "width": 1280, "height": 720}
    ok = rw_local.post("", json=[{**task, "taskUUID": str(uuid.uuid4()), "numberResults": 2}])
    assert ok.status_code == 200 and emulator.spent_usd["runware"] == pytest.approx(0.8)
    broke = rw_local.post("", json=[{**task, "taskUUID": str(uuid.uuid4())}])
    assert broke.status_code == 402 and broke.json()["errors"][0]["code"] == "insufficientCredits"
    # an offer without a catalog price spends what it reports: the emulator figure, never a free ride
    unpriced = {**task, "model": "acme:9@9", "duration": 5}
    figure = emulator.surfaces["runware"].emulator_rate() * 5
    assert figure > 0.2
    refused = rw_local.post("", json=[{**unpriced, "taskUUID": str(uuid.uuid4())}])
    assert refused.status_code == 402
    emulator.config.balance_usd = 0.8 + figure
    assert rw_local.post("", json=[{**unpriced, "taskUUID": str(uuid.uuid4())}]).status_code == 200
    assert emulator.spent_usd["runware"] == pytest.approx(0.8 + figure) and len(emulator.jobs("runware")) == 3
