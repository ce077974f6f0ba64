"""The fragmented copy for MSE: a remux (same packets, same streams) whose boxes a SourceBuffer
takes one ~1 s fragment at a time, with the codec string the browser is asked about."""

import struct

import av
import numpy as np
import pytest

from sorakit.emulator._render import RenderSpec, render_video
from sorakit.media import FRAGMENT_SECONDS, NotFragmentable, fragment
from sorakit.media._fragment import _avc1, _mp4a


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[str, int, int]]:
    """Top-level ISO-BMFF boxes in ``data[start:end]`` as (type, offset, size)."""
    end = len(data) if end is None else end
    out, i = [], start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        if size == 1:
            size = struct.unpack(">Q", data[i + 8:i + 16])[0]
        elif size == 0:
            size = end - i
        out.append((kind.decode("latin-1"), i, size))
        i += size
    return out


def packets(path) -> dict[str, list[tuple[float, bytes, bool]]]:
    """Per stream type: (pts in seconds, payload, keyframe) of every packet, in decode order."""
    with av.open(str(path)) as c:
        out: dict = {}
        for p in c.demux():
            if p.dts is not None:
                out.setdefault(p.stream.type, []).append((float(p.pts * p.time_base), bytes(p), p.is_keyframe))
        return out


def same_packets(a: dict, b: dict) -> None:
    """The same payloads and keyframes per stream, and the same timing: a remux may shift the
    timeline (a fragment cannot start before 0, so ffmpeg moves AAC's priming packet at -1024
    samples, or B-frames' negative decode times, to 0 and every stream with it) but keeps every
    gap and the audio/video sync."""
    assert set(a) == set(b)
    shift = {}
    for kind in a:
        assert [(d, k) for _, d, k in a[kind]] == [(d, k) for _, d, k in b[kind]], kind
        ta, tb = [t for t, _, _ in a[kind]][1:], [t for t, _, _ in b[kind]][1:]
        shift[kind] = tb[0] - ta[0]
        assert [y - x for x, y in zip(ta, tb)] == pytest.approx([shift[kind]] * len(ta), abs=1e-4), kind
    assert max(shift.values()) - min(shift.values()) < 1e-3  # in sync as before
    assert max(abs(v) for v in shift.values()) < 0.25  # a few frames' reorder delay at most


def encode(path, *, w=160, h=96, fps=24, seconds=2.0, keyint=None, codec="libx264", fmt=None, options=None):
    """A small synthetic clip (a moving square), written with PyAV."""
    with av.open(str(path), "w", format=fmt) as out:
        v = out.add_stream(codec, rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        opts = dict(options or {})
        if keyint:
            opts["x264-params"] = f"keyint={keyint}:min-keyint={keyint}:scenecut=0"
        v.options = opts
        for i in range(int(seconds * fps)):
            img = np.full((h, w, 3), 40, np.uint8)
            x = (i * 3) % (w - 16)
            img[20:36, x:x + 16] = 230
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    spec = dict(model="veo-3-fast", prompt="a fox in snow", seed=3, width=640, height=360, seconds=6)
    render_video(RenderSpec(**spec), d / "emulated.mp4")
    render_video(RenderSpec(**spec, audio=False), d / "silent.mp4")
    return d


def test_the_copy_is_fragmented_with_the_same_packets_and_streams(clips, tmp_path):
    src = clips / "emulated.mp4"
    f = fragment(src, cache_dir=tmp_path)
    data = f.path.read_bytes()
    top = boxes(data)
    kinds = [k for k, _, _ in top]
    assert kinds[:2] == ["ftyp", "moov"] and kinds.count("moof") >= 6 and kinds.count("moof") == kinds.count("mdat")
    _, at, size = top[1]
    inner = [k for k, _, _ in boxes(data, at + 8, at + size)]
    assert "mvex" in inner  # movie extends: the samples live in the fragments
    assert size < 4_000  # an empty moov: no sample tables of the whole clip up front
    assert f.bytes == len(data) and abs(len(data) - src.stat().st_size) < 0.05 * src.stat().st_size
    before, after = packets(src), packets(f.path)
    assert set(after) == set(before) == {"video", "audio"}
    same_packets(before, after)  # a remux: the same packets, nothing re-encoded
    with av.open(str(src)) as a, av.open(str(f.path)) as b:
        assert [s.codec_context.name for s in b.streams] == [s.codec_context.name for s in a.streams]
        assert b.streams.video[0].codec_context.extradata == a.streams.video[0].codec_context.extradata
        assert abs(b.duration - a.duration) < 100_000  # µs
    assert f.seconds == pytest.approx(6.0, abs=0.1)


def test_codec_strings_of_the_emulators_clips_and_of_a_high_profile_file(clips, tmp_path):
    f = fragment(clips / "emulated.mp4", cache_dir=tmp_path)
    with av.open(str(clips / "emulated.mp4")) as c:
        assert c.streams.video[0].codec_context.profile == "Main"  # 0x4d
    assert f.mime == 'video/mp4; codecs="avc1.4d401e, mp4a.40.2"'  # Main, level 3.0; AAC LC
    assert fragment(clips / "silent.mp4", cache_dir=tmp_path).mime == 'video/mp4; codecs="avc1.4d401e"'
    high = encode(tmp_path / "high.mp4", w=1280, h=720, seconds=0.5, options={"preset": "veryfast"})
    with av.open(str(high)) as c:
        assert c.streams.video[0].codec_context.profile == "High"
    assert fragment(high, cache_dir=tmp_path).mime == 'video/mp4; codecs="avc1.64001f"'  # High, level 3.1


def test_codec_string_parsers():
    assert _avc1(bytes([1, 0x64, 0x00, 0x28, 0xFF])) == "avc1.640028"
    annex_b = b"\x00\x00\x00\x01\x67\x42\xc0\x1e\x95" + b"\x00\x00\x00\x01\x68\xce"
    assert _avc1(annex_b) == "avc1.42c01e"
    assert _avc1(b"") is None and _avc1(b"\x00\x00\x01\x68\x01\x02\x03") is None
    assert _mp4a(bytes([0x12, 0x10]), None) == "mp4a.40.2"  # AAC LC, 44.1 kHz
    assert _mp4a(bytes([0x2B, 0x92]), None) == "mp4a.40.5"  # HE-AAC (SBR)
    assert _mp4a(b"", "LC") == "mp4a.40.2" and _mp4a(None, None) is None


def test_long_gops_still_give_one_second_fragments(tmp_path):
    src = encode(tmp_path / "gop.mp4", seconds=12, keyint=240)  # one keyframe every 10 s
    assert sum(k for _, _, k in packets(src)["video"]) == 2
    f = fragment(src, cache_dir=tmp_path / "cache")
    moofs = [k for k, _, _ in boxes(f.path.read_bytes())].count("moof")
    assert moofs >= 12 / FRAGMENT_SECONDS - 1  # cut every ~second, not only at the two keyframes
    same_packets(packets(src), packets(f.path))


def test_what_cannot_be_streamed_says_why(clips, tmp_path):
    webm = encode(tmp_path / "clip.webm", codec="libvpx-vp9", fmt="webm", seconds=0.5)
    with pytest.raises(NotFragmentable) as e:
        fragment(webm, cache_dir=tmp_path / "c")
    assert "not MP4" in e.value.reason and "webm" in e.value.reason and not e.value.broken

    hevc = encode(tmp_path / "hevc.mp4", codec="libx265", seconds=0.25, options={"x265-params": "log-level=none"})
    with pytest.raises(NotFragmentable) as e:
        fragment(hevc, cache_dir=tmp_path / "c")
    assert "'hevc'" in e.value.reason and not e.value.broken

    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x01not a video" * 1000)
    with pytest.raises(NotFragmentable) as e:
        fragment(junk, cache_dir=tmp_path / "c")
    assert e.value.broken and "cannot be read as a video" in e.value.reason and str(junk) in str(e.value)

    cut = tmp_path / "cut.mp4"  # the moov (faststart: at the front) cut in half
    cut.write_bytes((clips / "emulated.mp4").read_bytes()[:600])
    with pytest.raises(NotFragmentable) as e:
        fragment(cut, cache_dir=tmp_path / "c")
    assert e.value.broken

    with pytest.raises(NotFragmentable) as e:
        fragment(tmp_path / "nowhere.mp4", cache_dir=tmp_path / "c")
    assert e.value.reason == "no such file"
    assert not list((tmp_path / "c").glob("*.tmp.mp4"))  # failed remuxes leave nothing behind


def test_the_copy_is_reused_and_redone_when_the_file_changes(clips, tmp_path, monkeypatch):
    import shutil

    from sorakit.media import _fragment

    src = tmp_path / "clip.mp4"
    shutil.copy(clips / "emulated.mp4", src)
    calls = []
    real = _fragment._remux
    monkeypatch.setattr(_fragment, "_remux", lambda s, o: calls.append(s) or real(s, o))
    cache = tmp_path / "cache"
    first = fragment(src, cache_dir=cache)
    again = fragment(src, cache_dir=cache)
    assert again == first and len(calls) == 1  # reused, not remuxed again

    shutil.copy(clips / "silent.mp4", src)  # the file changed (size and mtime)
    changed = fragment(src, cache_dir=cache)
    assert len(calls) == 2 and changed.path != first.path and changed.mime == 'video/mp4; codecs="avc1.4d401e"'
    assert not first.path.exists()  # the stale copy is removed
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".mp4"]

    changed.path.write_bytes(b"truncated")  # a damaged copy is redone, not served
    assert fragment(src, cache_dir=cache).bytes == changed.bytes and len(calls) == 3


def test_an_unwritable_cache_falls_back_to_the_temp_folder(clips, tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder should be")
    f = fragment(clips / "emulated.mp4", cache_dir=blocked / "fragments")
    assert f.path.parent == tmp_path / "tmp" / "sorakit-fragments" and f.path.is_file()


def test_default_cache_folder_follows_sorakit_cache(clips, tmp_path, monkeypatch):
    monkeypatch.setenv("SORAKIT_CACHE", str(tmp_path / "sc"))
    f = fragment(clips / "emulated.mp4")
    assert f.path.parent == tmp_path / "sc" / "fragments"
