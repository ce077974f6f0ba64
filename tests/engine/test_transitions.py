"""The engine's pure transitions (`sorakit.engine._core.transitions`), without an event loop.

Property tests (hypothesis): what a provider state does to a ledger row, who pays what when a row
fails, which state speaks for which row of a multi-result create, and the next-delay rule (poll
timing, retry backoff and jitter) — its bounds hold for any policy, any poll count, any hint.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from hypothesis import given, settings, strategies as st

from sorakit._types import SEED_MAX, TERMINAL, JobState
from sorakit.engine import Policy
from sorakit.engine._core.transitions import (CREATE_STATUSES, POLL_STATUSES, assign, backoff, completed_changes,
                                              downloaded_changes, fail_changes, jitter, next_delay, on_state, phase,
                                              token_cost)

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
STATUSES = sorted(POLL_STATUSES | CREATE_STATUSES | TERMINAL | {"downloading"})
PROVIDER_STATUSES = ["queued", "in_progress", "completed", "failed", "cancelled", "submitted"]

money = st.one_of(st.none(), st.floats(0, 50, allow_nan=False), st.just(math.nan))
progress = st.one_of(st.none(), st.integers(0, 100))


@st.composite
def rows(draw, job_id=None):
    return {
        "job_id": job_id or draw(st.text("abcdef0123", min_size=4, max_size=8)),
        "status": draw(st.sampled_from(STATUSES)),
        "progress": draw(progress),
        "seed": draw(st.one_of(st.none(), st.integers(0, SEED_MAX))),
        "provider_seed": draw(st.one_of(st.none(), st.integers(0, SEED_MAX))),
        "estimated_cost": draw(money),
        "billed_cost_source": draw(st.sampled_from([None, "provider", "usage", "catalog", "none"])),
        "submitted_at": draw(st.one_of(st.none(), st.just(NOW - dt.timedelta(seconds=42)))),
        "extra": draw(st.one_of(st.just({}), st.fixed_dictionaries({"price": st.fixed_dictionaries(
            {"usd_per_video_token": st.floats(1e-6, 1e-3)})}), st.fixed_dictionaries(
            {"video_id": st.sampled_from(["v1", "v2", "v3"])}))),
    }


@st.composite
def states(draw, status=None):
    return JobState(
        provider_job_id="task-1", status=status or draw(st.sampled_from(PROVIDER_STATUSES)),
        progress=draw(progress), video_url=draw(st.one_of(st.none(), st.just("http://127.0.0.1/v.mp4"))),
        video_url_expires_at=draw(st.one_of(st.none(), st.floats(1.7e9, 1.8e9))),
        provider_video_id=draw(st.one_of(st.none(), st.sampled_from(["v1", "v2", "v3"]))),
        seed=draw(st.one_of(st.none(), st.integers(0, SEED_MAX))),
        billed_cost=draw(st.one_of(st.none(), st.floats(0, 10))),
        output_video_tokens=draw(st.one_of(st.none(), st.integers(0, 10**6))),
        error_code=draw(st.one_of(st.none(), st.text(max_size=300))),
        error_message=draw(st.one_of(st.none(), st.text(max_size=3000))),
        poll_after=draw(st.one_of(st.none(), st.floats(0, 30))),
    )


policies = st.builds(
    Policy, poll_initial=st.floats(0.01, 30), poll_min=st.floats(0.001, 1), poll_max=st.floats(0.05, 120),
    poll_factor=st.floats(1.0, 3.0), jitter=st.floats(0, 0.5), retry_initial=st.floats(0.01, 5),
    retry_max=st.floats(0.05, 120), eta_polling=st.booleans(), progress_write_interval=st.floats(0, 5))


# ---------------------------------------------------------------------- one row, one provider state
@given(rows(), states(), st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 5))
def test_a_state_never_moves_a_finished_or_downloading_row_and_never_completes_one(row, s, mono, last, interval):
    step = on_state(row, s, NOW, mono, last, interval)
    if row["status"] in TERMINAL or row["status"] == "downloading":
        assert step.changes == {}
        return
    assert step.changes.get("status") != "completed"        # only a stored download completes a row
    if s.status == "completed":
        assert step.next == "download" and step.changes["status"] == "downloading"
        assert step.changes["progress"] == 100
    elif s.status in ("failed", "cancelled"):
        assert step.next == "end" and step.changes["status"] == s.status
    else:
        assert step.next == "stay"
        assert step.changes.get("status", row["status"]) in POLL_STATUSES | CREATE_STATUSES
        if "progress" in step.changes:
            assert step.changes["progress"] == s.progress != row["progress"]
            assert "status" in step.changes or mono - last >= interval  # progress alone: throttled
        if s.progress is not None and s.progress != row["progress"]:
            assert step.progress == s.progress                   # shown live even when not written


@given(rows(), states(status="completed"))
def test_a_finished_video_records_what_the_provider_said(row, s):
    changes = completed_changes(row, s)
    assert "seed" not in changes                                  # the seed asked for stays
    if s.seed is not None and s.seed != row["provider_seed"]:
        assert changes["provider_seed"] == s.seed                 # the seed the provider used
    else:
        assert "provider_seed" not in changes
    if s.billed_cost is not None:
        assert changes["billed_cost"] == s.billed_cost and changes["billed_cost_source"] == "provider"
    elif s.output_video_tokens is not None:
        assert changes["extra"]["usage"]["output_video_tokens"] == s.output_video_tokens
        rate = (row["extra"].get("price") or {}).get("usd_per_video_token")
        assert ("billed_cost" in changes) == (rate is not None)
    else:
        assert "billed_cost" not in changes
    if "extra" in changes:  # merged, never replaced
        assert all(changes["extra"][k] == v for k, v in row["extra"].items() if k not in ("video_id",))


@given(rows(), st.text(max_size=400), st.text(max_size=4000), st.one_of(st.none(), st.floats(0, 10)),
       st.booleans())
def test_a_failed_row_is_charged_only_what_it_cost(row, code, message, billed, generated):
    changes = fail_changes(row, code, message, NOW, billed, generated)
    assert changes["status"] == "failed" and changes["completed_at"] == NOW
    assert len(changes["error_code"]) <= 200 and len(changes["error_message"]) <= 2000
    est = row["estimated_cost"]
    if billed is not None:
        assert (changes["billed_cost"], changes["billed_cost_source"]) == (billed, "provider")
    elif row["billed_cost_source"] in ("provider", "usage"):
        assert "billed_cost" not in changes                      # a reported charge is kept
    elif generated and est is not None and est == est:
        assert (changes["billed_cost"], changes["billed_cost_source"]) == (est, "catalog")
    else:
        assert (changes["billed_cost"], changes["billed_cost_source"]) == (0.0, "none")
    assert changes["latency_s"] == (42.0 if row["submitted_at"] is not None else None)


@given(rows())
def test_a_stored_video_completes_its_row_at_a_known_or_unknown_cost(row):
    changes = downloaded_changes(row, "file:///v.mp4", None, "ab" * 32, 1234, NOW)
    assert changes["status"] == "completed" and changes["error_code"] is None
    if row["billed_cost_source"] in ("provider", "usage"):
        assert "billed_cost" not in changes
    elif row["estimated_cost"] is None or math.isnan(row["estimated_cost"]):
        assert changes["billed_cost"] is None and changes["billed_cost_source"] == "none"  # unknown, never 0
    else:
        assert changes["billed_cost_source"] == "catalog"


@given(st.integers(0, 10**7), st.one_of(st.none(), st.floats(1e-7, 1e-2)))
def test_tokens_are_billed_at_the_rate_the_row_was_priced_with(tokens, rate):
    row = {"extra": {"price": {"usd_per_video_token": rate}} if rate else {}}
    out = token_cost(row, tokens)
    assert out["output_video_tokens"] == tokens
    if rate:
        assert math.isclose(out["billed_cost"], tokens * rate, abs_tol=1e-6)
    else:
        assert "billed_cost" not in out


# ---------------------------------------------------------------------- which state is whose
@given(st.lists(rows(), min_size=1, max_size=4, unique_by=lambda r: r["job_id"]),
       st.lists(states(), min_size=0, max_size=5))
def test_each_finished_video_goes_to_one_row_of_the_create(members, answer):
    got = assign(members, answer)
    ids = {r["job_id"] for r in members}
    assert set(got) <= ids
    if not answer:
        assert got == {}
        return
    if len(members) == 1:
        assert got == {members[0]["job_id"]: answer[0]}
        return
    by_id = {r["job_id"]: r for r in members}
    completed = [j for j, s in got.items() if s.status == "completed"]
    assert len({id(got[j]) for j in completed}) == len(completed)   # one video, one row
    for jid, s in got.items():
        vid = (by_id[jid].get("extra") or {}).get("video_id")
        if vid is not None:                                          # a row that names its video
            assert s.provider_video_id == vid                        # hears only about that video
        else:
            assert by_id[jid]["status"] in POLL_STATUSES | CREATE_STATUSES


@given(st.lists(st.sampled_from(STATUSES + [None]), min_size=1, max_size=5))
def test_the_phase_is_the_earliest_one_any_row_is_in(statuses):
    got = phase(statuses)
    normal = {s or "pending" for s in statuses}
    order = ["create", "poll", "download", "done"]
    expected = ("create" if normal & CREATE_STATUSES else "poll" if normal & POLL_STATUSES
                else "download" if "downloading" in normal else "done")
    assert got == expected and got in order


# ---------------------------------------------------------------------- the next-delay rule
@given(policies, st.integers(0, 5000), st.one_of(st.none(), st.floats(0, 1e4)), st.randoms(use_true_random=False))
def test_backoff_waits_what_the_server_asked_else_a_capped_exponential(policy, attempt, retry_after, rng):
    got = backoff(policy, attempt, retry_after, rng)
    if retry_after is not None:
        assert retry_after <= got <= retry_after + 0.05
    else:
        cap = min(policy.retry_max, policy.retry_initial * 2.0 ** min(attempt, 1000))
        assert 0.5 * cap - 1e-9 <= got <= cap + 1e-9                  # never overflows, even for huge attempts


@given(policies, st.floats(0, 1e4), st.randoms(use_true_random=False))
def test_jitter_stays_within_its_fraction(policy, seconds, rng):
    got = jitter(policy, seconds, rng)
    assert seconds * (1 - policy.jitter) - 1e-9 <= got <= seconds * (1 + policy.jitter) + 1e-9


@settings(max_examples=300)
@given(policies, st.integers(0, 100_000), st.lists(states(), max_size=3), st.one_of(st.none(), st.floats(0, 60)),
       st.one_of(st.none(), st.floats(0.01, 100)), st.integers(0, 10),
       st.lists(st.tuples(st.floats(0, 1000), st.integers(1, 99)), max_size=4),
       st.one_of(st.none(), st.floats(0, 1000)), st.floats(0, 2000), st.randoms(use_true_random=False))
def test_the_next_poll_is_bounded_and_never_before_the_servers_hint(policy, n, answer, hint, rate, samples, seen,
                                                                    submitted, now, rng):
    seen = sorted(seen)
    delay, seen_after, measured = next_delay(policy, n, answer, hint=hint, rate=rate, samples=samples, seen=seen,
                                             submitted=submitted, now=now, rng=rng)
    assert delay >= policy.poll_min
    if hint is not None:
        assert delay >= hint
    assert delay <= max(policy.poll_min, hint or 0.0, policy.poll_max * (1 + policy.jitter), 3.0) + 1e-9
    assert len(seen_after) <= 4
    assert measured is None or measured > 0
    running = [s.progress for s in answer if s.status == "in_progress" and s.progress is not None]
    if not (policy.eta_polling and running and 0 < max(running) < 100):
        assert seen_after == seen and measured is None            # only progress figures are remembered


@given(policies, st.integers(0, 60), st.randoms(use_true_random=False))
def test_a_job_without_progress_backs_off_exponentially_to_the_cap(policy, n, rng):
    delay, _, _ = next_delay(policy, n, [JobState("t", "queued")], hint=None, rate=None, samples=0, seen=[],
                             submitted=None, now=10.0, rng=rng)
    base = min(policy.poll_max, policy.poll_initial * policy.poll_factor ** n)
    assert math.isclose(delay, max(policy.poll_min, delay), rel_tol=1e-9)
    assert max(policy.poll_min, base * (1 - policy.jitter)) - 1e-9 <= delay
    assert delay <= max(policy.poll_min, base * (1 + policy.jitter)) + 1e-9


def test_a_job_with_a_known_rate_is_polled_just_after_its_predicted_finish():
    policy = Policy(jitter=0.0, poll_max=60)
    delay, _, _ = next_delay(policy, 3, [JobState("t", "in_progress", progress=50)], hint=None, rate=5.0,
                             samples=5, seen=[], submitted=None, now=100.0, rng=random.Random(1))
    assert 10.0 < delay <= 10.5                                     # 50 points left at 5 points/s
    measured = next_delay(policy, 4, [JobState("t", "in_progress", progress=60)], hint=None, rate=None,
                          samples=0, seen=[(100.0, 50)], submitted=None, now=102.0)[2]
    assert measured == 5.0                                          # (60 - 50) / 2 s
