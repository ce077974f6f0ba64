"""The OpenAI surface refuses what the real service refuses, with the same statuses and error shapes."""

from __future__ import annotations

import pytest

from sorakit.emulator import ManualClock

V = "/openai/v1/videos"


@pytest.fixture
def emulator_clock():
    return ManualClock()


def _error(r, status=400):
    assert r.status_code == status, r.text
    assert r.headers["x-request-id"].startswith("req_")
    return r.json()["error"]


def test_seconds_must_be_a_string(emu_client):
    err = _error(emu_client.post(V, json={"prompt": "a cat", "seconds": 8}))
    assert (err["type"], err["param"], err["code"]) == ("invalid_request_error", "seconds", "invalid_type")
    assert "got an integer" in err["message"]
    err = _error(emu_client.post(V, json={"prompt": "a cat", "seconds": "10"}))
    assert (err["param"], err["code"]) == ("seconds", "invalid_value") and "'4', '8', and '12'" in err["message"]
    assert emu_client.post(V, json={"prompt": "a cat", "seconds": "12"}).json()["seconds"] == "12"
    assert emu_client.post(V, data={"prompt": "a cat", "seconds": "8"}).json()["seconds"] == "8"  # form: strings
    default = emu_client.post(V, json={"prompt": "defaults"}).json()
    assert (default["model"], default["size"], default["seconds"]) == ("sora-2", "720x1280", "4")


@pytest.mark.parametrize("seconds, code, words", [
    (None, "missing_required_parameter", "Missing required parameter: 'seconds'."),
    (8, "invalid_type", "expected one of '4', '8', '12', '16', or '20', but got an integer"),
    ("6", "invalid_value", "Supported values are: '4', '8', '12', '16', and '20'."),
])
def test_an_extension_needs_seconds_from_its_own_list(emu_client, seconds, code, words):
    body = {"video": {"id": "video_x"}, "prompt": "longer", **({} if seconds is None else {"seconds": seconds})}
    err = _error(emu_client.post(V + "/extensions", json=body))
    assert (err["param"], err["code"]) == ("seconds", code) and words in err["message"], err


@pytest.mark.parametrize("body, param, code", [
    ({"prompt": "x", "size": "1920x1080"}, "size", "invalid_value"),
    ({"prompt": "x", "size": "1792x1024"}, "size", "invalid_value"),  # sora-2 has only the 720p sizes
    ({"prompt": "x", "size": 720}, "size", "invalid_type"),
    ({"prompt": "x", "model": "sora-1"}, "model", "invalid_value"),
    ({"prompt": "x", "model": "sora-2-2024-01-01"}, "model", "invalid_value"),
    ({"model": "sora-2"}, "prompt", "missing_required_parameter"),
    ({"prompt": ""}, "prompt", "string_below_min_length"),
    ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
    ({"prompt": 42}, "prompt", "invalid_type"),
    ({"prompt": "x", "n": 2}, "n", "unknown_parameter"),
    ({"prompt": "x", "input_reference": "data:image/png;base64,AAAA"}, "input_reference", "invalid_type"),
    ({"prompt": "x", "input_reference": {"file_id": "file-nope"}}, "input_reference", "invalid_value"),
    ({"prompt": "x", "input_reference": {}}, "input_reference", "invalid_value"),
    ({"prompt": "x", "size": "1280x720", "input_reference": {"image_url": "data:image/png;base64,AAAA"}},
     "input_reference", "invalid_image"),
    ({"prompt": "a guardrail-term here"}, "prompt", "moderation_blocked"),
])
def test_create_validation(emu_client, emulator, body, param, code, monkeypatch):
    monkeypatch.setattr(emulator.config, "serve_unknown_models", False)  # unknown ids answered as unknown
    err = _error(emu_client.post(V, json=body))
    assert (err["param"], err["code"]) == (param, code), err
    c = emulator.counters["openai"]
    assert c["create_calls"] == 1 and c["creates"] == 0 and len(emulator.jobs()) == 0


def test_models_snapshots_and_relay_models(emu_client):
    r = emu_client.post(V, json={"prompt": "x", "model": "sora-2-pro-2025-10-06", "size": "1792x1024"})
    assert r.status_code == 200 and r.json()["model"] == "sora-2-pro-2025-10-06"
    # OpenAI-compatible relays route other models through /v1/videos: catalog names and relay ids work
    r = emu_client.post(V, json={"prompt": "x", "model": "veo-3-fast", "size": "1280x720", "seconds": "8"})
    assert r.status_code == 200 and r.json()["model"] == "veo-3-fast"
    r = emu_client.post(V, json={"prompt": "x", "model": "kling-v3", "size": "1280x720", "seconds": "5"})
    assert r.status_code == 200
    err = _error(emu_client.post(V, json={"prompt": "x", "model": "veo-3-fast", "seconds": "5"}))
    assert err["param"] == "seconds"


def test_input_image_must_match_size(emu_client, make_png):
    files = {"input_reference": ("i.png", make_png(1280, 720), "image/png")}
    err = _error(emu_client.post(V, data={"prompt": "x", "size": "720x1280"}, files=files))
    assert err["param"] == "input_reference"
    assert err["message"].startswith("Inpaint image must match the requested width and height")
    files = {"input_reference": ("i.png", make_png(1280, 720), "image/png")}
    assert emu_client.post(V, data={"prompt": "x", "size": "1280x720"}, files=files).status_code == 200
    files = {"input_reference": ("i.txt", b"not an image", "text/plain")}
    assert _error(emu_client.post(V, data={"prompt": "x"}, files=files))["code"] == "invalid_image"


def test_content_before_completion_after_expiry_and_ranges(emu_client, emulator):
    clock: ManualClock = emulator.clock
    emulator.config.url_ttl_seconds = 600
    video = emu_client.post(V, json={"prompt": "ranges", "size": "1280x720"}).json()
    err = _error(emu_client.get(f"{V}/{video['id']}/content"))
    assert err["code"] == "video_not_ready" and "queued" in err["message"]
    clock.advance(1000 * emulator.config.time_scale)
    done = emu_client.get(f"{V}/{video['id']}").json()
    assert done["status"] == "completed" and done["expires_at"] == done["completed_at"] + 600

    full = emu_client.get(f"{V}/{video['id']}/content")
    assert full.status_code == 200 and full.headers["accept-ranges"] == "bytes"
    size = int(full.headers["content-length"])
    assert size == len(full.content) > 1000
    part = emu_client.get(f"{V}/{video['id']}/content", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.headers["content-range"] == f"bytes 100-199/{size}"
    assert part.content == full.content[100:200]
    tail = emu_client.get(f"{V}/{video['id']}/content", headers={"Range": "bytes=-50"})
    assert tail.status_code == 206 and tail.content == full.content[-50:]
    opened = emu_client.get(f"{V}/{video['id']}/content", headers={"Range": "bytes=0-"})
    assert opened.status_code == 206 and opened.content == full.content  # what browsers send first
    assert emu_client.get(f"{V}/{video['id']}/content", headers={"Range": f"bytes={size}-"}).status_code == 416
    head = emu_client.head(f"{V}/{video['id']}/content")
    assert head.status_code == 200 and head.headers["content-length"] == str(size) and head.content == b""

    clock.advance(600)
    err = _error(emu_client.get(f"{V}/{video['id']}/content"), 404)
    assert err["code"] == "video_expired"
    assert emu_client.get(f"{V}/{video['id']}").json()["status"] == "completed"  # the object outlives the file


def test_failed_video_delete_rules_and_remix_of_unfinished(emu_client, emulator):
    clock: ManualClock = emulator.clock
    blocked = emu_client.post(V, json={"prompt": "please render the blocked-term"}).json()
    ok = emu_client.post(V, json={"prompt": "fine"}).json()
    assert _error(emu_client.delete(f"{V}/{ok['id']}"))["code"] == "invalid_state"
    assert _error(emu_client.post(f"{V}/{ok['id']}/remix", json={"prompt": "again"}))["code"] == "invalid_state"
    clock.advance(5)
    failed = emu_client.get(f"{V}/{blocked['id']}").json()
    assert failed["status"] == "failed" and failed["error"]["code"] == "moderation_blocked"
    assert failed["expires_at"] is None and failed["completed_at"] is not None
    assert _error(emu_client.get(f"{V}/{blocked['id']}/content"))["code"] == "invalid_state"
    assert emu_client.delete(f"{V}/{blocked['id']}").json() == {"id": blocked["id"], "object": "video.deleted",
                                                                 "deleted": True}
    assert _error(emu_client.delete(f"{V}/{blocked['id']}"), 404)
    assert _error(emu_client.post(f"{V}/video_nope/remix", json={"prompt": "x"}), 404)
    assert [v["id"] for v in emu_client.get(V).json()["data"]] == [ok["id"]]
    assert _error(emu_client.get(V, params={"after": "video_nope"}))["param"] == "after"


def test_request_id_on_every_response(emu_client):
    responses = [
        emu_client.get("/"),
        emu_client.get("/nope"),
        emu_client.get("/openai/v1/nope"),
        emu_client.patch(V),
        emu_client.post(V, json={"prompt": 1}),
        emu_client.post("/runware/v1", json=[]),
        emu_client.get("/runware/v1/media/nothing.mp4"),
    ]
    ids = [r.headers.get("x-request-id") for r in responses]
    assert all(i and i.startswith("req_") for i in ids) and len(set(ids)) == len(ids)
    assert [r.status_code for r in responses] == [200, 404, 404, 405, 400, 400, 404]
    index = responses[0].json()
    assert {s["prefix"] for s in index["surfaces"]} >= {"/openai/v1", "/runware/v1"}
    assert index["surfaces"][0]["base_url"].startswith("http://emulator.test/")
