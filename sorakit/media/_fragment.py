"""A fragmented copy of an MP4 for Media Source Extensions: remuxed with PyAV, never re-encoded.

A browser can only play a plain MP4 once its ``moov`` box (the index of every sample) and the
samples it needs are in; a Blob is only playable once complete. A *fragmented* MP4 has an empty
``moov`` (codecs, sizes, an ``mvex`` box) followed by small ``moof``+``mdat`` pairs that each
carry about a second of media, so a ``SourceBuffer`` can decode the first second while the rest
is still on its way. ``fragment(path)`` writes such a copy once (packets copied as they are:
same frames, same timestamps) and returns it with the full MIME type ``MediaSource`` needs::

    f = fragment("clip.mp4")
    f.path, f.mime, f.seconds   # .../fragments/clip-3fa9....mp4, 'video/mp4; codecs="avc1.64001f, mp4a.40.2"', 8.0

ffmpeg's mp4 muxer options used (https://ffmpeg.org/ffmpeg-formats.html#Options-8):
``movflags=empty_moov+default_base_moof+frag_keyframe`` (no samples in the ``moov``; ``moof``
offsets relative to the fragment, which MSE requires; a new fragment at each keyframe) plus
``frag_duration`` so a fragment also ends after ~1 s when keyframes are far apart (real H.264
files often have 5–10 s GOPs; the emulator's renderer puts one at most every 4 s).

The codec string (RFC 6381): H.264 is ``avc1.PPCCLL`` from bytes 1–3 of the ``avcC`` extradata
(profile, constraint flags, level; ISO/IEC 14496-15 §5.3.3.1); AAC is ``mp4a.40.N`` with N the
audio object type from the first 5 bits of the AudioSpecificConfig (2 = AAC LC; ISO/IEC 14496-3
§1.6.2.1). Anything else (webm, HEVC, no video, a broken file) raises :class:`NotFragmentable`
with the reason: the player then sends the file as it is.

Copies live in ``cache_root()/fragments`` named after the source's path, size and mtime (a
changed file gets a new copy; the old one is removed); when that folder cannot be written, in the
temp folder.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .._exceptions import NotFragmentable
from ._store import cache_root

__all__ = ["Fragment", "NotFragmentable", "fragment", "codec_string", "FRAGMENT_SECONDS"]

FRAGMENT_SECONDS = 1.0
"""Longest fragment (seconds) when keyframes are further apart."""
_MOVFLAGS = "empty_moov+default_base_moof+frag_keyframe"
_VERSION = 1  # bump when the remux changes: older copies are then redone

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class Fragment:
    """A fragmented copy of ``source`` at ``path`` (``bytes`` long) and its MSE MIME type."""

    source: str
    path: Path
    mime: str
    seconds: float
    bytes: int


def _avc1(extradata: Optional[bytes]) -> Optional[str]:
    if not extradata or len(extradata) < 4:
        return None
    if extradata[0] == 1:  # avcC: version, profile, constraints, level
        return "avc1.%02x%02x%02x" % (extradata[1], extradata[2], extradata[3])
    # Annex B (start codes): the SPS NAL (type 7) carries the same three bytes after its header
    data = bytes(extradata)
    i = data.find(b"\x00\x00\x01")
    while i != -1 and i + 7 <= len(data):
        if data[i + 3] & 0x1F == 7:
            return "avc1.%02x%02x%02x" % (data[i + 4], data[i + 5], data[i + 6])
        i = data.find(b"\x00\x00\x01", i + 3)
    return None


_AAC_PROFILES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29, "Main": 1, "LTP": 4}


def _mp4a(extradata: Optional[bytes], profile: Optional[str]) -> Optional[str]:
    if extradata and len(extradata) >= 1:
        aot = extradata[0] >> 3
        if aot == 31 and len(extradata) >= 2:  # escape: 32 + the next 6 bits
            aot = 32 + (((extradata[0] & 0x07) << 3) | (extradata[1] >> 5))
        if aot:
            return f"mp4a.40.{aot}"
    aot = _AAC_PROFILES.get(profile or "")
    return f"mp4a.40.{aot}" if aot else None


def codec_string(video, audio=None) -> str:
    """The MSE MIME type of PyAV streams ``video`` (H.264) and ``audio`` (AAC or None).

    Raises ``ValueError`` (the reason) for other codecs or when the extradata is missing."""
    vname = video.codec_context.name
    if vname != "h264":
        raise ValueError(f"video codec {vname!r} (only H.264 is streamed through MSE)")
    v = _avc1(video.codec_context.extradata)
    if v is None:
        raise ValueError("the H.264 stream has no avcC/SPS to read its profile and level from")
    codecs = [v]
    if audio is not None:
        aname = audio.codec_context.name
        if aname != "aac":
            raise ValueError(f"audio codec {aname!r} (only AAC is streamed through MSE)")
        a = _mp4a(audio.codec_context.extradata, getattr(audio.codec_context, "profile", None))
        if a is None:
            raise ValueError("the AAC stream has no AudioSpecificConfig")
        codecs.append(a)
    return f'video/mp4; codecs="{", ".join(codecs)}"'


def _key(src: Path) -> str:
    st = src.stat()
    raw = f"{_VERSION}\0{src.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]


def _writable(folder: Path) -> Optional[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".w{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
        return folder
    except OSError:
        return None


def _folder(cache_dir: Optional[Union[str, os.PathLike]]) -> Path:
    first = Path(cache_dir) if cache_dir is not None else cache_root() / "fragments"
    folder = _writable(first) or _writable(Path(tempfile.gettempdir()) / "sorakit-fragments")
    if folder is None:
        raise NotFragmentable(first, f"neither {first} nor the temp folder can be written", broken=True)
    return folder


def _lock(name: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(name, threading.Lock())


def _remux(src: Path, out: Path) -> tuple[str, float]:
    import av

    try:
        inp = av.open(str(src))
    except Exception as e:  # av.error.* (InvalidDataError, ...) and OSError
        raise NotFragmentable(src, f"cannot be read as a video ({type(e).__name__}: {e})", broken=True) from e
    with inp:
        fmt = inp.format.name or ""
        if "mp4" not in fmt.split(",") and "mov" not in fmt.split(","):
            raise NotFragmentable(src, f"container {fmt!r} is not MP4")
        videos, audios = list(inp.streams.video), list(inp.streams.audio)
        if not videos:
            raise NotFragmentable(src, "has no video stream")
        video, audio = videos[0], (audios[0] if audios else None)
        try:
            mime = codec_string(video, audio)
        except ValueError as e:
            raise NotFragmentable(src, str(e)) from e
        seconds = float(inp.duration / 1_000_000) if inp.duration else 0.0
        opts = {"movflags": _MOVFLAGS, "frag_duration": str(int(FRAGMENT_SECONDS * 1_000_000))}
        try:
            with av.open(str(out), mode="w", format="mp4", options=opts) as dst:
                pairs = {}
                for s in (video, audio):
                    if s is None:
                        continue
                    add = getattr(dst, "add_stream_from_template", None)
                    pairs[s.index] = add(s) if add else dst.add_stream(template=s)
                for packet in inp.demux([s for s in (video, audio) if s is not None]):
                    if packet.dts is None:  # the demuxer's end-of-stream flush packets
                        continue
                    packet.stream = pairs[packet.stream.index]
                    dst.mux(packet)
        except NotFragmentable:
            raise
        except Exception as e:
            raise NotFragmentable(src, f"remux failed ({type(e).__name__}: {e})", broken=True) from e
    return mime, seconds


def fragment(path: Union[str, os.PathLike], *, cache_dir: Optional[Union[str, os.PathLike]] = None) -> Fragment:
    """The fragmented copy of the MP4 at ``path`` (made on first use, then reused until the file
    changes). Raises :class:`NotFragmentable` with the reason when MSE cannot play it."""
    src = Path(path)
    if not src.is_file():
        raise NotFragmentable(src, "no such file", broken=True)
    key = _key(src)
    folder = _folder(cache_dir)
    stem = f"{src.stem[:40]}-{key}"
    out, meta = folder / f"{stem}.mp4", folder / f"{stem}.json"
    with _lock(str(out)):
        try:
            info = json.loads(meta.read_text())
            if out.stat().st_size == info["bytes"]:
                return Fragment(str(src), out, info["mime"], info["seconds"], info["bytes"])
        except (OSError, ValueError, KeyError):
            pass
        tmp = folder / f".{stem}.{os.getpid()}-{threading.get_ident()}.tmp.mp4"
        try:
            mime, seconds = _remux(src, tmp)
            size = tmp.stat().st_size
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
        mtmp = meta.with_suffix(".json.tmp")
        mtmp.write_text(json.dumps({"mime": mime, "seconds": seconds, "bytes": size, "source": str(src)}))
        os.replace(mtmp, meta)
        # older copies of the same file name (the file changed since): not needed any more
        for old in folder.glob(f"{glob.escape(src.stem[:40])}-*.json"):
            if old != meta:
                try:
                    if json.loads(old.read_text()).get("source") == str(src):
                        old.with_suffix(".mp4").unlink(missing_ok=True)
                        old.unlink(missing_ok=True)
                except (OSError, ValueError):
                    pass
        return Fragment(str(src), out, mime, seconds, size)
