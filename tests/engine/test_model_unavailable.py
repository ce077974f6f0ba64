"""A shut-down model is a clear error, not a retry: each provider's real "no longer available"
answer (served by the emulator after ``emu.shut_down``) fails the job unbilled with ModelUnavailable."""

from __future__ import annotations

import datetime as dt

import pytest

from sorakit import JobFailed, ModelUnavailable


@pytest.mark.parametrize("model,provider,kw,says", [
    # Google: 404 "... is no longer available"; the catalog knows the date and the replacement
    ("veo-3.1", "gemini", {}, ["veo-3.1 (veo-3.1-generate-preview) is no longer available at gemini",
                               "shut down 2026-10-22", "suggested replacement: gemini-omni-1.2-flash (at gemini)"]),
    # OpenAI: 404 model_not_found
    ("sora-2", "openai", {"seconds": 4}, ["sora-2 (sora-2) is no longer available at openai",
                                          "shut down 2026-09-24"]),
    # Runware: unknownModel
    ("kling-3-standard", "runware", {"seconds": 5}, ["kling-3-standard (klingai:kling-video@3-standard) is no "
                                                    "longer available at runware"]),
    # Runcrate: 404 model_not_found
    ("veo-3", "runcrate", {}, ["veo-3 (google/veo-3.0) is no longer available at runcrate",
                               "suggested replacement: veo-3.1 (at runware, vertex)"]),
])
def test_shut_down_model_fails_unbilled_without_retry(make_studio, emulator, model, provider, kw, says):
    studio = make_studio()
    emulator.shut_down(model, provider)
    with pytest.raises(ModelUnavailable) as info:
        studio.generate("a lighthouse at dusk", model=model, provider=provider, progress=False, **kw)
    exc = info.value
    assert exc.provider == provider and exc.model == model
    for text in says:
        assert text in str(exc)
    (row,) = studio.ledger.rows(provider=provider)
    assert row["status"] == "failed" and row["error_code"] == "model_unavailable"
    assert (row["billed_cost"], row["billed_cost_source"]) == (0.0, "none")
    assert says[0] in row["error_message"]
    counts = emulator.counters[provider]
    assert counts["create_calls"] == 1 and counts.get("creates", 0) == 0  # sent once, never retried


def test_the_date_and_replacement_are_on_the_exception(make_studio, emulator):
    studio = make_studio()
    emulator.shut_down("veo-3-fast", "gemini")
    with pytest.raises(ModelUnavailable) as info:
        studio.generate("a heron", model="veo-3-fast", provider="gemini", progress=False)
    assert info.value.shut_down == dt.date(2026, 6, 30) and info.value.replacement == "gemini-omni-1.2-flash"
    assert not isinstance(info.value, JobFailed) and info.value.status_code == 404


def test_other_offers_of_the_model_still_work(make_studio, emulator):
    studio = make_studio()
    emulator.shut_down("veo-3.1", "gemini")
    job = studio.generate("a heron", model="veo-3.1", provider="runware", progress=False)
    assert job.row["status"] == "completed"
