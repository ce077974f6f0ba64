"""google-genai 3.x, unmodified, against the emulator: Gemini Omni Flash through the Interactions
API and Veo 3.1 on the enterprise platform (express mode and an ADC bearer token), plus the old
Developer-API file download. Only ``http_options.base_url`` points at the emulator."""

from __future__ import annotations

import base64

import google.oauth2.credentials
import pytest
from google import genai
from google.genai import errors, types

from conformance.conftest import png, probe

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

OMNI = "gemini-omni-flash-preview"
VEO = "veo-3.1-generate-001"
VEO_FAST = "veo-3.1-fast-generate-001"


def gemini(server, key="test-gemini-key"):
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=server.base_url + "/gemini"))


def vertex(server, key="test-vertex-key"):
    return genai.Client(vertexai=True, api_key=key, http_options=types.HttpOptions(base_url=server.base_url + "/vertex"))


def vertex_adc(server, token="test-access-token"):
    creds = google.oauth2.credentials.Credentials(token=token)
    return genai.Client(vertexai=True, project="proj-9", location="us-central1", credentials=creds,
                        http_options=types.HttpOptions(base_url=server.base_url + "/vertex"))


def _bytes(data) -> bytes:
    return data if isinstance(data, bytes) else base64.b64decode(data)


# ------------------------------------------------------------------ interactions (Omni Flash)
def test_interactions_create_get_and_a_follow_up_turn(server):
    emu = server.emulator
    c = gemini(server)
    first = c.interactions.create(model=OMNI, input="a paper lantern floats up", response_modalities=["video"],
                                  background=True)
    assert first.status == "in_progress" and first.id
    assert c.interactions.get(first.id).status == "in_progress"
    emu.test_clock.advance(300)
    done = c.interactions.get(first.id)
    assert done.status == "completed" and done.output_video.mime_type == "video/mp4"
    w, h, seconds, audio = probe(_bytes(done.output_video.data))
    assert (w, h) == (1280, 720) and seconds == pytest.approx(8, abs=0.2) and audio == 1
    # usage as the SDK types it (Usage / ModalityTokens): the video's output tokens, 5792 per second
    (video_tokens,) = [m for m in done.usage.output_tokens_by_modality if m.modality == "video"]
    assert video_tokens.tokens == done.usage.total_output_tokens == 8 * 5792

    follow = c.interactions.create(model=OMNI, input="now make it snow", previous_interaction_id=first.id,
                                   response_format={"type": "video", "aspect_ratio": "16:9", "duration": "4s"},
                                   background=True)
    assert follow.previous_interaction_id == first.id
    emu.test_clock.advance(300)
    edited = c.interactions.get(follow.id)
    assert edited.status == "completed"
    assert probe(_bytes(edited.output_video.data))[2] == pytest.approx(4, abs=0.2)
    job = emu.store.group(follow.id)[0]
    assert job.kind == "edit" and job.source_id == first.id


def test_interactions_serve_a_gemini_id_the_catalog_lacks(server):
    """The open catalog's other half: a newer Gemini id is served (defaults from Omni), and answered
    404 NOT_FOUND when the emulator is told to treat unknown ids as unknown."""
    emu = server.emulator
    c = gemini(server)
    r = c.interactions.create(model="gemini-omni-9.9-flash", input="a paper lantern floats up", background=True,
                              response_format={"type": "video", "aspect_ratio": "9:16", "duration": "12s"})
    emu.test_clock.advance(600)
    done = c.interactions.get(r.id)
    assert done.status == "completed" and done.model == "gemini-omni-9.9-flash"
    w, h, seconds, _ = probe(_bytes(done.output_video.data))
    assert (w, h, round(seconds)) == (720, 1280, 12)
    emu.config.serve_unknown_models = False
    try:
        with pytest.raises(Exception) as info:
            c.interactions.create(model="gemini-omni-9.9-flash", input="x", background=True)
        assert getattr(info.value, "status_code", None) == 404
    finally:
        emu.config.serve_unknown_models = True


@pytest.mark.parametrize("resolution,size", [("360p", (360, 640)), ("1080p", (1080, 1920))])
def test_interactions_omni_12_renders_the_resolution_asked(server, resolution, size):
    """google-genai's VideoResponseFormat.resolution (360p|720p|1080p|4k) at a 15 s duration, which
    Omni 1.2 takes and the 720p-only preview refuses."""
    emu = server.emulator
    c = gemini(server)
    fmt = {"type": "video", "aspect_ratio": "9:16", "duration": "15s", "resolution": resolution}
    r = c.interactions.create(model="gemini-omni-1.2-flash", input="a lantern", background=True, response_format=fmt)
    emu.test_clock.advance(900)
    done = c.interactions.get(r.id)
    assert done.status == "completed"
    assert probe(_bytes(done.output_video.data))[:3] == (*size, pytest.approx(15, abs=0.2))
    with pytest.raises(Exception) as info:
        c.interactions.create(model=OMNI, input="a lantern", background=True,
                              response_format={**fmt, "duration": "8s"})
    assert getattr(info.value, "status_code", None) == 400 and "supported: 720p" in str(info.value)


def test_interactions_image_input_portrait_and_uri_delivery_with_files_download(server):
    emu = server.emulator
    c = gemini(server)
    image = png(720, 1280)
    r = c.interactions.create(
        model=OMNI, background=True,
        input=[{"type": "text", "text": "the poster comes alive"},
               {"type": "image", "data": base64.b64encode(image).decode(), "mime_type": "image/png"}],
        response_format={"type": "video", "aspect_ratio": "9:16", "duration": "6s", "delivery": "uri"})
    emu.test_clock.advance(300)
    done = c.interactions.get(r.id)
    assert done.output_video.uri.startswith("https://") and done.output_video.data is None
    data = c.files.download(file=types.Video(uri=done.output_video.uri))
    assert probe(data)[:3] == (720, 1280, pytest.approx(6, abs=0.2))
    assert emu.store.group(r.id)[0].spec.input_image == image


def test_interactions_safety_block_and_invalid_request(server):
    emu = server.emulator
    c = gemini(server)
    r = c.interactions.create(model=OMNI, input="a blocked-term riot", background=True)
    emu.test_clock.advance(300)
    blocked = c.interactions.get(r.id)
    assert blocked.status == "failed" and blocked.output_video is None
    assert blocked.errors[0].code == "SAFETY" and "safety filter" in blocked.errors[0].message
    with pytest.raises(Exception) as e:
        c.interactions.create(model=OMNI, input="x", background=True,
                              response_format={"type": "video", "duration": "30s"})
    assert getattr(e.value, "status_code", None) == 400 and "duration" in str(e.value)


def test_interactions_wrong_key(server):
    server.emulator.config.require_key = "the-right-key"
    wrong = gemini(server, key="a-wrong-key")  # keep a reference: the SDK closes a collected client
    with pytest.raises(Exception) as e:
        wrong.interactions.create(model=OMNI, input="x", background=True)
    assert getattr(e.value, "status_code", None) == 400 and "API_KEY_INVALID" in str(e.value)
    right = gemini(server, key="the-right-key")
    ok = right.interactions.create(model=OMNI, input="x", background=True)
    assert ok.status == "in_progress"


# ------------------------------------------------------------------ Veo 3.1, enterprise mode
def _wait(client, op, emu):
    emu.test_clock.advance(600)
    op = client.operations.get(op)
    assert op.done
    return op


def test_vertex_express_text_to_video_with_seed_and_two_samples(server):
    emu = server.emulator
    c = vertex(server)
    op = c.models.generate_videos(model=VEO_FAST, source=types.GenerateVideosSource(prompt="a koi pond at dusk"),
                                  config=types.GenerateVideosConfig(number_of_videos=2, duration_seconds=4,
                                                                    seed=11, enhance_prompt=True,
                                                                    person_generation="allow_adult",
                                                                    generate_audio=False))
    assert not op.done and "/operations/" in op.name
    op = _wait(c, op, emu)
    videos = op.response.generated_videos
    assert len(videos) == 2
    for v in videos:
        w, h, seconds, audio = probe(v.video.video_bytes)
        assert (w, h, audio) == (1280, 720, 0) and seconds == pytest.approx(4, abs=0.2)
    assert sorted(j.seed for j in emu.jobs("vertex")) == [11, 12]


def test_vertex_image_last_frame_and_4k(server):
    emu = server.emulator
    c = vertex(server)
    first, last = png(1280, 720), png(1280, 720, (200, 40, 40))
    op = c.models.generate_videos(
        model=VEO, source=types.GenerateVideosSource(prompt="dawn breaks", image=types.Image(image_bytes=first,
                                                                                          mime_type="image/png")),
        config=types.GenerateVideosConfig(duration_seconds=4, resolution="4k",
                                          last_frame=types.Image(image_bytes=last, mime_type="image/png")))
    op = _wait(c, op, emu)
    assert probe(op.response.generated_videos[0].video.video_bytes)[:2] == (3840, 2160)
    assert emu.jobs("vertex")[0].spec.input_image == first


def test_vertex_reference_images_storage_uri_and_extension(server):
    emu = server.emulator
    c = vertex(server)
    ref = types.VideoGenerationReferenceImage(image=types.Image(image_bytes=png(640, 640), mime_type="image/png"),
                                              reference_type="asset")
    op = c.models.generate_videos(model=VEO, source=types.GenerateVideosSource(prompt="a toy robot walks"),
                                  config=types.GenerateVideosConfig(reference_images=[ref], duration_seconds=8,
                                                                    output_gcs_uri="gs://bucket/out/"))
    op = _wait(c, op, emu)
    uri = op.response.generated_videos[0].video.uri
    assert uri.startswith("gs://bucket/out/") and uri.endswith("/sample_0.mp4")
    ext = c.models.generate_videos(model=VEO, source=types.GenerateVideosSource(
        prompt="it keeps walking", video=types.Video(uri=uri, mime_type="video/mp4")),
        config=types.GenerateVideosConfig(output_gcs_uri="gs://bucket/ext/"))
    ext = _wait(c, ext, emu)
    assert ext.response.generated_videos[0].video.uri.startswith("gs://bucket/ext/")
    extended = [j for j in emu.jobs("vertex") if j.kind == "extend"]
    assert len(extended) == 1 and extended[0].seconds == 15  # 8 s + 7 s


def test_vertex_safety_filter_is_reported_not_hidden(server):
    emu = server.emulator
    c = vertex(server)
    op = _wait(c, c.models.generate_videos(model=VEO, source=types.GenerateVideosSource(prompt="blocked-term"),
                                           config=types.GenerateVideosConfig(duration_seconds=4)), emu)
    assert op.response.rai_media_filtered_count == 1 and not op.response.generated_videos
    assert "safety filter" in op.response.rai_media_filtered_reasons[0]


def test_vertex_adc_bearer_token_and_wrong_credentials(server):
    emu = server.emulator
    emu.config.require_key = "test-access-token"
    c = vertex_adc(server)
    op = c.models.generate_videos(model=VEO_FAST, source=types.GenerateVideosSource(prompt="a windmill"),
                                  config=types.GenerateVideosConfig(duration_seconds=4))
    assert op.name.startswith("projects/proj-9/locations/us-central1/")
    assert probe(_wait(c, op, emu).response.generated_videos[0].video.video_bytes)[0] == 1280
    [create] = emu.requests.entries("POST", ":predictLongRunning")
    assert create.headers["authorization"] == "***" and "x-goog-api-key" not in create.headers
    stale = vertex_adc(server, token="stale-token")
    with pytest.raises(errors.ClientError) as e:
        stale.models.generate_videos(model=VEO_FAST, source=types.GenerateVideosSource(prompt="x"))
    assert e.value.code == 401 and e.value.status == "UNAUTHENTICATED"
    wrong = vertex(server, key="wrong-key")
    with pytest.raises(errors.ClientError) as e:
        wrong.models.generate_videos(model=VEO_FAST, source=types.GenerateVideosSource(prompt="x"))
    assert e.value.code == 400 and "API_KEY_INVALID" in str(e.value)


def test_vertex_invalid_field_is_a_google_400(server):
    c = vertex(server)
    with pytest.raises(errors.ClientError) as e:
        c.models.generate_videos(model=VEO, source=types.GenerateVideosSource(prompt="x"),
                                 config=types.GenerateVideosConfig(duration_seconds=5))
    assert e.value.code == 400 and e.value.status == "INVALID_ARGUMENT" and "durationSeconds" in e.value.message


# ------------------------------------------------------------------ the old Developer-API surface
def test_old_veo_surface_video_downloads_with_files_download(server):
    """google-genai 3.x no longer sends Developer-API Veo requests; the old surface's https URI is
    still downloadable by the SDK's files.download (relays and 2.x clients hand such URIs around)."""
    import httpx

    emu = server.emulator
    base = server.base_url + "/gemini/v1beta"
    with httpx.Client(base_url=base, headers={"x-goog-api-key": "k"}) as h:
        op = h.post("/models/veo-3.1-fast-generate-preview:predictLongRunning", json={
            "instances": [{"prompt": "a kite", "lastFrame": None}],
            "parameters": {"durationSeconds": 4, "enhancePrompt": True}}).json()
        emu.test_clock.advance(300)
        done = h.get("/" + op["name"]).json()
    uri = done["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    client = gemini(server, key="k")
    data = client.files.download(file=types.Video(uri=uri))
    assert probe(data)[:2] == (1280, 720)


def test_unknown_paths_answer_in_googles_error_shape(server):
    import httpx

    for path in ("/gemini/v1/nope", "/gemini/v2/models", "/vertex/v1/projects/p/whatever", "/gemini"):
        r = httpx.get(server.base_url + path)
        assert r.status_code == 404
        err = r.json()["error"]
        assert err["code"] == 404 and err["status"] == "NOT_FOUND" and "type" not in err


def test_interactions_cancel_stops_a_running_interaction_and_refuses_an_ended_one(server):
    """google-genai's own ``interactions.cancel`` (``POST /{v}/interactions/{id}/cancel``)."""
    emu = server.emulator
    c = gemini(server)
    running = c.interactions.create(model=OMNI, input="a slow sunrise", background=True)
    cancelled = c.interactions.cancel(running.id)
    assert cancelled.id == running.id and cancelled.status == "cancelled"
    emu.test_clock.advance(300)
    assert c.interactions.get(running.id).status == "cancelled"      # it never completes
    assert c.interactions.get(running.id).output_video is None
    done = c.interactions.create(model=OMNI, input="a quick sunset", background=True)
    emu.test_clock.advance(300)
    with pytest.raises(Exception) as e:
        c.interactions.cancel(done.id)
    assert getattr(e.value, "status_code", None) == 400 and "only a running" in str(e.value)
    assert emu.counters["gemini"]["cancel_calls"] == 2 and emu.counters["gemini"]["cancels"] == 1
