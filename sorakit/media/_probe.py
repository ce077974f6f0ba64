"""Objective facts measured from a video file with PyAV: what was actually produced.

`probe(path)` reads the container and decodes a sample of frames to compute a motion score
(mean absolute difference between consecutive sampled frames, on a small grey thumbnail,
0–100). Providers sometimes return a different size, frame rate or length than requested;
comparing models on these measured facts keeps a comparison honest.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Iterable, Optional

from ._store import local_copy, try_local_copy

__all__ = ["ClipFacts", "probe", "probe_many"]


@dataclass(frozen=True)
class ClipFacts:
    """What a clip really is, measured from its file."""

    path: str
    width: int
    height: int
    fps: float
    seconds: float
    frames: int
    video_codec: str
    pix_fmt: str
    bitrate_kbps: float
    """Average bitrate over the whole file (all streams), kilobits per second."""
    has_audio: bool
    audio_codec: Optional[str]
    bytes: int
    motion: float
    """Mean absolute difference between consecutive sampled frames on a 64-px grey image, 0–100."""

    def as_dict(self) -> dict:
        return asdict(self)


def _motion(container, stream, samples: int) -> float:
    import numpy as np

    total = stream.frames or 0
    step = max(1, total // samples) if total else 1
    previous = None
    diffs = []
    for i, frame in enumerate(container.decode(stream)):
        if i % step:
            continue
        grey = frame.reformat(width=64, height=max(2, round(64 * frame.height / frame.width)),
                              format="gray").to_ndarray().astype(np.int16)
        if previous is not None:
            diffs.append(float(np.abs(grey - previous).mean()))
        previous = grey
        if len(diffs) >= samples:
            break
    return round(100.0 * (sum(diffs) / len(diffs)) / 255.0, 3) if diffs else 0.0


def probe(path: str | os.PathLike, motion_samples: int = 24) -> ClipFacts:
    """Measure a video file (a path, or a media store URL read through the local cache).
    Raises ValueError when the file has no video stream, `StoreError` when a URL cannot be fetched."""
    import av

    given, path = str(path), local_copy(path)
    size = path.stat().st_size
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path} has no video stream")
        v = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        fps = float(v.average_rate) if v.average_rate else 0.0
        if v.duration is not None and v.time_base is not None:
            seconds = float(v.duration * v.time_base)
        elif container.duration:
            seconds = container.duration / 1_000_000
        else:
            seconds = 0.0
        frames = v.frames or round(seconds * fps)
        facts = dict(
            width=v.codec_context.width, height=v.codec_context.height, fps=round(fps, 3),
            seconds=round(seconds, 3), frames=int(frames), video_codec=v.codec_context.name,
            pix_fmt=v.codec_context.pix_fmt or "", has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
        )
        motion = _motion(container, v, motion_samples)
    bitrate = (size * 8 / 1000) / facts["seconds"] if facts["seconds"] else 0.0
    return ClipFacts(path=given, bitrate_kbps=round(bitrate, 1), bytes=size, motion=motion, **facts)


def probe_many(paths: Iterable[str | os.PathLike | None]):
    """A DataFrame of `ClipFacts`, one row per path (None or missing files give empty rows)."""
    import pandas as pd

    rows = []
    for p in paths:
        local = try_local_copy(p) if p is not None and not (isinstance(p, float) and p != p) else None
        if local is None:
            rows.append({"path": None if p is None else str(p)})
            continue
        rows.append({**probe(local).as_dict(), "path": str(p)})  # the row's own value (URL or path)
    return pd.DataFrame(rows)
