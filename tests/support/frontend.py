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

    def fetch(self, tile: int = -1, *, mse: bool = False) -> bytes:
        """Open the video and fetch every chunk, in order, as ``player.js`` does. ``mse=True`` is a
        browser with Media Source Extensions: it fetches the fragmented copy when one is offered."""
        [(meta, _)] = self.ask({"type": "open", "tile": tile, "mse": mse})
        assert meta["type"] == "meta", meta
        self.meta = meta
        src, size = ("stream", meta["stream"]["size"]) if mse and "stream" in meta else ("file", meta["size"])
        out = bytearray()
        offset = 0
        while offset < size:
            [(msg, buffers)] = self.ask({"type": "chunk", "offset": offset, "length": meta["chunk"], "tile": tile,
                                         "src": src})
            assert msg["type"] == "chunk" and msg["offset"] == offset and msg["view"] == self.view, msg
            assert msg["src"] == src
            out += bytes(buffers[0])
            offset += meta["chunk"]
        return bytes(out)
