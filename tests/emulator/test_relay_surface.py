"""The emulator's relay surface: resolution x aspect ratio, n results, new-api paths, RelayProvider round trips."""

import base64
import hashlib
import io
import json

import av
import httpx
import pytest
from PIL import Image

from sorakit import VideoRequest, plan
from sorakit._exceptions import BadRequestError, ModerationError
from sorakit.catalog import load_catalog
from sorakit.providers.relay import RelayProvider, make_relay

CAT = load_catalog()
KEY = "sk-relay-TESTKEY0000"
BASE = "http://emulator/relay/v1"


@pytest.fixture
def emu(manual_emulator):
    return manual_emulator


@pytest.fixture
def client(emu):
    with httpx.Client(transport=emu.sync_transport(), base_url=BASE,
                      headers={"Authorization": f"Bearer {KEY}"}) as c:
        yield c


def gen(client, path="/videos/generations", **body):
    payload = {"model": "seedance-1-pro", "prompt": "a kite over dunes", "duration": 5,
               "resolution": "480p", "aspect_ratio": "16:9", "n": 1}
    payload.update(body)
    return client.post(path, json=payload)


def dims(data: bytes):
    with av.open(io.BytesIO(data)) as c:
        s = c.streams.video[0]
        return s.codec_context.width, s.codec_context.height


def test_n_results_each_a_different_video(emu, client):
    r = gen(client, n=2, aspect_ratio="9:16")
    assert r.status_code == 200 and r.json()["status"] == "queued"
    tid = r.json()["id"]
    running = client.get(f"/videos/generations/{tid}").json()
    assert running["status"] == "queued" and "data" not in running
    emu.test_clock.advance(120)
    done = client.get(f"/videos/generations/{tid}").json()
    assert done["status"] == "completed" and len(done["data"]) == 2
    files = [client.get(d["url"]) for d in done["data"]]
    assert all(f.status_code == 200 for f in files)
    assert dims(files[0].content) == (480, 854)
    assert hashlib.sha256(files[0].content).digest() != hashlib.sha256(files[1].content).digest()
    assert emu.counters["relay"]["creates"] == 1 and emu.counters["relay"]["jobs"] == 2


@pytest.mark.parametrize("model,res,aspect,size", [
    ("veo3-fast", "720p", "16:9", "1280x720"), ("veo3-fast", "1080p", "9:16", "1080x1920"),
    ("kling-v3", "1080p", "1:1", "1080x1080"), ("sora-2", "720p", "9:16", "720x1280"),
    ("seedance-1-pro", "480p", "16:9", "854x480"),
    ("bytedance:2@1", "480p", "16:9", "854x480"),  # another provider's id: the relay offer of that model
    ("bytedance:2@2", "480p", "16:9", "864x480"),  # no relay offer: the model's first offer and its size
])
def test_resolution_and_aspect_ratio_make_exact_sizes(emu, client, model, res, aspect, size):
    model_def = {"veo3-fast": 8, "kling-v3": 5, "sora-2": 4, "seedance-1-pro": 5, "bytedance:2@1": 5,
                 "bytedance:2@2": 5}
    r = gen(client, model=model, resolution=res, aspect_ratio=aspect, duration=model_def[model])
    assert r.status_code == 200, r.text
    [job] = emu.store.group(r.json()["id"])
    assert job.size == size


def test_new_api_paths_and_other_key_headers(emu, client):
    alt = httpx.Client(transport=emu.sync_transport(), base_url=BASE, headers={"x-api-key": KEY})
    emu.config.require_key = KEY
    r = gen(alt, path="/video/generations")
    assert r.status_code == 200
    assert alt.get(f"/video/generations/{r.json()['id']}").status_code == 200
    nokey = httpx.Client(transport=emu.sync_transport(), base_url=BASE)
    r = gen(nokey)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


@pytest.mark.parametrize("body,param", [
    ({"resolution": "4k"}, "resolution"),
    ({"aspect_ratio": "4:3"}, "resolution"),
    ({"model": "sora-2", "resolution": "1080p", "duration": 4}, "resolution"),
    ({"duration": 7}, "duration"),
    ({"duration": "5"}, "duration"),
    ({"n": 9}, "n"),
    ({"image": "https://example.com/cat.png"}, "image"),
    ({"prompt": ""}, "prompt"),
    ({"size": "1280x720"}, "size"),
    ({"prompt": "guardrail-term"}, "prompt"),
])
def test_validation_errors(client, body, param):
    r = gen(client, **body)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["param"] == param and err["type"] == "invalid_request_error"


def test_unknown_model_names_are_served_permissively(emu, client):
    r = gen(client, model="my-own-video-model", resolution="720p", duration=6)
    assert r.status_code == 200
    [job] = emu.store.group(r.json()["id"])
    assert (job.model, job.size, job.seconds) == ("my-own-video-model", "1280x720", 6)


def test_image_to_video_and_moderation(emu, client):
    buf = io.BytesIO()
    Image.new("RGB", (854, 480), (10, 120, 60)).save(buf, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    r = gen(client, image=uri)
    assert r.status_code == 200
    [job] = emu.store.group(r.json()["id"])
    assert job.spec.input_image == buf.getvalue()
    tid = gen(client, prompt="a blocked-term parade", n=2).json()["id"]
    emu.test_clock.advance(120)
    body = client.get(f"/videos/generations/{tid}").json()
    assert body["status"] == "failed" and body["error"]["code"] == "content_policy_violation"
    assert client.get("/videos/generations/gen_nope").status_code == 404


def test_expired_result_links(emu, client):
    tid = gen(client).json()["id"]
    emu.test_clock.advance(60)
    url = client.get(f"/videos/generations/{tid}").json()["data"][0]["url"]
    emu.test_clock.advance(emu.config.url_ttl_seconds + 1)
    r = client.get(url)
    assert r.status_code == 404 and r.json()["error"]["code"] == "file_expired"


def test_relay_provider_round_trip_with_variations(emu, client):
    prov = RelayProvider(CAT.providers["relay"], base_url=BASE, api_key=KEY)
    p = plan(VideoRequest("a glass city", model="veo-3-fast", provider="relay", variations=3), emulated=True)
    [s] = prov.parse_create(p, client.send(prov.build_create(p, "r")), "r")
    assert s.status == "submitted"
    emu.test_clock.advance(300)
    states = prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert [x.variation_index for x in states] == [0, 1, 2]
    assert len({x.provider_video_id for x in states}) == 3
    assert all(x.video_url.startswith(BASE + "/files/") for x in states)
    req = prov.build_download(states[2])
    assert req.headers["authorization"] == f"Bearer {KEY}"  # same origin as the relay
    assert client.send(req).status_code == 200


def test_a_configured_relay_round_trips_against_the_emulator(emu, client):
    cfg = make_relay("newapi-test", base_url="https://newapi.example.org/v1", key_env="NEWAPI_KEY",
                     models={"kling-3-standard": "kling-v3"},
                     paths={"create": "video/generations", "poll": "video/generations/{id}"},
                     auth_header="x-api-key", auth_scheme=None)
    cat = cfg.extend(CAT)
    # as a Studio(relays=[cfg]) builds it: the provider gets the relay's config, no registry involved
    prov = RelayProvider(cat.providers["newapi-test"], base_url=BASE, api_key=KEY, config=cfg)
    p = plan(VideoRequest("a paper crane", model="kling-3-standard@newapi-test", size="1080x1080"),
             cat, emulated=True)
    req = prov.build_create(p, "r")
    assert req.url.path == "/relay/v1/video/generations" and req.headers["x-api-key"] == KEY
    assert json.loads(req.content)["aspect_ratio"] == "1:1"
    [s] = prov.parse_create(p, client.send(req), "r")
    emu.test_clock.advance(300)
    [done] = prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert done.status == "completed"
    assert emu.store.group(s.provider_job_id)[0].size == "1080x1080"


def test_errors_read_by_the_provider(emu, client):
    prov = RelayProvider(CAT.providers["relay"], base_url=BASE, api_key=KEY)
    p = plan(VideoRequest("guardrail-term", model="sora-2", provider="relay"), emulated=True)
    with pytest.raises(ModerationError) as e:
        prov.parse_create(p, client.send(prov.build_create(p, "r")), "r")
    assert e.value.status_code == 400 and e.value.param == "prompt"
    p = plan(VideoRequest("blocked-term", model="sora-2", provider="relay"), emulated=True)
    [s] = prov.parse_create(p, client.send(prov.build_create(p, "r")), "r")
    emu.test_clock.advance(60)
    [f] = prov.parse_poll(s.provider_job_id, client.send(prov.build_poll(s.provider_job_id)))
    assert (f.status, f.error_code) == ("failed", "content_policy_violation")
    with pytest.raises(BadRequestError):
        prov.raise_for_error(gen(client, n=0))
