"""A stand-in for the player's front end (``player.js``): the same messages, sent from the test.

It asks the kernel for the video the way the ESM does (``open``, then ``chunk`` requests of the
size the kernel announced) and assembles the bytes, so tests check what really goes over the comm.
"""

from __future__ import annotations

from typing import Any


class FakeView:
    """Captures what a player sends and plays the front end's side of the protocol."""

    def __init__(self, player: Any, view: str = "v1"):
        """``player``: a VideoPlayer or a grid (Gallery / CompareGrid; pass ``tile=`` then)."""
        self.player, self.view = player, view
        self.sent: list[tuple[dict, list]] = []
        player.send = lambda content, buffers=None: self.sent.append((content, list(buffers or [])))

    def ask(self, content: dict) -> list[tuple[dict, list]]:
        before = len(self.sent)
        self.player._on_front_end(self.player, {"tile": -1, **content, "view": self.view}, [])
        return self.sent[before:]

    def fetch(self, tile: int = -1) -> bytes:
        """Open the video and fetch every chunk, in order, as ``player.js`` does."""
        [(meta, _)] = self.ask({"type": "open", "tile": tile})
        assert meta["type"] == "meta", meta
        out = bytearray()
        offset = 0
        while offset < meta["size"]:
            [(msg, buffers)] = self.ask({"type": "chunk", "offset": offset, "length": meta["chunk"], "tile": tile})
            assert msg["type"] == "chunk" and msg["offset"] == offset and msg["view"] == self.view
            out += bytes(buffers[0])
            offset += meta["chunk"]
        self.meta = meta
        return bytes(out)
