"""The media store without S3: file:// and memory:// URLs, the read-through cache's checks, and
URLs that are refused. (The S3 behaviour, with a real server, is in test_store_s3.py.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine._helpers import fast_policy
from sorakit import StoreError, ValidationError
from sorakit.engine import Studio
from sorakit.media import LocalStore, RemoteStore, local_copy, open_store, probe
from sorakit.media import _store

FAST = fast_policy()


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("SORAKIT_QUIET", "1")
    monkeypatch.setenv("SORAKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SORAKIT_MEDIA", raising=False)
    monkeypatch.setattr(_store, "_UNREACHABLE", {})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_file_url_store_shares_through_a_folder_and_reads_through_the_cache(tmp_path, emulator):
    shared = tmp_path / "shared"
    url = shared.as_uri()
    studio = Studio(tmp_path / "ledger.db", media_dir=url, emulate=True, emulator=emulator, policy=FAST,
                    resume=False)
    try:
        job = studio.generate("a fox in snow", model="sora-2", seconds=4, progress=False)
        row = job.row
        assert isinstance(studio.media_store, RemoteStore) and studio.media_dir == tmp_path / "cache" / "media"
    finally:
        studio.close()
    sha = row["sha256"]
    assert row["file_path"] == f"{url}/{sha[:2]}/{sha}.mp4"
    stored = shared / sha[:2] / f"{sha}.mp4"
    assert _sha(stored.read_bytes()) == sha
    # another machine: empty cache, fetched once, then the cached copy
    for p in (tmp_path / "cache").rglob("*"):
        if p.is_file():
            p.unlink()
    first = local_copy(row["file_path"])
    assert first == tmp_path / "cache" / "media" / sha[:2] / f"{sha}.mp4" and _sha(first.read_bytes()) == sha
    stored.unlink()  # the store loses it: the cache still has it
    assert local_copy(row["file_path"]) == first
    assert probe(row["file_path"]).path == row["file_path"] and probe(row["file_path"]).frames > 0


def test_a_plain_path_stays_local_exactly_as_before(tmp_path, emulator):
    studio = Studio(tmp_path / "ledger.db", media_dir=tmp_path / "media", emulate=True, emulator=emulator,
                    policy=FAST, resume=False)
    try:
        job = studio.generate("a heron", model="sora-2", seconds=4, progress=False)
        row = job.row
        assert isinstance(studio.media_store, LocalStore)
        assert job.file_path == Path(row["file_path"]) == local_copy(row["file_path"]) == Path(job.file_url)
    finally:
        studio.close()
    assert Path(row["file_path"]).parent.parent == tmp_path / "media"
    assert not (tmp_path / "cache").exists()


def test_an_object_is_uploaded_once_under_its_content_key(tmp_path):
    store = open_store("memory://sorakit-test-once/media")
    data = b"\x00\x00\x00\x18ftypmp42 not really a video"
    sha = _sha(data)
    local = tmp_path / f"{sha}.mp4"
    local.write_bytes(data)
    puts = []
    real = store.fs.put_file
    store.fs.put_file = lambda *a, **k: (puts.append(a), real(*a, **k))[1]
    try:
        assert store.put(local) == store.put(local) == f"memory://sorakit-test-once/media/{sha[:2]}/{sha}.mp4"
    finally:
        store.fs.put_file = real
    assert len(puts) == 1
    local.write_bytes(b"damaged on disk")
    with pytest.raises(StoreError, match="damaged"):
        store.put(local)


def test_a_store_that_just_failed_fails_the_next_reads_at_once(tmp_path, monkeypatch):
    opened = []

    class Dead:
        def get_file(self, path, dest, **kw):
            opened.append(path)
            raise ConnectionError("no route to host")

    monkeypatch.setattr(_store, "_filesystem", lambda url, options=None: (Dead(), url.split("://", 1)[1]))
    urls = [f"s3://far-away/v/{c * 2}/{c * 64}.mp4" for c in "abc"]
    for url in urls:
        with pytest.raises(StoreError, match="no route to host"):
            local_copy(url)
    assert len(opened) == 1  # one wait for the store's timeouts, not one per video
    monkeypatch.setattr(_store, "UNREACHABLE_FOR", 0.0)
    with pytest.raises(StoreError):
        local_copy(urls[0])
    assert len(opened) == 2


@pytest.mark.parametrize("url, field, needle", [
    ("s3://", "media_dir", "names no bucket"),
    ("gs://user:pw@bucket/x", "media_dir", "carries credentials"),
    ("az://container/x#frag", "media_dir", "query string"),
])
def test_bad_store_urls_are_refused(tmp_path, url, field, needle):
    with pytest.raises(ValidationError) as err:
        Studio(tmp_path / "ledger.db", media_dir=url, emulate=True, resume=False)
    assert err.value.field == field and needle in str(err.value) and "pw" not in str(err.value)
    assert not (tmp_path / "ledger.db").exists()


def test_storage_options_need_a_store_url(tmp_path):
    with pytest.raises(ValidationError) as err:
        Studio(tmp_path / "ledger.db", media_dir=tmp_path / "media", media_options={"endpoint_url": "http://x"},
               emulate=True, resume=False)
    assert err.value.field == "media_options"


def test_a_row_url_that_is_not_a_content_key_is_refused():
    """A tampered or foreign ledger row cannot make the cache write outside its folder."""
    for url in ("s3://team/videos/../../../etc/passwd", "s3://team/videos/ab/notasha.mp4"):
        with pytest.raises(ValidationError) as err:
            local_copy(url)
        assert err.value.field == "file_path"


def test_an_unknown_protocol_is_a_configuration_error(tmp_path):
    from sorakit import ConfigurationError

    with pytest.raises(ConfigurationError, match="nosuchproto://"):
        Studio(tmp_path / "ledger.db", media_dir="nosuchproto://bucket/x", emulate=True, resume=False)


def test_an_input_image_is_shared_so_a_teammate_can_send_the_job_again(tmp_path, emulator):
    import io
    import shutil

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (1280, 720), (30, 90, 200)).save(buf, "PNG")
    image = buf.getvalue()
    shared = tmp_path / "shared"
    studio = Studio(tmp_path / "ledger.db", media_dir=shared.as_uri(), emulate=True, emulator=emulator,
                    policy=FAST, resume=False)
    try:
        job = studio.generate("the painting comes alive", model="veo-3.1-fast", provider="gemini", seconds=4,
                              input_image=image, progress=False)
        row = job.row
        sha = row["input_image_sha256"]
        assert (shared / sha[:2] / f"{sha}.png").read_bytes() == image
        shutil.rmtree(tmp_path / "cache")  # another machine, nothing cached
        assert studio._engine.plan_from_row(row).input_image == image  # what a resume would send
    finally:
        studio.close()
