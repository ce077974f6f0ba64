"""Injected faults: each kind, reproducible from a seed, in-process and over real loopback HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import httpx
import openai
import pytest

from sorakit.emulator import EmulatedReset, Emulator, EmulatorConfig, FaultConfig, ManualClock

V = "/openai/v1/videos"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def emulator_clock():
    return ManualClock()


def completed_video(client: httpx.Client, emu: Emulator, prompt: str = "fault target") -> str:
    vid = client.post(V, json={"prompt": prompt, "size": "1280x720"}).json()["id"]
    emu.clock.advance(10)
    return vid


def outcomes(kind: str, seed: int, media_dir, n: int = 16) -> list:
    """n requests against a fresh emulator with fault ``kind`` at rate 0.5: what each one saw."""
    rates = {"error_5xx": {"error_5xx": 0.5}, "reset": {"reset": 0.5}, "slow": {"slow_rate": 0.5, "slow_seconds": 0.001},
             "truncate_download": {"truncate_download": 0.5}, "expire_urls": {"expire_urls": 0.5}}[kind]
    download = kind in ("truncate_download", "expire_urls")
    config = EmulatorConfig(time_scale=0.01, seed=seed, render_eagerly=False)
    seen = []
    with Emulator(config, media_dir=media_dir, clock=ManualClock()) as emu, \
            httpx.Client(transport=emu.sync_transport(), base_url="http://emulator.test") as c:
        vid = completed_video(c, emu)
        emu.config.faults = FaultConfig(**rates)
        for _ in range(n):
            before = emu.counters["openai"]["faults"]
            try:
                if download:
                    r = c.get(f"{V}/{vid}/content", params={"variant": "thumbnail"})
                else:
                    r = c.get(f"{V}/{vid}")
                outcome = r.status_code
            except httpx.TransportError as exc:
                outcome = type(exc).__name__
            seen.append((outcome, emu.counters["openai"]["faults"] - before))
        assert emu.counters["openai"][f"faults:{kind}"] == sum(f for _, f in seen)
    return seen


@pytest.mark.parametrize("kind, faulted", [
    ("error_5xx", {500, 502, 503}),
    ("reset", {"RemoteProtocolError"}),
    ("slow", {200}),
    ("truncate_download", {"RemoteProtocolError"}),
    ("expire_urls", {404}),
])
def test_each_fault_is_reproducible_from_the_seed(kind, faulted, emulator_media_dir):
    first = outcomes(kind, 7, emulator_media_dir)
    assert first == outcomes(kind, 7, emulator_media_dir)  # same seed, same faults, same requests
    assert outcomes(kind, 8, emulator_media_dir) != first
    hit = [o for o, f in first if f]
    clean = [o for o, f in first if not f]
    assert hit and clean and set(clean) == {200} and set(hit) <= faulted


def test_faults_respect_operations_and_providers(emu_client, emulator):
    vid = completed_video(emu_client, emulator)
    emulator.config.faults = FaultConfig(error_5xx=1.0, operations=("create",))
    assert emu_client.get(f"{V}/{vid}").status_code == 200
    r = emu_client.post(V, json={"prompt": "refused"})
    assert r.status_code in (500, 502, 503) and r.json()["error"]["type"] == "server_error"
    emulator.config.faults = FaultConfig(error_5xx=1.0, providers=("runware",))
    assert emu_client.post(V, json={"prompt": "fine"}).status_code == 200
    r = emu_client.post("/runware/v1", json=[{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
    assert r.status_code in (500, 502, 503) and r.json()["errors"][0]["code"] in (
        "internalServerError", "badGateway", "serviceUnavailable")
    emulator.config.faults = FaultConfig()
    assert emu_client.get(V).status_code == 200
    assert emulator.counters["openai"]["faults:error_5xx"] == 1
    assert emulator.counters["runware"]["faults:error_5xx"] == 1


def test_reset_after_create_leaves_an_unknown_outcome(emu_client, emulator):
    emulator.config.faults = FaultConfig(reset=1.0, operations=("create",))
    with pytest.raises(httpx.RemoteProtocolError):
        emu_client.post(V, json={"prompt": "did this get made?"})
    # the answer was lost but the job exists: the client must reconcile (list), not blindly resend
    listed = emu_client.get(V).json()["data"]
    assert [v["prompt"] for v in listed] == ["did this get made?"]
    assert emulator.counters.prompt_creates("did this get made?") == 1

    emulator.config.faults = FaultConfig(reset=1.0, reset_when="before", operations=("create",))
    with pytest.raises(httpx.RemoteProtocolError):
        emu_client.post(V, json={"prompt": "never made"})
    assert emulator.counters.prompt_creates("never made") == 0 and len(emulator.jobs()) == 1


def test_plain_asgi_transport_sees_the_raw_fault(emulator):
    emulator.config.faults = FaultConfig(reset=1.0, operations=("list",))

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=emulator.app), base_url="http://e") as c:
            await c.get(V)

    with pytest.raises(EmulatedReset):
        asyncio.run(go())


def test_faults_over_loopback(emulator_server, emulator):
    with httpx.Client(base_url=emulator_server.base_url, timeout=10) as http:
        vid = completed_video(http, emulator, "over the wire")
        emulator.config.faults = FaultConfig(reset=1.0, operations=("poll",))
        with pytest.raises(httpx.TransportError):
            http.get(f"/openai/v1/videos/{vid}")
        emulator.config.faults = FaultConfig(truncate_download=1.0, truncate_fraction=0.3)
        with pytest.raises(httpx.RemoteProtocolError):
            http.get(f"/openai/v1/videos/{vid}/content", params={"variant": "thumbnail"})
        emulator.config.faults = FaultConfig(slow_rate=1.0, slow_seconds=0.6, operations=("list",))
        with pytest.raises(httpx.ReadTimeout):
            http.get("/openai/v1/videos", timeout=0.15)
        emulator.config.faults = FaultConfig(error_5xx=1.0)
        r = http.get("/openai/v1/videos")
        assert r.status_code in (500, 502, 503) and r.headers["x-request-id"].startswith("req_")
        emulator.config.faults = FaultConfig(expire_urls=1.0)
        assert http.get(f"/openai/v1/videos/{vid}/content").json()["error"]["code"] == "video_expired"
        emulator.config.faults = FaultConfig()
        assert http.get(f"/openai/v1/videos/{vid}").json()["status"] == "completed"  # the server survived it all
    counts = emulator.counters["openai"]
    assert [counts[f"faults:{k}"] for k in ("reset", "truncate_download", "slow", "error_5xx", "expire_urls")] \
        == [1, 1, 1, 1, 1]


def test_sdk_blind_retry_after_a_lost_answer_bills_twice(emulator_server, emulator):
    """Why sorakit's engine must not retry a create blindly: the counters prove the duplicate."""
    emulator.config.faults = FaultConfig(reset=1.0, operations=("create",))
    with openai.OpenAI(base_url=emulator_server.url("openai"), api_key="sk-x", max_retries=1) as client:
        with pytest.raises(openai.APIConnectionError):
            client.videos.create(prompt="one video, please")
    assert emulator.counters.prompt_creates("one video, please") == 2
    assert len(emulator.jobs("openai")) == 2


def test_a_client_gone_before_its_body_is_read_is_not_a_server_error(emulator_server, emulator):
    """A create held by a `slow` fault past the client's read timeout: the client hangs up, the
    emulator finds no body to read and answers nobody: no job, and no 'Exception in ASGI
    application' traceback in the server's log (what `make stress` printed 112 times)."""
    records: list = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]
    server_log = logging.getLogger("uvicorn.error")
    server_log.addHandler(handler)
    try:
        emulator.config.faults = FaultConfig(slow_rate=1.0, slow_seconds=0.4, operations=("create",))
        with httpx.Client(base_url=emulator_server.base_url) as http:
            with pytest.raises(httpx.ReadTimeout):
                http.post(V, json={"prompt": "nobody waits for me", "size": "1280x720"}, timeout=0.1)
            emulator.config.faults = FaultConfig()
            # the server logs a request once its handler is over (here: once it found no body)
            deadline = time.monotonic() + 20
            while not emulator.requests.entries("POST", V) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert emulator.requests.entries("POST", V), "the server never finished the create"
            assert emulator.counters["openai"]["faults:slow"] == 1
            assert emulator.counters.prompt_creates("nobody waits for me") == 0
            assert http.get(V).status_code == 200  # still serving (and a round trip after it)
    finally:
        server_log.removeHandler(handler)
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    assert errors == []
