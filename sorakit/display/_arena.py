"""The blind arena: the compare grid's blind mode, two clips of one prompt, labels hidden.

``studio.arena(prompts=None, models=None)`` (or ``studio.compare(jobs, blind=True)``) pairs the
completed clips that share a prompt and come from different models, shows one pair at a time in
random left/right order with nothing that names the model (no caption, no tooltip), and records
each vote with ``studio.vote`` (a ledger record: who, when, which two jobs, the outcome, the prompt).
Buttons or keys: ← left is better, → right is better, ↓ tie, b both bad. After a vote the next pair
comes, and the status line reveals which models the last pair were. A slip of the key is taken
back with "undo" (key u, or ``arena.undo()``): the last vote this arena recorded leaves the ledger
and its pair is shown again.

Pairs are ordered so that the pairs with the fewest earlier votes come first (a second session does
not re-ask what the first answered), ties broken at random; the pairing is `arena_pairs`, a pure
function the tests drive directly.
"""

from __future__ import annotations

import random
from typing import Any, Iterable, Optional, Sequence

import traitlets

from ._base import error_text
from ._esm import css, esm
from ._format import esc, model_at, truncate
from ._grid import TileGrid
from ._player import playable as playable_row
from ._rows import Item, is_studio, items_of

__all__ = ["Arena", "arena", "arena_pairs"]

OUTCOMES = ("left", "right", "tie", "both_bad")


def _label(row: dict, key: str) -> str:
    return model_at(row) if key == "model@provider" else str(row.get(key) or "")


def arena_pairs(items: Sequence[Item], *, key: str = "model", voted: Optional[dict] = None,
                rng: Optional[random.Random] = None) -> list[tuple[Item, Item]]:
    """Every (left, right) pair of ``items`` with the same prompt and different ``key`` (model),
    the least-voted pairs first (``voted``: frozenset of two job ids → earlier votes), each in a
    random order, ties between pairs broken at random."""
    rng = rng or random.Random()
    voted = voted or {}
    by_prompt: dict[str, list[Item]] = {}
    for it in items:
        if it.row.get("status") == "completed" and playable_row(it.row):
            by_prompt.setdefault(str(it.row.get("prompt") or ""), []).append(it)
    pairs = []
    for group in by_prompt.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                if _label(a.row, key) == _label(b.row, key):
                    continue
                seen = voted.get(frozenset((a.row.get("job_id"), b.row.get("job_id"))), 0)
                left, right = (a, b) if rng.random() < 0.5 else (b, a)
                pairs.append((seen, rng.random(), left, right))
    pairs.sort(key=lambda p: (p[0], p[1]))
    return [(left, right) for _, _, left, right in pairs]


def _voted_counts(studio: Any) -> dict:
    try:
        votes = studio.votes()
    except Exception:  # a studio without votes (an old ledger opened read-only): no history
        return {}
    counts: dict = {}
    for a, b in zip(votes["left_job_id"], votes["right_job_id"]):
        k = frozenset((a, b))
        counts[k] = counts.get(k, 0) + 1
    return counts


class Arena(TileGrid):
    """Two clips of one prompt, labels hidden; a vote records it and shows the next pair.

    ``pairs`` is the queue of (left, right) `Item` pairs; ``pair`` the index shown; ``votes`` the
    ids of the votes this arena recorded (and not taken back). ``vote(outcome)`` votes from Python
    as the buttons do, ``undo()`` takes the last of them back.
    """

    _esm = traitlets.Unicode(esm("arena")).tag(sync=True)
    _css = traitlets.Unicode(css("arena")).tag(sync=True)
    _kind = traitlets.Unicode("arena").tag(sync=True)
    pair = traitlets.Int(0).tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    done = traitlets.Bool(False).tag(sync=True)
    can_undo = traitlets.Bool(False).tag(sync=True)

    def __init__(self, studio: Any, pairs: list[tuple[Item, Item]], *, key: str = "model"):
        super().__init__()
        self._studio = studio
        self._key = key
        self.pairs = pairs
        self._cast: list[tuple[str, int]] = []  # (vote id, pair index) of each vote recorded here
        self.template = "repeat(2, minmax(0, 1fr))"
        self.add_class("sk-arena")
        self._show(0, "")

    @property
    def votes(self) -> list[str]:
        """The ids of the votes this arena recorded and that were not taken back, oldest first."""
        return [vote_id for vote_id, _ in self._cast]

    # -- what is shown ------------------------------------------------------------------------------
    @property
    def current(self) -> Optional[tuple[str, str]]:
        """The (left, right) job ids shown now, or None when every pair was voted on."""
        if self.pair >= len(self.pairs):
            return None
        left, right = self.pairs[self.pair]
        return str(left.row.get("job_id")), str(right.row.get("job_id"))

    def _show(self, index: int, said: str) -> None:
        for t in self.tile_list:
            t._stop()
        self.tile_list = []
        total = len(self.pairs)
        if index >= total:
            self.cells = []
            self.push()
            self.header = ""
            self.pair = index
            self.done = True
            self.status = (f"{said} · " if said else "") + (
                f"all {total} pairs judged: studio.ranking() ranks the models" if total
                else "no pair to judge: the arena needs completed clips of one prompt from two models")
            return
        left, right = self.pairs[index]
        self._make_tiles([left, right], lambda _r: "")
        self.cells = [{"tiles": [0]}, {"tiles": [1]}]
        prompt = str(left.row.get("prompt") or "")
        self.header = f'<span title="{esc(prompt)}">{esc(truncate(prompt, 160))}</span>'
        self.pair = index
        self.status = (f"{said} · " if said else "") + f"pair {index + 1} of {total}: which clip is better?"
        self._start()

    def _tile_data(self, tile: Any) -> dict:
        """A tile with nothing that names its model: no caption, no model in the tooltip."""
        data = tile.data()
        data.update(caption="", tip="Play" if data.get("playable") else "", note="")
        return data

    def _render_header(self) -> None:  # the header is the prompt, set by _show
        pass

    # -- voting ---------------------------------------------------------------------------------------
    def vote(self, outcome: str) -> Optional[str]:
        """Record ``outcome`` (left, right, tie, both_bad) for the pair shown, show the next one;
        returns the vote id (None when every pair was already judged)."""
        if outcome not in OUTCOMES:
            from .._exceptions import ValidationError

            raise ValidationError("outcome", outcome, "one of " + ", ".join(repr(o) for o in OUTCOMES))
        ids = self.current
        if ids is None:
            return None
        vote_id = self._studio.vote(ids[0], ids[1], outcome)
        self._cast.append((vote_id, self.pair))
        self.can_undo = True
        left, right = self.pairs[self.pair]
        said = {"left": "left won", "right": "right won", "tie": "a tie", "both_bad": "both bad"}[outcome]
        reveal = f"{said}: left was {_label(left.row, self._key)}, right was {_label(right.row, self._key)}"
        self._show(self.pair + 1, reveal)
        return vote_id

    def undo(self) -> Optional[str]:
        """Take back the last vote this arena recorded (it leaves the ledger) and show its pair
        again; returns its id (None when this arena has no vote left to take back)."""
        if not self._cast:
            return None
        from .._exceptions import ValidationError

        vote_id, index = self._cast[-1]
        try:
            self._studio.delete_vote(vote_id)
        except ValidationError as exc:
            if exc.field != "vote_id":
                raise
            # already gone (taken back from another view or by hand): what the undo asked for
        self._cast.pop()
        self.can_undo = bool(self._cast)
        self.done = False
        self._show(index, "vote taken back")
        return vote_id

    def _on_front_end(self, widget: Any, content: Any, buffers: Any) -> None:
        """A view's message: a vote ``{"type": "vote", "outcome", "pair"}``, an undo ``{"type":
        "undo", "pair"}``, else the player's requests (``Streamer``). A vote or undo sent for a pair
        no longer shown (a second click, another view) is ignored, so one pair gets one vote and
        one click takes back one vote."""
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "vote":
            if content.get("pair") != self.pair or self.done:
                return
            try:
                self.vote(content.get("outcome"))
            except Exception as exc:  # shown in place, the pair stays so the user can vote again
                self.status = f"the vote was not recorded: {error_text(exc)}"
                self.send_state("status")
            return
        if kind == "undo":
            if content.get("pair") != self.pair:
                return
            try:
                self.undo()
            except Exception as exc:  # the vote stays recorded, and says why
                self.status = f"the vote was not taken back: {error_text(exc)}"
                self.send_state("status")
            return
        super()._on_front_end(widget, content, buffers)

    def _static_html(self) -> str:
        return f"<p style='font:12px sans-serif;color:#57606a'>{esc(self.status)}</p>"

    def _static_text(self) -> str:
        return f"<sorakit arena: {self.status}>"


def arena(studio_or_jobs: Any, prompts: Optional[Iterable[str]] = None, models: Optional[Iterable[str]] = None,
          *, studio: Any = None, key: str = "model", seed: Optional[int] = None, limit: Optional[int] = None) -> Arena:
    """A blind arena over completed clips: ``arena(studio)`` uses the ledger (``prompts``/``models``
    narrow it: model names or ``model@provider``), ``arena(jobs, studio=studio)`` the given jobs.
    ``key`` is what must differ within a pair (``"model"``, or ``"model@provider"``); ``seed`` fixes
    the random order."""
    if key not in ("model", "model@provider", "provider"):
        from .._exceptions import ValidationError

        raise ValidationError("key", key, "'model', 'model@provider' or 'provider'")
    if is_studio(studio_or_jobs):
        studio = studio_or_jobs
    items, _ = items_of(studio_or_jobs, studio, status="completed" if is_studio(studio_or_jobs) else None,
                        limit=limit)
    if studio is None:
        studio = next((it.studio for it in items if it.studio is not None), None)
    if studio is None or not hasattr(studio, "vote"):
        from .._exceptions import ValidationError

        raise ValidationError("studio", studio, "the Studio whose ledger records the votes (arena(jobs, studio=studio))")
    if prompts is not None:
        wanted = set(prompts)
        items = [it for it in items if it.row.get("prompt") in wanted]
    if models is not None:
        specs = [str(m) for m in models]
        items = [it for it in items if model_at(it.row) in specs or it.row.get("model") in specs]
    rng = random.Random(seed)
    return Arena(studio, arena_pairs(items, key=key, voted=_voted_counts(studio), rng=rng), key=key)
