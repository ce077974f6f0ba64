"""Clip facts come from the file itself: size, fps, duration, audio, bitrate, motion."""

from fractions import Fraction

import av
import numpy as np
import pytest

from sorakit.media import probe, probe_many


def make_clip(path, w=160, h=96, fps=12, frames=24, moving=True, audio=False):
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        a = None
        if audio:
            a = out.add_stream("aac", rate=44100)
            a.layout = "mono"
        for i in range(frames):
            img = np.full((h, w, 3), 30, np.uint8)
            x = (i * 5) % (w - 20) if moving else 10
            img[30:50, x:x + 20] = 250
            for packet in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        if a is not None:
            samples = int(44100 * frames / fps)
            t = np.arange(samples) / 44100
            pcm = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(pcm, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.time_base = Fraction(1, 44100)
            frame.pts = 0
            for packet in a.encode(frame):
                out.mux(packet)
            for packet in a.encode():
                out.mux(packet)
    return path


def test_facts_match_what_was_written(tmp_path):
    facts = probe(make_clip(tmp_path / "a.mp4", audio=True))
    assert (facts.width, facts.height) == (160, 96)
    assert facts.fps == pytest.approx(12)
    assert facts.seconds == pytest.approx(2.0, abs=1 / 12 + 0.05)
    assert facts.frames == 24
    assert facts.video_codec == "h264" and facts.pix_fmt == "yuv420p"
    assert facts.has_audio and facts.audio_codec == "aac"
    assert facts.bytes == (tmp_path / "a.mp4").stat().st_size
    assert facts.bitrate_kbps == pytest.approx(facts.bytes * 8 / 1000 / facts.seconds, rel=0.01)


def test_motion_score_separates_moving_from_still(tmp_path):
    moving = probe(make_clip(tmp_path / "m.mp4", moving=True))
    still = probe(make_clip(tmp_path / "s.mp4", moving=False))
    assert not moving.has_audio and moving.audio_codec is None
    assert still.motion < 0.2
    assert moving.motion > 1.0 > still.motion


def test_probe_many_keeps_a_row_for_missing_files(tmp_path):
    df = probe_many([make_clip(tmp_path / "a.mp4"), None, tmp_path / "gone.mp4"])
    assert len(df) == 3
    assert df.loc[0, "width"] == 160
    assert df.loc[1:, "width"].isna().all()


def test_not_a_video(tmp_path):
    p = tmp_path / "x.mp4"
    p.write_bytes(b"nope")
    with pytest.raises(Exception):
        probe(p)
