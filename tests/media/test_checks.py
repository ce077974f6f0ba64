"""Clip checks on real MP4s: the emulator's clips with planted defects, and hand-made clips.

Each planted defect (black, frozen, flicker) is found in the middle third where it was planted;
clean clips of several prompts and seeds raise no alarm; the perceptual hash tells duplicates
(a seed-ignoring model) from different seeds; delivered-vs-asked flags what differs.
"""

import av
import numpy as np
import pytest

from sorakit.emulator._render import RenderSpec, render_video
from sorakit.media import ClipCheck, check_clip, hash_distance

W, H, SECONDS, FPS = 320, 180, 3.0, 24
ASKED = {"seconds": SECONDS, "width": W, "height": H, "fps": FPS, "audio": True}


def render(tmp_path, prompt, seed=7, **kw):
    spec = dict(model="sora-2", prompt=prompt, seed=seed, width=W, height=H, seconds=SECONDS, fps=FPS)
    spec.update(kw)
    path = tmp_path / f"{abs(hash((prompt, seed, tuple(kw.items()))))}.mp4"
    render_video(RenderSpec(**spec), path)
    return path


CLEAN = [("a red fox trotting through fresh snow", 1), ("a red fox trotting through fresh snow", 2),
         ("a heron standing in a misty lake at dawn", 3), ("neon city street at night, rain", 4),
         ("", 5)]


@pytest.mark.parametrize("prompt,seed", CLEAN)
def test_clean_clips_raise_no_alarm(tmp_path, prompt, seed):
    r = check_clip(render(tmp_path, prompt, seed), ASKED)
    assert r.defects == ()
    assert (r.black_s, r.frozen_s, r.cuts, r.mismatch) == (0.0, 0.0, 0, "")
    assert r.flicker > 0.99 and 0 < r.motion < 2
    assert (r.width, r.height, r.fps, r.frames, r.has_audio) == (W, H, FPS, 72, True)
    assert abs(r.seconds - SECONDS) < 0.05
    assert len(r.phash) == 16 and int(r.phash, 16) >= 0


def test_black_stretch_is_found_where_planted(tmp_path):
    r = check_clip(render(tmp_path, "a red fox [defect:black]"), ASKED)
    assert r.defects == ("black",)
    assert r.black_s == pytest.approx(SECONDS / 3, abs=2 / FPS)
    assert r.frozen_s == 0.0  # black frames are not counted as a frozen picture too


def test_frozen_stretch_is_found_where_planted(tmp_path):
    r = check_clip(render(tmp_path, "a red fox [defect:frozen]"), ASKED)
    assert r.defects == ("frozen",)
    assert r.frozen_s == pytest.approx(SECONDS / 3, abs=2 / FPS)
    assert r.black_s == 0.0


def test_flicker_is_found_and_lowers_the_vbench_score(tmp_path):
    clean = check_clip(render(tmp_path, "a red fox"), ASKED)
    r = check_clip(render(tmp_path, "a red fox [defect:flicker]"), ASKED)
    assert r.defects == ("flicker",)
    assert r.flicker < clean.flicker - 0.02
    assert r.flicker_luma > 5 * max(clean.flicker_luma, 0.5)
    assert r.cuts == 0  # steady flashing is not a run of cuts


def test_duplicates_hash_alike_and_seeds_differ(tmp_path):
    a = check_clip(render(tmp_path, "a fox [defect:duplicate]", seed=1))
    b = check_clip(render(tmp_path, "a fox [defect:duplicate]", seed=2))
    assert hash_distance(a.phash, b.phash) == 0
    c = check_clip(render(tmp_path, "a fox", seed=1))
    d = check_clip(render(tmp_path, "a fox", seed=2))
    assert hash_distance(c.phash, d.phash) > 10
    same = check_clip(render(tmp_path, "a fox", seed=1))
    assert same.phash == c.phash
    assert hash_distance(None, c.phash) is None


def test_delivered_vs_asked(tmp_path):
    path = render(tmp_path, "a red fox", audio=False)
    r = check_clip(path, {"seconds": 8, "width": 1280, "height": 720, "fps": 30, "audio": True})
    assert r.defects == ("mismatch",)
    assert r.mismatch == "seconds 3 (asked 8); size 320x180 (asked 1280x720); fps 24 (asked 30); no audio (asked)"
    assert check_clip(path, {"seconds": 3.02, "width": W, "height": H, "audio": False}).mismatch == ""
    assert check_clip(path, {"seconds": float("nan"), "width": None}).mismatch == ""  # unknown: not judged


def _write(path, frames, fps=24):
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps)
        v.height, v.width = frames[0].shape[:2]
        v.pix_fmt = "yuv420p"
        for img in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in v.encode():
            out.mux(p)
    return path


def _scene(rng_seed, i, h=96, w=160, base=None):
    rng = np.random.default_rng(rng_seed)
    img = (rng.integers(0, 255, (h // 8, w // 8, 3)).repeat(8, 0).repeat(8, 1)).astype(np.uint8)
    if base is not None:
        img[:] = base
    x = (i * 3) % (w - 16)
    img[40:56, x:x + 16] = 255
    return img


def test_hard_cuts_are_counted_and_a_dark_scene_is_not_black(tmp_path):
    frames = [_scene(1, i) for i in range(24)] + [_scene(2, i) for i in range(24)] + [_scene(3, i) for i in range(24)]
    r = check_clip(_write(tmp_path / "cuts.mp4", frames))
    assert r.cuts == 2 and r.defects == ()
    dark = [(_scene(0, i) // 6).astype(np.uint8) for i in range(48)]  # a night scene, still moving
    r = check_clip(_write(tmp_path / "dark.mp4", dark))
    assert r.black_s == 0.0 and r.frozen_s == 0.0


def test_round_trip_and_no_video(tmp_path):
    r = check_clip(render(tmp_path, "a red fox"))
    assert ClipCheck.from_dict(r.as_dict()) == r
    wav = tmp_path / "a.m4a"
    with av.open(str(wav), "w") as out:
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 4800), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        for p in [*a.encode(frame), *a.encode()]:
            out.mux(p)
    with pytest.raises(ValueError, match="no video stream"):
        check_clip(wav)
