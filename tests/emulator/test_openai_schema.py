"""Every JSON body the OpenAI surface sends validates against OpenAI's published OpenAPI schema."""

from __future__ import annotations

import base64
import re

import httpx
import pytest

from sorakit.emulator import FaultConfig, ManualClock


@pytest.fixture
def emulator_clock():
    return ManualClock()


@pytest.fixture
def checked(emulator, openai_schema):
    """An in-process client whose every /openai/v1 JSON response is schema-checked (and counted)."""
    seen = {"ErrorResponse": 0, "VideoResource": 0, "VideoListResource": 0, "DeletedVideoResource": 0}

    def check(response: httpx.Response) -> None:
        response.read()
        assert response.headers.get("x-request-id", "").startswith("req_"), response.request.url
        if not response.headers.get("content-type", "").startswith("application/json"):
            assert response.status_code < 400, response.text
            return
        body = response.json()
        path = response.request.url.path
        method = response.request.method
        if response.status_code >= 400:
            name = "ErrorResponse"
        elif path.endswith("/files"):
            return
        elif method == "DELETE":
            name = "DeletedVideoResource"
        elif method == "GET" and re.fullmatch(r"/openai/v1/videos/?", path):
            name = "VideoListResource"
        else:
            name = "VideoResource"
        openai_schema(body, name)
        if name == "VideoResource":  # exactly the spec's fields, no invented ones
            assert set(body) == {"id", "object", "model", "status", "progress", "created_at", "completed_at",
                                 "expires_at", "prompt", "size", "seconds", "remixed_from_video_id", "error"}
        seen[name] += 1

    client = httpx.Client(transport=emulator.sync_transport(), base_url="http://emulator.test/openai/v1",
                          headers={"Authorization": "Bearer sk-schema"}, event_hooks={"response": [check]})
    with client:
        yield client, seen


def test_every_response_matches_the_spec(checked, emulator, make_png):
    client, seen = checked
    clock: ManualClock = emulator.clock

    # create: JSON and multipart, every size sora-2-pro allows, an input image
    ids = [client.post("/videos", json={"prompt": "json body", "seconds": "8", "size": "1280x720"}).json()["id"]]
    ids.append(client.post("/videos", data={"prompt": "multipart body", "model": "sora-2-pro",
                                            "size": "1024x1792"}).json()["id"])
    image = make_png(720, 1280)
    ids.append(client.post("/videos", data={"prompt": "with an image", "size": "720x1280"},
                           files={"input_reference": ("i.png", image, "image/png")}).json()["id"])
    ids.append(client.post("/videos", json={
        "prompt": "data url", "size": "720x1280",
        "input_reference": {"image_url": "data:image/png;base64," + base64.b64encode(image).decode()}}).json()["id"])
    failed = client.post("/videos", json={"prompt": "this has a blocked-term in it"}).json()["id"]

    # every status along the way
    statuses = set()
    for _ in range(40):
        for vid in ids + [failed]:
            statuses.add(client.get(f"/videos/{vid}").json()["status"])
        clock.advance(0.1)
    assert statuses == {"queued", "in_progress", "completed", "failed"}
    assert client.get(f"/videos/{failed}").json()["error"]["code"] == "moderation_blocked"

    # lists, remix, extension, edit, delete
    assert client.get("/videos", params={"limit": 2}).json()["has_more"] is True
    client.get("/videos", params={"order": "asc", "after": ids[0]})
    client.get("/videos", params={"limit": 0})
    client.post(f"/videos/{ids[0]}/remix", json={"prompt": "remixed"})
    client.post("/videos/extensions", json={"video": {"id": ids[0]}, "prompt": "longer", "seconds": "4"})
    client.post("/videos/edits", data={"video[id]": ids[0], "prompt": "edited"})
    client.delete(f"/videos/{failed}")

    # errors: validation, not found, state, auth, rate limit, server faults
    bad = [
        client.post("/videos", json={"prompt": "x", "seconds": 8}),
        client.post("/videos", json={"prompt": "x", "seconds": "5"}),
        client.post("/videos", json={"prompt": "x", "size": "640x480"}),
        client.post("/videos", json={"prompt": ""}),
        client.post("/videos", json={"model": "sora-2"}),
        client.post("/videos", json={"prompt": "x", "quality": "high"}),
        client.post("/videos", content=b"{not json", headers={"content-type": "application/json"}),
        client.post("/videos", json={"prompt": "x", "size": "1280x720",
                                     "input_reference": {"image_url": "https://example.com/a.png"}}),
        client.post("/videos", json={"prompt": "a guardrail-term prompt"}),
        client.get("/videos/video_nope"),
        client.get("/videos", params={"limit": 101}),
        client.get("/videos", params={"order": "sideways"}),
        client.get(f"/videos/{ids[0]}/content", params={"variant": "gif"}),
        client.post("/videos/extensions", json={"video": {"id": "video_nope"}, "prompt": "x", "seconds": "4"}),
        client.get("/nowhere"),
        client.put("/videos"),
    ]
    assert all(r.status_code in (400, 404, 405) for r in bad), [r.status_code for r in bad]
    emulator.config.require_key = "sk-other"
    assert client.get("/videos").status_code == 401
    emulator.config.require_key = None
    emulator.config.rate_limit_per_minute = 1
    client.get("/videos")
    assert client.get("/videos").status_code == 429
    emulator.config.rate_limit_per_minute = None
    emulator.config.faults = FaultConfig(error_5xx=1.0)
    assert client.get("/videos").status_code in (500, 502, 503)

    assert seen["VideoResource"] > 100 and seen["VideoListResource"] == 3 + 1  # +1: the 429's neighbour
    assert seen["DeletedVideoResource"] == 1 and seen["ErrorResponse"] == len(bad) + 3
