"""Small posters: the ledger's poster image (or a frame of the video), downscaled to a byte budget.

Posters are what a saved notebook keeps (in the ``text/html`` fallback) and what a gallery shows
before a video is played, so they stay small: JPEG (WebP in widget state), a few hundred pixels
wide, ≤ ~40 KB.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from collections import OrderedDict
from typing import Any, Mapping, Optional

from ..media._store import is_url, try_local_copy
from ._format import is_missing

__all__ = ["Poster", "poster", "data_uri"]

_CACHE: "OrderedDict[tuple, Optional[Poster]]" = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 256


class Poster:
    """Encoded image bytes with their MIME type and pixel size."""

    __slots__ = ("data", "mime", "width", "height")

    def __init__(self, data: bytes, mime: str, width: int, height: int):
        self.data, self.mime, self.width, self.height = data, mime, width, height

    @property
    def format(self) -> str:
        """``jpeg`` / ``webp`` / ``png``: the ipywidgets ``Image.format``."""
        return self.mime.split("/", 1)[1]

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Poster({self.mime}, {self.width}x{self.height}, {len(self.data)} bytes)"


def data_uri(p: Poster) -> str:
    """``data:image/jpeg;base64,...`` for an ``<img src>``."""
    return f"data:{p.mime};base64,{base64.b64encode(p.data).decode('ascii')}"


def _frame_from_video(path: str):
    """A PIL image of a frame about a third into the video (PyAV), or None."""
    try:
        import av
    except ImportError:  # pragma: no cover - av is a dependency
        return None
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            duration = float(stream.duration * stream.time_base) if stream.duration else None
            if duration and duration > 1.5:
                container.seek(int(duration / 3 / stream.time_base), stream=stream)
            for frame in container.decode(stream):
                return frame.to_image()
    except Exception:
        return None
    return None


def _encode(img, max_width: int, max_bytes: int, fmt: str = "jpeg") -> Poster:
    from PIL import Image

    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    if img.width > max_width:
        height = max(1, round(img.height * max_width / img.width))
        img = img.resize((max_width, height), Image.LANCZOS)
    quality = 82
    while True:
        buf = io.BytesIO()
        if fmt == "webp":
            img.save(buf, format="WEBP", quality=quality - 12, method=4)
        else:
            img.save(buf, format="JPEG", quality=quality, optimize=True, progressive=True)
        data = buf.getvalue()
        if len(data) <= max_bytes or quality <= 35:
            break
        quality -= 10
    if len(data) > max_bytes and img.width > 160:  # still too big: shrink further
        return _encode(img, int(img.width * 0.75), max_bytes, fmt)
    return Poster(data, f"image/{fmt}", img.width, img.height)


def _make(poster_path: Optional[str], file_path: Optional[str], max_width: int, max_bytes: int,
          fmt: str = "jpeg") -> Optional[Poster]:
    from PIL import Image

    poster_path = try_local_copy(poster_path)  # a store URL: through the read-through cache
    if poster_path:
        try:
            raw = open(poster_path, "rb").read()
            with Image.open(io.BytesIO(raw)) as im:
                have = (im.format or "").lower()
                if have == fmt and len(raw) <= max_bytes and im.width <= max_width:
                    return Poster(raw, f"image/{fmt}", im.width, im.height)
                im.load()
                return _encode(im.copy(), max_width, max_bytes, fmt)
        except Exception:
            pass
    file_path = try_local_copy(file_path)  # fetched only when there is no poster to show
    if file_path:
        img = _frame_from_video(file_path)
        if img is not None:
            return _encode(img, max_width, max_bytes, fmt)
    return None


def _stamp(path: Optional[str]) -> tuple:
    try:
        st = os.stat(path) if path else None
    except OSError:
        st = None
    return (path, st.st_mtime_ns if st else None, st.st_size if st else None)


def poster(row: Mapping[str, Any], *, max_width: int = 480, max_bytes: int = 40_000,
           fmt: str = "jpeg") -> Optional[Poster]:
    """The job's poster, at most ``max_width`` pixels wide and ``max_bytes`` bytes (None if none).

    ``fmt="webp"`` is about 40% smaller than JPEG at the same look: the widgets' posters (saved in
    widget state) use it; the ``text/html`` fallbacks and reports keep JPEG, which every viewer shows.

    Uses the ledger's ``poster_path``; falls back to a frame of ``file_path``. Results are cached
    by file, modification time and budget, so redrawing a gallery costs nothing.
    """
    pp = None if is_missing(row.get("poster_path")) else str(row.get("poster_path"))
    fp = None if is_missing(row.get("file_path")) else str(row.get("file_path"))
    if pp is None and fp is None:
        return None
    if fmt not in ("jpeg", "webp"):
        raise ValueError(f"poster fmt={fmt!r} is not allowed; allowed: 'jpeg', 'webp'")
    key = (_stamp(pp), _stamp(fp), max_width, max_bytes, fmt)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    result = _make(pp, fp, max_width, max_bytes, fmt)
    if result is None and (is_url(pp) or is_url(fp)):
        return None  # not cached: the store may be reachable next time
    with _LOCK:
        _CACHE[key] = result
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result
