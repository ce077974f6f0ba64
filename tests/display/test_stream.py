"""The kernel's side of the stream protocol: on ``open`` a view that has MSE is offered the
fragmented copy of a long MP4 (``stream``: size and MIME with codecs) and fetches its chunks with
``src: "stream"``; small files, a view without MSE, ``mse = False`` and files that cannot be
remuxed get the file as it is (the Blob path), with a note when the remux broke."""

import base64

import av
import pytest

from sorakit.display import _player
from sorakit.display._player import VideoPlayer
from sorakit.emulator._render import RenderSpec, render_video
from support.frontend import FakeView


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "clip.mp4"
    render_video(RenderSpec(model="veo-3-fast", prompt="a lighthouse", seed=5, width=640, height=360, seconds=8), path)
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SORAKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def row(path):
    return {"job_id": "j1", "status": "completed", "file_path": str(path), "prompt": "a lighthouse"}


def test_a_long_mp4_is_offered_as_a_stream_to_a_view_with_mse(clip, cache, tmp_path, monkeypatch):
    monkeypatch.setattr(_player, "MSE_MIN_BYTES", 1)  # the emulator's 8 s clip counts as long here
    p = VideoPlayer(row(clip))
    view = FakeView(p)
    data = view.fetch(mse=True)
    stream = view.meta["stream"]
    assert stream["mime"] == 'video/mp4; codecs="avc1.4d401e, mp4a.40.2"' and stream["seconds"] == pytest.approx(8, abs=0.1)
    assert view.meta["size"] == clip.stat().st_size and view.meta["ahead"] == _player.AHEAD_SECONDS
    assert len(data) == stream["size"] and data != clip.read_bytes()
    [copy] = (cache / "fragments").glob("*.mp4")
    assert data == copy.read_bytes() and b"moof" in data
    out = tmp_path / "got.mp4"
    out.write_bytes(data)
    with av.open(str(out)) as c:  # what the view assembled is a playable video with both streams
        assert [s.type for s in c.streams] == ["video", "audio"] and sum(1 for _ in c.decode(video=0)) == 192
    assert p.bytes_sent == len(data) and p.chunks_sent == -(-len(data) // _player.CHUNK)
    assert "note" not in view.meta

    blob = FakeView(VideoPlayer(row(clip)), view="v2")  # a browser without MSE: the file itself
    assert blob.fetch(mse=False) == clip.read_bytes() and "stream" not in blob.meta


def test_small_files_and_mse_off_take_the_blob_path(clip, cache, monkeypatch):
    assert clip.stat().st_size < _player.MSE_MIN_BYTES  # 8 s of the emulator: one round of requests
    view = FakeView(VideoPlayer(row(clip)))
    assert view.fetch(mse=True) == clip.read_bytes() and "stream" not in view.meta
    assert not (cache / "fragments").exists()  # nothing remuxed for it

    monkeypatch.setattr(_player, "MSE_MIN_BYTES", 1)
    off = VideoPlayer(row(clip))
    off.mse = False  # what the benchmark uses to time the Blob path
    view = FakeView(off)
    assert view.fetch(mse=True) == clip.read_bytes() and "stream" not in view.meta


def test_a_file_that_cannot_be_remuxed_plays_as_it_is_with_a_note(clip, tmp_path, monkeypatch):
    monkeypatch.setattr(_player, "MSE_MIN_BYTES", 1)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[:700])  # the moov cut off: not remuxable
    view = FakeView(VideoPlayer(row(broken)))
    assert view.fetch(mse=True) == broken.read_bytes() and "stream" not in view.meta
    assert view.meta["note"].startswith("streaming unavailable (") and "whole file" in view.meta["note"]

    webm = tmp_path / "clip.webm"  # another container: the Blob path without a note (nothing broke)
    webm.write_bytes(b"\x1aE\xdf\xa3" + b"\x00" * 64)
    view = FakeView(VideoPlayer(row(webm)))
    view.fetch(mse=True)
    assert "stream" not in view.meta and view.meta["mime"] == "video/webm"


def test_stream_chunks_are_checked_and_the_copy_is_made_again_if_it_went(clip, cache, monkeypatch):
    monkeypatch.setattr(_player, "MSE_MIN_BYTES", 1)
    p = VideoPlayer(row(clip))
    view = FakeView(p)
    view.fetch(mse=True)
    [(err, _)] = view.ask({"type": "chunk", "offset": 0, "length": 10, "src": "elsewhere"})
    assert err["type"] == "error" and "src='elsewhere'" in err["text"]
    for f in (cache / "fragments").iterdir():
        f.unlink()
    [(msg, [buf])] = view.ask({"type": "chunk", "offset": 0, "length": 100, "src": "stream"})
    assert msg["src"] == "stream" and bytes(buf)[4:8] == b"ftyp"  # remade on demand, not an error

    fresh = FakeView(VideoPlayer(row(clip)), view="v3")  # a stream chunk without an open first
    [(msg, [buf])] = fresh.ask({"type": "chunk", "offset": 0, "length": 100, "src": "stream"})
    assert msg["type"] == "chunk" and bytes(buf)[4:8] == b"ftyp"


def test_the_start_up_probe_answers_with_the_probe_bytes(clip):
    p = VideoPlayer(row(clip))
    view = FakeView(p)
    [(pong, buffers)] = view.ask({"type": "ping"})
    assert pong == {"type": "pong", "view": "v1", "tile": -1} and [bytes(b) for b in buffers] == [_player.PROBE]
    assert _player.PROBE == bytes([0, 255, 115, 107])  # PROBE in stage.js: the page compares these bytes
    assert "const PROBE = [0, 255, 115, 107];" in _player.player_esm()
    assert view.probe() == "binary" and FakeView(p, "v2", strip=True).probe() == "base64"
    assert p.chunks_sent == 0 and p.bytes_sent == 0  # a probe costs no video bytes


def test_without_binary_buffers_the_chunks_come_as_base64_text(clip, cache, monkeypatch):
    """A view whose widget manager drops binary buffers asks with ``b64: true``: every chunk is JSON
    text, no buffer, and decodes to the same bytes (the file for the Blob path, the fragmented copy
    for MSE)."""
    p = VideoPlayer(row(clip))
    view = FakeView(p, strip=True)
    assert view.fetch(mse=False) == clip.read_bytes()
    chunks = [(m, b) for m, b in view.sent if m["type"] == "chunk"]
    assert chunks and all(b == [] and "b64" in m for m, b in chunks)
    assert p.b64_chunks_sent == p.chunks_sent == len(chunks) == -(-clip.stat().st_size // _player.CHUNK)
    assert p.bytes_sent == clip.stat().st_size  # counts the video's bytes, not the base64 text

    monkeypatch.setattr(_player, "MSE_MIN_BYTES", 1)
    monkeypatch.setattr(_player, "CHUNK", 64 * 1024)  # several chunks, so offsets beyond 0 are checked
    s = VideoPlayer(row(clip))
    streamed = FakeView(s, strip=True).fetch(mse=True)
    [copy] = (cache / "fragments").glob("*.mp4")
    assert streamed == copy.read_bytes() and s.b64_chunks_sent == s.chunks_sent > 1

    mixed = FakeView(VideoPlayer(row(clip)), "v3")  # a view with buffers is not affected by another's mode
    assert mixed.fetch(mse=False) == clip.read_bytes() and mixed.player.b64_chunks_sent == 0


def test_a_base64_request_is_only_honoured_when_it_says_true(clip):
    p = VideoPlayer(row(clip))
    view = FakeView(p)
    view.ask({"type": "open", "mse": False})
    [(msg, buffers)] = view.ask({"type": "chunk", "offset": 0, "length": 1024, "src": "file", "b64": "yes"})
    assert "b64" not in msg and len(buffers) == 1 and bytes(buffers[0]) == clip.read_bytes()[:1024]
    [(msg, buffers)] = view.ask({"type": "chunk", "offset": 10, "length": 20, "src": "file", "b64": True})
    assert buffers == [] and base64.b64decode(msg["b64"]) == clip.read_bytes()[10:30]
