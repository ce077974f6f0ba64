"""A stand-in for the player's front end (``stage.js``): the same messages, sent from the test.

It asks the kernel for the video the way the ESM does (``open``, then ``chunk`` requests of the
size the kernel announced) and assembles the bytes, so tests check what really goes over the comm.
"""

from __future__ import annotations

import base64
from typing import Any


class FakeView:
    """Captures what a player sends and plays the front end's side of the protocol."""

    def __init__(self, player: Any, view: str = "v1", *, strip: bool = False):
        """``player``: a VideoPlayer or a grid (Gallery / CompareGrid; pass ``tile=`` then).
        ``strip=True``: every buffer the kernel sends is lost on the way (Colab's widget manager)."""
        self.player, self.view, self.strip = player, view, strip
        self.sent: list[tuple[dict, list]] = []
        player.send = lambda content, buffers=None: self.sent.append((content, list(buffers or [])))

    def ask(self, content: dict) -> list[tuple[dict, list]]:
        before = len(self.sent)
        self.player._on_front_end(self.player, {"tile": -1, **content, "view": self.view}, [])
        return self.sent[before:]

    def probe(self) -> str:
        """The view's start-up round trip (``ping``): ``"binary"`` when the ``pong`` carries the
        probe bytes, as ``stage.js`` decides (``strip=True`` is a widget manager that drops them)."""
        [(pong, buffers)] = self.ask({"type": "ping"})
        assert pong == {"type": "pong", "view": self.view, "tile": -1}, pong
        if self.strip:
            buffers = []
        return "binary" if [bytes(b) for b in buffers] == [bytes([0, 255, 115, 107])] else "base64"

    def fetch(self, tile: int = -1, *, mse: bool = False) -> bytes:
        """Open the video and fetch every chunk, in order, as ``stage.js`` does. ``mse=True`` is a
        browser with Media Source Extensions: it fetches the fragmented copy when one is offered.
        The transport is probed first; without binary buffers the chunks are asked for as base64."""
        b64 = self.probe() == "base64"
        [(meta, _)] = self.ask({"type": "open", "tile": tile, "mse": mse})
        assert meta["type"] == "meta", meta
        self.meta = meta
        src, size = ("stream", meta["stream"]["size"]) if mse and "stream" in meta else ("file", meta["size"])
        out = bytearray()
        offset = 0
        while offset < size:
            [(msg, buffers)] = self.ask({"type": "chunk", "offset": offset, "length": meta["chunk"], "tile": tile,
                                         "src": src, "b64": b64})
            assert msg["type"] == "chunk" and msg["offset"] == offset and msg["view"] == self.view, msg
            assert msg["src"] == src
            if b64:
                assert buffers == [] and isinstance(msg["b64"], str), msg.keys()
                out += base64.b64decode(msg["b64"], validate=True)
            else:
                assert "b64" not in msg
                out += bytes(buffers[0])
            offset += meta["chunk"]
        return bytes(out)
