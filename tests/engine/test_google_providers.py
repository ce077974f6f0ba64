"""Gemini Omni Flash (Interactions API) and Veo 3.1 on the enterprise platform, end to end:
a Studio over real loopback HTTP against the emulator, results in the ledger."""

from __future__ import annotations

import base64
import io

import av
import pytest
from PIL import Image

from engine._helpers import assert_complete
from sorakit import JobFailed, ValidationError
from sorakit.emulator import EmulatorConfig


@pytest.fixture
def emulator_config():
    return EmulatorConfig(time_scale=0.01, seed=91)


def png(width: int, height: int, color=(30, 90, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def probe(path) -> tuple[int, int, float]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return v.codec_context.width, v.codec_context.height, float(c.duration / 1e6)


# ------------------------------------------------------------------------- Gemini Omni Flash
def test_omni_generate_then_remix_continues_the_interaction(studio, emulator):
    first = studio.generate("a paper boat on a puddle", model="gemini-omni-flash", provider="gemini",
                            seconds=6, size="720x1280", seed=5, progress=False)
    row = first.row
    assert_complete(row)
    assert row["provider_model"] == "gemini-omni-flash-preview"
    iid = row["provider_job_id"]
    assert iid.startswith("v1_")
    w, h, dur = probe(row["file_path"])
    assert (w, h) == (720, 1280) and dur == pytest.approx(6, abs=0.2)
    # the inline base64 video never reaches the ledger
    assert len(str(row["extra"])) < 5000

    second = first.remix("now it is raining harder", progress=False)
    r2 = second.row
    assert_complete(r2)
    assert r2["action"] == "remix" and r2["source_video_id"] == iid
    [create] = [e for e in emulator.requests.entries("POST", "/interactions") if
                e.json().get("previous_interaction_id")]
    assert create.json()["previous_interaction_id"] == iid
    edited = emulator.store.group(r2["provider_job_id"])[0]
    assert edited.kind == "edit" and edited.source_id == iid
    # the edit keeps the conversation's size and seed
    assert (edited.width, edited.height, edited.seed) == (720, 1280, 5)


def test_omni_image_to_video_sends_the_image_inline(studio, emulator):
    image = png(1280, 720)
    job = studio.generate("the sketch starts to move", model="gemini-omni-flash", provider="gemini",
                          seconds=4, input_image=image, progress=False)
    assert_complete(job.row)
    [emu_job] = emulator.jobs("gemini")
    assert emu_job.spec.input_image == image


def test_omni_safety_block_is_a_clear_failure(studio, emulator):
    with pytest.raises(JobFailed) as e:
        studio.generate("a blocked-term parade", model="gemini-omni-flash", provider="gemini", progress=False)
    assert e.value.code == "safety_filtered" and "safety filter" in e.value.message
    assert studio.ledger.get(e.value.job_id)["billed_cost"] == 0


# ------------------------------------------------------------------------- Veo 3.1, enterprise
def test_vertex_veo_with_seed_variations_and_audio_off(studio, emulator):
    batch = studio.generate("a lighthouse in a storm", model="veo-3.1-fast", provider="vertex", seconds=4,
                            seed=40, variations=2, audio=False, progress=False)
    jobs = list(batch)
    assert len(jobs) == 2
    for job in jobs:
        assert_complete(job.row)
    seeds = sorted(j.seed for j in emulator.jobs("vertex"))
    assert seeds == [40, 41]  # sample i gets seed + i
    rows = [j.row for j in jobs]
    assert {r["provider_model"] for r in rows} == {"veo-3.1-fast-generate-001"}
    # LiteLLM's map (citing Google's pricing page): $0.10/s at 720p for 3.1 Fast
    assert all(r["estimated_cost"] == pytest.approx(0.10 * 4) for r in rows)
    assert rows[0]["sha256"] != rows[1]["sha256"]
    [create] = emulator.requests.entries("POST", ":predictLongRunning")
    assert create.path.startswith("/vertex/v1/publishers/google/models/veo-3.1-fast-generate-001")  # express
    assert create.json()["parameters"]["generateAudio"] is False


def test_vertex_veo_4k_at_a_project_path(make_studio, emulator):
    studio = make_studio(provider_options={"vertex": {"project": "proj-7", "location": "europe-west4",
                                                      "api_version": "v1beta1"}})
    job = studio.generate("a glacier calving", model="veo-3.1", provider="vertex", seconds=4, size="3840x2160",
                          progress=False)
    assert_complete(job.row)
    [create] = emulator.requests.entries("POST", ":predictLongRunning")
    assert create.path == ("/vertex/v1beta1/projects/proj-7/locations/europe-west4/publishers/google/models/"
                           "veo-3.1-generate-001:predictLongRunning")
    assert create.json()["parameters"]["resolution"] == "4k"
    polls = emulator.requests.entries("POST", ":fetchPredictOperation")
    assert polls and all(p.json() == {"operationName": job.row["provider_job_id"]} for p in polls)
    assert probe(job.row["file_path"])[:2] == (3840, 2160)


def test_vertex_safety_filter(studio, emulator):
    with pytest.raises(JobFailed) as e:
        studio.generate("blocked-term fireworks", model="veo-3.1", provider="vertex", seconds=4, progress=False)
    assert e.value.code == "safety_filtered"


# ------------------------------------------------------------------------- Veo 3.1: extension, Cloud Storage
class FakeCreds:
    """The google.auth Credentials interface the vertex provider relies on (valid, token, refresh)."""

    def __init__(self):
        self.valid, self.token, self.refreshed = False, None, 0

    def refresh(self, request):
        self.refreshed += 1
        self.token, self.valid = f"test-token-{self.refreshed}", True


def _create_bodies(emulator) -> list[dict]:
    return [e.json() for e in emulator.requests.entries("POST", ":predictLongRunning")]


def test_vertex_extend_sends_the_cached_source_file_inline(studio, emulator):
    first = studio.generate("a heron by a lake", model="veo-3.1-fast", provider="vertex", seconds=4,
                            size="720x1280", progress=False)
    assert_complete(first.row)
    longer = first.extend("the heron takes off", progress=False)
    row = longer.row
    assert_complete(row)
    assert row["action"] == "extend" and row["source_video_id"] == first.video_id
    assert row["seconds"] == 7 and row["size"] == "720x1280"  # what the extension adds; the source's size
    body = _create_bodies(emulator)[-1]
    video = body["instances"][0]["video"]
    with open(first.file_path, "rb") as f:
        assert base64.b64decode(video["bytesBase64Encoded"]) == f.read()
    assert video["mimeType"] == "video/mp4" and body["instances"][0]["prompt"] == "the heron takes off"
    assert body["parameters"]["durationSeconds"] == 7 and body["parameters"]["aspectRatio"] == "9:16"
    w, h, dur = probe(row["file_path"])
    assert (w, h) == (720, 1280) and dur == pytest.approx(4 + 7, abs=0.2)
    assert emulator.jobs("vertex")[-1].kind == "extend"
    # nothing of the source's bytes reaches the ledger, only its hash: a resumed create finds the
    # file again in the media cache and sends the same bytes
    assert len(str(row["extra"])) < 5000 and row["extra"]["source_video_sha256"] == first.row["sha256"]
    provider = studio._engine.runtimes[("vertex", True)].provider
    again = studio._engine.plan_from_row(row, provider)
    assert again.source_video == base64.b64decode(video["bytesBase64Encoded"])


def test_vertex_extend_of_a_job_that_is_not_in_the_ledger_is_refused_before_sending(studio, emulator):
    fake = "projects/p/locations/us-central1/publishers/google/models/veo-3.1-generate-001/operations/x#sample=0"
    with pytest.raises(ValidationError) as e:
        studio.generate("more", model="veo-3.1", provider="vertex", action="extend", source_video_id=fake,
                        progress=False)
    assert e.value.field == "source_video_id"
    assert emulator.requests.entries("POST", ":predictLongRunning") == []
    assert len(studio.ledger.df) == 0


def test_vertex_storage_uri_output_is_downloaded_with_the_bearer_token_and_extended_by_uri(make_studio, emulator):
    creds = FakeCreds()
    studio = make_studio(provider_options={"vertex": {"credentials": creds, "project": "proj-9",
                                                      "storage_uri": "gs://test-bucket/veo runs/"}})
    job = studio.generate("a red fox in snow", model="veo-3.1", provider="vertex", seconds=4, progress=False)
    row = job.row
    assert_complete(row)
    op_id = row["provider_job_id"].rsplit("/", 1)[1]
    assert row["video_url"] == f"gs://test-bucket/veo runs/{op_id}/sample_0.mp4"  # kept: an extension names it
    [create] = emulator.requests.entries("POST", ":predictLongRunning")
    assert create.json()["parameters"]["storageUri"] == "gs://test-bucket/veo runs/"
    assert "authorization" in create.headers and "x-goog-api-key" not in create.headers  # values masked
    [get] = [e for e in emulator.requests.entries("GET") if "/storage/" in e.path]
    assert get.path == f"/vertex/storage/download/storage/v1/b/test-bucket/o/veo runs/{op_id}/sample_0.mp4"
    assert get.query == "alt=media"
    assert "authorization" in get.headers and "x-goog-api-key" not in get.headers
    assert creds.refreshed == 1  # one token, refreshed once by google-auth's interface, used for both
    assert probe(row["file_path"])[2] == pytest.approx(4, abs=0.2)

    longer = job.extend("the fox dives into the snow", progress=False)
    assert_complete(longer.row)
    assert longer.row["source_video_id"] == row["video_url"]
    video = _create_bodies(emulator)[-1]["instances"][0]["video"]
    assert video == {"gcsUri": row["video_url"], "mimeType": "video/mp4"}  # no bytes sent: the URI is enough
    assert probe(longer.row["file_path"])[2] == pytest.approx(11, abs=0.2)


def test_vertex_storage_uri_with_an_express_key_fails_clearly_and_keeps_the_uri(make_studio, emulator):
    studio = make_studio(provider_options={"vertex": {"storage_uri": "gs://test-bucket/out"}})
    with pytest.raises(JobFailed) as e:
        studio.generate("a kettle boiling", model="veo-3.1-fast", provider="vertex", seconds=4, progress=False)
    assert e.value.code == "download_failed"
    assert "express-mode API key cannot read Cloud Storage" in e.value.message
    row = studio.ledger.get(e.value.job_id)
    assert row["video_url"].startswith("gs://test-bucket/out/") and row["video_url"].endswith("/sample_0.mp4")
    # nothing was sent to Cloud Storage: the key never left the platform's API
    assert [e for e in emulator.requests.entries("GET") if "/storage/" in e.path] == []


def test_vertex_storage_uri_is_validated_naming_the_field(make_studio):
    with pytest.raises(ValidationError) as e:
        make_studio(provider_options={"vertex": {"storage_uri": "s3://bucket/x"}})
    assert e.value.field == "storage_uri" and "gs://" in str(e.value)
