"""Streaming downloads into the content-addressed cache, and posters."""

import asyncio
import hashlib
import io

import httpx
import numpy as np
import pytest
from PIL import Image

from sorakit._exceptions import NotFoundError
from sorakit.media import (IncompleteDownload, cache_path, download, make_poster, poster_from_image,
                           store_bytes)
from sorakit.media._download import POSTER_MAX_BYTES


def tiny_mp4(path, frames=24, size=(320, 180)):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            img = np.zeros((size[1], size[0], 3), dtype=np.uint8)
            img[:, :, 0] = (i * 10) % 255
            img[: size[1] // 2, : size[0] // 2, 1] = 200
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path.read_bytes()


def run(coro):
    return asyncio.run(coro)


async def fetch(handler, media_dir, **kw):
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await download(client, httpx.Request("GET", "http://cdn.test/v.mp4"), media_dir, **kw)


def test_download_lands_under_its_sha256_with_size(tmp_path):
    body = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 1000
    got = run(fetch(lambda r: httpx.Response(200, content=body, headers={"content-type": "video/mp4"}), tmp_path))
    sha = hashlib.sha256(body).hexdigest()
    assert got.sha256 == sha and got.bytes == len(body)
    assert got.path == cache_path(tmp_path, sha, ".mp4") == tmp_path / sha[:2] / f"{sha}.mp4"
    assert got.path.read_bytes() == body
    assert not list(tmp_path.glob(".partial-*"))
    again = run(fetch(lambda r: httpx.Response(200, content=body), tmp_path))  # same content: same file
    assert again.path == got.path


def test_a_short_body_raises_and_leaves_nothing(tmp_path):
    class Short(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield b"x" * 1000

    def handler(request):
        return httpx.Response(200, headers={"content-length": "5000"}, stream=Short())

    with pytest.raises(IncompleteDownload) as e:
        run(fetch(handler, tmp_path))
    assert (e.value.expected, e.value.received) == (5000, 1000)
    assert list(tmp_path.rglob("*")) == []


def test_an_error_answer_goes_to_the_provider_mapping(tmp_path):
    def raise_for_error(response):
        raise NotFoundError("expired", provider="test", status_code=response.status_code)

    with pytest.raises(NotFoundError):
        run(fetch(lambda r: httpx.Response(410, text="gone"), tmp_path, raise_for_error=raise_for_error))
    with pytest.raises(httpx.HTTPStatusError):
        run(fetch(lambda r: httpx.Response(403, text="no"), tmp_path))
    assert not list(tmp_path.rglob("*.mp4"))


def test_store_bytes_is_content_addressed(tmp_path):
    d = store_bytes(b"hello", tmp_path, ".png")
    assert d.path.name == hashlib.sha256(b"hello").hexdigest() + ".png" and d.path.read_bytes() == b"hello"


def test_poster_from_the_video_is_a_small_jpeg(tmp_path):
    video = tmp_path / "ab" / "ab12.mp4"
    video.parent.mkdir()
    tiny_mp4(video, size=(1280, 720))
    poster = make_poster(video)
    assert poster == video.with_name("ab12.poster.jpg")
    assert 0 < poster.stat().st_size <= POSTER_MAX_BYTES
    with Image.open(poster) as img:
        assert img.format == "JPEG" and img.width == 320 and img.height == 180


def test_poster_from_a_thumbnail_is_kept_or_shrunk(tmp_path):
    video = tmp_path / "cd34.mp4"
    video.write_bytes(b"not decoded")
    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (10, 20, 30)).save(buf, "WEBP")
    small = poster_from_image(buf.getvalue(), video)
    assert small.name == "cd34.poster.webp" and small.read_bytes() == buf.getvalue()
    noisy = Image.fromarray(np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8))
    big = io.BytesIO()
    noisy.save(big, "PNG")
    assert len(big.getvalue()) > POSTER_MAX_BYTES
    shrunk = poster_from_image(big.getvalue(), tmp_path / "ef56.mp4")
    assert shrunk.name == "ef56.poster.jpg" and shrunk.stat().st_size <= POSTER_MAX_BYTES


def test_make_poster_never_raises(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"garbage")
    assert make_poster(bad) is None


ESCAPING_SUFFIXES = ["/../../../x", "/../../escape.mp4", "\\..\\..\\x", ".mp4/../../x", "../x", "/x",
                     ".mp4\x00", ". mp4", ".toolongsuffix123"]


@pytest.mark.parametrize("suffix", ESCAPING_SUFFIXES)
def test_store_bytes_refuses_a_suffix_that_leaves_the_media_folder(tmp_path, suffix):
    """Issue 11, defect 6: a suffix like ``"/../../../x"`` wrote outside the media folder."""
    from sorakit import ValidationError

    media = tmp_path / "deep" / "media"
    with pytest.raises(ValidationError) as e:
        store_bytes(b"payload", media, suffix)
    assert e.value.field == "suffix"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []


@pytest.mark.parametrize("suffix", ESCAPING_SUFFIXES)
def test_download_refuses_a_suffix_that_leaves_the_media_folder_before_fetching(tmp_path, suffix):
    from sorakit import ValidationError

    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(200, content=b"video bytes")

    with pytest.raises(ValidationError):
        run(fetch(handler, tmp_path / "deep" / "media", suffix=suffix))
    assert calls == [] and [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_ordinary_suffixes_still_work(tmp_path):
    for suffix in (".mp4", ".webm", ".png", ".jpg", ".bin", ""):
        got = store_bytes(b"payload" + suffix.encode(), tmp_path, suffix)
        assert got.path.parent.parent == tmp_path and got.path.name.endswith(suffix)


def test_a_poster_beside_the_same_content_is_reused_not_decoded_again(tmp_path, monkeypatch):
    import sorakit.media._download as dl

    video = tmp_path / "ab" / "ab12.mp4"
    video.parent.mkdir()
    tiny_mp4(video, size=(320, 180))
    first = make_poster(video)
    decodes = []
    monkeypatch.setattr(dl, "poster_from_video", lambda p, *a, **k: decodes.append(p))
    assert make_poster(video) == first and decodes == []        # same sha-named clip: no decode
    first.unlink()
    make_poster(video)
    assert decodes == [video]                                   # gone: made again


def test_poster_true_makes_the_poster_in_the_same_call_from_the_thumbnail_or_a_frame(tmp_path):
    """``download(poster=True)``: the poster comes back with the file (one worker-thread trip), from
    the provider's thumbnail when given, else a frame of the video; streamed or inline alike."""
    body = tiny_mp4(tmp_path / "src.mp4")
    thumb = io.BytesIO()
    Image.new("RGB", (640, 360), (10, 200, 30)).save(thumb, "PNG")
    plain = run(fetch(lambda r: httpx.Response(200, content=body), tmp_path / "a"))
    assert plain.poster is None and not list((tmp_path / "a").rglob("*.poster.*"))   # not asked: none made

    got = run(fetch(lambda r: httpx.Response(200, content=body), tmp_path / "b", poster=True,
                    thumbnail=thumb.getvalue()))
    assert got.poster is not None and got.poster.parent == got.path.parent
    with Image.open(got.poster) as img:
        assert img.getpixel((img.width // 2, img.height // 2))[1] > 150             # the green thumbnail
    assert got.poster == make_poster(got.path)                                     # found again, not remade

    framed = run(fetch(lambda r: httpx.Response(200, content=body), tmp_path / "c", poster=True))
    assert framed.poster is not None and framed.poster.stat().st_size <= POSTER_MAX_BYTES   # from a frame

    inline = run(fetch(lambda r: httpx.Response(200, json={"b": 1}), tmp_path / "d", poster=True,
                       decode=lambda r: body))
    assert inline.path.read_bytes() == body and inline.poster is not None


def test_a_thumbnail_getter_is_awaited_only_once_the_body_arrived_whole(tmp_path):
    body = tiny_mp4(tmp_path / "src.mp4")
    asked = []

    async def thumbnail():
        asked.append(1)
        return None                                           # none: a frame of the video instead

    class Short(httpx.AsyncByteStream):
        async def __aiter__(self):
            yield body[:100]
    with pytest.raises(IncompleteDownload):
        run(fetch(lambda r: httpx.Response(200, headers={"content-length": str(len(body))}, stream=Short()),
                  tmp_path / "a", poster=True, thumbnail=thumbnail))
    assert asked == []
    got = run(fetch(lambda r: httpx.Response(200, content=body), tmp_path / "b", poster=True, thumbnail=thumbnail))
    assert asked == [1] and got.poster is not None
