"""Every argument of the public API is checked before anything is written or sent (issue 11, defect 5).

Hypothesis draws wrong-typed and out-of-range values for each parameter of ``generate``,
``submit``, ``batch``, ``estimate``, ``Studio(...)``, ``Job.remix``, ``rate`` and ``tag`` (and the
async twins). Each call must raise `ValidationError` naming the parameter — and leave the ledger
without a new row and the emulator without a single request (its counters say so).
"""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sorakit import ValidationError
from sorakit.engine import Studio

OBJECTS = st.one_of(st.builds(object), st.just({"a": 1}), st.just({1, 2}), st.just(b"bytes"),
                    st.complex_numbers(allow_nan=False))
NAN_INF = st.sampled_from([math.nan, math.inf, -math.inf])


def not_a_number():
    return st.one_of(st.text(max_size=8), OBJECTS, st.lists(st.integers(), max_size=2), NAN_INF,
                     st.booleans())


# parameter -> strategy of values that must be refused
BAD_OPTIONS = {
    "timeout": st.one_of(not_a_number(), st.floats(max_value=0, allow_nan=False), st.integers(max_value=0)),
    "budget": st.one_of(not_a_number(), st.floats(max_value=-0.001, allow_nan=False), st.integers(max_value=-1)),
    "wait": st.one_of(st.integers(), st.text(max_size=5), st.none(), OBJECTS),
    "progress": st.one_of(st.integers(), st.text(max_size=5), st.none(), OBJECTS),
    "allow_unknown_cost": st.one_of(st.integers(), st.text(max_size=5), st.none(), OBJECTS),
}
BAD_REQUEST = {
    "prompt": st.one_of(st.none(), st.integers(), st.lists(st.text(min_size=3), min_size=1, max_size=2), OBJECTS),
    "model": st.one_of(st.lists(st.just("sora-2"), min_size=1, max_size=2), st.integers(), OBJECTS,
                       st.text(alphabet="xyz", min_size=1, max_size=6)),
    "provider": st.one_of(st.lists(st.just("openai"), min_size=1, max_size=2), st.integers(), OBJECTS,
                          st.text(alphabet="xyz", min_size=1, max_size=6)),
    "tags": st.one_of(st.integers(), st.floats(), st.lists(st.integers(), min_size=1, max_size=3),
                      st.just([""]), st.builds(object)),
    "seconds": st.one_of(st.text(alphabet="abc", min_size=1, max_size=4), st.floats(max_value=0),
                         NAN_INF, OBJECTS, st.integers(min_value=1000, max_value=10**6)),
    "seed": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32), st.text(max_size=4),
                      st.floats(), st.booleans(), OBJECTS),
    "variations": st.one_of(st.integers(max_value=0), st.integers(min_value=100, max_value=10**6),
                            st.text(max_size=3), st.floats(), st.booleans(), st.none()),
    "size": st.one_of(st.integers(), st.text(alphabet="qz", min_size=1, max_size=5), OBJECTS,
                      st.lists(st.text(), min_size=1, max_size=2)),
    "audio": st.one_of(st.integers(min_value=2), st.text(min_size=1, max_size=4), OBJECTS),
    "negative_prompt": st.one_of(st.integers(), OBJECTS, st.lists(st.text(), min_size=1, max_size=2)),
    "input_image": st.one_of(st.integers(), st.floats(), st.lists(st.integers(), max_size=2), st.just({"a": 1})),
}
BAD_BATCH = {
    "prompts": st.one_of(st.none(), st.integers(), st.just([]), st.lists(st.integers(), min_size=1, max_size=2),
                         OBJECTS),
    "models": st.one_of(st.integers(), st.just([]), st.lists(st.integers(), min_size=1, max_size=2), OBJECTS,
                        st.text(alphabet="xyz", min_size=1, max_size=5)),
    "providers": st.one_of(st.integers(), st.just([]), st.lists(st.integers(), min_size=1, max_size=2), OBJECTS,
                           st.text(alphabet="xyz", min_size=1, max_size=5)),
    "seeds": st.one_of(st.integers(max_value=-1), st.text(min_size=1, max_size=3), st.just([]),
                       st.lists(st.text(min_size=1, max_size=2), min_size=1, max_size=2), st.floats()),
}
BAD_STUDIO = {
    "budget": BAD_OPTIONS["budget"],
    "max_wait": st.one_of(not_a_number(), st.floats(max_value=0, allow_nan=False), st.none()),
    "time_scale": st.one_of(not_a_number(), st.floats(max_value=0, allow_nan=False)),
    "concurrency": st.one_of(st.integers(max_value=0), st.text(min_size=1, max_size=3), st.floats(),
                             st.booleans(), st.just({"openai": 0}), st.just({"openai": "x"})),
    "keys": st.one_of(st.integers(), st.text(min_size=1, max_size=3), st.lists(st.text(), max_size=2),
                      st.just({"openai": 5}), st.just({1: "k"})),
    "base_urls": st.one_of(st.integers(), st.text(min_size=1, max_size=3), st.just({"openai": "ftp://x"}),
                           st.just({"openai": 7})),
    "emulate": st.one_of(st.integers(), st.text(min_size=1, max_size=3), st.just([1]), st.floats()),
    "resume": st.one_of(st.integers(), st.text(min_size=1, max_size=3), OBJECTS),
    "media_dir": st.one_of(st.integers(), st.floats(), st.lists(st.text(), max_size=2)),
    "ledger": st.one_of(st.integers(), st.floats(), st.lists(st.text(), max_size=2), st.just({"a": 1})),
    "provider_options": st.one_of(st.integers(), st.just({"openai": 5}), st.text(min_size=1, max_size=3)),
    "emulator": st.one_of(st.integers(), st.floats(), st.just("not a url")),
    "policy": st.one_of(st.integers(), st.text(min_size=1, max_size=3), st.just({"poll_initial": 1})),
    "catalog": st.one_of(st.integers(), st.floats(), st.just({}), st.just([1]), st.just([])),
}
def _pick(param, *tables):
    return next(t[param] for t in tables if param in t)


SETTINGS = settings(max_examples=15, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def rig(make_studio, emulator, tmp_path):
    """A studio with one completed job (for remix/rate/tag), and a probe of what was written/sent."""
    studio = make_studio()
    done = studio.generate("a source clip for remixes", model="sora-2", progress=False)

    def snapshot():
        return len(studio.ledger.rows()), emulator.counters.total("requests"), sorted(
            p.name for p in tmp_path.iterdir())

    return studio, done, snapshot


def _refused(call, param, snapshot):
    before = snapshot()
    with pytest.raises(ValidationError) as e:
        call()
    assert e.value.field == param, (param, str(e.value))
    assert param in str(e.value) and "allowed" in str(e.value)
    assert snapshot() == before            # no row written, no request sent, no file created


def test_the_counters_see_a_request(rig):
    """The probe is live: a valid submit writes a row and sends a request."""
    studio, done, snapshot = rig
    rows, requests, _ = snapshot()
    studio.generate("a valid one", model="sora-2", progress=False)
    rows2, requests2, _ = snapshot()
    assert rows2 == rows + 1 and requests2 > requests


@pytest.mark.parametrize("entry", ["generate", "submit", "agenerate"])
@pytest.mark.parametrize("param", sorted(BAD_OPTIONS.keys() | BAD_REQUEST.keys()))
@SETTINGS
@given(data=st.data())
def test_generate_refuses_bad_arguments(rig, entry, param, data):
    studio, _, snapshot = rig
    strategy = _pick(param, BAD_OPTIONS, BAD_REQUEST)
    value = data.draw(strategy)
    kwargs = {"prompt": "a valid prompt", "model": "sora-2", "progress": False}
    if entry == "submit":
        kwargs.pop("progress")
        if param in ("wait", "progress"):
            return
    if entry == "agenerate":
        kwargs.pop("progress")
        if param == "progress":
            return
    kwargs[param] = value
    if param == "provider" and isinstance(value, str):
        kwargs["model"] = "sora-2"
    if entry == "agenerate":
        _refused(lambda: asyncio.run(studio.agenerate(**kwargs)), param, snapshot)
    else:
        _refused(lambda: getattr(studio, entry)(**kwargs), param, snapshot)


@pytest.mark.parametrize("entry", ["batch", "abatch", "estimate"])
@pytest.mark.parametrize("param", sorted(BAD_BATCH.keys() | BAD_OPTIONS.keys() | {"tags", "seconds"}))
@SETTINGS
@given(data=st.data())
def test_batch_and_estimate_refuse_bad_arguments(rig, entry, param, data):
    studio, _, snapshot = rig
    if entry == "abatch" and param == "progress":
        return
    strategy = _pick(param, BAD_BATCH, BAD_OPTIONS, BAD_REQUEST)
    kwargs = {"prompts": ["one valid prompt"], "models": "sora-2", param: data.draw(strategy)}
    if entry == "batch":
        kwargs.setdefault("progress", False)
    expected = "model" if param == "models" and isinstance(kwargs[param], str) else \
        "provider" if param == "providers" and isinstance(kwargs[param], str) else param
    if entry == "abatch":
        _refused(lambda: asyncio.run(studio.abatch(**kwargs)), expected, snapshot)
    else:
        _refused(lambda: getattr(studio, entry)(**kwargs), expected, snapshot)


@pytest.mark.parametrize("param", sorted(BAD_OPTIONS.keys() - {"budget", "allow_unknown_cost"} | {
    "prompt", "tags", "seed"}))
@SETTINGS
@given(data=st.data())
def test_remix_refuses_bad_arguments(rig, param, data):
    studio, done, snapshot = rig
    strategy = _pick(param, BAD_OPTIONS, BAD_REQUEST)
    kwargs = {"prompt": "now in the rain", "progress": False, param: data.draw(strategy)}
    _refused(lambda: done.remix(**kwargs), param, snapshot)


@SETTINGS
@given(n=st.one_of(st.integers(max_value=0), st.integers(min_value=6), st.floats(), st.text(max_size=3),
                   st.booleans(), OBJECTS))
def test_rate_refuses_what_is_not_1_to_5(rig, n):
    studio, done, snapshot = rig
    before = done.row["rating"]
    _refused(lambda: done.rate(n), "n", snapshot)
    assert done.row["rating"] == before


@SETTINGS
@given(tags=st.lists(st.one_of(st.integers(), st.none(), st.just(""), st.floats(), OBJECTS), min_size=1,
                     max_size=3))
def test_tag_refuses_what_is_not_a_string(rig, tags):
    studio, done, snapshot = rig
    before = done.row["tags"]
    _refused(lambda: done.tag(*tags), "tags", snapshot)
    assert done.row["tags"] == before


@pytest.mark.parametrize("param", sorted(BAD_STUDIO))
@SETTINGS
@given(data=st.data())
def test_studio_refuses_bad_arguments_before_creating_anything(tmp_path_factory, emulator_server, emulator,
                                                               param, data):
    root = tmp_path_factory.mktemp("studio")
    kwargs = dict(ledger=root / "ledger.db", media_dir=root / "media", emulate=True,
                  emulator=emulator_server.base_url, resume=False)
    kwargs[param] = data.draw(BAD_STUDIO[param])
    requests = emulator.counters.total("requests")
    with pytest.raises(ValidationError) as e:
        Studio(**kwargs)
    assert e.value.field == param, (param, str(e.value))
    assert list(root.iterdir()) == []                              # no ledger file, no media folder
    assert emulator.counters.total("requests") == requests


def test_the_reported_cases_from_the_issue(rig):
    """Defect 5 as reported: each raised TypeError / ValueError, or wrote a row first."""
    studio, _, snapshot = rig
    for kwargs, param in [({"model": ["sora-2"]}, "model"), ({"provider": ["openai"]}, "provider"),
                          ({"tags": 5}, "tags"), ({"budget": "lots"}, "budget"),
                          ({"timeout": "soon"}, "timeout"), ({"timeout": -5}, "timeout"),
                          ({"budget": float("nan")}, "budget")]:
        _refused(lambda: studio.submit("a careless call", **kwargs), param, snapshot)
    assert studio.ledger.pending() == []                           # nothing for resume() to submit
