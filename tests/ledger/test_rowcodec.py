"""The row ⇄ request codec: a plan written to a ledger row and read back is the plan that was sent.

Rows go through a real ledger (SQLite in memory) between the two halves, so the values are the
ones a resume reads (floats for seconds, decoded JSON, lists for tags), from ``Ledger.get`` and
from a ``Ledger.df`` row (numpy / pandas scalars, NA for empty cells).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from sorakit import SorakitError, VideoRequest
from sorakit._types import SEED_MAX
from sorakit.catalog import load_catalog, plan
from sorakit.ledger import Ledger, new_job_id, plan_from_row, row_from_plan, seed_used

CAT = load_catalog(overlays=())
OFFERS = [o for o in CAT.offers() if "text-to-video" in o.capabilities]
UTC = dt.timezone.utc
MATTERS = ("prompt", "width", "height", "size", "seconds", "fps", "audio", "variations", "seed", "negative_prompt",
           "action", "source_video_id", "input_image", "input_image_url", "input_image_sha256", "input_image_mime",
           "price", "emulated", "catalogued", "provider_model", "estimated_cost")
"""Every field of a `Plan` that is sent to the provider, priced or recorded."""


def same_plan(a, b) -> None:
    assert (a.model.name, a.provider.name, a.offer.id) == (b.model.name, b.provider.name, b.offer.id)
    for name in MATTERS:
        assert getattr(a, name) == getattr(b, name), name
    assert a.request.tags == b.request.tags


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (20, 90, 200)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def led():
    with Ledger("sqlite:///:memory:") as ledger:
        yield ledger


def stored(led: Ledger, p, **kw) -> list[dict]:
    """``p``'s rows as a launch writes them, inserted, then read back from the ledger."""
    ref = kw.pop("client_ref", "ref-1")
    rows = [row_from_plan(p, job_id=new_job_id(), client_ref=ref, owner="me@host:1:x", variation_index=i, **kw)
            for i in range(p.variations)]
    ids = led.insert_many(rows)
    return [led.get(i) for i in ids]


def df_row(led: Ledger, job_id: str) -> dict:
    df = led.df
    return df[df["job_id"] == job_id].iloc[0].to_dict()


@st.composite
def plans(draw):
    offer = draw(st.sampled_from(OFFERS))
    seed = draw(st.one_of(st.none(), st.integers(0, SEED_MAX), st.just(SEED_MAX), st.just(0))) \
        if "seed" in offer.capabilities else None
    fixed = {"always": [None, True], "never": [None, False]}
    audio = draw(st.sampled_from(fixed.get(offer.audio, [None, True, False])))
    req = VideoRequest(
        prompt=draw(st.text("abcdefghij klmnop", min_size=3, max_size=40).filter(lambda s: len(s.strip()) >= 2)),  # Runware: 2+
        model=offer.model, provider=offer.provider,
        size=draw(st.sampled_from(offer.sizes)), seconds=draw(st.sampled_from(offer.seconds)), seed=seed,
        variations=draw(st.integers(1, offer.max_variations)), audio=audio,
        negative_prompt=draw(st.sampled_from([None, "blur, text"])) if "negative-prompt" in offer.capabilities else None,
        tags=tuple(draw(st.lists(st.sampled_from(["a", "b", "sweep"]), unique=True, max_size=2))),
    )
    return plan(req, CAT, emulated=draw(st.booleans()), check_dates=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(p=plans())
def test_plan_row_plan_round_trips_over_the_catalog(led, p):
    rows = stored(led, p)
    assert len(rows) == p.variations and {r["variation_index"] for r in rows} == set(range(p.variations))
    for row in rows:
        assert row["seed"] == p.seed and row["provider_seed"] is None and row["emulated"] is p.emulated
        assert "request_seed" not in row["extra"]
        same_plan(plan_from_row(row, CAT), p)
    same_plan(plan_from_row(df_row(led, rows[-1]["job_id"]), CAT), p)


def test_the_row_holds_what_the_launch_wrote():
    p = plan(VideoRequest("a heron", model="veo-3-fast", provider="runware", size="1280x720", seconds=8,
                          seed=7, variations=2, tags=("x",)), CAT, today=dt.date(2026, 11, 22))
    row = row_from_plan(p, job_id="job_1", client_ref="ref", owner="me", batch_id="batch_1",
                        variation_index=1, provider_model="google:3@1", provider_job_id="ref")
    assert {k: row[k] for k in ("job_id", "batch_id", "provider", "model", "provider_model", "provider_job_id",
                                "variation_index", "status", "seed", "provider_seed", "size", "seconds",
                                "variations", "emulated", "tags")} == {
        "job_id": "job_1", "batch_id": "batch_1", "provider": "runware", "model": "veo-3-fast",
        "provider_model": "google:3@1", "provider_job_id": "ref", "variation_index": 1, "status": "pending",
        "seed": 7, "provider_seed": None, "size": "1280x720", "seconds": 8.0, "variations": 2, "emulated": False,
        "tags": ["x"]}
    assert row["estimated_cost"] == pytest.approx(p.estimated_cost / 2)
    assert set(row["extra"]) == {"client_ref", "owner", "price"}
    assert row["extra"]["price"]["as_of"] == str(p.price.as_of)


def test_a_live_job_of_a_model_retired_since_rebuilds_as_live(led):
    # sent to OpenAI before Sora 2's shutdown (2026-09-24), resumed after it: still live, not emulated
    p = plan(VideoRequest("a lighthouse", model="sora-2", provider="openai"), CAT, today=dt.date(2026, 9, 1))
    (row,) = stored(led, p)
    assert row["emulated"] is False
    again = plan_from_row(row, CAT, dt.date(2026, 12, 1))
    same_plan(again, p)
    assert again.emulated is False
    with pytest.raises(Exception, match="stopped serving"):  # a new live request is refused
        plan(VideoRequest("a lighthouse", model="sora-2", provider="openai"), CAT, today=dt.date(2026, 12, 1))


def test_an_uncatalogued_id_resumes_as_the_id_it_was_sent_as(led):
    p = plan(VideoRequest("a fox", model="acme:video@9", provider="runware", seconds=4), CAT)
    assert not p.catalogued
    (row,) = stored(led, p)
    assert row["model"] == row["provider_model"] == "acme:video@9" and row["extra"]["uncatalogued"] is True
    again = plan_from_row(row, CAT)
    same_plan(again, p)
    assert not again.catalogued and again.price is None


def test_a_model_that_left_the_catalog_is_planned_from_the_id_it_was_sent_as(led):
    p = plan(VideoRequest("a fox", model="seedance-1-pro", provider="runware", size="864x480", seconds=5), CAT)
    (row,) = stored(led, p)
    row = {**row, "model": "seedance-1-pro-renamed-since"}   # the catalog no longer knows that name
    again = plan_from_row(row, CAT)
    assert again.model.name == "seedance-1-pro" and again.provider_model == p.provider_model
    row = {**row, "provider_model": "acme:gone@1"}            # nor the id: the open catalog sends it as is
    gone = plan_from_row(row, CAT)
    assert not gone.catalogued and gone.provider_model == "acme:gone@1"


def test_an_input_image_comes_back_from_the_media_cache(led):
    image = png(1280, 720)
    p = plan(VideoRequest("a bee", model="veo-3-fast", provider="runware", input_image=image), CAT,
             today=dt.date(2026, 11, 22))
    (row,) = stored(led, p)
    sha = hashlib.sha256(image).hexdigest()
    assert row["input_image_sha256"] == sha
    asked = []
    again = plan_from_row(row, CAT, fetch=lambda s, what: asked.append((s, what)) or image)
    assert asked == [(sha, "input image")]
    same_plan(again, p)
    with pytest.raises(SorakitError, match=rf"job {row['job_id']}: its input image \({sha[:12]}"):
        plan_from_row(row, CAT)


def test_an_image_url_and_an_inline_source_video_come_back(led):
    p = plan(VideoRequest("a bee", model="veo-3-fast", provider="runware", input_image="https://example.com/a.png"),
             CAT, today=dt.date(2026, 11, 22))
    (row,) = stored(led, p)
    assert row["extra"]["input_image_url"] == "https://example.com/a.png"
    same_plan(plan_from_row(row, CAT), p)
    video_sha = "ab" * 32
    row = {**row, "extra": {**row["extra"], "source_video_sha256": video_sha}}
    got = plan_from_row(row, CAT, fetch=lambda s, what: b"mp4:" + s.encode(), wants_source_file=lambda plan: True)
    assert got.source_video == b"mp4:" + video_sha.encode() and got.source_video_sha256 == video_sha
    assert plan_from_row(row, CAT, wants_source_file=lambda plan: False).source_video is None


def test_a_row_an_older_sorakit_wrote_keeps_its_requested_seed(led):
    p = plan(VideoRequest("a fox", model="seedance-1-pro", provider="runware", size="864x480", seconds=5, seed=5),
             CAT)
    (row,) = stored(led, p)
    old = {**row, "seed": 99, "extra": {**row["extra"], "request_seed": 5}}   # seed overwritten on completion
    assert plan_from_row(old, CAT).seed == 5
    assert plan_from_row({**old, "extra": {**row["extra"], "request_seed": None}}, CAT).seed is None


def test_the_seed_that_made_the_video():
    assert seed_used({"seed": 7, "provider_seed": 9}) == 9        # each variation its own
    assert seed_used({"seed": None, "provider_seed": 123}) == 123  # the provider chose
    assert seed_used({"seed": 7, "provider_seed": None}) == 7     # the provider did not say
    assert seed_used({"seed": None}) is None
    import pandas as pd
    assert seed_used(pd.Series({"seed": pd.NA, "provider_seed": pd.array([5], "Int64")[0]})) == 5
    assert seed_used(pd.Series({"seed": pd.NA, "provider_seed": pd.NA})) is None
