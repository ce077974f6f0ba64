"""Deterministic, fast renderer of *real* stand-in videos for the sorakit emulator.

The emulator's HTTP surfaces (OpenAI ``/v1/videos``, Runware, Gemini Veo, ...) call this
module to turn a :class:`RenderSpec` into an MP4 a browser can play, plus the preview
assets providers offer (a WebP thumbnail, a JPEG spritesheet).

What a rendered clip shows
--------------------------
* a colour field (bands, waves or chevrons) whose palette and shape derive from
  ``sha256(prompt, seed)``, so different prompts/seeds look different and identical specs
  look identical; for image-to-video, the input image itself (scaled and centre-cropped to
  cover the frame), with the overlays fading in over the first half second so that the
  first frame *is* the image (plus the watermark);
* two to four soft shapes gliding on Lissajous paths: the motion a "motion score" detects;
* a large translucent watermark (``label``, default ``EMULATED``), a caption band with the
  prompt (wrapped, at most three lines, ellipsised), a badge with model, seed, size, fps and
  duration, a running timecode and a progress bar;
* a mono AAC soundtrack, a soft chord picked from the same hash (none when ``audio=False``).

Planted defects (so clip checks have something real to find): a prompt containing
``[defect:black]``, ``[defect:frozen]`` or ``[defect:flicker]`` gets, over the middle third of the
clip, black frames, one frame held still (timecode included), or the picture's brightness jumping
by ``FLICKER_LEVELS`` every other frame; ``[defect:duplicate]`` ignores the seed (every seed draws
seed 0's picture), as a provider whose seed does nothing would. Markers combine.

Remix / extend / edit (``source_key`` set): the "family" traits (band shape, palette
structure, shapes and their paths) come from the source render, while hue, chord, speed and
phases come from the new prompt, so the result is recognisably related yet visibly
different.  When the source spec is known (``source=`` argument, rendered earlier in this
process, or recorded on disk by :class:`RenderCache`) and the new ``seconds`` is longer than
the source's, the request is an *extend*: the clip opens with the source's frames and
continues in the new look.  Without the source spec, the family derives from ``source_key``.

Why it is fast (about 10x real time for 720p on two cores)
----------------------------------------------------------
Nothing is drawn with Pillow per frame, and no frame is converted from RGB.  Everything is
prepared once, directly in the encoder's pixel format (BT.709 limited-range ``yuv420p``):

* the background is computed at quarter resolution and upsampled once; the text layers
  (watermark, badge, caption, timecode box, progress track) are drawn once with Pillow and
  cut into a few rectangles stored *premultiplied* (``L*A + 128`` and ``256 - A`` as
  ``uint16``), so blending one is ``(dst * inv + P) >> 8``; background plus overlays are
  blended once into a ``base`` image;
* a frame is a copy of ``base`` into a fresh :class:`av.VideoFrame`'s planes, after which
  only the rectangles under the moving shapes are recomposed (background, shapes, overlays
  clipped to the rectangle), then the timecode digits (glyph atlas) and the progress fill;
* libx264 runs ``preset=ultrafast`` plus CABAC and a short macroblock-tree lookahead on a
  fixed two slice threads; the mostly static picture costs little to code (a few hundred KB
  for 8 s of 720p), and the AAC track is synthesised and encoded on a worker thread
  (PyAV releases the GIL) while the main thread composes and encodes video.

Determinism: every random choice comes from SHA-256 in counter mode, x264 runs on a fixed
number of slice threads, packets are muxed in an order that does not depend on thread timing,
and no wall-clock metadata is written, so equal specs give byte-identical files for a given
PyAV/FFmpeg build (and equal decoded frames everywhere).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import queue
import re
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

__all__ = [
    "RENDER_VERSION",
    "RenderCache",
    "RenderInfo",
    "RenderSpec",
    "render_frame",
    "render_spritesheet",
    "render_thumbnail",
    "render_video",
]

#: Part of every content key; bump when the look or the encoding changes.
RENDER_VERSION = "sorakit-emulator-render/1"
DEFECT_MARKERS = ("black", "frozen", "flicker", "duplicate")
"""Prompt markers ``[defect:NAME]`` the renderer obeys (see the module docstring)."""
FLICKER_LEVELS = 40

MIN_DIMENSION = 16
MAX_DIMENSION = 4096
MAX_SECONDS = 120.0
MAX_FPS = 120
MAX_LABEL = 40
AUDIO_RATE = 48_000
AUDIO_FRAME = 1024
AUDIO_BITRATE = 64_000
AUDIO_LAYOUT = "mono"
#: Fixed x264 thread count: the bitstream depends on it, so it must not follow the CPU count.
X264_THREADS = 2
#: libx264 settings.  ``ultrafast`` for speed, plus CABAC and a short macroblock-tree
#: lookahead: the static layers (text, background) then get coded well once and skipped after,
#: which roughly halves the file for ~15% more time (measured with bench/emulator.py).
X264_OPTIONS = {"preset": "ultrafast", "crf": "28"}
X264_PARAMS = "cabac=1:mbtree=1:rc-lookahead=10"
#: Where the i2v overlays finish fading in, in seconds.
IMAGE_FADE_SECONDS = 0.5


# ---------------------------------------------------------------------------------------------
# Spec and result types
# ---------------------------------------------------------------------------------------------


def _bad(field: str, value: Any, allowed: str) -> ValueError:
    shown = value if not isinstance(value, (bytes, bytearray)) else f"<{len(value)} bytes>"
    if isinstance(shown, str) and len(shown) > 80:
        shown = shown[:77] + "..."
    return ValueError(f"RenderSpec.{field}={shown!r} is not allowed: {allowed}")


@dataclass(frozen=True)
class RenderSpec:
    """Everything that determines a rendered clip; equal specs render equal videos.

    Construction validates every field and raises :class:`ValueError` naming the field, the
    value and what is allowed.
    """

    model: str
    """Model name shown in the badge and mixed into the motion (e.g. ``"sora-2"``)."""
    prompt: str
    """Prompt text; drives palette, motion and sound, and is shown in the caption band."""
    seed: int
    """Any integer; with the prompt it picks the look."""
    width: int
    """Frame width in pixels: an even integer in [16, 4096]."""
    height: int
    """Frame height in pixels: an even integer in [16, 4096]."""
    seconds: float
    """Duration; the clip has ``round(seconds * fps)`` frames (>= 1). For extend, the total."""
    fps: int = 24
    """Frames per second, an integer in [1, 120]."""
    audio: bool = True
    """Add an AAC soundtrack (a soft chord) when true; no audio stream when false."""
    input_image: bytes | None = field(default=None, repr=False)
    """Image-to-video: encoded image bytes (any format Pillow reads); the first frame is this
    image scaled and centre-cropped to cover the frame."""
    source_key: str | None = None
    """Remix/extend/edit: :meth:`key` of the source render (see the module docstring)."""
    label: str = "EMULATED"
    """Watermark text (1 to 40 characters)."""

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise _bad("model", self.model, "a non-empty string")
        if not isinstance(self.prompt, str):
            raise _bad("prompt", self.prompt, "a string")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise _bad("seed", self.seed, "an integer")
        object.__setattr__(self, "seed", int(self.seed))
        for name in ("width", "height"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or not MIN_DIMENSION <= value <= MAX_DIMENSION
                or value % 2
            ):
                allowed = f"an even integer from {MIN_DIMENSION} to {MAX_DIMENSION} (H.264 4:2:0 needs even sizes)"
                raise _bad(name, value, allowed)
            object.__setattr__(self, name, int(value))
        if isinstance(self.fps, bool) or not isinstance(self.fps, (int, np.integer)) or not 1 <= self.fps <= MAX_FPS:
            raise _bad("fps", self.fps, f"an integer from 1 to {MAX_FPS}")
        object.__setattr__(self, "fps", int(self.fps))
        if (
            isinstance(self.seconds, bool)
            or not isinstance(self.seconds, (int, float, np.integer, np.floating))
            or not math.isfinite(self.seconds)
            or not 0 < self.seconds <= MAX_SECONDS
        ):
            raise _bad("seconds", self.seconds, f"a number greater than 0 and at most {MAX_SECONDS:g}")
        object.__setattr__(self, "seconds", float(self.seconds))
        if round(self.seconds * self.fps) < 1:
            raise _bad("seconds", self.seconds, f"long enough for at least one frame at {self.fps} fps")
        if not isinstance(self.audio, (bool, np.bool_)):
            raise _bad("audio", self.audio, "True or False")
        object.__setattr__(self, "audio", bool(self.audio))
        if self.input_image is not None:
            if not isinstance(self.input_image, (bytes, bytearray, memoryview)) or len(self.input_image) == 0:
                allowed = "None or non-empty encoded image bytes (PNG, JPEG, WebP, ...)"
                raise _bad("input_image", self.input_image, allowed)
            object.__setattr__(self, "input_image", bytes(self.input_image))
            try:  # reads the header only; full decoding errors surface when rendering
                with Image.open(io.BytesIO(self.input_image)) as probe:
                    probe.size  # noqa: B018
            except Exception as exc:  # noqa: BLE001 - anything Pillow cannot identify
                raise _bad("input_image", self.input_image, f"bytes of an image Pillow can read ({exc})") from exc
        if self.source_key is not None and (not isinstance(self.source_key, str) or not self.source_key.strip()):
            raise _bad("source_key", self.source_key, "None or the non-empty key() of the source render")
        if not isinstance(self.label, str) or not self.label.strip() or len(self.label) > MAX_LABEL:
            raise _bad("label", self.label, f"a non-empty string of at most {MAX_LABEL} characters")
        # Known specs let a later remix/extend (which names only this key) find its source.
        _remember(self)

    @property
    def frames(self) -> int:
        """Number of video frames: ``round(seconds * fps)``."""
        return max(1, round(self.seconds * self.fps))

    @property
    def input_image_sha256(self) -> str | None:
        """SHA-256 of :attr:`input_image`, or ``None``."""
        return None if self.input_image is None else hashlib.sha256(self.input_image).hexdigest()

    def describe(self) -> dict[str, Any]:
        """JSON-able fields, with the input image replaced by its SHA-256."""
        return {
            "model": self.model,
            "prompt": self.prompt,
            "seed": self.seed,
            "width": self.width,
            "height": self.height,
            "seconds": self.seconds,
            "fps": self.fps,
            "audio": self.audio,
            "input_image_sha256": self.input_image_sha256,
            "source_key": self.source_key,
            "label": self.label,
        }

    def key(self) -> str:
        """Content key: SHA-256 (hex) over the renderer version and every field."""
        cached = self.__dict__.get("_key")
        if cached is None:
            payload = json.dumps({"v": RENDER_VERSION, **self.describe()}, sort_keys=True, ensure_ascii=True)
            cached = hashlib.sha256(payload.encode()).hexdigest()
            object.__setattr__(self, "_key", cached)
        return cached


@dataclass(frozen=True)
class RenderInfo:
    """What :func:`render_video` wrote."""

    path: Path
    """The MP4 file."""
    bytes: int
    """File size in bytes."""
    sha256: str
    """SHA-256 (hex) of the file."""
    frames: int
    """Number of video frames."""
    seconds: float
    """Video duration, ``frames / fps``."""
    width: int
    """Frame width in pixels."""
    height: int
    """Frame height in pixels."""
    fps: int
    """Frames per second."""
    has_audio: bool
    """Whether the file has an AAC audio stream."""
    render_seconds: float
    """Wall time the render took."""

    def to_json(self) -> dict[str, Any]:
        """JSON-able dict (``path`` as a string)."""
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderInfo:
        """Inverse of :meth:`to_json`."""
        return cls(**{**data, "path": Path(data["path"])})


# ---------------------------------------------------------------------------------------------
# Known sources (so remix/extend can find the spec behind a source_key)
# ---------------------------------------------------------------------------------------------

_KNOWN_MAX = 256
_KNOWN_MAX_IMAGE_BYTES = 128 * 1024 * 1024
_known: OrderedDict[str, RenderSpec] = OrderedDict()
_known_image_bytes = 0
_known_lock = threading.Lock()


def _remember(spec: RenderSpec) -> None:
    """Note ``spec`` as a possible source (most recent kept; bounded in count and image bytes)."""
    global _known_image_bytes
    key = spec.key()
    with _known_lock:
        if key not in _known:
            _known_image_bytes += len(spec.input_image or b"")
        _known[key] = spec
        _known.move_to_end(key)
        while len(_known) > 1 and (len(_known) > _KNOWN_MAX or _known_image_bytes > _KNOWN_MAX_IMAGE_BYTES):
            _, old = _known.popitem(last=False)
            _known_image_bytes -= len(old.input_image or b"")


def _lookup(key: str | None) -> RenderSpec | None:
    if key is None:
        return None
    with _known_lock:
        return _known.get(key)


# ---------------------------------------------------------------------------------------------
# Deterministic randomness and the "look"
# ---------------------------------------------------------------------------------------------


class _Draw:
    """Uniform floats from SHA-256 in counter mode: stable across platforms and versions."""

    def __init__(self, *parts: Any) -> None:
        self._seed = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
        self._n = 0

    def random(self) -> float:
        block = hashlib.sha256(self._seed + self._n.to_bytes(8, "little")).digest()
        self._n += 1
        return int.from_bytes(block[:8], "little") / 2**64

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.random()

    def integer(self, lo: int, hi: int) -> int:
        """Integer in [lo, hi]."""
        return lo + min(hi - lo, int(self.random() * (hi - lo + 1)))

    def choice(self, seq):
        return seq[self.integer(0, len(seq) - 1)]


_SHAPES = ("disc", "ring", "diamond", "square")
_CHORDS = ((0, 4, 7, 11), (0, 3, 7, 10), (0, 5, 7, 12), (0, 4, 7, 14), (0, 7, 12, 16), (0, 3, 7, 14))


@dataclass(frozen=True)
class _Look:
    pattern: int
    slant: float
    wave_amp: float
    wave_freq: int
    palette_a: float
    palette_b: tuple[float, float, float]
    palette_c: int
    palette_d: tuple[float, float, float]
    hue: float
    shapes: tuple[tuple[str, float, int, int, float, float, float], ...]
    path_period_s: float
    chord_root: int
    chord: tuple[int, ...]


def _family_id(spec: RenderSpec, source: RenderSpec | None, depth: int = 0) -> str:
    """Identity of the look family: the root original's prompt+seed, as far as it is known."""
    if spec.source_key is None:
        return f"root:{spec.prompt}\x1f{spec.seed}"
    if source is None or depth > 32:
        return f"key:{spec.source_key}"
    return _family_id(source, _lookup(source.source_key), depth + 1)


def _make_look(spec: RenderSpec, family: str) -> _Look:
    fam = _Draw("family", family)
    var = _Draw("variant", spec.prompt, spec.seed, spec.model, spec.source_key or "")
    remix = spec.source_key is not None
    base_hue = fam.random()
    hue = base_hue + (var.uniform(0.22, 0.78) if remix else var.uniform(-0.04, 0.04))
    spread = fam.uniform(0.08, 0.34)
    shapes = []
    for _ in range(fam.integer(2, 4)):
        shapes.append(
            (
                fam.choice(_SHAPES),
                fam.uniform(0.12, 0.26),  # size relative to min(W, H)
                fam.integer(1, 2),  # x frequency
                fam.integer(1, 3),  # y frequency
                var.random(),  # x phase
                var.random(),  # y phase
                fam.uniform(0.35, 0.65),  # colour offset on the palette
            )
        )
    root = fam.integer(45, 57)
    return _Look(
        pattern=fam.integer(0, 3),
        slant=fam.uniform(-0.7, 0.7),
        wave_amp=fam.uniform(0.05, 0.22),
        wave_freq=fam.integer(1, 3),
        palette_a=fam.uniform(0.38, 0.5),
        palette_b=(fam.uniform(0.25, 0.45), fam.uniform(0.25, 0.45), fam.uniform(0.25, 0.45)),
        palette_c=fam.integer(1, 2),
        palette_d=(0.0, spread, 2 * spread),
        hue=hue % 1.0,
        shapes=tuple(shapes),
        path_period_s=var.uniform(16.0, 24.0),
        chord_root=root + (var.integer(2, 9) if remix else 0),
        chord=_CHORDS[(fam.integer(0, len(_CHORDS) - 1) + (var.integer(1, 5) if remix else 0)) % len(_CHORDS)],
    )


def _palette(look: _Look, t: np.ndarray) -> np.ndarray:
    """Cosine palette: RGB in [0, 1] for phase(s) ``t`` (period 1); shape ``t.shape + (3,)``."""
    d = np.asarray(look.palette_d) + look.hue
    b = np.asarray(look.palette_b)
    rgb = look.palette_a + b * np.cos(2 * np.pi * (look.palette_c * t[..., None] + d))
    return np.clip(rgb, 0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# Colour conversion (BT.709, limited range) and premultiplied patches
# ---------------------------------------------------------------------------------------------


def _rgb_to_yuv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RGB floats in [0, 1] (..., 3) -> Y, Cb, Cr code values as floats (BT.709 limited)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 16.0 + 219.0 * y, 128.0 + 224.0 * (b - y) / 1.8556, 128.0 + 224.0 * (r - y) / 1.5748


def _to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _half(a: np.ndarray) -> np.ndarray:
    h, w = a.shape
    return a.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _even(v: float, lo: int = 2) -> int:
    return max(lo, int(round(v / 2.0)) * 2)


class _PlanePatch:
    """A premultiplied rectangle for one plane: ``dst = (dst * inv + P) >> 8``."""

    __slots__ = ("L", "A", "P", "inv")

    def __init__(self, L: np.ndarray, A: np.ndarray) -> None:
        self.L = L.astype(np.uint16)
        self.A = A.astype(np.uint16)
        self.P = self.L * self.A + 128
        self.inv = 256 - self.A

    def blend(
        self, plane: np.ndarray, y: int, x: int, fade: float = 1.0, clip: tuple[int, int, int, int] | None = None
    ) -> None:
        """Blend onto ``plane`` with the top-left corner at (y, x), limited to ``clip``."""
        h, w = self.P.shape
        cy0, cx0, cy1, cx1 = clip if clip is not None else (0, 0) + plane.shape
        y0, x0, y1, x1 = max(y, cy0), max(x, cx0), min(y + h, cy1), min(x + w, cx1)
        if y0 >= y1 or x0 >= x1:
            return
        sy, sx = slice(y0 - y, y1 - y), slice(x0 - x, x1 - x)
        if fade >= 1.0:
            P, inv = self.P[sy, sx], self.inv[sy, sx]
        else:
            A = (self.A[sy, sx] * max(0.0, fade)).astype(np.uint16)
            P, inv = self.L[sy, sx] * A + 128, 256 - A
        dst = plane[y0:y1, x0:x1]
        acc = dst.astype(np.uint16)
        acc *= inv
        acc += P
        acc >>= 8
        dst[...] = acc


class _Patch:
    """An RGBA rectangle converted once to premultiplied Y, U and V patches."""

    __slots__ = ("y", "x", "planes")

    def __init__(self, rgba: np.ndarray, y: int = 0, x: int = 0) -> None:
        """``rgba``: float array (h, w, 4) in [0, 1] with even h and w; (y, x) even."""
        self.y, self.x = y, x
        rgb, a = rgba[..., :3], rgba[..., 3]
        Y, U, V = _rgb_to_yuv(rgb)
        a2 = _half(a)
        safe = np.where(a2 > 0, a2, 1.0)
        Uc = np.where(a2 > 0, _half(U * a) / safe, 128.0)
        Vc = np.where(a2 > 0, _half(V * a) / safe, 128.0)
        A = np.rint(a * 256)
        A2 = np.rint(a2 * 256)
        self.planes = (
            _PlanePatch(_to_u8(Y), A),
            _PlanePatch(_to_u8(Uc), A2),
            _PlanePatch(_to_u8(Vc), A2),
        )

    def blend(
        self,
        planes: list[np.ndarray],
        y: int | None = None,
        x: int | None = None,
        fade: float = 1.0,
        clip: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Blend onto Y, U, V ``planes`` at luma (y, x) (default: own place), within ``clip``."""
        y = self.y if y is None else y
        x = self.x if x is None else x
        if clip is not None:
            h, w = self.planes[0].P.shape
            if y >= clip[2] or x >= clip[3] or y + h <= clip[0] or x + w <= clip[1]:
                return
        self.planes[0].blend(planes[0], y, x, fade, clip)
        cclip = None if clip is None else tuple(v // 2 for v in clip)
        self.planes[1].blend(planes[1], y // 2, x // 2, fade, cclip)
        self.planes[2].blend(planes[2], y // 2, x // 2, fade, cclip)


def _runs(mask: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
    """[start, end) runs of True, merging runs separated by fewer than ``min_gap`` Falses."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    runs = []
    start = prev = int(idx[0])
    for i in idx[1:]:
        i = int(i)
        if i - prev > min_gap:
            runs.append((start, prev + 1))
            start = i
        prev = i
    runs.append((start, prev + 1))
    return runs


def _patches_from_layer(layer: Image.Image) -> list[_Patch]:
    """Cut an RGBA layer into non-overlapping, even-aligned rectangles around its ink."""
    alpha = np.asarray(layer.getchannel("A")) > 0
    H, W = alpha.shape
    patches = []
    for r0, r1 in _runs(alpha.any(axis=1), 4):
        r0, r1 = r0 - r0 % 2, min(H, r1 + r1 % 2)
        for c0, c1 in _runs(alpha[r0:r1].any(axis=0), 32):
            c0, c1 = c0 - c0 % 2, min(W, c1 + c1 % 2)
            rgba = np.asarray(layer.crop((c0, r0, c1, r1)), dtype=np.float32) / 255.0
            patches.append(_Patch(rgba, r0, c0))
    return patches


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


#: Pillow's FreeType faces are shared objects; draw text from one thread at a time.
_TEXT_LOCK = threading.RLock()


@lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=max(6, int(size)))
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def _text_width(font, text: str) -> float:
    return font.getlength(text) if hasattr(font, "getlength") else font.getbbox(text)[2]


def _fit_prefix(font, word: str, max_width: float) -> int:
    """Length of the longest prefix of ``word`` that fits (at least 1), by bisection."""
    lo, hi = 1, len(word)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _text_width(font, word[:mid]) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _wrap(text: str, font, max_width: float, max_lines: int) -> list[str]:
    """Word-wrap ``text`` into at most ``max_lines`` lines, ellipsising what does not fit.

    Whitespace (newlines included) collapses to single spaces; words wider than a line are
    split.  Only the start of very long prompts is looked at.
    """
    words = " ".join(text[:4000].split()).split(" ") if text.strip() else []
    lines: list[str] = []
    cur = ""
    overflow = False
    for word in words:
        cand = f"{cur} {word}" if cur else word
        if _text_width(font, cand) <= max_width:
            cur = cand
            continue
        if cur:
            lines.append(cur)
        while len(lines) < max_lines and len(word) > 1 and _text_width(font, word) > max_width:
            n = _fit_prefix(font, word, max_width)
            lines.append(word[:n])
            word = word[n:]
        cur = word
        if len(lines) >= max_lines:
            overflow = True
            break
    if cur and not overflow:
        lines.append(cur)
    if overflow and lines:
        lines = lines[:max_lines]
        last = lines[-1].rstrip()
        while last and _text_width(font, last + "…") > max_width:
            last = last[:-1].rstrip()
        lines[-1] = last + "…"
    return lines


# ---------------------------------------------------------------------------------------------
# Scene: everything static about one look at one size, and how to compose a frame from it
# ---------------------------------------------------------------------------------------------


def _decode_image(data: bytes, width: int, height: int) -> np.ndarray:
    """Decode, orient and cover-crop the input image -> RGB float array (H, W, 3) in [0, 1]."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                flat = Image.new("RGBA", im.size, (128, 128, 128, 255))
                flat.alpha_composite(im)
                im = flat
            im = ImageOps.fit(im.convert("RGB"), (width, height), method=Image.Resampling.BICUBIC)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means bad input bytes
        raise _bad("input_image", data, f"bytes Pillow can decode as an image ({type(exc).__name__}: {exc})") from exc
    return np.asarray(im, dtype=np.float32) / 255.0


def _font_lines(font) -> int:
    ascent, descent = font.getmetrics() if hasattr(font, "getmetrics") else (10, 2)
    return ascent + descent


class _Scene:
    """Precomputed planes for one spec's look at one size; ``compose`` writes one frame.

    ``base`` is the background with every static overlay already blended in.  A frame is
    ``base`` plus the moving sprites: only the rectangles under the sprites are recomposed
    (background, sprites, then the overlays clipped to the rectangle), so the per-frame cost
    is proportional to the sprites' area, not the frame's.
    """

    def __init__(self, spec: RenderSpec, look: _Look, width: int, height: int, fps: int, hud: _Hud) -> None:
        self.spec, self.look, self.hud = spec, look, hud
        self.W, self.H, self.fps = width, height, fps
        self.s = min(width, height)
        accent_rgb = _palette(look, np.array([look.shapes[0][6]]))[0] * 0.6 + 0.4
        self.accent = tuple(int(v) for v in _to_u8(np.array(_rgb_to_yuv(accent_rgb))))
        self.fade_frames = max(1, round(IMAGE_FADE_SECONDS * fps)) if spec.input_image is not None else 0
        if spec.input_image is not None:
            rgb = _decode_image(spec.input_image, width, height)
            Y, U, V = _rgb_to_yuv(rgb)
            self.bg = [_to_u8(Y), _to_u8(_half(U)), _to_u8(_half(V))]
        else:
            self.bg = self._field()
        self._init_sprites()
        self._init_overlays()
        self.overlays = self.fading + self.fixed + hud.static
        self.base = [p.copy() for p in self.bg]
        for patch in self.overlays:
            patch.blend(self.base)

    def _field(self) -> list[np.ndarray]:
        """Colour bands from the look's palette, computed at quarter size and upsampled."""
        W, H, look = self.W, self.H, self.look
        P = max(W, H)
        lw, lh = max(2, math.ceil(W / 4)), max(2, math.ceil(H / 4))
        xs = (np.arange(lw) + 0.5) * (W / lw) - 0.5
        ys = (np.arange(lh) + 0.5) * (H / lh) - 0.5
        xn, yn = xs / W, ys / H
        if look.pattern == 0:  # diagonal bands
            g = look.slant * ys
        elif look.pattern == 1:  # waves
            g = look.slant * 0.3 * ys + look.wave_amp * P * np.sin(2 * np.pi * look.wave_freq * yn)
        elif look.pattern == 2:  # chevrons
            g = look.wave_amp * 2 * P * np.abs(yn - 0.5) + look.slant * 0.2 * ys
        else:  # bands with a second harmonic
            g = look.slant * 0.5 * ys
        t = (xs[None, :] + g[:, None]) / P
        if look.pattern == 3:
            t = t + 0.12 * np.sin(2 * np.pi * (2 * xs[None, :] / P + yn[:, None]))
        rgb = _palette(look, t)
        vignette = 1.0 - 0.55 * ((2 * xn[None, :] - 1) ** 2 + (2 * yn[:, None] - 1) ** 2) / 2
        rgb *= vignette[..., None]
        sizes = ((W, H), (W // 2, H // 2), (W // 2, H // 2))
        return [
            _to_u8(np.asarray(Image.fromarray(p.astype(np.float32), "F").resize(sz, Image.Resampling.BILINEAR)))
            for p, sz in zip(_rgb_to_yuv(rgb), sizes)
        ]

    # -- moving shapes --------------------------------------------------------------------------

    def _init_sprites(self) -> None:
        self.sprites = []
        for shape, rel, fx, fy, px, py, coff in self.look.shapes:
            D = _even(rel * self.s, lo=4)
            c = (np.arange(D) + 0.5 - D / 2) / (D / 2)
            X, Y = np.meshgrid(c, c)
            r = np.hypot(X, Y)
            if shape == "disc":
                d = r - 0.92
            elif shape == "ring":
                d = np.abs(r - 0.68) - 0.24
            elif shape == "diamond":
                d = np.abs(X) + np.abs(Y) - 0.95
            else:
                d = np.maximum(np.abs(X), np.abs(Y)) - 0.8
            a = np.clip(-d / 0.12, 0.0, 1.0) * 0.92
            base = _palette(self.look, np.array([coff]))[0]
            light = np.clip(1.2 - 0.5 * np.hypot(X + 0.35, Y + 0.35), 0.5, 1.2)[..., None]
            rgb = np.clip(0.12 + base * light, 0.0, 1.0)
            rgba = np.concatenate([rgb, a[..., None]], axis=-1).astype(np.float32)
            self.sprites.append((_Patch(rgba), D, fx, fy, px, py))

    def _sprite_positions(self, t: float) -> list[tuple[_Patch, int, int, int]]:
        W, H, T = self.W, self.H, self.look.path_period_s
        out = []
        for patch, D, fx, fy, px, py in self.sprites:
            ax, ay = max(0.0, (W - D) / 2 * 0.9), max(0.0, (H - D) / 2 * 0.85)
            cx = W / 2 + ax * math.sin(2 * math.pi * (fx * t / T + px))
            cy = H / 2 + ay * math.sin(2 * math.pi * (fy * t / T + py))
            x, y = int(cx - D / 2), int(cy - D / 2)
            out.append((patch, y - y % 2, x - x % 2, D))
        return out

    # -- static text layers ---------------------------------------------------------------------

    def _init_overlays(self) -> None:
        with _TEXT_LOCK:
            self._draw_overlays()

    def _draw_overlays(self) -> None:
        W, H, s, spec = self.W, self.H, self.s, self.spec
        pad = max(3, round(s * 0.025))
        fixed = Image.new("RGBA", (W, H))  # always fully visible: the watermark
        fading = Image.new("RGBA", (W, H))  # fades in on image-to-video

        # Watermark, centred, as large as fits.
        size = max(8, round(H * 0.2))
        font = _font(size)
        tw = _text_width(font, spec.label)
        if tw > 0.8 * W:
            size = max(6, int(size * 0.8 * W / tw))
            font = _font(size)
        ImageDraw.Draw(fixed).text(
            (W / 2, H * 0.47),
            spec.label,
            font=font,
            anchor="mm",
            fill=(255, 255, 255, 118),
            stroke_width=max(1, size // 28),
            stroke_fill=(0, 0, 0, 80),
        )

        # Badge: model, seed, size; top left, leaving room for the timecode box.
        small = _font(max(8, round(s * 0.034)))
        lines = [
            f"{spec.model}  ·  seed {spec.seed}",
            f"{spec.width}x{spec.height}  ·  {spec.fps} fps  ·  {spec.seconds:g} s",
        ]
        if spec.input_image is not None:
            lines[1] += "  ·  image"
        if spec.source_key:
            lines.append(f"from {spec.source_key[:12]}")
        self._panel(fading, lines, small, (pad, pad), max_width=self.hud.box_rect[1] - 2 * pad)

        # Caption band with the prompt; bottom, above the progress bar.
        cap = _font(max(8, round(s * 0.045)))
        line_h = _font_lines(cap) + max(1, round(s * 0.006))
        text = spec.prompt if spec.prompt.strip() else "(no prompt)"
        wrapped = _wrap(text, cap, W - 4 * pad, 3 if H >= 320 else 2)
        band_h = len(wrapped) * line_h + 2 * pad
        bottom = H - self.hud.bar_h
        top = bottom - band_h
        draw = ImageDraw.Draw(fading)
        draw.rectangle((0, top, W - 1, bottom - 1), fill=(8, 8, 12, 165))
        for k, line in enumerate(wrapped):
            draw.text((2 * pad, top + pad + k * line_h), line, font=cap, fill=(255, 255, 255, 255))

        self.fixed = _patches_from_layer(fixed)
        self.fading = _patches_from_layer(fading)

    @staticmethod
    def _panel(canvas: Image.Image, lines: list[str], font, xy: tuple[int, int], max_width: float) -> None:
        lh = _font_lines(font)
        p = max(2, lh // 4)
        fitted = [_wrap(line, font, max(8.0, max_width - 2 * p), 1)[0] if line else "" for line in lines]
        w = max(_text_width(font, line) for line in fitted) + 2 * p
        h = lh * len(fitted) + 2 * p
        draw = ImageDraw.Draw(canvas)
        x, y = xy
        draw.rounded_rectangle((x, y, x + w, y + h), radius=p, fill=(8, 8, 12, 165))
        for k, line in enumerate(fitted):
            colour = (255, 255, 255, 255) if k == 0 else (215, 220, 230, 255)
            draw.text((x + p, y + p + k * lh), line, font=font, fill=colour)

    # -- per frame ------------------------------------------------------------------------------

    def fade(self, j: int) -> float:
        """Opacity of the fading overlays at local frame ``j`` (image-to-video only)."""
        return 1.0 if not self.fade_frames else min(1.0, j / self.fade_frames)

    def compose(self, i: int, j: int, planes: list[np.ndarray]) -> None:
        """Write global frame ``i`` (local frame ``j`` of this scene) into ``planes``."""
        sprites = self._sprite_positions(i / self.fps)
        f = self.fade(j)
        if f < 1.0:  # slow path, only while image-to-video overlays fade in
            for dst, src in zip(planes, self.bg):
                dst[...] = src
            if f > 0:
                for patch, y, x, _ in sprites:
                    patch.blend(planes, y, x, f)
                for patch in self.fading:
                    patch.blend(planes, fade=f)
            for patch in self.fixed:
                patch.blend(planes)
            for patch in self.hud.static:
                patch.blend(planes, fade=f)
            return
        for dst, src in zip(planes, self.base):
            dst[...] = src
        W, H = self.W, self.H
        for _, sy, sx, D in sprites:
            rect = (max(sy, 0), max(sx, 0), min(sy + D, H), min(sx + D, W))
            y0, x0, y1, x1 = rect
            if y0 >= y1 or x0 >= x1:
                continue
            planes[0][y0:y1, x0:x1] = self.bg[0][y0:y1, x0:x1]
            for k in (1, 2):
                planes[k][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2] = self.bg[k][y0 // 2 : y1 // 2, x0 // 2 : x1 // 2]
            for patch, y, x, _ in sprites:
                patch.blend(planes, y, x, clip=rect)
            for patch in self.overlays:
                patch.blend(planes, clip=rect)


class _Hud:
    """Timecode box (top right) and progress bar (bottom), shared by a clip's scenes.

    ``static`` (box and bar track) is blended into each scene's base; ``draw`` adds the
    digits (from a pre-rendered glyph atlas, luma only) and the progress fill per frame.
    """

    _TEMPLATE = "00:00.00"

    def __init__(self, width: int, height: int, fps: int, n_frames: int) -> None:
        with _TEXT_LOCK:
            self._build(width, height, fps, n_frames)

    def _build(self, width: int, height: int, fps: int, n_frames: int) -> None:
        self.W, self.H, self.fps, self.n = width, height, fps, n_frames
        s = min(width, height)
        pad = _even(max(3, round(s * 0.025)))
        font = _font(max(8, round(s * 0.034)))
        gh = _even(_font_lines(font))
        self.glyphs: dict[str, _PlanePatch] = {}
        for ch in "0123456789:.":
            cw = _even(math.ceil(_text_width(font, "0" if ch.isdigit() else ch)) + (0 if ch.isdigit() else 2))
            im = Image.new("L", (cw, gh))
            ImageDraw.Draw(im).text((cw / 2, 0), ch, font=font, fill=255, anchor="ma")
            a = np.asarray(im, dtype=np.float32) / 255.0
            self.glyphs[ch] = _PlanePatch(np.full(a.shape, 235), np.rint(a * 256))
        self.offsets = []
        x = 0
        for ch in self._TEMPLATE:
            self.offsets.append(x)
            x += self.glyphs["0" if ch.isdigit() else ch].P.shape[1]
        p = _even(max(2, gh // 4))
        box_w, box_h = x + 2 * p, gh + 2 * p
        y0, x0 = pad, width - pad - box_w
        self.box_rect = (y0, x0, y0 + box_h, x0 + box_w)
        self.text_xy = (y0 + p, x0 + p)
        self.bar_h = _even(s * 0.012)
        layer = Image.new("RGBA", (width, height))
        draw = ImageDraw.Draw(layer)
        draw.rounded_rectangle((x0, y0, x0 + box_w - 1, y0 + box_h - 1), radius=p, fill=(8, 8, 12, 175))
        draw.rectangle((0, height - self.bar_h, width - 1, height - 1), fill=(0, 0, 0, 120))
        self.static = _patches_from_layer(layer)

    @staticmethod
    def timecode(t: float) -> str:
        """``MM:SS.ss`` for ``t`` seconds."""
        m, sec = divmod(round(t * 100) / 100, 60.0)
        return f"{int(m):02d}:{sec:05.2f}"

    def draw(self, i: int, planes: list[np.ndarray], accent: tuple[int, int, int], fade: float) -> None:
        W, H, bh = self.W, self.H, self.bar_h
        fill = _even(W * (i + 1) / self.n, lo=0)
        if fill:
            planes[0][H - bh :, :fill] = accent[0]
            planes[1][(H - bh) // 2 :, : fill // 2] = accent[1]
            planes[2][(H - bh) // 2 :, : fill // 2] = accent[2]
        if fade >= 1.0:
            y, x = self.text_xy
            for ch, off in zip(self.timecode(i / self.fps), self.offsets):
                glyph = self.glyphs.get(ch)
                if glyph is not None:
                    glyph.blend(planes[0], y, x + off)


class _Plan:
    """Which scene draws which frames, plus the HUD and soundtrack for the whole clip."""

    def __init__(self, spec: RenderSpec, source: RenderSpec | None = None) -> None:
        self.spec = spec
        source = source if source is not None else _lookup(spec.source_key)
        if source is not None and source.key() != spec.source_key:
            source = None  # not the source this spec names
        self.source = source
        W, H, fps = spec.width, spec.height, spec.fps
        self.n = n = spec.frames
        self.hud = _Hud(W, H, fps, n)
        self.defects = frozenset(m for m in re.findall(r"\[defect:(\w+)\]", spec.prompt) if m in DEFECT_MARKERS)
        self.defect_span = (n // 3, max(n // 3 + 1, (2 * n) // 3))
        look_spec = dataclasses.replace(spec, seed=0) if "duplicate" in self.defects else spec
        scene = _Scene(look_spec, _make_look(look_spec, _family_id(look_spec, source)), W, H, fps, self.hud)
        self.segments: list[tuple[int, int, _Scene]] = [(0, n, scene)]
        if source is not None and source.seconds < spec.seconds - 0.5 / fps:
            n_src = min(n, max(1, round(source.seconds * fps)))
            src_look = _make_look(source, _family_id(source, _lookup(source.source_key)))
            src_scene = _Scene(source, src_look, W, H, fps, self.hud)
            self.segments = [(0, n_src, src_scene), (n_src, n, scene)]

    def scene_at(self, i: int) -> tuple[_Scene, int]:
        """The scene drawing global frame ``i`` and the frame's index within it."""
        for start, end, scene in self.segments:
            if start <= i < end:
                return scene, i - start
        start, _, scene = self.segments[-1]
        return scene, i - start

    def frame(self, i: int) -> av.VideoFrame:
        """A fresh, BT.709-tagged yuv420p frame holding global frame ``i``."""
        W, H = self.spec.width, self.spec.height
        frame = av.VideoFrame(W, H, "yuv420p")
        planes = []
        for plane, (h, w) in zip(frame.planes, ((H, W), (H // 2, W // 2), (H // 2, W // 2))):
            planes.append(np.frombuffer(plane, dtype=np.uint8).reshape(h, plane.line_size)[:, :w])
        lo, hi = self.defect_span
        planted = lo <= i < hi and self.defects
        if planted and "black" in self.defects:
            planes[0][:] = 16
            planes[1][:] = planes[2][:] = 128
            _tag_bt709(frame)
            frame.pts = i
            return frame
        shown = lo if planted and "frozen" in self.defects else i
        scene, j = self.scene_at(shown)
        scene.compose(shown, j, planes)
        self.hud.draw(shown, planes, scene.accent, scene.fade(j))
        if planted and "flicker" in self.defects and i % 2:
            y = planes[0]
            np.minimum(y, 235 - FLICKER_LEVELS, out=y)
            y += FLICKER_LEVELS
        _tag_bt709(frame)
        frame.pts = i
        return frame

    @property
    def audio_samples(self) -> int:
        """Soundtrack length in samples: exactly the video's duration at 48 kHz."""
        return round(self.n * AUDIO_RATE / self.spec.fps)

    def audio(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Mono float32 soundtrack samples ``[start, stop)``, shape (1, stop - start).

        Each scene contributes a soft chord (a slow tremolo per note); scenes crossfade over
        0.16 s; the clip fades in and out.  Any window can be computed on its own, so the
        encoder can synthesise the track block by block.
        """
        fps, total = self.spec.fps, self.audio_samples
        stop = total if stop is None else min(stop, total)
        out = np.zeros(max(0, stop - start), dtype=np.float32)
        xf = int(0.08 * AUDIO_RATE)
        for seg_start, seg_end, scene in self.segments:
            a0, a1 = round(seg_start * AUDIO_RATE / fps), round(seg_end * AUDIO_RATE / fps)
            if a1 <= a0:
                continue
            lo = max(0, a0 - xf) if seg_start else 0
            hi = min(total, a1 + xf) if seg_end < self.n else total
            w0, w1 = max(lo, start), min(hi, stop)
            if w0 >= w1:
                continue
            idx = np.arange(w0, w1, dtype=np.int64)
            t = idx / AUDIO_RATE
            look = scene.look
            lfo = _Draw("lfo", scene.spec.key())
            sig = np.zeros(idx.size, dtype=np.float32)
            for k, step in enumerate(look.chord):
                freq = 440.0 * 2 ** ((look.chord_root + step - 69) / 12)
                amp = 0.12 / (1 + 0.3 * k)
                rate, phase = lfo.uniform(0.1, 0.45), lfo.random()
                # Phases as fractions of a cycle in float64, sines in float32: exact and fast.
                trem = 1 + 0.35 * np.sin(np.float32(2 * np.pi) * np.mod(rate * t + phase, 1.0).astype(np.float32))
                tone = np.sin(np.float32(2 * np.pi) * np.mod(freq * t, 1.0).astype(np.float32))
                sig += np.float32(amp) * trem * tone
            ramp_in = int(0.25 * AUDIO_RATE) if lo == 0 else 2 * xf
            ramp_out = int(0.35 * AUDIO_RATE) if hi == total else 2 * xf
            env = np.ones(idx.size, dtype=np.float32)
            head = np.minimum((idx - lo + 0.5) / ramp_in, 1.0)
            tail = np.minimum((hi - idx - 0.5) / ramp_out, 1.0)
            env *= (np.sin(np.pi / 2 * head) ** 2).astype(np.float32)
            env *= (np.sin(np.pi / 2 * tail) ** 2).astype(np.float32)
            out[w0 - start : w1 - start] += sig * env
        return np.clip(out, -0.95, 0.95)[None, :]


# ---------------------------------------------------------------------------------------------
# Public rendering functions
# ---------------------------------------------------------------------------------------------


def _tag_bt709(obj: Any) -> None:
    """Mark a codec context or frame as BT.709, limited range (what the planes hold)."""
    for attr in ("colorspace", "color_primaries", "color_trc", "color_range"):
        try:
            setattr(obj, attr, 1)  # 1 = BT.709 for the first three, MPEG (limited) for the range
        except (AttributeError, TypeError, ValueError):  # older PyAV: leave untagged
            pass


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    return Path(tmp)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = _temp_beside(path)
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _audio_packets(plan: _Plan, stream: av.audio.stream.AudioStream, out: queue.Queue) -> None:
    """Worker: synthesise and AAC-encode the soundtrack, putting packets on ``out``.

    PyAV releases the GIL while encoding, so this overlaps the video work.  Ends with
    ``None`` (or the exception, then ``None``).
    """
    try:
        total = plan.audio_samples
        block = 64 * AUDIO_FRAME  # ~1.4 s per synthesis block, a whole number of AAC frames
        for b0 in range(0, total, block):
            samples = plan.audio(b0, b0 + block)
            for pos in range(0, samples.shape[1], AUDIO_FRAME):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, pos : pos + AUDIO_FRAME]), format="fltp", layout=AUDIO_LAYOUT
                )
                frame.sample_rate = AUDIO_RATE
                frame.pts = b0 + pos
                frame.time_base = Fraction(1, AUDIO_RATE)
                for packet in stream.encode(frame):
                    out.put(packet)
        for packet in stream.encode(None):
            out.put(packet)
    except BaseException as exc:  # noqa: BLE001 - re-raised in the muxing thread
        out.put(exc)
    finally:
        out.put(None)


def _encode(plan: _Plan, out: Path) -> None:
    """Encode ``plan`` into an MP4 at ``out`` (H.264 + optional AAC, faststart)."""
    spec = plan.spec
    fps = spec.fps
    with av.open(str(out), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
        vs = container.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = spec.width, spec.height, "yuv420p"
        vs.time_base = Fraction(1, fps)
        cc = vs.codec_context
        cc.time_base = Fraction(1, fps)
        cc.thread_count = X264_THREADS
        cc.thread_type = "SLICE"  # fixed slicing: same bitstream on any machine
        _tag_bt709(cc)
        # A keyframe at least every 4 s keeps seeking in browsers cheap.
        vs.options = {**X264_OPTIONS, "x264-params": f"keyint={4 * fps}:min-keyint={fps}:{X264_PARAMS}"}
        astream = None
        if spec.audio:
            astream = container.add_stream("aac", rate=AUDIO_RATE)
            astream.codec_context.layout = AUDIO_LAYOUT
            astream.codec_context.bit_rate = AUDIO_BITRATE
            astream.time_base = Fraction(1, AUDIO_RATE)
        # Open every codec and write the header here, before the audio worker touches its codec.
        container.start_encoding()

        packets: queue.Queue = queue.Queue()
        worker = None
        held: Any = None  # an audio packet taken from the queue but not yet due
        done = astream is None

        def mux_audio(until: float | None) -> None:
            # Always waits for the worker, so the sequence of mux calls (hence the file) does
            # not depend on thread timing: audio up to ``until`` seconds, or all of it.
            nonlocal held, done
            while not done:
                item = held if held is not None else packets.get()
                held = None
                if item is None:
                    done = True
                elif isinstance(item, BaseException):
                    raise item
                elif until is not None and item.pts is not None and float(item.pts * item.time_base) > until:
                    held = item
                    return
                else:
                    container.mux(item)

        try:
            if astream is not None:
                worker = threading.Thread(
                    target=_audio_packets, args=(plan, astream, packets), name="sorakit-render-audio", daemon=True
                )
                worker.start()
            for i in range(plan.n):
                for packet in vs.encode(plan.frame(i)):
                    container.mux(packet)
                mux_audio((i + 1) / fps)
            for packet in vs.encode(None):
                container.mux(packet)
            mux_audio(None)
        finally:
            if worker is not None:
                worker.join()


def render_video(spec: RenderSpec, path: str | os.PathLike, *, source: RenderSpec | None = None) -> RenderInfo:
    """Render ``spec`` to an MP4 at ``path`` (written to a temp file, then ``os.replace``\\ d).

    H.264 (libx264, yuv420p, BT.709 tagged) at exactly ``width`` x ``height`` with
    ``spec.frames`` frames, ``+faststart``, and a mono AAC track when ``spec.audio``.
    ``source`` is the spec behind ``spec.source_key`` if the caller has it (otherwise the
    specs created recently in this process are searched); see the module docstring.
    Raises :class:`ValueError` for an undecodable ``input_image``.
    """
    started = time.perf_counter()
    path = Path(path)
    plan = _Plan(spec, source)
    tmp = _temp_beside(path)
    try:
        _encode(plan, tmp)
        digest = hashlib.sha256()
        with open(tmp, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        size = tmp.stat().st_size
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _remember(spec)
    return RenderInfo(
        path=path,
        bytes=size,
        sha256=digest.hexdigest(),
        frames=plan.n,
        seconds=plan.n / spec.fps,
        width=spec.width,
        height=spec.height,
        fps=spec.fps,
        has_audio=spec.audio,
        render_seconds=time.perf_counter() - started,
    )


def _frame_image(plan: _Plan, index: int) -> Image.Image:
    frame = plan.frame(max(0, min(plan.n - 1, index)))
    return frame.to_image()


def render_frame(spec: RenderSpec, index: int, *, source: RenderSpec | None = None) -> Image.Image:
    """Frame ``index`` (clamped to the clip) exactly as the video shows it, as an RGB image."""
    _remember(spec)
    return _frame_image(_Plan(spec, source), index)


def render_thumbnail(
    spec: RenderSpec, path: str | os.PathLike, *, source: RenderSpec | None = None, quality: int = 80
) -> Path:
    """Write a WebP of the clip's middle frame at full size to ``path`` (atomically)."""
    path = Path(path)
    plan = _Plan(spec, source)
    buf = io.BytesIO()
    _frame_image(plan, plan.n // 2).save(buf, format="WEBP", quality=quality, method=4)
    _write_atomic(path, buf.getvalue())
    _remember(spec)
    return path


def render_spritesheet(
    spec: RenderSpec,
    path: str | os.PathLike,
    *,
    source: RenderSpec | None = None,
    frames: int = 10,
    columns: int = 5,
    tile: int = 256,
    quality: int = 80,
) -> Path:
    """Write a JPEG grid of ``frames`` evenly spaced frames, ``columns`` per row, to ``path``.

    Each tile fits in ``tile`` x ``tile`` pixels keeping the video's aspect ratio; tiles are
    in time order, left to right then top to bottom.
    """
    if frames < 1 or columns < 1 or tile < 8:
        raise ValueError(
            f"spritesheet frames={frames}, columns={columns}, tile={tile} is not allowed: "
            "frames and columns must be >= 1 and tile >= 8"
        )
    path = Path(path)
    plan = _Plan(spec, source)
    scale = min(tile / spec.width, tile / spec.height, 1.0)
    tw, th = max(1, round(spec.width * scale)), max(1, round(spec.height * scale))
    count = min(frames, plan.n)
    cols = min(columns, count)
    rows = math.ceil(count / cols)
    sheet = Image.new("RGB", (cols * tw, rows * th))
    for k in range(count):
        index = round((k + 0.5) * plan.n / count - 0.5)
        img = _frame_image(plan, index).resize((tw, th), Image.Resampling.BILINEAR, reducing_gap=2.0)
        sheet.paste(img, ((k % cols) * tw, (k // cols) * th))
    buf = io.BytesIO()
    sheet.save(buf, format="JPEG", quality=quality, optimize=True)
    _write_atomic(path, buf.getvalue())
    _remember(spec)
    return path


# ---------------------------------------------------------------------------------------------
# Content-addressed cache
# ---------------------------------------------------------------------------------------------


class RenderCache:
    """Renders each asset once per content key, under ``root``; safe to share between threads.

    Files: ``<key>.mp4``, ``<key>.webp``, ``<key>.sprites.jpg``, ``<key>.json`` (spec and
    :class:`RenderInfo`) and ``<key>.input`` (the input image, so a later remix/extend of it
    can be rendered in another process).  Concurrent callers of the same key wait for the
    one render; readers only ever see complete files (atomic rename).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        #: How many renders of each kind this cache has done (cache hits do not count).
        self.stats: dict[str, int] = {"video": 0, "thumbnail": 0, "spritesheet": 0}

    @property
    def renders(self) -> int:
        """Number of videos this cache rendered (not served from disk)."""
        return self.stats["video"]

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def _count(self, kind: str) -> None:
        with self._guard:
            self.stats[kind] += 1

    def _meta_path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def _read_meta(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._meta_path(key).read_text())
        except (OSError, ValueError):
            return None

    def source_spec(self, key: str | None) -> RenderSpec | None:
        """The spec behind ``key`` if rendered in this process or recorded under ``root``."""
        if key is None:
            return None
        spec = _lookup(key)
        if spec is not None:
            return spec
        meta = self._read_meta(key)
        if not meta or "spec" not in meta:
            return None
        fields = dict(meta["spec"])
        digest = fields.pop("input_image_sha256", None)
        image = None
        if digest:
            try:
                image = (self.root / f"{key}.input").read_bytes()
            except OSError:
                return None
        try:
            spec = RenderSpec(**fields, input_image=image)
        except (TypeError, ValueError):
            return None
        if spec.key() != key:
            return None
        _remember(spec)
        return spec

    def _record(self, spec: RenderSpec, info: RenderInfo | None = None) -> None:
        key = spec.key()
        meta = self._read_meta(key) or {"version": RENDER_VERSION, "key": key, "spec": spec.describe()}
        if info is not None:
            meta["info"] = info.to_json()
        if spec.input_image is not None and not (self.root / f"{key}.input").exists():
            _write_atomic(self.root / f"{key}.input", spec.input_image)
        _write_atomic(self._meta_path(key), json.dumps(meta, indent=1).encode())

    def video(self, spec: RenderSpec) -> RenderInfo:
        """The MP4 for ``spec``: rendered on first request, then served from disk."""
        key = spec.key()
        path = self.root / f"{key}.mp4"
        with self._lock(key + ".mp4"):
            meta = self._read_meta(key)
            if meta and "info" in meta and path.exists():
                info = RenderInfo.from_json(meta["info"])
                if info.bytes == path.stat().st_size:
                    _remember(spec)
                    return dataclasses.replace(info, path=path)
            info = render_video(spec, path, source=self.source_spec(spec.source_key))
            self._count("video")
            self._record(spec, info)
            return info

    def thumbnail(self, spec: RenderSpec) -> Path:
        """Path of the WebP thumbnail for ``spec`` (rendered once)."""
        return self._asset(spec, "thumbnail", "webp", render_thumbnail)

    def spritesheet(self, spec: RenderSpec) -> Path:
        """Path of the JPEG spritesheet for ``spec`` (rendered once)."""
        return self._asset(spec, "spritesheet", "sprites.jpg", render_spritesheet)

    def _asset(self, spec: RenderSpec, kind: str, suffix: str, fn) -> Path:
        key = spec.key()
        path = self.root / f"{key}.{suffix}"
        with self._lock(f"{key}.{suffix}"):
            if path.exists():
                return path
            fn(spec, path, source=self.source_spec(spec.source_key))
            self._count(kind)
            if not self._meta_path(key).exists():
                with self._lock(key + ".mp4"):
                    self._record(spec)
            return path
