"""The official ``openai`` SDK, unmodified, against the emulator over real loopback HTTP."""

from __future__ import annotations

import base64
import io
import warnings

import av
import httpx
import openai
import pytest
from PIL import Image

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def client(emulator_server):
    with openai.OpenAI(base_url=emulator_server.url("openai"), api_key="sk-emulator-test",
                       max_retries=0, timeout=30) as c:
        yield c


def _probe(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as container:
        v = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video=0))
        return {
            "codec": v.codec_context.name,
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "seconds": float(container.duration / 1e6),
            "frames": frames,
            "audio": len(container.streams.audio),
        }


def test_create_and_poll_download_remix_delete(client, emulator):
    warnings.simplefilter("ignore", DeprecationWarning)
    video = client.videos.create_and_poll(prompt="A calico cat playing a piano on stage",
                                          model="sora-2", size="1280x720", seconds="4")
    assert video.status == "completed" and video.progress == 100
    assert video.object == "video" and video.id.startswith("video_")
    assert video.size == "1280x720" and video.seconds == "4" and video.model == "sora-2"
    assert video.completed_at >= video.created_at and video.expires_at > video.completed_at
    assert client.videos.retrieve(video.id).status == "completed"

    mp4 = client.videos.download_content(video.id)  # default variant: the MP4
    assert mp4.response.headers["content-type"] == "video/mp4"
    info = _probe(mp4.content)
    assert info["codec"] == "h264" and (info["width"], info["height"]) == (1280, 720)
    assert info["seconds"] == pytest.approx(4.0, abs=0.1) and info["frames"] == 120  # sora-2: 30 fps
    assert info["audio"] == 1

    thumb = client.videos.download_content(video.id, variant="thumbnail")
    assert thumb.response.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumb.content)) as img:
        assert img.format == "WEBP" and img.size == (1280, 720)
    sprites = client.videos.download_content(video.id, variant="spritesheet")
    assert sprites.response.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(sprites.content)) as img:
        assert img.format == "JPEG"

    remix = client.videos.remix(video.id, prompt="The same cat, now playing a violin")
    assert remix.remixed_from_video_id == video.id and remix.id != video.id
    assert remix.status in ("queued", "in_progress")
    remix = client.videos.poll(remix.id)
    assert remix.status == "completed" and remix.size == video.size and remix.seconds == video.seconds
    remix_mp4 = client.videos.download_content(remix.id).content
    assert remix_mp4 != mp4.content  # visibly a different render
    assert _probe(remix_mp4)["frames"] == 120

    deleted = client.videos.delete(remix.id)
    assert deleted.deleted is True and deleted.id == remix.id and deleted.object == "video.deleted"
    with pytest.raises(openai.NotFoundError) as err:
        client.videos.retrieve(remix.id)
    assert err.value.request_id and err.value.request_id.startswith("req_")

    c = emulator.counters["openai"]
    assert c["creates"] == 2 and c["deletes"] == 1 and c["downloads"] == 4
    assert c["bytes_out"] == (len(mp4.content) + len(thumb.content) + len(sprites.content) + len(remix_mp4))
    assert emulator.counters.job_creates(video.id) == 1


def test_list_pagination(client, emulator):
    emulator.config.render_eagerly = False  # nothing is downloaded here
    created = [client.videos.create(prompt=f"scene number {i}", size="720x1280").id for i in range(5)]

    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == created[::-1][:2]  # newest first by default
    assert first.has_more is True
    assert first.has_next_page()
    second = first.get_next_page()
    assert [v.id for v in second.data] == created[::-1][2:4]
    assert [v.id for v in client.videos.list(limit=2)] == created[::-1]  # SDK auto-pagination

    asc = client.videos.list(limit=3, order="asc")
    assert [v.id for v in asc.data] == created[:3] and asc.has_more
    rest = client.videos.list(limit=3, order="asc", after=created[2])
    assert [v.id for v in rest.data] == created[3:] and rest.has_more is False

    raw = client.videos.with_raw_response.list(limit=2, after=created[3])
    body = raw.http_response.json()
    assert body["first_id"] == created[2] and body["last_id"] == created[1] and body["has_more"] is True
    assert emulator.counters["openai"]["lists"] >= 6


def test_input_reference_upload_data_url_and_file_id(client, emulator_server, make_png):
    image = make_png(1280, 720, (20, 160, 60))
    v1 = client.videos.create(prompt="the meadow comes alive", size="1280x720",
                              input_reference=("first.png", image, "image/png"))
    assert v1.status == "queued"
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="wrong size", size="720x1280",
                             input_reference=("first.png", image, "image/png"))
    assert err.value.status_code == 400 and err.value.param == "input_reference"
    assert "must match the requested width and height" in err.value.message

    # The SDK (as installed) refuses the {image_url} / {file_id} object forms client-side, so they go raw.
    uploaded = client.files.create(file=("ref.png", image, "image/png"), purpose="vision")
    data_url = "data:image/png;base64," + base64.b64encode(image).decode()
    with httpx.Client(base_url=emulator_server.url("openai"), headers={"Authorization": "Bearer sk-x"}) as http:
        r = http.post("/videos", json={"prompt": "the meadow at dusk", "size": "1280x720",
                                       "input_reference": {"image_url": data_url}})
        assert r.status_code == 200, r.text
        r = http.post("/videos", json={"prompt": "the meadow at dawn", "size": "1280x720",
                                       "input_reference": {"file_id": uploaded.id}})
        assert r.status_code == 200, r.text
        r = http.post("/videos", data={"prompt": "multipart object form", "size": "1280x720",
                                       "input_reference[image_url]": data_url})
        assert r.status_code == 200, r.text
        r = http.post("/videos", json={"prompt": "remote image", "size": "1280x720",
                                       "input_reference": {"image_url": "https://example.com/cat.png"}})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "image_url_unreachable" and "offline" in r.json()["error"]["message"]


def test_errors_map_to_sdk_exceptions(client, emulator_server, emulator, monkeypatch):
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="too big for sora-2", model="sora-2", size="1792x1024")
    assert (err.value.code, err.value.param) == ("invalid_value", "size")
    monkeypatch.setattr(emulator.config, "serve_unknown_models", False)  # answer unknown ids as unknown
    with pytest.raises(openai.BadRequestError) as err:
        client.videos.create(prompt="a", model="sora-3")
    assert err.value.param == "model"
    monkeypatch.undo()
    assert client.videos.create(prompt="pro at 1792", model="sora-2-pro", size="1792x1024").size == "1792x1024"
    snapshot = client.videos.create(prompt="dated snapshot", model="sora-2-2025-12-08")
    assert snapshot.model == "sora-2-2025-12-08"

    emulator.config.require_key = "sk-the-right-one"
    with pytest.raises(openai.AuthenticationError) as err:
        client.videos.list()
    assert err.value.code == "invalid_api_key" and "sk-the-right-one" not in str(err.value)
    with openai.OpenAI(base_url=emulator_server.url("openai"), api_key="sk-the-right-one", max_retries=0) as ok:
        assert ok.videos.list().data


def test_extend_and_edit(client, emulator_server):
    source = client.videos.create_and_poll(prompt="a paper boat on a stream", size="1280x720", seconds="4")
    # the SDK's extend() cannot send {"id": ...} (it insists on a file), so the JSON form goes raw
    with httpx.Client(base_url=emulator_server.url("openai"), headers={"Authorization": "Bearer sk-x"}) as http:
        r = http.post("/videos/extensions", json={"video": {"id": source.id}, "prompt": "it sails on", "seconds": "4"})
        assert r.status_code == 200, r.text
        assert r.json()["seconds"] == "8" and r.json()["size"] == "1280x720"
        r = http.post("/videos/extensions", json={"video": {"id": source.id}, "prompt": "x", "seconds": 4})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_type"
    upload = client.videos.download_content(source.id).content
    extended = client.videos.extend(video=("boat.mp4", upload, "video/mp4"), prompt="and on", seconds="8")
    assert extended.seconds == "12"
    edited = client.videos.edit(video=("boat.mp4", upload, "video/mp4"), prompt="make it night")
    assert edited.seconds == "4" and edited.size == "1280x720"
