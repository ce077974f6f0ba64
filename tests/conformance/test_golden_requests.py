"""Golden requests: for one intent, sorakit's provider sends what the official SDK sends — the same
method and path, the same JSON keys (recursively) and the same value types — read from the
emulator's request log (`Emulator.requests`), not from either client's own account.

Every difference is listed per test with its reason (``EXPECTED``); the test fails on any
difference not listed *and* on a listed one that has disappeared, so the list stays true.

Providers without an official SDK in this environment are not compared here: ``relay`` (relays
have no official SDK), and the Gemini Developer-API Veo shape (only google-genai 2.x sends it, and
2.x cannot share an environment with 3.x; its field names are checked against 2.34's source in
`sorakit.emulator._google`).
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import uuid
from typing import Any

import httpx
import openai
import pytest
import runcrate
from google import genai
from google.genai import types
from runware import Runware

from conformance.conftest import png
from sorakit import VideoRequest, plan
from sorakit.catalog import load_catalog
from sorakit.providers import make_provider

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

CAT = load_catalog()
IMAGE = png(1280, 720)
IMAGE_B64 = base64.b64encode(IMAGE).decode()


# ------------------------------------------------------------------ helpers
def shape(value: Any, path: str = "") -> dict[str, str]:
    """``{"parameters.seed": "int", "instances[].prompt": "str", ...}``: key paths and value types."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        if path:
            out[path] = "object"
        for k, v in value.items():
            out.update(shape(v, f"{path}.{k}" if path else k))
    elif isinstance(value, list):
        out[path] = "array"
        for v in value:
            out.update(shape(v, path + "[]"))
    else:
        out[path] = {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}.get(
            type(value), type(value).__name__)
    return out


def body_shape(entry) -> dict[str, str]:
    ctype = entry.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        msg = email.parser.BytesParser().parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + entry.body)
        out = {}
        for part in msg.get_payload():
            name = part.get_param("name", header="content-disposition")
            out[name] = "file" if part.get_param("filename", header="content-disposition") else "str"
        return out
    return shape(entry.json()) if entry.body else {}


def compare(ours, theirs, expected: dict[str, tuple[str | None, str | None, str]] | None = None) -> None:
    """Same method and path; same key paths and types but for ``expected`` {path: (ours, sdk, why)}."""
    assert (ours.method, ours.path) == (theirs.method, theirs.path)
    a, b = body_shape(ours), body_shape(theirs)
    diffs = {p: (a.get(p), b.get(p)) for p in set(a) | set(b) if a.get(p) != b.get(p)}
    want = {p: (o, s) for p, (o, s, _why) in (expected or {}).items()}
    assert diffs == want, f"sorakit {a}\nsdk {b}"


def last(emu, method: str, needle: str):
    return [e for e in emu.requests.entries(method) if needle in e.path][-1]


def sorakit_send(server, name: str, request: VideoRequest, key: str = "test-key") -> httpx.Response:
    p = plan(request, CAT, emulated=True)
    provider = make_provider(CAT.providers[name], base_url=server.url(name), api_key=key)
    with httpx.Client(timeout=60) as client:
        response = client.send(provider.build_create(p, str(uuid.uuid4())))
    assert response.status_code < 300, response.text
    return response


# ------------------------------------------------------------------ OpenAI (Sora protocol)
def test_openai_text_image_and_remix(server):
    emu = server.emulator
    sdk = openai.OpenAI(base_url=server.url("openai"), api_key="sk-test", max_retries=0)
    sorakit_send(server, "openai", VideoRequest("a red kite", model="sora-2", provider="openai", size="1280x720",
                                                 seconds=8))
    ours = last(emu, "POST", "/videos")
    sdk.videos.create(prompt="a red kite", model="sora-2", size="1280x720", seconds="8")
    compare(ours, last(emu, "POST", "/videos"))

    sorakit_send(server, "openai", VideoRequest("it moves", model="sora-2", provider="openai", size="1280x720",
                                                 seconds=4, input_image=IMAGE))
    ours = last(emu, "POST", "/videos")
    src = sdk.videos.create(prompt="it moves", model="sora-2", size="1280x720", seconds="4",
                            input_reference=("ref.png", IMAGE, "image/png"))
    compare(ours, last(emu, "POST", "/videos"))

    emu.test_clock.advance(600)
    sorakit_send(server, "openai", VideoRequest("at night", model="sora-2", provider="openai", action="remix",
                                                 source_video_id=src.id))
    ours = last(emu, "POST", "/remix")
    sdk.videos.remix(src.id, prompt="at night")
    compare(ours, last(emu, "POST", "/remix"))


# ------------------------------------------------------------------ Runware
def _runware(server, task):
    async def go():
        async with Runware(api_key="test-key", transport="rest", http_base_url=server.url("runware")) as c:
            # the SDK's own run() waits for the result: send, then stop at the acknowledgement
            return await c._rest_transport.send_request({**task, "taskUUID": str(uuid.uuid4()),
                                                         "deliveryMethod": "async"}, None)
    return asyncio.run(go())


RUNWARE_EXPECTED = {
    "[].includeCost": ("bool", None, "sorakit always asks for the cost (the ledger records it)"),
    "[].outputFormat": ("str", None, "sorakit always names MP4 (the file type it stores)"),
}
AUDIO = {"providerSettings": {"google": {"generateAudio": True}}}  # Veo 3 on Runware: sound is optional


def test_runware_text_image_and_remix(server):
    emu = server.emulator
    sorakit_send(server, "runware", VideoRequest("a fox", model="veo-3-fast", provider="runware",
                                                  size="1280x720", seconds=8, seed=9))
    ours = last(emu, "POST", "/runware/v1")
    _runware(server, {"taskType": "videoInference", "model": "google:3@1", "positivePrompt": "a fox",
                      "width": 1280, "height": 720, "duration": 8, "seed": 9, "numberResults": 1, **AUDIO})
    compare(ours, last(emu, "POST", "/runware/v1"), RUNWARE_EXPECTED)

    sorakit_send(server, "runware", VideoRequest("it moves", model="veo-3-fast", provider="runware", seconds=8,
                                                  input_image=IMAGE))
    ours = last(emu, "POST", "/runware/v1")
    _runware(server, {"taskType": "videoInference", "model": "google:3@1", "positivePrompt": "it moves",
                      "duration": 8, "numberResults": 1,
                      "inputs": {"frameImages": [{"image": "data:image/png;base64," + IMAGE_B64,
                                                  "frame": "first"}]}, **AUDIO})
    compare(ours, last(emu, "POST", "/runware/v1"), RUNWARE_EXPECTED)

    emu.test_clock.advance(600)
    source = emu.jobs("runware")[0].id  # the videoUUID / outputs.videoId of the first video
    sorakit_send(server, "runware", VideoRequest("at dusk", model="sora-2", provider="runware", seconds=8,
                                                  action="remix", source_video_id=source))
    ours = last(emu, "POST", "/runware/v1")
    _runware(server, {"taskType": "videoInference", "model": "openai:3@1", "positivePrompt": "at dusk",
                      "duration": 8, "numberResults": 1, "inputs": {"videoId": source}})
    compare(ours, last(emu, "POST", "/runware/v1"), RUNWARE_EXPECTED)


# ------------------------------------------------------------------ Runcrate
def test_runcrate_text_to_video(server):
    emu = server.emulator
    sorakit_send(server, "runcrate", VideoRequest("a sailboat", model="sora-2", provider="runcrate",
                                                   size="1280x720", seconds=4))
    ours = last(emu, "POST", "/videos")
    rc = runcrate.Runcrate(api_key="rc_live_test", inference_url=server.base_url + "/runcrate", max_retries=0)
    rc.models.generate_video(model="openai/sora-2", prompt="a sailboat", duration=4, aspect_ratio="16:9",
                             width=1280, height=720)
    compare(ours, last(emu, "POST", "/videos"), {
        "duration": ("int", "float", "runcrate-sdk types duration as float (4.0); sorakit sends whole seconds"),
    })


# ------------------------------------------------------------------ Gemini Omni Flash (interactions)
def _genai(server):
    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=server.base_url + "/gemini"))


OMNI_PATH = {"path": "sorakit posts to {base}/interactions under the catalog's /v1beta base (Google's docs); "
                     "google-genai 3.6.1 sends /v1/interactions: the emulator serves both"}


def test_omni_text_image_and_a_follow_up_turn(server):
    emu = server.emulator
    client = _genai(server)
    sorakit_send(server, "gemini", VideoRequest("a lantern", model="gemini-omni-flash", provider="gemini",
                                                 size="1280x720", seconds=6, seed=4))
    ours = last(emu, "POST", "/interactions")
    first = client.interactions.create(model="gemini-omni-flash-preview", input="a lantern", background=True,
                                       response_format={"type": "video", "aspect_ratio": "16:9", "duration": "6s"},
                                       generation_config={"seed": 4})
    theirs = last(emu, "POST", "/interactions")
    assert (ours.path, theirs.path) == ("/gemini/v1beta/interactions", "/gemini/v1/interactions"), OMNI_PATH
    compare(_same_path(ours, theirs), theirs)

    sorakit_send(server, "gemini", VideoRequest("it glows", model="gemini-omni-flash", provider="gemini",
                                                 seconds=4, input_image=IMAGE))
    ours = last(emu, "POST", "/interactions")
    client.interactions.create(model="gemini-omni-flash-preview", background=True,
                               input=[{"type": "text", "text": "it glows"},
                                      {"type": "image", "data": IMAGE_B64, "mime_type": "image/png"}],
                               response_format={"type": "video", "aspect_ratio": "16:9", "duration": "4s"})
    theirs = last(emu, "POST", "/interactions")
    compare(_same_path(ours, theirs), theirs)

    emu.test_clock.advance(600)
    sorakit_send(server, "gemini", VideoRequest("now snow", model="gemini-omni-flash", provider="gemini",
                                                 seconds=6, action="remix", source_video_id=first.id))
    ours = last(emu, "POST", "/interactions")
    client.interactions.create(model="gemini-omni-flash-preview", input="now snow", background=True,
                               previous_interaction_id=first.id,
                               response_format={"type": "video", "aspect_ratio": "16:9", "duration": "6s"})
    theirs = last(emu, "POST", "/interactions")
    compare(_same_path(ours, theirs), theirs)
    assert ours.json()["previous_interaction_id"] == theirs.json()["previous_interaction_id"] == first.id


def _same_path(ours, theirs):
    """``ours`` with the SDK's path (the one documented difference, asserted where it is used)."""
    from dataclasses import replace

    return replace(ours, path=theirs.path)


# ------------------------------------------------------------------ Veo 3.1 on the enterprise platform
VERTEX_EXPECTED = {
    "parameters.generateAudio": ("bool", None, "sorakit always says whether it wants sound (it is priced "
                                               "differently); the SDK sends it only when set"),
}


def test_vertex_text_and_image_to_video(server):
    emu = server.emulator
    client = genai.Client(vertexai=True, api_key="test-key",
                          http_options=types.HttpOptions(base_url=server.base_url + "/vertex",
                                                         api_version="v1"))
    sorakit_send(server, "vertex", VideoRequest("a glacier", model="veo-3.1", provider="vertex", size="1280x720",
                                                 seconds=8, seed=12, variations=2))
    ours = last(emu, "POST", ":predictLongRunning")
    client.models.generate_videos(model="veo-3.1-generate-001", source=types.GenerateVideosSource(prompt="a glacier"),
                                  config=types.GenerateVideosConfig(aspect_ratio="16:9", resolution="720p",
                                                                    duration_seconds=8, seed=12,
                                                                    number_of_videos=2))
    compare(ours, last(emu, "POST", ":predictLongRunning"), VERTEX_EXPECTED)

    sorakit_send(server, "vertex", VideoRequest("it melts", model="veo-3.1", provider="vertex", seconds=4,
                                                 input_image=IMAGE))
    ours = last(emu, "POST", ":predictLongRunning")
    client.models.generate_videos(
        model="veo-3.1-generate-001",
        source=types.GenerateVideosSource(prompt="it melts", image=types.Image(image_bytes=IMAGE,
                                                                               mime_type="image/png")),
        config=types.GenerateVideosConfig(aspect_ratio="16:9", resolution="720p", duration_seconds=4,
                                          number_of_videos=1))
    compare(ours, last(emu, "POST", ":predictLongRunning"), VERTEX_EXPECTED)


def test_vertex_extension_from_cloud_storage_and_inline(server):
    """Extending a Veo video: by its ``gcsUri`` (the source was written under ``storageUri``) and
    inline (``bytesBase64Encoded``), sorakit's request against google-genai's ``generate_videos``
    with ``source.video`` = ``Video(uri=...)`` / ``Video(video_bytes=...)`` (``_Video_to_vertex``)."""
    import dataclasses

    emu = server.emulator
    client = genai.Client(vertexai=True, api_key="test-key",
                          http_options=types.HttpOptions(base_url=server.base_url + "/vertex",
                                                         api_version="v1"))
    # a source video in the emulator's "bucket": sorakit asks for Cloud Storage output
    stored = make_provider(CAT.providers["vertex"], base_url=server.url("vertex"), api_key="test-key",
                           storage_uri="gs://golden-bucket/veo/")
    source_plan = plan(VideoRequest("a glacier", model="veo-3.1", provider="vertex", seconds=4), CAT, emulated=True)
    with httpx.Client(timeout=60) as http:
        op = http.send(stored.build_create(source_plan, "r")).json()["name"]
        assert last(emu, "POST", ":predictLongRunning").json()["parameters"]["storageUri"] == "gs://golden-bucket/veo/"
        emu.test_clock.advance(3600)
        [video] = http.send(stored.build_poll(op)).json()["response"]["videos"]
    gcs = video["gcsUri"]
    assert gcs.startswith("gs://golden-bucket/veo/")

    ext = VideoRequest("the ice breaks", model="veo-3.1", provider="vertex", size="1280x720", action="extend",
                       source_video_id=gcs)
    sorakit_send(server, "vertex", ext)
    ours = last(emu, "POST", ":predictLongRunning")
    assert ours.json()["instances"][0]["video"] == {"gcsUri": gcs, "mimeType": "video/mp4"}
    assert ours.json()["parameters"]["durationSeconds"] == 7  # the catalog's extend_seconds
    client.models.generate_videos(
        model="veo-3.1-generate-001",
        source=types.GenerateVideosSource(prompt="the ice breaks", video=types.Video(uri=gcs, mime_type="video/mp4")),
        config=types.GenerateVideosConfig(aspect_ratio="16:9", resolution="720p", duration_seconds=7,
                                          number_of_videos=1))
    compare(ours, last(emu, "POST", ":predictLongRunning"), VERTEX_EXPECTED)

    # inline: the bytes of a finished video (sorakit reads them from the source job's cached file)
    data = asyncio.run(emu.video_file(emu.store.group(op)[0])).path.read_bytes()
    p = dataclasses.replace(plan(dataclasses.replace(ext, source_video_id=op + "#sample=0"), CAT, emulated=True),
                            source_video=data)
    provider = make_provider(CAT.providers["vertex"], base_url=server.url("vertex"), api_key="test-key")
    with httpx.Client(timeout=60) as http:
        assert http.send(provider.build_create(p, "r")).status_code == 200
    ours = last(emu, "POST", ":predictLongRunning")
    assert base64.b64decode(ours.json()["instances"][0]["video"]["bytesBase64Encoded"]) == data
    client.models.generate_videos(
        model="veo-3.1-generate-001",
        source=types.GenerateVideosSource(prompt="the ice breaks",
                                          video=types.Video(video_bytes=data, mime_type="video/mp4")),
        config=types.GenerateVideosConfig(aspect_ratio="16:9", resolution="720p", duration_seconds=7,
                                          number_of_videos=1))
    compare(ours, last(emu, "POST", ":predictLongRunning"), VERTEX_EXPECTED)
    # both extensions, sorakit's and the SDK's, last source + 7 s in the emulator
    extended = [j for j in emu.jobs("vertex") if j.kind == "extend"]
    assert len(extended) == 4 and {j.seconds for j in extended} == {11.0}
