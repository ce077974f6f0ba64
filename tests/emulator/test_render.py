"""The emulator's renderer writes real, playable, deterministic video (sorakit.emulator._render)."""

from __future__ import annotations

import functools
import http.server
import io
import shutil
import struct
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from sorakit.emulator import _render
from sorakit.emulator._render import (
    RenderCache,
    RenderInfo,
    RenderSpec,
    render_frame,
    render_spritesheet,
    render_thumbnail,
    render_video,
)

SMALL = dict(model="sora-2", width=320, height=180, fps=24)


def spec(prompt: str = "a red fox in fresh snow", seed: int = 1, seconds: float = 1.0, **kw) -> RenderSpec:
    return RenderSpec(**{**SMALL, "prompt": prompt, "seed": seed, "seconds": seconds, **kw})


def probe(path: Path) -> dict:
    """Decode everything with PyAV: stream facts plus the RGB frames."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        audio = [
            {
                "codec": s.codec_context.name,
                "seconds": float(s.duration * s.time_base),
                "rate": s.codec_context.sample_rate,
            }
            for s in c.streams.audio
        ]
        facts = {
            "codec": v.codec_context.name,
            "pix_fmt": v.codec_context.pix_fmt,
            "size": (v.codec_context.width, v.codec_context.height),
            "stream_seconds": float(v.duration * v.time_base),
            "container_seconds": c.duration / 1_000_000,
            "audio": audio,
        }
        facts["frames"] = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return facts


def top_level_boxes(path: Path) -> list[str]:
    data = path.read_bytes()
    boxes, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append(kind.decode("latin-1"))
        if size < 8:
            break
        pos += size
    return boxes


def mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two images, in 0..255 units."""
    return float(np.mean(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16))))


def photo(width: int = 400, height: int = 300) -> bytes:
    """A busy test picture (gradient, shapes, text) as PNG bytes."""
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)
    rgb = np.stack(
        [np.add.outer(y * 0, x), np.add.outer(y, x * 0), np.add.outer(255 - y, x * 0) * 0.5], axis=-1
    ).astype(np.uint8)
    im = Image.fromarray(rgb)
    d = ImageDraw.Draw(im)
    d.ellipse((60, 40, 220, 200), fill=(250, 240, 20))
    d.rectangle((240, 120, 380, 280), fill=(10, 20, 200))
    d.text((20, 250), "input image", fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# -- the MP4 itself --------------------------------------------------------------------------


def test_video_is_h264_yuv420p_with_exact_size_frames_and_duration(tmp_path):
    s = spec(seconds=2.0)
    info = render_video(s, tmp_path / "a.mp4")
    facts = probe(info.path)
    assert facts["codec"] == "h264"
    assert facts["pix_fmt"] == "yuv420p"
    assert facts["size"] == (320, 180)
    assert len(facts["frames"]) == 48 == info.frames
    assert abs(facts["stream_seconds"] - 2.0) <= 1 / 24
    assert abs(facts["container_seconds"] - 2.0) <= 1 / 24
    assert info == RenderInfo(
        path=tmp_path / "a.mp4",
        bytes=info.path.stat().st_size,
        sha256=info.sha256,
        frames=48,
        seconds=2.0,
        width=320,
        height=180,
        fps=24,
        has_audio=True,
        render_seconds=info.render_seconds,
    )


def test_moov_box_comes_first_so_browsers_can_play_while_loading(tmp_path):
    info = render_video(spec(), tmp_path / "a.mp4")
    boxes = top_level_boxes(info.path)
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_frame_count_is_seconds_times_fps_rounded(tmp_path):
    info = render_video(spec(seconds=1.3, fps=10), tmp_path / "a.mp4")
    facts = probe(info.path)
    assert len(facts["frames"]) == 13 == info.frames
    assert abs(facts["stream_seconds"] - 1.3) <= 1 / 10


def test_audio_track_is_aac_with_the_video_duration(tmp_path):
    info = render_video(spec(seconds=1.5), tmp_path / "a.mp4")
    facts = probe(info.path)
    assert info.has_audio
    [audio] = facts["audio"]
    assert audio["codec"] == "aac"
    assert abs(audio["seconds"] - 1.5) <= 1 / 24
    with av.open(str(info.path)) as c:
        samples = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert np.abs(samples).max() > 0.05  # audible, not silence


def test_no_audio_stream_when_audio_is_off(tmp_path):
    info = render_video(spec(audio=False), tmp_path / "a.mp4")
    assert not info.has_audio
    assert probe(info.path)["audio"] == []


def test_same_spec_renders_identical_bytes(tmp_path):
    a = render_video(spec(seconds=1.5), tmp_path / "a.mp4")
    b = render_video(spec(seconds=1.5), tmp_path / "b.mp4")
    assert a.sha256 == b.sha256
    assert a.path.read_bytes() == b.path.read_bytes()


def test_render_writes_atomically_and_leaves_no_temp_files(tmp_path):
    render_video(spec(), tmp_path / "a.mp4")
    render_thumbnail(spec(), tmp_path / "a.webp")
    render_spritesheet(spec(), tmp_path / "a.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "a.mp4", "a.webp"]


def test_720p_clip_is_valid(tmp_path):
    """Speed is measured (median, x real time) by bench/emulator.py, not asserted here."""
    s = RenderSpec(model="sora-2", prompt="A lighthouse in a storm", seed=3, width=1280, height=720, seconds=2)
    info = render_video(s, tmp_path / "hd.mp4")
    facts = probe(info.path)
    assert facts["size"] == (1280, 720)
    assert len(facts["frames"]) == 48
    assert info.render_seconds > 0 and info.seconds == 2


# -- what the picture shows -------------------------------------------------------------------


def test_video_moves(tmp_path):
    frames = probe(render_video(spec(seconds=1.0), tmp_path / "a.mp4").path)["frames"]
    motion = np.mean([mad(a, b) for a, b in zip(frames, frames[1:])])
    assert motion > 0.2
    assert mad(frames[0], frames[-1]) > 1.0


def test_decoded_frames_match_render_frame(tmp_path):
    s = spec()
    frames = probe(render_video(s, tmp_path / "a.mp4").path)["frames"]
    assert mad(frames[10], np.asarray(render_frame(s, 10))) < 6  # only compression noise


def test_different_prompts_and_seeds_look_different():
    base = np.asarray(render_frame(spec("a red fox in fresh snow", seed=1), 12))
    other_prompt = np.asarray(render_frame(spec("neon city street at night", seed=1), 12))
    other_seed = np.asarray(render_frame(spec("a red fox in fresh snow", seed=2), 12))
    assert mad(base, other_prompt) > 15
    assert mad(base, other_seed) > 15
    assert mad(base, np.asarray(render_frame(spec("a red fox in fresh snow", seed=1), 12))) == 0


def test_image_to_video_starts_from_the_input_image(tmp_path):
    data = photo(400, 300)  # 4:3, so it must be scaled and centre-cropped to 16:9
    s = spec("make it move", input_image=data)
    frames = probe(render_video(s, tmp_path / "a.mp4").path)["frames"]
    with Image.open(io.BytesIO(data)) as im:
        expected = np.asarray(ImageOps.fit(im.convert("RGB"), (320, 180)))
    assert mad(frames[0], expected) < 12
    assert mad(frames[0], expected) < mad(np.asarray(render_frame(spec("make it move"), 0)), expected) / 3
    assert mad(frames[-1], frames[0]) > 1  # overlays faded in, shapes moved


def test_undecodable_input_image_is_a_value_error_naming_the_field(tmp_path):
    with pytest.raises(ValueError, match="input_image"):
        spec(input_image=b"not an image")  # caught when the spec is made
    truncated = spec(input_image=photo()[:2000])  # the header reads fine...
    with pytest.raises(ValueError, match="input_image"):
        render_video(truncated, tmp_path / "a.mp4")  # ...the pixels do not
    assert list(tmp_path.iterdir()) == []


def test_remix_differs_from_source_but_keeps_its_family():
    source = spec("a red fox in fresh snow", seed=5)
    remix = spec("the same fox, now at night in the rain", seed=5, source_key=source.key())
    a, b = np.asarray(render_frame(source, 12)), np.asarray(render_frame(remix, 12, source=source))
    assert mad(a, b) > 10
    look_a = _render._Plan(source).segments[-1][2].look
    look_b = _render._Plan(remix, source).segments[-1][2].look
    assert (look_a.pattern, [sh[0] for sh in look_a.shapes]) == (look_b.pattern, [sh[0] for sh in look_b.shapes])
    assert look_a.hue != look_b.hue


def test_extend_opens_with_the_source_clip_then_continues(tmp_path):
    source = spec("a red fox in fresh snow", seconds=1.0)
    render_video(source, tmp_path / "source.mp4")  # now known to the renderer
    extended = spec("the fox runs off into the forest", seconds=2.0, source_key=source.key())
    info = render_video(extended, tmp_path / "extended.mp4")
    assert info.frames == 48
    frames = probe(info.path)["frames"]
    assert mad(frames[12], np.asarray(render_frame(source, 12))) < 6  # same picture (HUD aside)
    assert mad(frames[36], np.asarray(render_frame(source, 23))) > 10  # new look after 1 s


# -- previews ---------------------------------------------------------------------------------


def test_thumbnail_is_a_webp_of_the_video_size(tmp_path):
    path = render_thumbnail(spec(), tmp_path / "t.webp")
    assert path.read_bytes()[:4] == b"RIFF" and path.read_bytes()[8:12] == b"WEBP"
    with Image.open(path) as im:
        assert im.format == "WEBP"
        assert im.size == (320, 180)


def test_spritesheet_is_a_jpeg_grid_of_evenly_sampled_frames(tmp_path):
    s = spec(seconds=2.0)
    path = render_spritesheet(s, tmp_path / "s.jpg")
    with Image.open(path) as im:
        assert im.format == "JPEG"
        assert im.size == (5 * 256, 2 * 144)  # 10 tiles, 5 per row, each fitting 256x256
        sheet = np.asarray(im.convert("RGB"))
    tiles = [sheet[r * 144 : (r + 1) * 144, c * 256 : (c + 1) * 256] for r in range(2) for c in range(5)]
    assert all(mad(a, b) > 0.5 for a, b in zip(tiles, tiles[1:]))  # time moves along the grid
    first = np.asarray(render_frame(s, 2).resize((256, 144), Image.Resampling.BILINEAR))
    assert mad(tiles[0], first) < 8


# -- validation and keys ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("width", 321),
        ("height", 0),
        ("width", 8192),
        ("seconds", 0),
        ("seconds", float("nan")),
        ("seconds", 1000),
        ("fps", 0),
        ("seed", "7"),
        ("model", ""),
        ("label", ""),
        ("label", "X" * 41),
        ("audio", "yes"),
        ("input_image", b""),
        ("source_key", ""),
    ],
)
def test_invalid_fields_raise_value_error_naming_field_value_and_rule(field, value):
    with pytest.raises(ValueError) as err:
        spec(**{field: value})
    message = str(err.value)
    assert f"RenderSpec.{field}=" in message
    assert "not allowed" in message


def test_odd_size_error_says_sizes_must_be_even():
    with pytest.raises(ValueError, match=r"width=321 .*even"):
        spec(width=321)


def test_key_is_a_stable_content_hash_of_every_field():
    s = spec()
    assert s.key() == spec().key() == spec(seconds=1).key()
    assert len(s.key()) == 64
    variants = [
        spec(prompt="other"),
        spec(seed=2),
        spec(seconds=2),
        spec(fps=30),
        spec(width=640),
        spec(audio=False),
        spec(label="DEMO"),
        spec(source_key="abc"),
        spec(input_image=photo()),
        RenderSpec(**{**SMALL, "model": "veo-3", "prompt": s.prompt, "seed": 1, "seconds": 1}),
    ]
    assert len({s.key(), *(v.key() for v in variants)}) == len(variants) + 1


# -- cache ------------------------------------------------------------------------------------


def test_cache_renders_each_key_once_even_with_concurrent_callers(tmp_path, monkeypatch):
    calls = []
    real = _render.render_video

    def slow_counting_render(spec, path, **kw):
        calls.append(spec.key())
        time.sleep(0.2)  # widen the race window
        assert not Path(path).exists()  # nobody sees the file before it is complete
        return real(spec, path, **kw)

    monkeypatch.setattr(_render, "render_video", slow_counting_render)
    cache = RenderCache(tmp_path / "cache")
    s = spec()
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        try:
            barrier.wait()
            info = cache.video(s)
            results.append((info.path, info.sha256, info.path.stat().st_size == info.bytes))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert calls == [s.key()]
    assert cache.renders == 1
    assert len(set(results)) == 1 and results[0][2]

    # A new cache on the same directory (say, after a restart) serves the file from disk.
    again = RenderCache(tmp_path / "cache")
    assert again.video(s).sha256 == results[0][1]
    assert calls == [s.key()] and again.renders == 0


def test_concurrent_renders_of_different_specs_match_sequential_ones(tmp_path):
    specs = [spec(f"prompt {i}", seed=i, input_image=photo() if i == 2 else None) for i in range(4)]
    expected = [render_video(s, tmp_path / f"seq{i}.mp4").sha256 for i, s in enumerate(specs)]
    cache = RenderCache(tmp_path / "cache")
    results: dict[int, str] = {}
    threads = [
        threading.Thread(target=lambda i=i, s=s: results.__setitem__(i, cache.video(s).sha256))
        for i, s in enumerate(specs)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(4)] == expected
    assert cache.renders == 4


def test_cache_thumbnail_and_spritesheet_render_once(tmp_path):
    cache = RenderCache(tmp_path)
    s = spec()
    thumb = cache.thumbnail(s)
    sheet = cache.spritesheet(s)
    assert cache.thumbnail(s) == thumb and cache.spritesheet(s) == sheet
    assert cache.stats == {"video": 0, "thumbnail": 1, "spritesheet": 1}
    with Image.open(thumb) as t, Image.open(sheet) as sh:
        assert (t.format, sh.format) == ("WEBP", "JPEG")


def test_cache_finds_a_remix_source_recorded_by_an_earlier_process(tmp_path, monkeypatch):
    source = spec("a red fox in fresh snow", seconds=1.0, input_image=photo())
    RenderCache(tmp_path).video(source)
    monkeypatch.setattr(_render, "_known", type(_render._known)())  # forget in-memory specs
    monkeypatch.setattr(_render, "_known_image_bytes", 0)
    assert _render._lookup(source.key()) is None
    found = RenderCache(tmp_path).source_spec(source.key())
    assert found == source


# -- a real browser ---------------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.mark.browser
def test_chromium_plays_the_video_with_audio(tmp_path):
    from conftest import require

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    require(chromium is not None, "Chromium is not installed")
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
    require(sync_api is not None, "playwright (Python) is not installed")
    render_video(spec(seconds=2.0), tmp_path / "clip.mp4")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(url + "/")
                result = page.evaluate(
                    """async (src) => {
                      const v = document.createElement('video');
                      v.muted = true; v.src = src; document.body.appendChild(v);
                      await new Promise((ok, fail) => {
                        v.oncanplay = ok;
                        v.onerror = () => fail(new Error('media error ' + (v.error && v.error.code)));
                        setTimeout(() => fail(new Error('timeout')), 15000);
                      });
                      await v.play();
                      await new Promise(r => setTimeout(r, 600));
                      const c = document.createElement('canvas');
                      c.width = v.videoWidth; c.height = v.videoHeight;
                      const ctx = c.getContext('2d'); ctx.drawImage(v, 0, 0);
                      const px = ctx.getImageData(0, 0, c.width, c.height).data;
                      let sum = 0; for (let i = 0; i < px.length; i += 4) sum += px[i] + px[i + 1] + px[i + 2];
                      return {w: v.videoWidth, h: v.videoHeight, duration: v.duration, t: v.currentTime,
                              mean: sum / (px.length / 4) / 3, audioBytes: v.webkitAudioDecodedByteCount};
                    }""",
                    url + "/clip.mp4",
                )
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
    assert (result["w"], result["h"]) == (320, 180)
    assert abs(result["duration"] - 2.0) < 1 / 24
    assert result["t"] > 0.1  # it played
    assert result["mean"] > 20  # a picture, not black
    assert result["audioBytes"] > 0  # the AAC track decoded
