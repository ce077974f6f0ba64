"""The public API's one rule per thing: ``model@provider`` everywhere a model is, one default
model, ``*_async`` coroutines (older names deprecated), ``estimate`` meaning the same thing."""

from __future__ import annotations

import asyncio

import pytest

import sorakit
from sorakit import ValidationError, VideoRequest


def test_model_at_provider_is_accepted_everywhere_a_model_is(studio, emulator):
    job = studio.generate("a red kite", model="seedance-1-pro@runware", seconds=5, size="864x480",
                          progress=False)
    assert (job.row["model"], job.row["provider"]) == ("seedance-1-pro", "runware")
    sub = studio.submit("a blue kite", model="seedance-1-pro@relay", seconds=5, size="854x480")
    assert sub.row["provider"] == "relay"
    batch = studio.batch(["a heron"], models=["seedance-1-pro@runware", "seedance-1-pro@relay"],
                         seconds=5, size="854x480", skip_invalid=True, progress=False)
    assert sorted(j.row["provider"] for j in batch) + [r.model for r in batch.rejected] == \
        ["relay", "seedance-1-pro@runware"]             # 854x480 is a relay size, not a runware one
    est = studio.estimate(["a fox"], models=["seedance-1-pro@runware"], seconds=5)
    assert [(l.model, l.provider) for l in est.lines] == [("seedance-1-pro", "runware")]
    lines = sorakit.estimate([VideoRequest("a fox", model="seedance-1-pro@runware", seconds=5)]).lines
    assert [(l.model, l.provider) for l in lines] == [("seedance-1-pro", "runware")]
    sub.wait(timeout=60)


def test_a_provider_named_twice_differently_names_both(studio, emulator):
    with pytest.raises(ValidationError) as e:
        studio.submit("a fox", model="seedance-1-pro@runware", provider="relay")
    assert e.value.field == "provider" and "runware" in str(e.value) and "relay" in str(e.value)
    with pytest.raises(ValidationError) as e:
        sorakit.plan(VideoRequest("a fox", model="seedance-1-pro@runware", provider="relay"))
    assert e.value.field == "provider"
    with pytest.raises(ValidationError) as e:
        studio.submit("a fox", model="seedance-1-pro@")
    assert e.value.field == "model"
    assert studio.submit("a fox", model="seedance-1-pro@runware", provider="runware", seconds=5).row["provider"] \
        == "runware"                                     # the same provider twice is fine
    assert emulator.counters.total("creates") <= 1


def test_one_default_model_for_every_entry_point(studio):
    default = studio.catalog.default_model
    assert default == sorakit.load_catalog().default_model
    job = studio.submit("a default fox")
    assert job.row["model"] == default
    assert {j.row["model"] for j in studio.batch(["a", "bb"], wait=False)} == {default}
    assert {l.model for l in studio.estimate("a fox").lines} == {default}
    assert sorakit.plan(VideoRequest("a fox")).model.name == default


def test_coroutines_are_named_async_and_the_old_names_warn(studio):
    async def main():
        job = await studio.generate_async("an owl", model="seedance-1-pro", seconds=5)
        with pytest.warns(DeprecationWarning, match="generate_async"):
            old = await studio.agenerate("an old owl", model="seedance-1-pro", seconds=5)
        with pytest.warns(DeprecationWarning, match="batch_async"):
            b = await studio.abatch(["a", "bb"], models="seedance-1-pro", seconds=5, wait=False)
        await b.wait_async()
        with pytest.warns(DeprecationWarning, match="resume_async"):
            resumed = await studio.aresume()
        return job, old, b, resumed, await studio.resume_async()

    job, old, b, resumed, again = asyncio.run(main())
    assert job.status == old.status == "completed" and b.done and resumed == again == []


def test_studio_estimate_is_the_batch_cost_and_matches_sorakit_estimate(studio):
    """Same meaning, two scopes: the studio's takes batch's arguments; sorakit's takes requests."""
    est = studio.estimate(["a fox", "a heron"], models=["seedance-1-pro@runware"], seconds=5)
    same = sorakit.estimate([VideoRequest(p, model="seedance-1-pro@runware", seconds=5)
                             for p in ("a fox", "a heron")])
    assert type(est) is type(same) and est.total == pytest.approx(same.total) and est.complete


def test_the_engine_loops_coroutine_follows_the_same_rule():
    from sorakit.engine import get_loop

    async def two():
        return 2

    async def main():
        loop = get_loop()
        with pytest.warns(DeprecationWarning, match="run_async"):
            old = await loop.arun(two())
        return await loop.run_async(two()), old

    assert asyncio.run(main()) == (2, 2)
