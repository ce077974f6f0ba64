"""The official ``runware-sdk`` (1.8), unmodified, against the emulator: REST and its default
WebSocket transport, only ``http_base_url`` / ``ws_base_url`` pointed at the emulator.

Only ``runware-sdk`` is installed: the older ``runware`` package installs the same import
package ``runware`` and cannot share an environment with it; the README recommends
``runware-sdk`` (it speaks both transports), and the WebSocket frames served here are the ones
both packages exchange (authentication, task arrays, getResponse).
"""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from runware import Runware, RunwareError

from conformance.conftest import png, probe
from sorakit.emulator import EmulatorConfig

VEO_FAST = "google:3@1"


@pytest.fixture
def emulator_config():
    # the SDK polls on the wall clock (first poll after 1 s): jobs finish well before that
    return EmulatorConfig(time_scale=0.005, seed=3, render_eagerly=False)


@pytest.fixture(params=["rest", "websocket"])
def transport(request):
    return request.param


def run(server, transport, task, key="test-runware-key"):
    async def go():
        kw = {"transport": "rest", "http_base_url": server.url("runware")} if transport == "rest" else {
            "transport": "websocket", "ws_base_url": server.url("runware").replace("http://", "ws://")}
        async with Runware(api_key=key, **kw) as client:
            return await client.run(task)
    return asyncio.run(go())


def video(prompt="a fox runs through snow", **extra):
    return {"taskType": "videoInference", "model": VEO_FAST, "positivePrompt": prompt, "duration": 8,
            "outputFormat": "MP4", "includeCost": True, **extra}


def test_text_to_video_with_two_results(emulator_server, emulator, transport):
    items = run(emulator_server, transport, video(width=1280, height=720, numberResults=2, seed=21))
    assert len(items) == 2 and {i["status"] for i in items} == {"success"}
    assert sorted(i["seed"] for i in items) == [21, 22]
    for item in items:
        assert item["cost"] == pytest.approx(0.15 * 8)
        data = httpx.get(item["videoURL"], timeout=60).content
        assert probe(data)[:2] == (1280, 720)
    if transport == "websocket":  # the frames really went over the socket
        frames = [e.json() for e in emulator.requests.entries("WS")]
        assert frames[0][0]["taskType"] == "authentication" and frames[0][0]["apiKey"] == "***"
        assert any(f[0].get("taskType") == "getResponse" for f in frames)
        assert not emulator.requests.entries("POST", "/runware/v1")


def test_cost_is_a_number_for_an_offer_without_a_catalog_price(emulator_server, emulator, transport):
    """runware-sdk 1.8 types ``VideoInferenceResult.cost`` as a float: what the SDK hands back must
    sum, also for an id the catalog has no price for (the emulator's figure then)."""
    items = run(emulator_server, transport, video(model="acme:9@9", width=1280, height=720, duration=5))
    (item,) = items
    assert item["status"] == "success" and isinstance(item["cost"], float)
    assert sum(i["cost"] for i in items) == pytest.approx(emulator.surfaces["runware"].emulator_rate() * 5)


def test_image_to_video(emulator_server, emulator, transport):
    image = png(1280, 720)
    uri = "data:image/png;base64," + base64.b64encode(image).decode()
    [item] = run(emulator_server, transport, video("the photo starts to move", inputs={"frameImages": [uri]}))
    assert item["status"] == "success"
    assert emulator.jobs("runware")[0].spec.input_image == image


def test_moderation_is_a_safety_error(emulator_server, transport):
    with pytest.raises(RunwareError) as e:
        run(emulator_server, transport, video("a blocked-term scene", width=1280, height=720))
    assert e.value.code == "safety"


def test_validation_error_names_the_parameter(emulator_server, transport):
    with pytest.raises(RunwareError) as e:
        run(emulator_server, transport, video(width=1280, height=720, duration=7))
    assert e.value.code == "validation" and "duration" in str(e.value)


def test_wrong_key_is_an_auth_error(emulator_server, emulator, transport):
    emulator.config.require_key = "the-right-key"
    with pytest.raises(RunwareError) as e:
        run(emulator_server, transport, video(width=1280, height=720), key="a-wrong-key")
    assert e.value.code == "auth"
    [item] = run(emulator_server, transport, video(width=1280, height=720), key="the-right-key")
    assert item["status"] == "success"
