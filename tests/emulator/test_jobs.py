"""Job life, limits, keys, counters and reproducibility (in-process, time driven by a ManualClock)."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest

from sorakit.emulator import Emulator, EmulatorConfig, ManualClock

V = "/openai/v1/videos"


@pytest.fixture
def emulator_clock():
    return ManualClock()


def client_for(emu: Emulator, key: str | None = "sk-a") -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(transport=emu.sync_transport(), base_url="http://emulator.test", headers=headers)


def test_lifecycle_queued_in_progress_completed(emu_client, emulator):
    clock: ManualClock = emulator.clock
    video = emu_client.post(V, json={"prompt": "a slow sunrise", "size": "1280x720", "seconds": "8"}).json()
    assert (video["status"], video["progress"], video["completed_at"]) == ("queued", 0, None)
    assert video["created_at"] == int(clock.now())
    seen = []
    while True:
        r = emu_client.get(f"{V}/{video['id']}")
        assert int(r.headers["openai-poll-after-ms"]) >= 10
        v = r.json()
        seen.append((v["status"], v["progress"]))
        if v["status"] == "completed":
            break
        clock.advance(0.02)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "queued" and "in_progress" in statuses and statuses[-1] == "completed"
    progress = [p for s, p in seen if s == "in_progress"]
    assert progress == sorted(progress) and len(set(progress)) > 5 and max(progress) <= 99
    assert seen[-1] == ("completed", 100)
    # 8 s 720p sora-2 ≈ 60 s (±10 %) at scale 1, plus 10 % queueing
    elapsed = clock.now() - video["created_at"]
    assert 0.6 * 0.9 * 1.1 * 0.98 <= elapsed <= 0.6 * 1.1 * 1.1 + 0.05


def test_generation_seconds_and_time_scale(emulator):
    clock: ManualClock = emulator.clock
    emulator.config.generation_seconds = 2.0
    with client_for(emulator) as c:
        a = c.post(V, json={"prompt": "fixed time", "model": "sora-2-pro", "seconds": "12"}).json()
        clock.advance(1.99)
        assert c.get(f"{V}/{a['id']}").json()["status"] == "in_progress"
        clock.advance(0.02)
        assert c.get(f"{V}/{a['id']}").json()["status"] == "completed"
        emulator.config.generation_seconds = None
        emulator.config.time_scale = 1.0
        b = c.post(V, json={"prompt": "real time", "model": "sora-2-pro", "seconds": "8"}).json()
        clock.advance(100)
        assert c.get(f"{V}/{b['id']}").json()["status"] == "in_progress"  # sora-2-pro ≈ 120 s
        clock.advance(60)
        assert c.get(f"{V}/{b['id']}").json()["status"] == "completed"


def test_concurrency_per_key_queues_excess_jobs(emulator):
    clock: ManualClock = emulator.clock
    emulator.config.concurrency_per_key = 1
    emulator.config.generation_seconds = 1.0
    with client_for(emulator, "sk-a") as a, client_for(emulator, "sk-b") as b:
        first = a.post(V, json={"prompt": "one"}).json()["id"]
        second = a.post(V, json={"prompt": "two"}).json()["id"]
        other = b.post(V, json={"prompt": "other key"}).json()["id"]
        clock.advance(0.5)
        assert a.get(f"{V}/{first}").json()["status"] == "in_progress"
        assert a.get(f"{V}/{second}").json()["status"] == "queued"  # waits for the key's slot
        assert b.get(f"{V}/{other}").json()["status"] == "in_progress"  # keys are independent
        clock.advance(0.6)
        assert a.get(f"{V}/{first}").json()["status"] == "completed"
        assert a.get(f"{V}/{second}").json()["status"] == "in_progress"
        clock.advance(1.0)
        assert a.get(f"{V}/{second}").json()["status"] == "completed"

        emulator.config.concurrency_overflow = "reject"
        a.post(V, json={"prompt": "three"})
        r = a.post(V, json={"prompt": "four"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "concurrency_limit_exceeded"
        assert r.json()["error"]["type"] == "requests" and int(r.headers["retry-after"]) >= 1
    with httpx.Client(transport=emulator.sync_transport(), base_url="http://emulator.test/runware/v1") as rw:
        task = {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "deliveryMethod": "async",
                "model": "openai:3@1", "positivePrompt": "runware too", "duration": 4, "width": 1280,
                "height": 720, "numberResults": 3}
        emulator.config.concurrency_per_key = 2
        assert rw.post("", json=[task]).status_code == 200  # one task = one slot, whatever numberResults
        assert rw.post("", json=[{**task, "taskUUID": str(uuid.uuid4())}]).status_code == 200
        r = rw.post("", json=[{**task, "taskUUID": str(uuid.uuid4())}])
        assert r.status_code == 429 and r.json()["errors"][0]["code"] == "concurrencyLimitExceeded"


def test_rate_limit_answers_429_with_retry_after(emulator):
    clock: ManualClock = emulator.clock
    emulator.config.rate_limit_per_minute = 3
    with client_for(emulator, "sk-a") as a, client_for(emulator, "sk-b") as b:
        assert [a.get(V).status_code for _ in range(3)] == [200, 200, 200]
        clock.advance(20)
        r = a.get(V)
        assert r.status_code == 429
        err = r.json()["error"]
        assert (err["type"], err["code"]) == ("requests", "rate_limit_exceeded")
        assert r.headers["retry-after"] == "40" and r.headers["retry-after-ms"] == "40000"
        assert r.headers["x-request-id"].startswith("req_")
        assert b.get(V).status_code == 200  # per key
        clock.advance(40)
        assert a.get(V).status_code == 200
    assert emulator.counters["openai"]["rate_limited"] == 1


def test_require_key(emulator):
    emulator.config.require_key = "sk-secret"
    with client_for(emulator, None) as anon, client_for(emulator, "sk-wrong") as wrong, \
            client_for(emulator, "sk-secret") as right:
        r = anon.get(V)
        assert r.status_code == 401 and r.json()["error"]["code"] is None
        assert "didn't provide an API key" in r.json()["error"]["message"]
        r = wrong.post(V, json={"prompt": "x"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
        assert "sk-wrong" not in r.text
        assert right.post(V, json={"prompt": "x"}).status_code == 200
        rw = wrong.post("/runware/v1", json=[{"taskType": "getResponse", "taskUUID": str(uuid.uuid4())}])
        assert rw.status_code == 401 and rw.json()["errors"][0]["code"] == "invalidApiKey"
    assert emulator.counters["openai"]["auth_failures"] == 2 and len(emulator.jobs()) == 1


def test_counters_and_job_creates(emulator):
    clock: ManualClock = emulator.clock
    with client_for(emulator) as c:
        ids = [c.post(V, json={"prompt": f"count me {i}"}).json()["id"] for i in range(3)]
        c.post(V, json={"prompt": 5})
        for vid in ids:
            c.get(f"{V}/{vid}")
        c.get(V)
        clock.advance(10)
        content = c.get(f"{V}/{ids[0]}/content", params={"variant": "thumbnail"})
    counts = emulator.counters["openai"]
    assert counts["create_calls"] == 4 and counts["creates"] == 3 and counts["jobs"] == 3
    assert counts["polls"] == 3 and counts["lists"] == 1 and counts["downloads"] == 1
    assert counts["bytes_out"] == len(content.content) and counts["requests"] == 9
    assert [emulator.counters.job_creates(i) for i in ids] == [1, 1, 1]
    assert emulator.counters.prompt_creates("count me 1") == 1
    assert emulator.counters.total("creates") == 3
    snap = emulator.counters.snapshot()
    assert snap["providers"]["openai"]["creates"] == 3 and snap["job_creates"][ids[0]] == 1
    emulator.counters.reset()
    assert emulator.counters["openai"]["creates"] == 0


def run_scripted(seed: int, media_dir) -> list:
    """The same requests against a fresh emulator: what comes back."""
    out = []
    with Emulator(EmulatorConfig(time_scale=0.01, seed=seed, render_eagerly=False), media_dir=media_dir,
                  clock=ManualClock()) as emu, client_for(emu) as c:
        for i in range(3):
            v = c.post(V, json={"prompt": f"same {i}"}).json()
            out.append((v["id"], emu.store.get(v["id"]).seed, emu.store.get(v["id"]).finish_at))
        task = {"taskType": "videoInference", "taskUUID": "7f0c3a55-1d0e-4f4a-9a43-3f3c1f1d2a10",
                "deliveryMethod": "async", "model": "openai:3@1", "positivePrompt": "same task",
                "duration": 4, "width": 1280, "height": 720, "numberResults": 2}
        c.post("/runware/v1", json=[task])
        emu.clock.advance(5)
        items = c.post("/runware/v1", json=[{"taskType": "getResponse", "taskUUID": task["taskUUID"]}]).json()
        out.append([(i["videoUUID"], i["seed"]) for i in items["data"]])
        out.append(c.get("/").headers["x-request-id"])
    return out


def test_same_seed_same_run(emulator_media_dir):
    first = run_scripted(99, emulator_media_dir)
    assert first == run_scripted(99, emulator_media_dir)
    other = run_scripted(100, emulator_media_dir)
    assert other[0][0] != first[0][0] and other[3] != first[3]


def test_eager_rendering_makes_the_file_ready_at_completion(emulator_media_dir):
    config = EmulatorConfig(time_scale=0.01, seed=5, render_eagerly=True)
    with Emulator(config, media_dir=emulator_media_dir) as emu, client_for(emu) as c:
        video = c.post(V, json={"prompt": f"eager {time.time()}", "size": "1280x720"}).json()
        job = emu.store.get(video["id"])
        assert job.render_future is not None  # started at creation, off the event loop
        emu.wait_renders(timeout=60)
        assert job.render_future.done() and job.render_future.result().path.exists()
        assert emu.renders.stats["video"] == 1


def test_async_transport(emulator, emu_async_transport):
    async def go():
        async with httpx.AsyncClient(transport=emu_async_transport, base_url="http://emulator.test") as c:
            video = (await c.post(V, json={"prompt": "async in-process"})).json()
            emulator.clock.advance(5)
            got = (await c.get(f"{V}/{video['id']}")).json()
            content = await c.get(f"{V}/{video['id']}/content", params={"variant": "spritesheet"})
            return got, content

    got, content = asyncio.run(go())
    assert got["status"] == "completed"
    assert content.status_code == 200 and content.headers["content-type"] == "image/jpeg"
