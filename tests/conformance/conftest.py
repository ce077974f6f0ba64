"""The official-SDK conformance suite: each service's own SDK, unmodified, against the emulator
over real loopback HTTP (only its base URL / transport pointed at it). Fixtures here:

- ``server``: an `EmulatorServer` on 127.0.0.1 over ``manual_emulator`` (a `ManualClock`:
  ``server.emulator.test_clock.advance(s)`` finishes jobs without waiting).
- ``png(w, h)``: a small PNG; ``probe(data)``: (width, height, seconds, audio streams) of an MP4.
"""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image

from sorakit.emulator import EmulatorServer


@pytest.fixture
def server(manual_emulator):
    with EmulatorServer(manual_emulator, host="127.0.0.1", port=0) as srv:
        yield srv


def png(width: int, height: int, color=(40, 120, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def probe(data: bytes) -> tuple[int, int, float, int]:
    with av.open(io.BytesIO(data)) as c:
        v = c.streams.video[0]
        return v.codec_context.width, v.codec_context.height, float(c.duration / 1e6), len(c.streams.audio)
