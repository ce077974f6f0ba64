"""The blind arena: pairs of one prompt from different models, labels hidden, votes recorded."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from fake_studio import FakeStudio
from sorakit.display import Arena, compare
from sorakit.display._arena import arena, arena_pairs
from sorakit.display._rows import Item
from sorakit.engine._judge import Judgements

MODELS = ("sora-2", "veo-3-fast", "kling-3-standard")
PROMPTS = ("a red fox in snow", "a lighthouse in a storm")


class VotingStudio(Judgements, FakeStudio):
    """The fake studio with the real Studio's vote/votes/ranking over its real ledger."""


@pytest.fixture
def voting(tmp_path, monkeypatch):
    monkeypatch.setenv("SORAKIT_USER", "ada")
    st = VotingStudio(tmp_path)
    for prompt in PROMPTS:
        for model in MODELS:
            st.advance(st.submit(prompt, model=model), status="completed", billed_cost=0.4)
    yield st
    st.close()


def _shown(a: Arena) -> dict:
    return {"cells": a.cells, "tiles": a.tiles, "header": a.header}


def test_pairs_share_a_prompt_differ_in_model_and_cover_every_combination(voting):
    a = arena(voting, seed=1)
    assert len(a.pairs) == len(PROMPTS) * 3  # 3 models: 3 pairs per prompt
    seen = set()
    for left, right in a.pairs:
        assert left.row["prompt"] == right.row["prompt"]
        assert left.row["model"] != right.row["model"]
        seen.add((left.row["prompt"], frozenset((left.row["model"], right.row["model"]))))
    assert len(seen) == 6


def test_order_is_random_on_both_sides():
    rows = [{"job_id": f"job_{m}_{i}", "prompt": "p", "model": m, "status": "completed", "file_path": __file__}
            for i in range(4) for m in ("a", "b")]
    items = [Item(r) for r in rows]
    lefts = Counter()
    for seed in range(40):
        for left, _right in arena_pairs(items, rng=random.Random(seed)):
            lefts[left.row["model"]] += 1
    assert 0.35 < lefts["a"] / sum(lefts.values()) < 0.65  # neither model is always on the left


def test_the_view_names_no_model(voting):
    a = arena(voting, seed=2)
    shown = repr(_shown(a))
    for model in MODELS:
        assert model not in shown
    assert len(a.tiles) == 2 and all(t["playable"] and t["caption"] == "" for t in a.tiles)
    assert a.tiles[0]["tip"] == "Play"
    assert "pair 1 of 6" in a.status
    assert a.cells == [{"tiles": [0]}, {"tiles": [1]}]


def test_a_vote_from_the_page_is_recorded_and_the_next_pair_shown(voting):
    a = arena(voting, seed=3)
    left, right = a.current
    a._on_front_end(a, {"type": "vote", "outcome": "left", "pair": 0, "view": "v1"}, [])
    votes = voting.votes()
    assert votes[["user", "left_job_id", "right_job_id", "outcome"]].values.tolist() == [["ada", left, right, "left"]]
    assert votes.prompt[0] == voting.ledger.get(left)["prompt"]
    assert a.pair == 1 and a.current != (left, right)
    models = (voting.ledger.get(left)["model"], voting.ledger.get(right)["model"])
    assert f"left was {models[0]}, right was {models[1]}" in a.status  # revealed after the vote
    # a late second click on the old pair (another view) is not a second vote
    a._on_front_end(a, {"type": "vote", "outcome": "right", "pair": 0, "view": "v2"}, [])
    assert len(voting.votes()) == 1
    # a bad outcome is shown in place, nothing recorded, the pair stays
    a._on_front_end(a, {"type": "vote", "outcome": "meh", "pair": 1, "view": "v1"}, [])
    assert "not recorded" in a.status and "'meh' is not allowed" in a.status
    assert a.pair == 1 and len(voting.votes()) == 1


def test_every_outcome_then_done(voting):
    a = arena(voting, seed=4, prompts=[PROMPTS[0]])
    assert len(a.pairs) == 3
    for i, outcome in enumerate(("right", "tie", "both_bad")):
        a._on_front_end(a, {"type": "vote", "outcome": outcome, "pair": i, "view": "v1"}, [])
    assert a.done and a.current is None and a.tiles == []
    assert "all 3 pairs judged" in a.status
    assert voting.votes().outcome.tolist() == ["right", "tie", "both_bad"]
    a._on_front_end(a, {"type": "vote", "outcome": "left", "pair": 3, "view": "v1"}, [])
    assert len(voting.votes()) == 3


def test_pairs_already_voted_come_last_in_a_new_session(voting):
    first = arena(voting, seed=5)
    judged = [frozenset(first.current)]
    first.vote("left")
    judged.append(frozenset(first.current))
    first.vote("right")
    again = arena(voting, seed=5)
    tail = [frozenset((l.row["job_id"], r.row["job_id"])) for l, r in again.pairs[-2:]]
    assert set(tail) == set(judged)


def test_compare_blind_and_model_filter(voting):
    a = compare(voting, models=["sora-2", "veo-3-fast"], blind=True, seed=6)
    assert isinstance(a, Arena)
    assert len(a.pairs) == len(PROMPTS)
    with pytest.raises(ValueError, match="seconds"):
        compare(voting, blind=True, seconds=4)


def test_the_video_still_plays_through_the_arena(voting):
    a = arena(voting, seed=7)
    sent = []
    a.send = lambda content, buffers=None: sent.append((content, buffers))
    a._on_front_end(a, {"type": "open", "tile": 1, "view": "v1"}, [])
    assert sent and sent[-1][0]["type"] != "error"


def test_an_arena_without_pairs_says_why(voting):
    a = arena(voting, models=["sora-2"])
    assert a.done and "no pair to judge" in a.status


def test_undo_takes_the_last_vote_back_and_shows_its_pair_again(voting):
    a = arena(voting, seed=8, prompts=[PROMPTS[0]])
    assert not a.can_undo and a.undo() is None  # nothing to take back yet
    first = a.current
    a._on_front_end(a, {"type": "vote", "outcome": "left", "pair": 0, "view": "v1"}, [])
    second = a.current
    a._on_front_end(a, {"type": "vote", "outcome": "tie", "pair": 1, "view": "v1"}, [])
    assert a.can_undo and len(voting.votes()) == 2
    # a slip: the tie is taken back, its pair comes again, the first vote stays
    a._on_front_end(a, {"type": "undo", "pair": 2, "view": "v1"}, [])
    assert a.pair == 1 and a.current == second and "vote taken back" in a.status and "pair 2 of 3" in a.status
    assert voting.votes().outcome.tolist() == ["left"] and a.can_undo
    # a double click: the second undo names a pair no longer shown and takes nothing back
    a._on_front_end(a, {"type": "undo", "pair": 2, "view": "v1"}, [])
    assert len(voting.votes()) == 1
    a._on_front_end(a, {"type": "vote", "outcome": "right", "pair": 1, "view": "v1"}, [])
    a.vote("both_bad")
    assert a.done
    # undo after the last pair: not done any more, the last pair is back
    undone = a.undo()
    assert undone not in set(voting.votes().vote_id) and not a.done and a.pair == 2
    assert voting.votes().outcome.tolist() == ["left", "right"]
    assert a.undo() and a.undo() and a.undo() is None and not a.can_undo
    assert voting.votes().empty and a.current == first


def test_an_undo_that_fails_is_shown_and_the_vote_stays_counted(voting, monkeypatch):
    from sorakit import LedgerError

    a = arena(voting, seed=9)
    a.vote("left")
    monkeypatch.setattr(voting, "delete_vote", lambda vote_id: (_ for _ in ()).throw(LedgerError("database is locked")))
    a._on_front_end(a, {"type": "undo", "pair": 1, "view": "v1"}, [])
    assert "not taken back" in a.status and "database is locked" in a.status
    assert a.pair == 1 and a.can_undo and len(voting.votes()) == 1
    monkeypatch.undo()
    # a vote already deleted elsewhere (another view, by hand) counts as taken back
    voting.ledger.delete_vote(a.votes[-1])
    assert a.undo() and a.pair == 0 and not a.can_undo
