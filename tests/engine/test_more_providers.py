"""Runcrate, relays and Gemini Veo end to end: a Studio over real loopback HTTP against the emulator."""

from __future__ import annotations

import io
import math
import time

import pytest
from PIL import Image

from engine._helpers import assert_complete
from sorakit import JobFailed, ValidationError
from sorakit.emulator import EmulatorConfig, FaultConfig
from sorakit.engine import Batch
from sorakit.providers.relay import register_relay, unregister_relay


@pytest.fixture
def emulator_config():
    """Fast and seeded; renders start at create so downloads do not wait."""
    return EmulatorConfig(time_scale=0.01, seed=77)


def png(width: int, height: int, color=(30, 90, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def unknown(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def wait_for_remote_id(studio, job_id: str, timeout: float = 10.0) -> dict:
    """The row once the provider has acknowledged the create (its id is in the ledger)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        row = studio.ledger.get(job_id)
        if row.get("provider_job_id") and row["status"] in ("submitted", "queued", "in_progress"):
            return row
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never got a provider id: {studio.ledger.get(job_id)['status']}")


# ------------------------------------------------------------------------------------- Gemini
def test_gemini_veo_generate_lands_in_the_ledger_with_cost(studio, emulator):
    job = studio.generate("a hummingbird drinks from a red flower", model="veo-3-fast", provider="gemini",
                          progress=False)
    row = job.row
    assert_complete(row)
    assert (row["provider"], row["model"], row["provider_model"]) == ("gemini", "veo-3-fast",
                                                                     "veo-3.0-fast-generate-001")
    assert row["provider_job_id"].startswith("models/veo-3.0-fast-generate-001/operations/")
    assert row["estimated_cost"] == pytest.approx(0.15 * 8)
    assert (row["billed_cost"], row["billed_cost_source"]) == (pytest.approx(1.2), "catalog")
    assert row["audio"] is True and row["size"] == "1280x720"
    # files are kept about two days
    left = row["video_url_expires_at"].timestamp() - time.time()
    assert 47 * 3600 < left <= 48 * 3600 + 60
    assert emulator.counters["gemini"]["creates"] == 1 and emulator.counters["gemini"]["downloads"] == 1


def test_gemini_download_carries_the_key_when_the_emulator_requires_one(make_studio, emulator):
    emulator.config.require_key = "sk-emulator-local"  # what an emulated Studio sends
    studio = make_studio()
    job = studio.generate("a tide pool at dawn", model="veo-3.1-fast", provider="gemini", seconds=4,
                          size="720x1280", progress=False)
    assert_complete(job.row)
    assert emulator.counters["gemini"]["auth_failures"] == 0


def test_gemini_image_to_video(studio, emulator):
    image = png(1280, 720)
    job = studio.generate("the painting comes alive", model="veo-3.1-fast", provider="gemini", seconds=4,
                          input_image=image, progress=False)
    row = job.row
    assert_complete(row)
    assert row["input_image_sha256"]
    [emu_job] = [j for j in emulator.jobs("gemini")]
    assert emu_job.spec.input_image == image and emu_job.seconds == 4


def test_gemini_safety_filter_is_a_clear_failure(studio, emulator):
    with pytest.raises(JobFailed) as e:
        studio.generate("a blocked-term crowd scene", model="veo-3-fast", provider="gemini", progress=False)
    assert e.value.code == "safety_filtered" and "safety filter" in e.value.message
    row = studio.ledger.get(e.value.job_id)
    assert row["status"] == "failed" and row["billed_cost"] == 0 and row["error_code"] == "safety_filtered"


def test_gemini_synchronous_4xx_fails_the_job_without_retrying(studio, emulator):
    with pytest.raises(JobFailed) as e:
        studio.generate("guardrail-term on a stage", model="veo-3-fast", provider="gemini", progress=False)
    assert e.value.code == "INVALID_ARGUMENT"
    assert emulator.counters["gemini"]["create_calls"] == 1 and emulator.counters["gemini"]["creates"] == 0


# ------------------------------------------------------------------------------------ Runcrate
def test_runcrate_generate_with_unknown_price(studio, emulator):
    job = studio.generate("a paper boat on a pond", model="sora-2", provider="runcrate", seconds=4,
                          progress=False)
    row = job.row
    assert_complete(row)
    assert (row["provider"], row["provider_model"], row["seconds"]) == ("runcrate", "openai/sora-2", 4)
    assert unknown(row["estimated_cost"]) and row["billed_cost_source"] == "none"  # unknown, never 0
    assert job.cost is None
    assert emulator.counters.job_creates(row["provider_job_id"]) == 1


def test_runcrate_survives_5xx_and_resets_on_polls(studio, emulator):
    emulator.config.faults = FaultConfig(error_5xx=0.4, reset=0.3, operations=("poll",),
                                         providers=("runcrate",))
    job = studio.generate("a lantern festival", model="sora-2-pro", provider="runcrate", seconds=4,
                          progress=False)
    assert_complete(job.row)
    c = emulator.counters["runcrate"]
    assert c["faults:error_5xx"] + c["faults:reset"] >= 1
    assert c["creates"] == 1


def test_runcrate_moderation_failure(studio, emulator):
    with pytest.raises(JobFailed) as e:
        studio.generate("blocked-term at the harbour", model="sora-2", provider="runcrate", progress=False)
    assert e.value.code == "moderation_blocked"


# -------------------------------------------------------------------------------------- relays
def test_relay_variations_are_separate_rows(studio, emulator):
    batch = studio.generate("three kites over the dunes", model="seedance-1-pro", provider="relay",
                            variations=2, size="854x480", seconds=5, progress=False)
    assert isinstance(batch, Batch) and len(batch) == 2 and batch.done
    rows = [j.row for j in batch]
    for row in rows:
        assert_complete(row)
        assert unknown(row["estimated_cost"]) and row["provider_model"] == "seedance-1-pro"
    assert sorted(r["variation_index"] for r in rows) == [0, 1]
    assert len({r["sha256"] for r in rows}) == 2 and len({r["provider_job_id"] for r in rows}) == 1
    assert emulator.counters["relay"]["creates"] == 1 and emulator.counters["relay"]["jobs"] == 2


def test_relay_image_to_video_and_failure(studio, emulator):
    job = studio.generate("the photo starts to move", model="seedance-1-pro", provider="relay",
                          size="480x854", seconds=5, input_image=png(480, 854), progress=False)
    assert_complete(job.row)
    with pytest.raises(JobFailed) as e:
        studio.generate("a blocked-term parade", model="seedance-1-pro", provider="relay", size="854x480",
                        seconds=5, progress=False)
    assert e.value.code == "content_policy_violation"


RELAY = dict(name="studio-relay", base_url="https://relay.example.org/v1", key_env="STUDIO_RELAY_KEY",
             models={"seedance-1-pro": "doubao-seedance-pro"},
             paths={"create": "video/generations", "poll": "video/generations/{id}"},
             auth_header="x-api-key", auth_scheme=None,
             prices={"seedance-1-pro": {"usd_per_second": 0.05, "as_of": "2026-11-01",
                                        "source": "relay.example.org/pricing"}})


def _relay_job(studio, emulator):
    job = studio.generate("a crane folds itself", model="seedance-1-pro@studio-relay",
                          size="854x480", seconds=5, progress=False)
    row = job.row
    assert_complete(row)
    assert (row["provider"], row["provider_model"]) == ("studio-relay", "doubao-seedance-pro")
    assert row["estimated_cost"] == pytest.approx(0.25)
    [emu_job] = emulator.jobs("relay")
    assert emu_job.provider_model == "doubao-seedance-pro"


def test_a_relay_given_to_the_studio_runs_end_to_end_and_stays_in_it(make_studio, emulator, tmp_path):
    studio = make_studio(relays=[RELAY])
    assert "studio-relay" in studio.catalog.providers and "studio-relay" in studio.relays
    _relay_job(studio, emulator)
    other = make_studio(ledger=tmp_path / "other.db")             # scoped: another studio lacks it
    assert "studio-relay" not in other.catalog.providers
    with pytest.raises(ValidationError) as e:
        other.submit("a crane", model="seedance-1-pro@studio-relay", size="854x480", seconds=5)
    assert e.value.field == "provider"


def test_register_relay_is_a_deprecated_alias_that_still_works(make_studio, emulator):
    args = dict(RELAY)
    with pytest.warns(DeprecationWarning, match="Studio\\(relays="):
        register_relay(args.pop("name"), **args)
    try:
        _relay_job(make_studio(), emulator)
    finally:
        unregister_relay("studio-relay")


# ------------------------------------------------------------------------------------- resume
@pytest.mark.parametrize("provider,model,kw", [
    ("gemini", "veo-3.1-fast", dict(seconds=4)),
    ("runcrate", "sora-2", dict(seconds=4)),
    ("relay", "seedance-1-pro", dict(seconds=5, size="854x480")),
])
def test_resume_after_a_crash_never_creates_twice(make_studio, emulator, provider, model, kw):
    emulator.config.generation_seconds = 2.0  # long enough to close the Studio mid-job
    first = make_studio()
    prompt = f"a slow sunrise over the bay ({provider})"
    job = first.submit(prompt, model=model, provider=provider, **kw)
    row = wait_for_remote_id(first, job.id)
    first.close()  # the kernel dies: the job is still running remotely

    second = make_studio(resume=False)
    assert second.ledger.get(job.id)["status"] in ("submitted", "queued", "in_progress")
    [resumed] = second.resume(progress=False)
    assert resumed.id == job.id
    final = second.ledger.get(job.id)
    assert_complete(final)
    assert final["provider_job_id"] == row["provider_job_id"]
    assert emulator.counters[provider]["creates"] == 1
    assert emulator.counters.job_creates(row["provider_job_id"]) == 1
    assert emulator.counters.prompt_creates(prompt) == 1


# ------------------------------------------------------------------------------- comparisons
def test_one_model_across_providers_compares_cleanly(studio, emulator):
    batch = studio.batch("a red fox in fresh snow", models="sora-2",
                         providers=["openai", "runware", "runcrate", "relay"], seconds=4, size="1280x720",
                         progress=False)
    assert batch.done and not batch.failed
    df = batch.df
    assert set(df["model"]) == {"sora-2"}
    assert sorted(df["provider"]) == ["openai", "relay", "runcrate", "runware"]
    cost = dict(zip(df["provider"], df["estimated_cost"]))
    assert cost["openai"] == pytest.approx(0.4) and cost["runware"] == pytest.approx(0.4)
    assert math.isnan(cost["runcrate"]) and math.isnan(cost["relay"])  # unknown, never 0
    ids = dict(zip(df["provider"], df["provider_model"]))
    assert ids == {"openai": "sora-2", "runware": "openai:3@1", "runcrate": "openai/sora-2", "relay": "sora-2"}
    by = studio.ledger.cost_by("provider")
    assert set(by.reset_index()["provider"].astype(str)) >= {"openai", "runware", "runcrate", "relay"}
