"""Automatic clip checks on CPU: did I get what I asked for, and is the clip usable?

`check_clip(path, request=None)` decodes a finished MP4 once (PyAV, frame threads) and measures,
from a small luma thumbnail of every frame (the decoder's Y plane read with a stride, about 160 px
wide: no colour conversion, no scaler, which costs more than decoding itself on a 720p clip):

* *delivered*: duration, size, frame rate and audio track, against the request (``mismatch``);
* *defects*: black stretches (frames whose mean luma is at video black and that hold no picture),
  frozen stretches (consecutive frames that do not change), hard cuts (a frame difference far above
  its neighbours'), flicker (the picture's mean brightness jumping up and down between frames);
* ``flicker``: VBench's temporal-flickering score, ``(255 - mean |frame[t+1] - frame[t]|) / 255``
  (1 = perfectly steady; Huang et al., *VBench*, CVPR 2024, dimension "Temporal Flickering"), here
  on the luma thumbnail instead of full RGB frames;
* ``motion``: the same mean absolute difference of consecutive frames, on a 0–100 scale (as
  `probe`'s motion). Chosen over H.264 motion vectors (PyAV ``export_mvs``): the vectors describe
  the encoder's search (``ultrafast`` barely searches), are missing in intra-only files and need a
  second decoding mode, while frame differences are codec-independent and already computed for
  the defects, so motion costs nothing extra;
* ``phash``: a 64-bit DCT perceptual hash (pHash: 32×32 → DCT → the 8×8 lowest frequencies but
  DC, each bit "above the median") of the mean of 8 frames spread over the clip, as 16 hex
  digits; `hash_distance` counts differing bits (0 = same picture; ≤ 6 near-duplicate).

Bench (``bench/checks.py``): an 8 s 720p emulated clip takes about 0.2 s of CPU, decoding most of it.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional

import numpy as np

__all__ = ["CHECKS_VERSION", "ClipCheck", "check_clip", "hash_distance", "DEFECTS", "Thresholds", "judge"]

CHECKS_VERSION = 1
"""Bumped when a measure changes, so cached results of an older version are measured again."""

DEFECTS = ("mismatch", "black", "frozen", "flicker")
"""The flags `ClipCheck.defects` may hold (``cuts`` is a count, not a defect: edits have cuts)."""

THUMB_WIDTH = 160
HASH_FRAMES = 8


@dataclass(frozen=True)
class Thresholds:
    """When a measure becomes a defect (luma levels are 0–255, video black is 16)."""

    black_luma: float = 24.0
    """A frame is black when its mean luma is at most this ..."""
    black_spread: float = 6.0
    """... and its luma standard deviation at most this (a dark scene still has a picture)."""
    frozen_level: float = 6.0
    """A thumbnail pixel has changed when its luma moved by more than this many levels ..."""
    frozen_share: float = 0.001
    """... and consecutive frames with fewer changed pixels than this share show the same picture
    (encoder noise stays under it; a small moving object or a running clock does not)."""
    min_stretch_s: float = 0.5
    """A black or frozen run counts once it lasts this long."""
    cut_diff: float = 30.0
    """A hard cut: a frame difference at least this large ..."""
    cut_ratio: float = 4.0
    """... and this many times the median difference around it (a fast pan is not a cut)."""
    flicker_luma: float = 3.0
    """Flicker: mean brightness jumps, averaged over the clip, above this many luma levels ..."""
    flicker_reversals: float = 0.3
    """... with the jumps changing direction at least this often (share of frames): flashing,
    not a fade."""
    seconds_tolerance: float = 0.5
    """Delivered length may differ from the asked length by this much (or one frame) unflagged."""
    fps_tolerance: float = 0.5


@dataclass(frozen=True)
class ClipCheck:
    """What `check_clip` measured (``version`` = `CHECKS_VERSION`)."""

    seconds: float
    width: int
    height: int
    fps: float
    frames: int
    has_audio: bool
    bytes: int
    mismatch: str
    """What differs from the request, e.g. ``"seconds 4 (asked 8); no audio (asked)"``; "" = none."""
    black_s: float
    """Seconds in black stretches (runs of at least ``min_stretch_s``)."""
    frozen_s: float
    """Seconds in frozen stretches (black frames excluded)."""
    cuts: int
    flicker: float
    """VBench temporal-flickering score, 0–1, 1 = steady."""
    flicker_luma: float
    """Mean absolute jump of the picture's mean brightness between frames (luma levels)."""
    motion: float
    """Mean absolute difference of consecutive frames, 0–100."""
    phash: str
    defects: tuple[str, ...]
    cpu_s: float
    version: int = CHECKS_VERSION
    parts: dict = field(default_factory=dict, compare=False)
    """CPU seconds per stage (``open``, ``decode``, ``measure``, ``hash``)."""

    def as_dict(self) -> dict:
        d = asdict(self)
        d["defects"] = list(self.defects)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ClipCheck":
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        d["defects"] = tuple(d.get("defects") or ())
        return cls(**d)


def hash_distance(a: Optional[str], b: Optional[str]) -> Optional[int]:
    """Bits that differ between two `ClipCheck.phash` values (None when either is missing)."""
    if not a or not b or not isinstance(a, str) or not isinstance(b, str):
        return None
    return bin(int(a, 16) ^ int(b, 16)).count("1")


_DCT = None


def _dct_matrix(n: int = 32) -> np.ndarray:
    global _DCT
    if _DCT is None:
        k = np.arange(n)[:, None]
        i = np.arange(n)[None, :]
        m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2 / n)
        m[0] /= math.sqrt(2)
        _DCT = m
    return _DCT


def _phash(image: np.ndarray) -> str:
    """64-bit DCT hash of a 2-D luma array."""
    h, w = image.shape
    # area-resample to 32x32 (index bins), then a 2-D DCT-II as two matrix products
    ys = (np.arange(32) * h) // 32
    xs = (np.arange(32) * w) // 32
    small = np.add.reduceat(np.add.reduceat(image, ys, axis=0), xs, axis=1)
    counts = np.outer(np.diff(np.append(ys, h)), np.diff(np.append(xs, w)))
    small = small / counts
    d = _dct_matrix()
    coeffs = d @ small @ d.T
    low = coeffs[:8, :8].ravel()
    bits = low > np.median(low[1:])
    bits[0] = False  # DC carries brightness only
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return f"{value:016x}"


def _luma(frame, step: int) -> np.ndarray:
    """A strided luma thumbnail of a decoded frame (float32)."""
    fmt = frame.format.name
    if fmt.startswith(("yuv", "yuvj", "nv", "gray")) and frame.planes:
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8)
        if y.size >= frame.height * plane.line_size:  # 8-bit luma plane
            y = y[: frame.height * plane.line_size].reshape(frame.height, plane.line_size)[:, : frame.width]
            return y[step // 2:: step, step // 2:: step].astype(np.float32)
    g = frame.reformat(width=max(1, frame.width // step), height=max(1, frame.height // step),
                       format="gray").to_ndarray()
    return g.astype(np.float32)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    if not mask.size:
        return []
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _asked(request: Optional[Mapping[str, Any]], name: str):
    if not request:
        return None
    v = request.get(name)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    try:
        import pandas as pd

        if v is pd.NA:
            return None
    except ImportError:  # pragma: no cover
        pass
    return v


def _mismatch(req: Optional[Mapping[str, Any]], seconds: float, width: int, height: int, fps: float,
              has_audio: bool, t: Thresholds) -> str:
    out = []
    s = _asked(req, "seconds")
    if s is not None and abs(float(s) - seconds) > max(t.seconds_tolerance, 1.0 / fps if fps else 0):
        out.append(f"seconds {seconds:g} (asked {float(s):g})")
    w, h = _asked(req, "width"), _asked(req, "height")
    if w is not None and h is not None and (int(w), int(h)) != (width, height):
        out.append(f"size {width}x{height} (asked {int(w)}x{int(h)})")
    f = _asked(req, "fps")
    if f is not None and fps and abs(float(f) - fps) > t.fps_tolerance:
        out.append(f"fps {fps:g} (asked {float(f):g})")
    a = _asked(req, "audio")
    if a is not None and bool(a) and not has_audio:
        out.append("no audio (asked)")
    return "; ".join(out)


def judge(check: ClipCheck, request: Optional[Mapping[str, Any]],
          thresholds: Thresholds = Thresholds()) -> ClipCheck:
    """``check`` (measured from the file alone, e.g. cached by the file's sha256) judged against
    another ``request``: ``mismatch`` and the ``mismatch`` defect recomputed, the rest kept."""
    import dataclasses

    mismatch = _mismatch(request, check.seconds, check.width, check.height, check.fps, check.has_audio, thresholds)
    defects = tuple((["mismatch"] if mismatch else []) + [d for d in check.defects if d != "mismatch"])
    return dataclasses.replace(check, mismatch=mismatch, defects=defects)


def check_clip(path: str | os.PathLike, request: Optional[Mapping[str, Any]] = None,
               thresholds: Thresholds = Thresholds()) -> ClipCheck:
    """Measure the video at ``path`` (a local file) against ``request`` (a ledger row or a dict
    with any of ``seconds``, ``width``, ``height``, ``fps``, ``audio``). Raises ValueError when
    the file has no video stream or no decodable frame."""
    import av

    t = thresholds
    clock = time.process_time
    c0 = clock()
    size = os.path.getsize(path)
    lumas: list[np.ndarray] = []
    with av.open(os.fspath(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{os.fspath(path)} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        has_audio = bool(container.streams.audio)
        fps = float(stream.average_rate) if stream.average_rate else 0.0
        width, height = stream.codec_context.width, stream.codec_context.height
        step = max(1, width // THUMB_WIDTH)
        c1 = clock()
        last_pts = first_pts = None
        for frame in container.decode(stream):
            lumas.append(_luma(frame, step))
            if frame.pts is not None:
                first_pts = frame.pts if first_pts is None else first_pts
                last_pts = frame.pts
        tb = stream.time_base
        if stream.duration is not None and tb is not None:
            seconds = float(stream.duration * tb)
        elif last_pts is not None and tb is not None and fps:
            seconds = float((last_pts - first_pts) * tb) + 1.0 / fps
        else:
            seconds = container.duration / 1_000_000 if container.duration else 0.0
    c2 = clock()
    if not lumas:
        raise ValueError(f"{os.fspath(path)} has no decodable video frame")
    stack = np.stack(lumas)  # (n, h, w)
    n = len(stack)
    frame_s = 1.0 / fps if fps else (seconds / n if n else 0.0)
    means = stack.mean(axis=(1, 2))
    spreads = stack.std(axis=(1, 2))
    if n > 1:
        delta = np.abs(np.diff(stack, axis=0))
        diffs = delta.mean(axis=(1, 2))
        changed = (delta > t.frozen_level).mean(axis=(1, 2))
    else:
        diffs = changed = np.zeros(0)
    min_run = max(1, math.ceil(t.min_stretch_s / frame_s)) if frame_s else 1

    black = (means <= t.black_luma) & (spreads <= t.black_spread)
    black_frames = sum(e - s for s, e in _runs(black) if e - s >= min_run)
    # frozen: frame i+1 repeats frame i; a run of k such pairs is k+1 frames on screen, k of them extra
    still = (changed < t.frozen_share) & ~black[1:] & ~black[:-1] if n > 1 else np.zeros(0, bool)
    frozen_frames = sum(e - s + 1 for s, e in _runs(still) if e - s + 1 >= min_run)
    cuts = 0
    if n > 2:
        for i in np.flatnonzero(diffs >= t.cut_diff):
            around = np.concatenate([diffs[max(0, i - 6):i], diffs[i + 1:i + 7]])
            if not around.size or diffs[i] >= t.cut_ratio * max(float(np.median(around)), 0.5):
                cuts += 1
    jumps = np.diff(means) if n > 1 else np.zeros(0)
    flicker_luma = float(np.abs(jumps).mean()) if jumps.size else 0.0
    big = jumps[np.abs(jumps) > t.flicker_luma]
    reversals = float((np.sign(big[1:]) != np.sign(big[:-1])).sum()) / max(1, n - 2) if big.size > 1 else 0.0
    mean_diff = float(diffs.mean()) if diffs.size else 0.0
    c3 = clock()
    picks = np.unique(np.linspace(0, n - 1, min(HASH_FRAMES, n) + 2).round().astype(int)[1:-1]) if n > 2 \
        else np.arange(n)
    phash = _phash(stack[picks].mean(axis=0))
    c4 = clock()

    mismatch = _mismatch(request, seconds, width, height, fps, has_audio, t)
    defects = []
    if mismatch:
        defects.append("mismatch")
    if black_frames:
        defects.append("black")
    if frozen_frames:
        defects.append("frozen")
    if flicker_luma > t.flicker_luma and reversals >= t.flicker_reversals:
        defects.append("flicker")
    return ClipCheck(
        seconds=round(seconds, 3), width=width, height=height, fps=round(fps, 3), frames=n,
        has_audio=has_audio, bytes=size, mismatch=mismatch,
        black_s=round(black_frames * frame_s, 3), frozen_s=round(frozen_frames * frame_s, 3), cuts=cuts,
        flicker=round((255.0 - mean_diff) / 255.0, 4), flicker_luma=round(flicker_luma, 3),
        motion=round(100.0 * mean_diff / 255.0, 3), phash=phash, defects=tuple(defects),
        cpu_s=round(c4 - c0, 4),
        parts={"open": round(c1 - c0, 4), "decode": round(c2 - c1, 4), "measure": round(c3 - c2, 4),
               "hash": round(c4 - c3, 4)},
    )
