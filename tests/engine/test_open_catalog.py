"""The open catalog through the Studio, on the emulator over loopback HTTP: a provider's model id
the catalog does not list runs end to end by naming its provider, on every protocol; the ledger
records it, budgets refuse its unknown price unless told, and a restart resumes it.

The ids are made up (no catalog will list them) so the tests keep meaning what they say when the
shipped catalog learns today's models."""

from __future__ import annotations

import logging
import math

import pytest

from engine._helpers import assert_complete
from sorakit import ValidationError
from sorakit.catalog import _plan
from sorakit.engine import UnknownCost

UNLISTED = [  # (provider, an id no catalog lists, shaped like that provider's ids)
    ("gemini", "gemini-omni-9.9-flash"),           # Interactions API
    ("openai", "sora-9"),                          # /v1/videos
    ("runware", "google:9@9"),                     # a Runware AIR id ('@' and all)
    ("relay", "acme-video-9"),                     # videos/generations
    ("vertex", "veo-9.9-generate-001"),            # predictLongRunning on the enterprise platform
    ("runcrate", "acme/video-9"),
]


@pytest.fixture(autouse=True)
def _forget_warnings(monkeypatch):
    """Each test sees the once-per-process note afresh."""
    monkeypatch.setattr(_plan, "_said", set())


def _unknown(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


@pytest.mark.parametrize("provider,model_id", UNLISTED)
def test_an_unlisted_id_runs_end_to_end_by_naming_its_provider(studio, emulator, caplog, provider, model_id):
    assert model_id not in studio.catalog.models and studio.catalog.offer_by_id(provider, model_id) is None
    with caplog.at_level(logging.WARNING, logger="sorakit.catalog"):
        job = studio.generate("a fox crosses a frozen river", model=f"{model_id}@{provider}", progress=False)
        studio.generate("the same fox, at dusk", model=model_id, provider=provider, progress=False)
    notes = [r.getMessage() for r in caplog.records if r.name == "sorakit.catalog"]
    assert len(notes) == 1 and "\n" not in notes[0]  # once per (provider, id), one line
    assert notes[0].startswith(f"sorakit: {model_id!r} is not in the catalog at {provider}: sent as is, its "
                               f"fields unchecked (the provider's answer judges), price unknown")
    row = job.row
    assert_complete(row)
    assert (row["model"], row["provider"], row["provider_model"]) == (model_id, provider, model_id)
    assert row["extra"]["uncatalogued"] is True and "price" not in row["extra"]
    assert _unknown(row["estimated_cost"])  # unknown, never 0
    sent = [j for j in emulator.jobs(provider) if j.prompt == "a fox crosses a frozen river"]
    assert [j.provider_model for j in sent] == [model_id]
    if provider == "runware":  # Runware reports the cost itself (includeCost): a number, always
        assert row["billed_cost_source"] == "provider" and row["billed_cost"] > 0
    else:
        assert row["billed_cost_source"] == "none" and _unknown(row["billed_cost"])


def test_fields_checkable_without_the_catalog_are_still_checked(studio):
    for bad, field in [(dict(seconds=-2), "seconds"), (dict(size="wide"), "size"),
                       (dict(seed=2**32), "seed"), (dict(variations=0), "variations")]:
        with pytest.raises(ValidationError) as info:
            studio.submit("a fox", model="gemini-omni-9.9-flash@gemini", **bad)
        assert info.value.field == field
    with pytest.raises(ValidationError) as info:
        studio.submit("   ", model="gemini-omni-9.9-flash@gemini")
    assert info.value.field == "prompt"


def test_a_typo_in_a_catalog_name_without_provider_still_gets_did_you_mean(studio):
    with pytest.raises(ValidationError) as info:
        studio.submit("a fox", model="kling-3-standrd")
    assert info.value.field == "model" and "did you mean 'kling-3-standard'?" in str(info.value)
    with pytest.raises(ValidationError) as info:  # an unknown provider is not an open door
        studio.submit("a fox", model="gemini-omni-9.9-flash@gemini2")
    assert info.value.field == "provider" and "gemini" in str(info.value)


def test_the_provider_id_of_a_catalogued_model_gets_the_catalog_s_limits_and_price(studio):
    offer = studio.catalog.offers(model="kling-3-standard", provider="runware")[0]
    (line,) = studio.estimate("a fox", models=f"{offer.id}@runware", seconds=5).lines
    (named,) = studio.estimate("a fox", models="kling-3-standard@runware", seconds=5).lines
    assert line == named and line.rate is not None


def test_budgets_refuse_the_unknown_price_unless_allowed(make_studio, emulator):
    capped = make_studio(budget=5.0)
    with pytest.raises(UnknownCost):
        capped.submit("a fox", model="sora-9@openai")
    assert emulator.counters.total("requests") == 0
    job = capped.generate("a fox", model="sora-9@openai", allow_unknown_cost=True, progress=False)
    assert job.status == "completed"
    with pytest.raises(UnknownCost):
        capped.batch(["a fox", "an owl"], models=["sora-9@openai", "veo-3-fast@runware"], progress=False)


def test_estimate_batch_and_compare_take_unlisted_ids(studio):
    from sorakit.display import compare

    est = studio.estimate(["a fox", "an owl"], models=["gemini-omni-9.9-flash@gemini", "veo-3-fast@runware"])
    assert est.unknown == 2 and len(est.lines) == 4
    assert {l.model for l in est.lines if l.rate is None} == {"gemini-omni-9.9-flash"}
    batch = studio.batch(["a heron"], models=["google:9@9@runware", "acme-video-9@relay"], progress=False)
    assert batch.done and not batch.failed
    assert sorted(batch.df["model"]) == ["acme-video-9", "google:9@9"]
    grid = compare(studio, prompts=["a kite"], models=["sora-9@openai"])
    assert grid.columns == ["sora-9@openai"]


def test_an_unlisted_job_resumes_after_a_restart(make_studio, emulator):
    from engine.test_resume import _insert_unsent

    first = make_studio(resume=False)
    ids = _insert_unsent(first, "never sent, model unlisted", model="gemini-omni-9.9-flash", provider="gemini",
                         seconds=6)
    first.close()
    assert emulator.counters.total("requests") == 0
    second = make_studio(resume=False)
    (job,) = second.resume(progress=False)
    assert [job.id] == ids
    row = job.row
    assert_complete(row)
    assert (row["model"], row["provider_model"], row["seconds"]) == ("gemini-omni-9.9-flash",) * 2 + (6.0,)
    assert emulator.counters.prompt_creates("never sent, model unlisted") == 1


def test_a_row_whose_model_left_the_catalog_resumes_with_the_id_it_was_sent_as(make_studio, emulator):
    """A row written under a canonical name the catalog no longer has (renamed since) is planned
    again from its provider_model, not sent under the stale name."""
    from engine.test_resume import _insert_unsent

    first = make_studio(resume=False)
    (jid,) = _insert_unsent(first, "renamed since", model="kling-3-standard", provider="runware", seconds=5)
    first.ledger.update(jid, model="kling-3-std-old-name")
    first.close()
    second = make_studio(resume=False)
    (job,) = second.resume(progress=False)
    assert_complete(job.row)
    sent = [j for j in emulator.jobs("runware") if j.prompt == "renamed since"]
    assert [j.provider_model for j in sent] == ["klingai:kling-video@3-standard"]


@pytest.mark.parametrize("per_second", [5792, None], ids=["with tokens/s", "rate alone"])
def test_omni_is_billed_by_its_reported_video_tokens(make_studio, emulator, tmp_path, per_second):
    """With a per-token rule in the catalog (here an overlay), the ledger's billed cost of an Omni
    job is the output video tokens the Interactions API reported × the rule's rate — estimated
    beforehand from tokens per second when the rule has that figure, unknown when not."""
    rate = 1.2e-05
    tps = "" if per_second is None else f"video_tokens_per_second = {per_second}, "
    overlay = tmp_path / "omni-tokens.toml"
    overlay.write_text(f'''
[[models."gemini-omni-flash".offers]]
provider = "gemini"
prices = [{{ usd_per_video_token = {rate}, {tps}as_of = 2026-12-06, source = "test overlay: a per-token rate" }}]
''')
    studio = make_studio(catalog=str(overlay))
    est = studio.estimate("a fox", models="gemini-omni-flash@gemini", seconds=6)
    if per_second is None:
        assert est.lines[0].rate is None and est.unknown == 1  # no estimate: unknown, never 0
    else:
        assert est.lines[0].rate == pytest.approx(rate * per_second)  # an estimate: tokens/s × rate
    job = studio.generate("a fox in the snow", model="gemini-omni-flash@gemini", seconds=6,
                          allow_unknown_cost=True, progress=False)
    row = job.row
    assert_complete(row)
    usage = row["extra"]["usage"]
    assert usage["output_video_tokens"] == 6 * 5792  # what the emulated interaction reported
    assert row["billed_cost_source"] == "usage"
    assert row["billed_cost"] == pytest.approx(usage["output_video_tokens"] * rate)
    assert usage["usd_per_video_token"] == rate and usage["source"] == "test overlay: a per-token rate"
    assert job.cost == pytest.approx(6 * 5792 * rate)


def test_unlisted_omni_keeps_its_tokens_and_an_unknown_cost(studio):
    job = studio.generate("a fox", model="gemini-omni-9.9-flash@gemini", seconds=4, progress=False)
    row = job.row
    assert row["extra"]["usage"] == {"output_video_tokens": 4 * 5792}
    assert row["billed_cost_source"] == "none" and _unknown(row["billed_cost"])
