"""What a user of the ledger sees: rows round-trip, dtypes, filters, tags, cost, errors.

Every test here runs twice: on an SQLite file and on a real PostgreSQL server.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timedelta, timezone

import pandas as pd
import pytest

from sorakit import SorakitError, ValidationError
from sorakit.ledger import (
    FRAME_COLUMNS,
    LEDGER_COLUMNS,
    LEDGER_DTYPES,
    STATUSES,
    TERMINAL_STATUSES,
    JobNotFound,
    Ledger,
    LedgerError,
)

UTC = timezone.utc
T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def full_job(**over):
    job = dict(
        batch_id="batch-1",
        provider="openai",
        model="sora-2",
        provider_model="sora-2-2026-01",
        provider_job_id="video_abc123",
        variation_index=0,
        status="completed",
        progress=100,
        action="remix",
        prompt="A calico cat playing a grand piano on a moonlit stage, slow dolly in",
        negative_prompt="blurry",
        seed=2**40 + 7,
        size="1280x720",
        width=1280,
        height=720,
        seconds=8.0,
        fps=24.0,
        audio=True,
        variations=2,
        input_image_sha256="e" * 64,
        source_video_id="video_src",
        created_at=T0,
        submitted_at=T0 + timedelta(seconds=1),
        completed_at=T0 + timedelta(seconds=95, microseconds=1),
        updated_at=T0 + timedelta(seconds=96),
        latency_s=94.0,
        estimated_cost=0.8,
        billed_cost=0.75,
        billed_cost_source="provider",
        currency="USD",
        video_url="https://cdn.example.test/v.mp4",
        video_url_expires_at=T0 + timedelta(hours=1),
        file_path="/data/videos/abc.mp4",
        poster_path="/data/videos/abc.jpg",
        sha256="a" * 64,
        bytes=12_345_678_901,
        error_code=None,
        error_message=None,
        tags=["client-a", "final"],
        rating=4,
        notes="the good one",
        emulated=False,
        attempts=2,
        extra={"raw": {"id": "video_abc123", "nested": [1, 2, 3]}, "ünïcode": "ok"},
    )
    job.update(over)
    return job


# ---------------------------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------------------------
def test_every_field_round_trips_through_get(led):
    job = full_job()
    job_id = led.insert(**job)
    row = led.get(job_id)
    assert set(row) == set(LEDGER_COLUMNS)
    for name, value in job.items():
        assert row[name] == value, name
    assert row["job_id"] == job_id
    assert row["schema_version"] >= 1
    for name in ("created_at", "submitted_at", "completed_at", "updated_at", "video_url_expires_at"):
        assert row[name].tzinfo is not None and row[name].utcoffset() == timedelta(0), name


def test_insert_fills_defaults_and_makes_sortable_unique_ids(led):
    before = datetime.now(UTC)
    ids = [led.insert(model="sora-2", provider="openai", prompt=f"p{i}") for i in range(20)]
    after = datetime.now(UTC)
    assert len(set(ids)) == 20
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"job_[0-9a-z]{26}", i) for i in ids)
    row = led.get(ids[0])
    assert row["status"] == "pending"
    assert before - timedelta(seconds=1) <= row["created_at"] <= after + timedelta(seconds=1)
    assert row["updated_at"] == row["created_at"]
    assert row["attempts"] == 0
    assert row["tags"] == [] and row["extra"] is None and row["estimated_cost"] is None


def test_datetimes_in_any_form_are_stored_as_the_same_utc_instant(led):
    paris = timezone(timedelta(hours=2))
    a = led.insert(created_at=datetime(2026, 5, 1, 14, 0, tzinfo=paris))
    b = led.insert(created_at=datetime(2026, 5, 1, 12, 0))  # naive: taken as UTC
    c = led.insert(created_at="2026-05-01T12:00:00Z")
    d = led.insert(created_at=pd.Timestamp("2026-05-01 12:00", tz="UTC").timestamp())
    e = led.insert(created_at=pd.Timestamp("2026-05-01 08:00", tz="America/New_York"))
    want = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    for job in (a, b, c, d, e):
        assert led.get(job)["created_at"] == want


def test_update_changes_fields_in_place_and_bumps_updated_at(led):
    job = led.insert(model="sora-2", provider="openai", prompt="x")
    created = led.get(job)["updated_at"]
    led.update(job, status="in_progress", progress=40, provider_job_id="video_1")
    led.update(job, status="completed", progress=100, billed_cost=0.4, billed_cost_source="provider",
               completed_at=datetime.now(UTC))
    row = led.get(job)
    assert (row["status"], row["progress"], row["provider_job_id"]) == ("completed", 100, "video_1")
    assert row["billed_cost"] == pytest.approx(0.4)
    assert row["updated_at"] > created
    assert row["prompt"] == "x"  # untouched fields stay


def test_reopening_shows_every_committed_row(ledger_url):
    with Ledger(ledger_url) as led:
        ids = [led.insert(prompt=f"p{i}", model="sora-2") for i in range(5)]
        led.update(ids[2], status="failed", error_code="moderation_blocked")
    with Ledger(ledger_url) as again:
        assert len(again) == 5
        assert again.get(ids[2])["error_code"] == "moderation_blocked"


def test_insert_many_returns_ids_in_order_and_is_all_or_nothing(led):
    ids = led.insert_many([{"prompt": f"p{i}", "model": "sora-2"} for i in range(50)])
    assert len(ids) == 50 and len(led) == 50
    assert [led.get(i)["prompt"] for i in ids[:3]] == ["p0", "p1", "p2"]
    with pytest.raises(ValidationError) as info:
        led.insert_many([{"prompt": "fine"}, {"prompt": "bad", "progress": 150}])
    assert info.value.field == "progress"
    assert len(led) == 50
    assert led.insert_many([]) == []


def test_insert_with_an_existing_job_id_is_refused(led):
    job = led.insert(prompt="x")
    with pytest.raises(ValidationError) as info:
        led.insert(job_id=job, prompt="y")
    assert info.value.field == "job_id"
    assert led.get(job)["prompt"] == "x"


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
def test_unknown_field_is_a_validation_error_naming_it_and_writes_nothing(led):
    with pytest.raises(ValidationError) as info:
        led.insert(prompt="x", promt_typo="y")
    assert info.value.field == "promt_typo"
    assert "promt_typo" in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, SorakitError)
    assert len(led) == 0
    job = led.insert(prompt="x")
    with pytest.raises(ValidationError, match="colour"):
        led.update(job, colour="red")


@pytest.mark.parametrize(
    "field, value, hint",
    [
        ("status", "done", "completed"),
        ("progress", 101, "100"),
        ("action", "paint", "remix"),
        ("billed_cost_source", "guess", "catalog"),
        ("seed", "abc", "integer"),
        ("seed", 1.5, "whole"),
        ("audio", "yes", "True"),
        ("seconds", float("inf"), "finite"),
        ("billed_cost", -1.0, ">= 0"),
        ("created_at", "next tuesday", "ISO"),
        ("prompt", 42, "string"),
        ("tags", ["ok", "no,commas"], "commas"),
        ("extra", {"x": object.__new__(type("Weird", (), {"__str__": None}))}, "JSON"),
    ],
)
def test_bad_values_name_the_field_value_and_what_is_allowed(led, field, value, hint):
    with pytest.raises(ValidationError) as info:
        led.insert(**{field: value})
    assert info.value.field == field
    assert hint in str(info.value)
    assert len(led) == 0


def test_rating_outside_1_to_5_is_refused_naming_field_value_and_range(led):
    job = led.insert(prompt="x")
    for bad in (0, 6, 2.5, "five", True):
        with pytest.raises(ValidationError) as info:
            led.rate(job, bad)
        assert info.value.field == "rating"
        assert info.value.value == bad
        assert "1" in str(info.value.allowed) and "5" in str(info.value.allowed)
    led.rate(job, 5)
    assert led.get(job)["rating"] == 5
    led.rate(job, None)
    assert led.get(job)["rating"] is None


def test_update_many_commits_a_group_and_a_failing_update_fails_alone(led):
    """The engine's group commit: many jobs' transitions in one transaction; one bad update (an
    unknown id, a value the codec refuses) does not lose the others, and leases are released in
    the same go."""
    a, b, c = (led.insert(model="sora-2", provider="openai", prompt=p) for p in "abc")
    assert sorted(led.claim([a, b, c], "ann@a:1:x", 60)) == sorted([a, b, c])
    errors = led.update_many([(a, {"status": "in_progress", "progress": 10}),
                              (b, {"status": "completed", "progress": 100})],
                             release=[b], owner="ann@a:1:x")
    assert errors == [None, None, None]
    assert (led.get(a)["status"], led.get(a)["progress"]) == ("in_progress", 10)
    assert (led.get(b)["status"], led.get(b)["lease_owner"]) == ("completed", None)
    assert led.get(a)["lease_owner"] == "ann@a:1:x"            # only the named lease was released

    errors = led.update_many([(a, {"progress": 20}), ("job_nope", {"progress": 1}),
                              (c, {"progress": 500}), (c, {"status": "queued"})])
    assert errors[0] is None and errors[3] is None
    assert isinstance(errors[1], JobNotFound) and errors[1].job_id == "job_nope"
    assert isinstance(errors[2], ValidationError) and "progress" in str(errors[2])
    assert led.get(a)["progress"] == 20 and led.get(c)["status"] == "queued"
    assert led.get(c)["progress"] is None


def test_unknown_job_id_raises_a_key_error_naming_it(led):
    for call in (
        lambda: led.get("job_nope"),
        lambda: led.update("job_nope", status="failed"),
        lambda: led.tag("job_nope", "x"),
        lambda: led.rate("job_nope", 3),
    ):
        with pytest.raises(JobNotFound) as info:
            call()
        assert isinstance(info.value, KeyError)
        assert "job_nope" in str(info.value)
        assert info.value.job_id == "job_nope"
    assert "job_nope" not in led


# ---------------------------------------------------------------------------------------------
# DataFrame
# ---------------------------------------------------------------------------------------------
def _assert_ledger_dtypes(df):
    assert tuple(df.columns) == FRAME_COLUMNS and set(FRAME_COLUMNS) == set(LEDGER_COLUMNS)
    for name in LEDGER_COLUMNS:
        assert df[name].dtype == LEDGER_DTYPES[name], (name, df[name].dtype, LEDGER_DTYPES[name])


def test_empty_ledger_gives_an_empty_frame_with_the_same_columns_and_dtypes(led):
    df = led.df
    assert len(df) == 0
    _assert_ledger_dtypes(df)
    _assert_ledger_dtypes(led.query(model="sora-2"))


def test_df_has_real_dtypes_and_values(led):
    led.insert(**full_job())
    led.insert(prompt="bare", model="veo-3-fast", provider="gemini", created_at=T0 + timedelta(days=1))
    df = led.df
    _assert_ledger_dtypes(df)
    assert str(df["created_at"].dt.tz) == "UTC"
    assert list(df["prompt"])[1] == "bare"  # oldest first
    full, bare = df.iloc[0], df.iloc[1]
    assert full["created_at"] == pd.Timestamp(T0)
    assert full["tags"] == "client-a,final"
    assert full["seed"] == 2**40 + 7 and full["bytes"] == 12_345_678_901
    assert full["audio"] is True or full["audio"] == True  # noqa: E712 - pandas boolean scalar
    assert full["billed_cost"] == pytest.approx(0.75)
    assert math.isnan(bare["estimated_cost"])
    assert pd.isna(bare["seed"]) and pd.isna(bare["audio"]) and pd.isna(bare["submitted_at"])
    assert list(df["status"].cat.categories) == list(STATUSES)
    assert set(df["model"].cat.categories) == {"sora-2", "veo-3-fast"}
    # a frame for analysis: the usual pandas calls work without conversions
    assert df.groupby("model", observed=True)["billed_cost"].sum().loc["sora-2"] == pytest.approx(0.75)
    assert (df["created_at"] >= pd.Timestamp("2026-03-01", tz="UTC")).all()


def test_changing_the_frame_does_not_change_the_ledger(led):
    led.insert(prompt="x", status="completed")
    df = led.df
    df.loc[0, "prompt"] = "changed"
    assert led.df.loc[0, "prompt"] == "x"


# ---------------------------------------------------------------------------------------------
# filters
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def sample(led):
    day = timedelta(days=1)
    jobs = {
        "a": led.insert(model="sora-2", provider="openai", status="completed", tags="x,y", emulated=True,
                        created_at=T0, estimated_cost=0.4, billed_cost=0.0, action="generate"),
        "b": led.insert(model="sora-2", provider="relay", status="failed", tags=["y"], emulated=False,
                        created_at=T0 + day, estimated_cost=0.4, billed_cost=0.4, batch_id="B"),
        "c": led.insert(model="veo-3", provider="gemini", status="in_progress", emulated=False,
                        created_at=T0 + 2 * day, estimated_cost=3.2, batch_id="B"),
        "d": led.insert(model="veo-3", provider="gemini", status="timed_out_waiting", tags="x_z",
                        created_at=T0 + 3 * day, action="extend"),
        "e": led.insert(model="kling-3-pro", provider="runware", status="unknown", created_at=T0 + 4 * day,
                        billed_cost=1.0),
    }
    return jobs


def _ids(frame):
    return sorted(frame["job_id"])


def test_query_filters_by_value_or_list(led, sample):
    s = sample
    assert _ids(led.query(model="sora-2")) == sorted([s["a"], s["b"]])
    assert _ids(led.query(model=["veo-3", "kling-3-pro"])) == sorted([s["c"], s["d"], s["e"]])
    assert _ids(led.query(provider="gemini", status="in_progress")) == [s["c"]]
    assert _ids(led.query(status=("completed", "failed"))) == sorted([s["a"], s["b"]])
    assert _ids(led.query(emulated=True)) == [s["a"]]
    assert _ids(led.query(emulated=False)) == sorted([s["b"], s["c"]])
    assert _ids(led.query(batch_id="B")) == sorted([s["b"], s["c"]])
    assert _ids(led.query(action="extend")) == [s["d"]]
    assert len(led.query()) == 5
    assert len(led.query(model="nothing-like-this")) == 0


def test_query_by_tag_matches_whole_tags_only(led, sample):
    s = sample
    assert _ids(led.query(tag="x")) == [s["a"]]  # not "x_z", whose LIKE pattern would match "x_z"
    assert _ids(led.query(tag="y")) == sorted([s["a"], s["b"]])
    assert _ids(led.query(tag=["x_z", "y"])) == sorted([s["a"], s["b"], s["d"]])
    assert _ids(led.query(tag="x_")) == []
    assert _ids(led.query(tag="X")) == []  # tags are case-sensitive on every backend


def test_query_since_until_bound_created_at(led, sample):
    s = sample
    assert _ids(led.query(since=T0 + timedelta(days=3))) == sorted([s["d"], s["e"]])
    assert _ids(led.query(until="2026-03-02T12:00:00.123456+00:00")) == [s["a"]]  # until is exclusive
    assert _ids(led.query(since=date(2026, 3, 2), until=date(2026, 3, 4))) == sorted([s["b"], s["c"]])
    assert _ids(led.query(since="2026-03-03", model="veo-3")) == sorted([s["c"], s["d"]])


def test_rows_take_the_same_filters_and_give_dicts(led, sample):
    rows = led.rows(model="sora-2", status="failed")
    assert [r["job_id"] for r in rows] == [sample["b"]]
    assert rows[0]["tags"] == ["y"] and rows[0]["emulated"] is False
    assert [r["job_id"] for r in led.rows()] == [sample[k] for k in "abcde"]  # oldest first


def test_bad_filters_are_validation_errors(led):
    with pytest.raises(ValidationError) as info:
        led.query(status="done")
    assert info.value.field == "status"
    with pytest.raises(ValidationError):
        led.rows(colour="red")
    with pytest.raises(ValidationError):
        led.query(since="not a date")
    with pytest.raises(ValidationError):
        led.query(emulated="yes")


def test_pending_returns_every_job_that_is_not_terminal(led, sample):
    pending = {r["job_id"] for r in led.pending()}
    assert pending == {sample["c"], sample["d"], sample["e"]}
    extra = {st: led.insert(status=st) for st in STATUSES}
    pending = {r["job_id"] for r in led.pending()}
    for st, job in extra.items():
        assert (job in pending) == (st not in TERMINAL_STATUSES), st
    assert {"timed_out_waiting", "unknown"} <= {r["status"] for r in led.pending()}


# ---------------------------------------------------------------------------------------------
# tags, notes, ratings
# ---------------------------------------------------------------------------------------------
def test_tag_untag_note_rate_persist(led):
    job = led.insert(prompt="x", tags="first")
    assert led.tag(job, "hero", ["client-a", "hero"]) == ["first", "hero", "client-a"]
    assert led.untag(job, "first", "absent") == ["hero", "client-a"]
    led.note(job, "use this for the deck")
    led.rate(job, 5)
    row = led.get(job)
    assert row["tags"] == ["hero", "client-a"]
    assert (row["notes"], row["rating"]) == ("use this for the deck", 5)
    assert led.df.loc[0, "tags"] == "hero,client-a"
    assert led.untag(job, "hero", "client-a") == []
    assert pd.isna(led.df.loc[0, "tags"])


# ---------------------------------------------------------------------------------------------
# cost
# ---------------------------------------------------------------------------------------------
def test_cost_by_model_and_day_sums_costs_and_counts(led):
    d1, d2 = datetime(2026, 4, 1, 23, 59, tzinfo=UTC), datetime(2026, 4, 2, 0, 1, tzinfo=UTC)
    led.insert(model="sora-2", created_at=d1, estimated_cost=0.4, billed_cost=0.4)
    led.insert(model="sora-2", created_at=d1 - timedelta(hours=5), estimated_cost=0.8, billed_cost=0.5)
    led.insert(model="sora-2", created_at=d2, estimated_cost=1.0)
    led.insert(model="veo-3", created_at=d2, estimated_cost=3.2, billed_cost=3.0)
    out = led.cost_by(["model", "day"])
    assert list(out.columns) == ["model", "day", "count", "estimated_cost", "billed_cost", "asked_seconds",
                                 "delivered_seconds"]
    got = {(r.model, r.day.date().isoformat()): (r.count, r.estimated_cost, r.billed_cost) for r in out.itertuples()}
    assert got.keys() == {("sora-2", "2026-04-01"), ("sora-2", "2026-04-02"), ("veo-3", "2026-04-02")}
    assert got[("sora-2", "2026-04-01")][0] == 2
    assert got[("sora-2", "2026-04-01")][1:] == pytest.approx((1.2, 0.9))
    count, est, billed = got[("sora-2", "2026-04-02")]
    assert (count, est) == (1, pytest.approx(1.0)) and math.isnan(billed)  # unknown stays unknown
    assert out["count"].dtype == "int64" and out["billed_cost"].dtype == "float64"


def test_cost_by_tag_counts_a_job_under_each_of_its_tags(led):
    led.insert(model="sora-2", tags="a,b", billed_cost=1.0)
    led.insert(model="sora-2", tags="b", billed_cost=2.0)
    led.insert(model="veo-3", billed_cost=4.0)
    out = led.cost_by("tag")
    got = {(None if pd.isna(r.tag) else r.tag): (r.count, r.billed_cost) for r in out.itertuples()}
    assert got == {"a": (1, 1.0), "b": (2, 3.0), None: (1, 4.0)}
    both = led.cost_by(["provider", "status", "tag"], model="sora-2")
    assert both["count"].sum() == 3


def test_cost_by_sets_the_seconds_asked_against_the_seconds_delivered(led):
    """Over the clips the checks measured: a clip delivered short shows as fewer delivered seconds."""
    a = led.insert(model="sora-2", seconds=8.0, billed_cost=0.8)
    b = led.insert(model="sora-2", seconds=8.0, billed_cost=0.8, tags="x")
    led.insert(model="sora-2", seconds=4.0, billed_cost=0.4)                # not checked yet: left out
    led.insert(model="veo-3", seconds=6.0, billed_cost=2.4)
    led.update(a, check_seconds=8.0)
    led.update(b, check_seconds=5.5)
    got = led.cost_by("model").set_index("model")
    assert (got.loc["sora-2", "asked_seconds"], got.loc["sora-2", "delivered_seconds"]) == (16.0, 13.5)
    assert math.isnan(got.loc["veo-3", "asked_seconds"]) and math.isnan(got.loc["veo-3", "delivered_seconds"])
    by_tag = led.cost_by("tag").set_index("tag")
    assert by_tag.loc["x", "delivered_seconds"] == 5.5


def test_cost_by_takes_filters_and_rejects_unknown_groupings(led, sample):
    real = led.cost_by("provider", emulated=False)
    assert set(real["provider"]) == {"relay", "gemini"}
    total = led.cost_by([])
    assert total["count"].tolist() == [5]
    assert total["billed_cost"].iloc[0] == pytest.approx(1.4)
    with pytest.raises(ValidationError) as info:
        led.cost_by(["model", "week"])
    assert info.value.field == "by" and info.value.value == "week"


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["parquet", "csv"])
def test_export_then_import_into_another_ledger_round_trips(led, tmp_path, kind):
    led.insert(**full_job())
    led.insert(prompt='quotes " and, commas\nand a newline', model="veo-3", created_at=T0 + timedelta(days=2))
    led.insert(prompt="bare", created_at=T0 + timedelta(days=3))
    path = tmp_path / f"export.{kind}"
    getattr(led, f"to_{kind}")(path)
    with Ledger(tmp_path / "other.db") as other:
        assert getattr(other, f"import_{kind}")(path) == 3
        pd.testing.assert_frame_equal(other.df, led.df)
        assert getattr(other, f"import_{kind}")(path) == 0  # already there: skipped
        assert other.get(led.df.loc[0, "job_id"])["extra"] == full_job()["extra"]


def test_import_skips_rows_already_in_the_ledger(led, tmp_path):
    first = led.insert(prompt="one")
    path = led.to_parquet(tmp_path / "one.parquet")
    led.insert(prompt="two")
    with Ledger(tmp_path / "other.db") as other:
        other.insert(prompt="mine")
        other.import_parquet(path)
        assert other.import_parquet(led.to_parquet(tmp_path / "both.parquet")) == 1
        assert len(other) == 3 and other.get(first)["prompt"] == "one"


def test_a_parquet_export_carries_the_votes_and_import_brings_them_back_once(led, tmp_path):
    a, b, c = (led.insert(prompt="fox", model=m) for m in ("sora-2", "veo-3", "omni"))
    led.vote(a, b, "left", prompt="fox", user="ann")
    led.vote(b, c, "tie", prompt="fox", user="bob", created_at=T0)
    path = led.to_parquet(tmp_path / "with-votes.parquet")
    with Ledger(tmp_path / "other.db") as other:
        assert other.import_parquet(path) == 3
        pd.testing.assert_frame_equal(other.votes(), led.votes())
        assert other.import_parquet(path) == 0 and len(other.votes()) == 2   # not twice
    # a vote whose jobs are not in the ledger it is imported into is left out
    with Ledger(tmp_path / "third.db") as third:
        pd.DataFrame(led.df[led.df.job_id.isin([a, b])]).to_parquet(tmp_path / "jobs-only.parquet", index=False)
        third.import_parquet(tmp_path / "jobs-only.parquet")
        third.import_parquet(path)   # the jobs are there now (c too): both votes land
        assert list(third.votes().outcome) == list(led.votes().outcome)
    with Ledger(tmp_path / "fourth.db") as fourth:
        fourth._import_votes([{"vote_id": "vote_x", "left_job_id": a, "right_job_id": b, "outcome": "left",
                               "created_at": "2026-01-01T00:00:00Z"}])
        assert len(fourth.votes()) == 0   # neither job is in this ledger
        with pytest.raises(ValidationError, match="outcome"):
            fourth._import_votes([{"vote_id": "vote_y", "outcome": "maybe"}])


def test_import_refuses_columns_the_ledger_does_not_know(led, tmp_path):
    path = tmp_path / "odd.csv"
    pd.DataFrame({"job_id": ["job_x"], "colour": ["red"]}).to_csv(path, index=False)
    with pytest.raises(ValidationError, match="colour"):
        led.import_csv(path)
    assert len(led) == 0


# ---------------------------------------------------------------------------------------------
# lifetime
# ---------------------------------------------------------------------------------------------
def test_len_contains_and_close(ledger_url):
    led = Ledger(ledger_url)
    job = led.insert(prompt="x")
    assert len(led) == 1 and job in led and "job_other" not in led
    led.close()
    led.close()  # twice is fine
    assert led.closed and "closed" in repr(led)
    with pytest.raises(LedgerError, match="closed"):
        led.insert(prompt="y")
    with Ledger(ledger_url) as again:
        assert len(again) == 1
    assert again.closed


def test_df_leads_with_the_columns_people_read(led):
    """Issue 25 item 7: ``df.head()`` showed ids and UUIDs and hid prompt, model, cost and latency
    inside pandas' "..." (49 columns in storage order)."""
    led.insert(prompt="a fox", model="sora-2", provider="openai", billed_cost=0.4)
    for df in (led.df, led.query(model="sora-2")):
        assert list(df.columns[:7]) == ["prompt", "model", "provider", "status", "billed_cost",
                                        "estimated_cost", "latency_s"]
        assert df.columns.get_loc("job_id") < df.columns.get_loc("provider_job_id")
        with pd.option_context("display.max_columns", 20, "display.width", 200):
            shown = repr(df.head())
        assert "a fox" in shown and "sora-2" in shown and "0.4" in shown
