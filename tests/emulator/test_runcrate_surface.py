"""The emulator's Runcrate surface: faithful create / retrieve / download, spoken to by RuncrateProvider."""

import io

import av
import httpx
import pytest

from sorakit import VideoRequest, plan
from sorakit._exceptions import AuthenticationError, ModerationError, ServerError
from sorakit.catalog import load_catalog
from sorakit.emulator import FaultConfig
from sorakit.providers.runcrate import RuncrateProvider

KEY = "rc_live_TEST"
CAT = load_catalog()


@pytest.fixture
def emu(manual_emulator):
    return manual_emulator


@pytest.fixture
def client(emu):
    with httpx.Client(transport=emu.sync_transport(), base_url="http://emulator/runcrate/v1",
                      headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def create(client, **body):
    payload = {"model": "openai/sora-2", "prompt": "a paper boat on a pond", "duration": 4}
    payload.update(body)
    return client.post("/videos", json=payload)


def dims(data: bytes):
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height


def test_lifecycle_create_poll_download(emu, client):
    r = create(client, aspect_ratio="9:16", width=720, height=1280)
    assert r.status_code == 200
    vid = r.json()["id"]
    assert r.json()["status"] == "queued" and vid.startswith("vid_")
    assert client.get(f"/videos/{vid}").json()["status"] == "queued"
    early = client.get(f"/videos/{vid}/download")
    # Runcrate answers 404 until the video exists (its docs); the official SDK raises NotFoundError
    assert early.status_code == 404 and early.json()["error"]["code"] == "not_found"
    seen = set()
    for _ in range(40):
        emu.test_clock.advance(0.05)
        seen.add(client.get(f"/videos/{vid}").json()["status"])
    assert {"processing", "completed"} <= seen
    body = client.get(f"/videos/{vid}").json()
    assert (body["progress"], body["duration"], body["width"], body["height"]) == (100, 4, 720, 1280)
    video = client.get(f"/videos/{vid}/download")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    assert dims(video.content) == (720, 1280)
    assert emu.counters["runcrate"]["creates"] == 1 and emu.counters.job_creates(vid) == 1


def test_aspect_ratio_alone_picks_the_size(emu, client):
    vid = create(client, aspect_ratio="9:16").json()["id"]
    assert emu.store.get(vid).size == "720x1280"
    vid = create(client, model="openai/sora-2-pro", duration=12).json()["id"]
    assert emu.store.get(vid).size == "1280x720" and emu.store.get(vid).seconds == 12


@pytest.mark.parametrize("body,param,code", [
    ({"duration": 10}, "duration", "invalid_request"),
    ({"duration": "8"}, "duration", "invalid_type"),
    ({"model": "openai/sora-3"}, "model", "model_not_found"),
    ({"width": 1280}, "height", "invalid_request"),
    ({"width": 1024, "height": 1792}, "width", "invalid_request"),
    ({"width": 1280, "height": 720, "aspect_ratio": "9:16"}, "aspect_ratio", "invalid_request"),
    ({"seconds": "4"}, "seconds", "unknown_field"),
    ({"prompt": ""}, "prompt", "invalid_request"),
    ({"prompt": "guardrail-term here"}, "prompt", "content_policy_violation"),
])
def test_validation_errors(client, emu, body, param, code):
    emu.config.serve_unknown_models = False  # an id the catalog lacks answered as unknown (not served)
    r = create(client, **body)
    assert r.status_code == 400
    err = r.json()["error"]
    assert (err["param"], err["code"]) == (param, code) and err["message"]


def test_no_list_endpoint_and_unknown_ids(client):
    assert client.get("/videos").status_code == 405
    r = client.get("/videos/vid_nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_moderation_fails_the_job(emu, client):
    vid = create(client, prompt="a blocked-term scene").json()["id"]
    emu.test_clock.advance(60)
    body = client.get(f"/videos/{vid}").json()
    assert body["status"] == "failed" and body["error"]["code"] == "moderation_blocked"
    assert client.get(f"/videos/{vid}/download").status_code == 404


def test_require_key(emu, client):
    emu.config.require_key = KEY
    assert create(client).status_code == 200
    anon = httpx.Client(transport=emu.sync_transport(), base_url="http://emulator/runcrate/v1")
    assert create(anon).status_code == 401
    anon.headers["Authorization"] = "Bearer rc_live_WRONG"
    r = create(anon)
    assert r.status_code == 401 and KEY not in r.text


def test_expired_download_is_404(emu, client):
    vid = create(client).json()["id"]
    emu.test_clock.advance(emu.config.url_ttl_seconds + 100)
    r = client.get(f"/videos/{vid}/download")
    assert r.status_code == 404 and r.json()["error"]["code"] == "video_expired"


def test_the_provider_speaks_to_the_surface(emu, client):
    prov = RuncrateProvider(CAT.providers["runcrate"], base_url="http://emulator/runcrate/v1", api_key=KEY)
    p = plan(VideoRequest("a lantern festival", model="sora-2", provider="runcrate", seconds=8), emulated=True)
    [s] = prov.parse_create(p, client.send(prov.build_create(p, "ref")), "ref")
    assert s.status == "queued"
    emu.test_clock.advance(60)
    [done] = prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert done.status == "completed" and done.video_url_expires_at
    video = client.send(prov.build_download(done))
    assert video.status_code == 200 and dims(video.content) == (1280, 720)
    job = emu.store.get(s.provider_job_id)
    assert (job.seconds, job.model, job.provider_model) == (8, "sora-2", "openai/sora-2")


def test_errors_and_faults_read_by_the_provider(emu, client):
    prov = RuncrateProvider(CAT.providers["runcrate"], base_url="http://emulator/runcrate/v1", api_key=KEY)
    emu.config.require_key = KEY
    bad = RuncrateProvider(CAT.providers["runcrate"], base_url="http://emulator/runcrate/v1",
                           api_key="rc_live_OTHER000")
    p = plan(VideoRequest("x", model="sora-2", provider="runcrate"), emulated=True)
    with pytest.raises(AuthenticationError):
        bad.parse_create(p, client.send(bad.build_create(p, "r")), "r")
    g = plan(VideoRequest("guardrail-term", model="sora-2", provider="runcrate"), emulated=True)
    with pytest.raises(ModerationError) as e:
        prov.parse_create(g, client.send(prov.build_create(g, "r")), "r")
    assert e.value.code == "content_policy_violation" and e.value.request_id
    [s] = prov.parse_create(p, client.send(prov.build_create(p, "r")), "r")
    emu.config.faults = FaultConfig(error_5xx=1.0, operations=("poll",))
    with pytest.raises(ServerError):
        prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert emu.counters["runcrate"]["faults:error_5xx"] == 1
