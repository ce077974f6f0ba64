"""Streaming downloads into a content-addressed cache, and small poster images.

```
media_dir/
├── .partial-<random>          while a download streams (same file system: rename is atomic)
└── ab/
    ├── ab12…ef.mp4            the video, named by its sha256
    └── ab12…ef.poster.jpg     its poster (≤ ~40 KB), or .poster.webp from the provider
```
A file appears under its final name only when complete: bytes are written to a temporary file in
the cache directory, flushed and fsynced, then renamed (atomic on POSIX and Windows), and the
directory is fsynced. A download with fewer bytes than ``Content-Length`` raises
`IncompleteDownload` and leaves nothing behind. The ledger stores paths and hashes, never bytes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import os
import re
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Optional, Union

import httpx

from .._exceptions import IncompleteDownload  # noqa: F401 (raised here, re-exported by sorakit.media)

__all__ = [
    "Download",
    "IncompleteDownload",
    "cache_path",
    "download",
    "make_poster",
    "poster_from_image",
    "poster_from_video",
    "store_bytes",
]

POSTER_MAX_BYTES = 40_000
POSTER_WIDTH = 320
_POSTER_EXTS = (".jpg", ".png", ".webp")  # what `poster_from_image` / `_encode_small` write, sorted
_SUFFIX_OF_TYPE = {
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov",
    "image/webp": ".webp", "image/jpeg": ".jpg", "image/png": ".png",
}


@dataclass(frozen=True)
class Download:
    """A file in the cache: where, its sha256, its size and the server's content type."""

    path: Path
    sha256: str
    bytes: int
    content_type: Optional[str] = None
    poster: Optional[Path] = None
    """Its poster, when `download` was asked to make one (``poster=True``; None if none could be made)."""


_SUFFIX = re.compile(r"(\.[A-Za-z0-9]{1,10})?")
_SHA = re.compile(r"[0-9a-f]{64}")


def check_suffix(suffix: str) -> str:
    """``suffix`` when it is a plain file extension (``.mp4``; empty allowed), else `ValidationError`:
    a suffix with a separator or ``..`` (``"/../../x"``) would put the file outside the cache."""
    if not isinstance(suffix, str) or not _SUFFIX.fullmatch(suffix):
        from .._exceptions import ValidationError

        raise ValidationError("suffix", suffix, "'' or a dot and 1-10 letters or digits, such as '.mp4'")
    return suffix


def cache_path(media_dir: str | os.PathLike, sha256: str, suffix: str = ".mp4") -> Path:
    """``media_dir/<sha[:2]>/<sha><suffix>`` (always inside ``media_dir``)."""
    if not isinstance(sha256, str) or not _SHA.fullmatch(sha256):
        from .._exceptions import ValidationError

        raise ValidationError("sha256", sha256, "64 lower-case hex digits")
    return Path(media_dir) / sha256[:2] / f"{sha256}{check_suffix(suffix)}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _commit(tmp: Path, final: Path) -> Path:
    """fsynced temp file -> final name (atomic); an identical file already there is kept."""
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():
        tmp.unlink(missing_ok=True)
        return final
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return final


def _seal(f, tmp: Path, final: Path) -> Path:
    """Flush, fsync and close the temp file, then `_commit` it under its final name: one trip to a
    worker thread for the whole blocking end of a download (bench/cpu.py: each trip costs CPU)."""
    f.flush()
    os.fsync(f.fileno())
    f.close()
    return _commit(tmp, final)


async def _thumbnail(thumbnail: Union[bytes, Callable[[], Awaitable[Optional[bytes]]], None]) -> Optional[bytes]:
    return await thumbnail() if callable(thumbnail) else thumbnail


def _seal_and_poster(f, tmp: Path, final: Path, poster: bool,
                     thumbnail: Optional[bytes]) -> tuple[Path, Optional[Path]]:
    final = _seal(f, tmp, final)
    return final, make_poster(final, thumbnail) if poster else None


def _store_and_poster(data: bytes, media_dir: str | os.PathLike, suffix: str, poster: bool,
                      thumbnail: Optional[bytes]) -> Download:
    got = store_bytes(data, media_dir, suffix)
    return dataclasses.replace(got, poster=make_poster(got.path, thumbnail)) if poster else got


def store_bytes(data: bytes, media_dir: str | os.PathLike, suffix: str = ".bin") -> Download:
    """Write ``data`` into the cache under its sha256 (atomic; no-op when already present)."""
    check_suffix(suffix)
    media_dir = Path(media_dir)
    media_dir.mkdir(parents=True, exist_ok=True)
    sha = hashlib.sha256(data).hexdigest()
    final = cache_path(media_dir, sha, suffix)
    if not final.exists():
        tmp = media_dir / f".partial-{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _commit(tmp, final)
    return Download(final, sha, len(data))


def _suffix_for(content_type: Optional[str], default: str) -> str:
    if not content_type:
        return default
    return _SUFFIX_OF_TYPE.get(content_type.split(";")[0].strip().lower(), default)


async def download(
    client: httpx.AsyncClient,
    request: httpx.Request,
    media_dir: str | os.PathLike,
    *,
    suffix: Optional[str] = None,
    raise_for_error: Optional[Callable[[httpx.Response], None]] = None,
    chunk_size: int = 1 << 16,
    decode: Optional[Callable[[httpx.Response], bytes]] = None,
    poster: bool = False,
    thumbnail: Union[bytes, Callable[[], Awaitable[Optional[bytes]]], None] = None,
) -> Download:
    """Stream ``request``'s body into the cache and return where it landed.

    ``suffix`` defaults from the content type (``.mp4`` when unknown). A non-2xx answer is read
    and passed to ``raise_for_error`` (the provider's error mapping), else `httpx.HTTPStatusError`.
    Fewer bytes than ``Content-Length`` raise `IncompleteDownload`; nothing is left on disk.
    ``decode`` (for APIs that answer with the file inline in a JSON document) reads the whole
    answer and returns the file's bytes, which are stored instead of the body.
    A ``suffix`` that is not a plain extension is refused (`ValidationError`) before anything is sent.
    ``poster``: also make the file's poster (`make_poster`, from ``thumbnail`` when given: bytes, or
    a coroutine function fetching them, awaited only once the body arrived whole) in the same
    worker-thread trip that seals the file (``Download.poster``): a trip to a thread costs more CPU
    than the stat that usually finds the poster there (bench/cpu.py).
    """
    if suffix is not None:
        check_suffix(suffix)
    if decode is not None:
        response = await client.send(request)
        if not response.is_success:
            if raise_for_error is not None:
                raise_for_error(response)
            response.raise_for_status()
        data = decode(response)
        thumb = await _thumbnail(thumbnail) if poster else None
        return await asyncio.to_thread(_store_and_poster, data, media_dir, suffix or ".mp4", poster, thumb)
    media_dir = Path(media_dir)
    media_dir.mkdir(parents=True, exist_ok=True)
    tmp = media_dir / f".partial-{uuid.uuid4().hex}"
    response = await client.send(request, stream=True)
    try:
        if not response.is_success:
            await response.aread()
            if raise_for_error is not None:
                raise_for_error(response)
            response.raise_for_status()
        expected = response.headers.get("content-length")
        encoded = response.headers.get("content-encoding", "identity").lower() not in ("identity", "")
        h = hashlib.sha256()
        size = 0
        with open(tmp, "wb") as f:
            # identity-encoded (a video almost always is): the chunks as they come off the socket,
            # without httpx's decoder and re-chunking layers
            raw = not encoded and not response.is_stream_consumed  # (a body already in memory: aiter_bytes)
            chunks = response.aiter_raw() if raw else response.aiter_bytes(chunk_size)
            async for chunk in chunks:
                f.write(chunk)
                h.update(chunk)
                size += len(chunk)
            if expected is not None and not encoded and expected.isdigit() and size < int(expected):
                raise IncompleteDownload(str(request.url), int(expected), size)
            sha = h.hexdigest()
            ctype = response.headers.get("content-type")
            thumb = await _thumbnail(thumbnail) if poster else None
            final, made = await asyncio.to_thread(
                _seal_and_poster, f, tmp, cache_path(media_dir, sha, suffix or _suffix_for(ctype, ".mp4")),
                poster, thumb)
        return Download(final, sha, size, ctype, made)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        await response.aclose()


# -- posters -------------------------------------------------------------------------------------
def _encode_small(img, dest_stem: Path) -> Path:
    """Resize to POSTER_WIDTH and save as JPEG no larger than POSTER_MAX_BYTES."""
    from PIL import Image

    img = img.convert("RGB")
    if img.width > POSTER_WIDTH:
        img = img.resize((POSTER_WIDTH, max(1, round(img.height * POSTER_WIDTH / img.width))),
                         Image.Resampling.LANCZOS)
    data = b""
    for quality in (75, 65, 55, 45, 35, 25):
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, optimize=True)
        data = buf.getvalue()
        if len(data) <= POSTER_MAX_BYTES:
            break
    else:
        img.thumbnail((POSTER_WIDTH // 2, POSTER_WIDTH // 2))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=40)
        data = buf.getvalue()
    dest = dest_stem.with_name(dest_stem.name + ".poster.jpg")
    tmp = dest.parent / f".partial-{uuid.uuid4().hex}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(data)
    return _commit(tmp, dest)


def _image_ext(data: bytes) -> Optional[str]:
    """The file extension of WebP / JPEG / PNG bytes, from their magic numbers (no decoding)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    return None


def poster_from_image(data: bytes, video_path: str | os.PathLike) -> Path:
    """Store a provider thumbnail beside the video: as is when small (not even decoded), else
    re-encoded to a small JPEG."""
    from PIL import Image

    video_path = Path(video_path)
    stem = video_path.with_suffix("")
    ext = _image_ext(data)
    if ext is not None and len(data) <= POSTER_MAX_BYTES:
        dest = stem.with_name(stem.name + ".poster" + ext)
        tmp = dest.parent / f".partial-{uuid.uuid4().hex}"
        tmp.write_bytes(data)
        return _commit(tmp, dest)
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return _encode_small(img, stem)


def poster_from_video(video_path: str | os.PathLike, at: float = 1 / 3) -> Path:
    """Extract one frame (at fraction ``at`` of the clip, nearest keyframe) with PyAV -> small JPEG."""
    import av

    video_path = Path(video_path)
    with av.open(str(video_path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frame = None
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration:
            duration = container.duration / 1_000_000
        if duration and at > 0:
            try:
                container.seek(int(duration * at / stream.time_base), stream=stream, backward=True)
            except (av.error.FFmpegError, OverflowError, ValueError):  # pragma: no cover - odd files
                container.seek(0)
        for frame in container.decode(stream):
            break
        if frame is None:
            raise ValueError(f"{video_path} has no decodable frame")
        img = frame.to_image()
    return _encode_small(img, video_path.with_suffix(""))


def make_poster(video_path: str | os.PathLike, thumbnail: bytes | None = None) -> Optional[Path]:
    """The poster for a cached video: the provider's thumbnail when given, else a frame.

    Returns None (never raises) when neither works: a missing poster must not fail a job.
    Videos are named by their sha256, so a poster already beside the same content is reused
    (a re-generated identical clip is not decoded again).
    """
    stem = Path(video_path).with_suffix("")
    for ext in _POSTER_EXTS:  # the names this module writes (a glob compiled a pattern per job)
        existing = stem.with_name(stem.name + ".poster" + ext)
        try:
            if stat.S_ISREG((st := existing.stat()).st_mode) and st.st_size > 0:
                return existing
        except OSError:
            pass
    if thumbnail:
        try:
            return poster_from_image(thumbnail, video_path)
        except Exception:
            pass
    try:
        return poster_from_video(video_path)
    except Exception:
        return None
