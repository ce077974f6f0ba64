"""Both published forms of a failed Runware generation, end to end (issue 21).

Runware's docs move failed generations to the ``errors`` array of a getResponse answer
(tests/published/runware/task-responses.json, final-results.json); runware-sdk reads a failed item
inside ``data``. The emulator serves either (``EmulatorConfig.runware_failures_in``): a Studio over
real loopback HTTP must end the job failed with the same code in both cases (the errors form kept the
raw code, so the ledger disagreed with itself until this test).
"""

from __future__ import annotations

import pytest

from engine._helpers import assert_complete
from sorakit import JobFailed
from sorakit.emulator import EmulatorConfig


@pytest.fixture
def emulator_config():
    return EmulatorConfig(time_scale=0.01, seed=2121)


@pytest.mark.parametrize("form", ["data", "errors"])
def test_a_failed_runware_generation_fails_the_job_in_either_published_form(studio, emulator, form):
    emulator.config.runware_failures_in = form
    with pytest.raises(JobFailed) as e:
        studio.generate("a blocked-term parade", model="veo-3-fast", provider="runware", progress=False)
    row = studio.ledger.get(e.value.job_id)
    # one code whichever form the failure came in (the provider's own code stays in the message)
    assert (row["status"], row["error_code"], e.value.code) == ("failed", "moderation_blocked", "moderation_blocked")
    assert "providerContentPolicyViolation" in row["error_message"]
    assert emulator.counters.prompt_creates("a blocked-term parade", "runware") == 1  # one create, no retry
    # and a good job next to it still completes in the same form
    ok = studio.generate("a quiet harbour", model="veo-3-fast", provider="runware", progress=False)
    assert_complete(ok.row)


def test_an_unknown_failure_form_is_refused_by_name():
    with pytest.raises(ValueError, match="runware_failures_in='items'.*'data' or 'errors'"):
        EmulatorConfig(runware_failures_in="items")
