"""A long clip for the streaming tests and benchmark: H.264 + AAC at a real generator's bitrate.

The emulator's clips are tiny (flat colours and text: ~30 KB a second at 720p), while a real
provider's 720p clip carries ~100–250 KB a second; so this one is written with PyAV directly: a
moving gradient with a noisy patch at ~1 Mbit/s, a keyframe every 5 s, a sine tone.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def long_clip(path: Path, seconds: int = 90, *, width: int = 640, height: int = 360, fps: int = 24,
              kbps: int = 1000) -> Path:
    """Write the clip to ``path`` (once: an existing file is kept) and return the path."""
    path = Path(path)
    if path.is_file():
        return path
    tmp = path.with_suffix(".part.mp4")
    rng = np.random.default_rng(7)
    noise = [rng.integers(0, 255, (height // 2, width // 2, 3), dtype=np.uint8) for _ in range(12)]
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    with av.open(str(tmp), "w", options={"movflags": "+faststart"}) as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.bit_rate = kbps * 1000
        v.options = {"preset": "ultrafast", "x264-params": f"keyint={5 * fps}:min-keyint={5 * fps}:scenecut=0"}
        a = out.add_stream("aac", rate=44100)
        a.layout = "mono"
        a.bit_rate = 64_000
        for i in range(seconds * fps):
            img = np.empty((height, width, 3), np.uint8)
            img[:] = ((x + 3 * i) % 256).astype(np.uint8)
            oy, ox = (i * 2) % (height // 2), (i * 3) % (width // 2)
            img[oy:oy + height // 2, ox:ox + width // 2] = noise[i % len(noise)]
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
        t = np.arange(seconds * 44100) / 44100
        pcm = (0.1 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)[None, :]
        for start in range(0, pcm.shape[1], 44100):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start:start + 44100]), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.time_base, frame.pts = 44100, Fraction(1, 44100), start
            for p in a.encode(frame):
                out.mux(p)
        for p in a.encode():
            out.mux(p)
    tmp.replace(path)
    return path
