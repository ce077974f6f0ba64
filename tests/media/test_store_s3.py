"""The shared media store on a real S3 API: moto's server on 127.0.0.1, started by the suite.

What a team notices: a video made on one machine lands in the bucket under its sha256 and the
ledger row says where; a teammate with an empty cache plays it (same bytes); after the first view
it plays with the store unreachable; a crash between the upload and the row is redone by resume
without a second create; store errors are recorded on the job and retried; no credential is ever
written into the ledger.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine._helpers import fast_policy
from sorakit import JobFailed, StoreError, ValidationError
from sorakit.engine import Studio
from sorakit.ledger import Ledger
from sorakit.media import probe_many
from support.s3 import ACCESS_KEY_ID, BUCKET, SECRET_ACCESS_KEY, s3_env

CHILD = Path(__file__).with_name("_store_child.py")
URL = f"s3://{BUCKET}/videos"
FAST = fast_policy()


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("SORAKIT_QUIET", "1")
    monkeypatch.delenv("SORAKIT_MEDIA", raising=False)


def _studio(tmp_path, emulator_server, url=URL, **kw) -> Studio:
    kw.setdefault("resume", False)
    return Studio(tmp_path / "ledger.db", media_dir=url, emulate=True, emulator=emulator_server.base_url,
                  policy=FAST, max_wait=60, **kw)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _make(studio: Studio, prompts) -> list:
    jobs = [studio.generate(p, model="sora-2", seconds=4, wait=False, progress=False) for p in prompts]
    for job in jobs:
        job.wait()
    return jobs


def _child(role: str, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHILD), role, *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=180)


def _teammate(tmp_path, s3_server, cache: Path, ids) -> dict:
    env = {**s3_env(s3_server.endpoint, tmp_path), "SORAKIT_CACHE": str(cache), "SORAKIT_QUIET": "1"}
    done = _child("teammate", str(tmp_path / "ledger.db"), URL, *ids, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_videos_land_in_the_bucket_under_their_sha256_and_rows_hold_the_url(tmp_path, emulator_server, s3_server):
    studio = _studio(tmp_path, emulator_server)
    try:
        jobs = _make(studio, ["a red fox trotting through snow", "a heron over a lake", "a lighthouse at dusk"])
        rows = [j.row for j in jobs]
        df = studio.ledger.df
    finally:
        studio.close()
    objects = s3_server.objects()
    for row in rows:
        assert row["status"] == "completed", row.get("error_message")
        sha = row["sha256"]
        assert row["file_path"] == f"{URL}/{sha[:2]}/{sha}.mp4"
        data = objects[f"videos/{sha[:2]}/{sha}.mp4"]
        assert _sha(data) == sha and len(data) == row["bytes"]
        poster_key = row["poster_path"].removeprefix(f"s3://{BUCKET}/")
        assert row["poster_path"].startswith(URL + "/") and _sha(objects[poster_key]) in poster_key
        # no local media path anywhere in the row: a teammate could not open it
        cache = str(tmp_path / "cache")
        assert not any(cache in str(v) or str(tmp_path) in str(v) for v in row.values()), row
    assert list(df["file_path"]) and all(str(v).startswith(URL) for v in df["file_path"])
    # the ledger's column, probed the way a comparison notebook does: through the cache
    facts = probe_many(df["file_path"])
    assert (facts["width"] > 0).all() and list(facts["path"]) == list(df["file_path"])


def test_a_teammate_with_an_empty_cache_plays_the_video_and_then_offline(tmp_path, emulator_server, s3_server):
    studio = _studio(tmp_path, emulator_server)
    try:
        jobs = _make(studio, ["two otters juggling", "a paper boat in rain"])
        made = {j.id: j.row for j in jobs}
    finally:
        studio.close()
    cache = tmp_path / "teammate-cache"
    first = _teammate(tmp_path, s3_server, cache, made)
    for jid, row in made.items():
        seen = first[jid]
        assert "error" not in seen, seen
        assert seen["file_url"] == row["file_path"]
        assert seen["file_sha"] == seen["played_sha"] == row["sha256"]
        assert seen["file"].startswith(str(cache)) and seen["poster"] and seen["width"] > 0

    s3_server.stop()  # the store is gone: what was viewed once still plays
    again = _teammate(tmp_path, s3_server, cache, made)
    for jid, row in made.items():
        assert again[jid]["file_sha"] == again[jid]["played_sha"] == row["sha256"]
        assert again[jid]["poster"] and again[jid]["width"] > 0
    # ...and it really came from the cache: a newcomer with an empty one gets a clear error
    newcomer = _teammate(tmp_path, s3_server, tmp_path / "newcomer-cache", list(made)[:1])
    for jid in newcomer:
        assert newcomer[jid]["error"].startswith("StoreError: media store fetch of s3://team/videos/")
        assert newcomer[jid]["played_sha"] is None and newcomer[jid]["probe_error"] == "StoreError"


def test_a_crash_between_upload_and_row_is_redone_by_resume(tmp_path, emulator, emulator_server, s3_server):
    env = {"SORAKIT_CACHE": str(tmp_path / "crashed-cache"), "SORAKIT_QUIET": "1"}
    done = _child("crash", str(tmp_path / "ledger.db"), URL, emulator_server.base_url, env=env)
    assert done.returncode == 17, (done.stdout, done.stderr[-3000:])
    uploaded = done.stdout.split("UPLOADED", 1)[1].split()[0]
    with Ledger(tmp_path / "ledger.db") as led:
        (row,) = led.rows()
    # the object is there but the row never pointed at it: re-doable, not dangling
    assert row["status"] == "downloading" and row["file_path"] is None and row["sha256"] is None
    assert uploaded.removeprefix(f"s3://{BUCKET}/") in s3_server.objects()

    studio = _studio(tmp_path, emulator_server)
    try:
        # force: the child is dead; leases (when merged) would otherwise wait out its lease
        (job,) = studio.resume(force=True, progress=False)
        row = job.row
    finally:
        studio.close()
    assert row["status"] == "completed" and row["file_path"] == uploaded
    assert _sha(s3_server.objects()[uploaded.removeprefix(f"s3://{BUCKET}/")]) == row["sha256"]
    assert emulator.counters.prompt_creates("a heron lands between upload and row", "openai") == 1


def test_a_store_error_is_recorded_on_the_job_and_retry_download_redoes_it(tmp_path, emulator_server, s3_server,
                                                                           caplog):
    url = "s3://not-made-yet/videos"
    studio = _studio(tmp_path, emulator_server, url=url)
    try:
        job = studio.generate("a kite over dunes", model="sora-2", seconds=4, wait=False, progress=False)
        with pytest.raises(JobFailed):
            job.wait()
        row = job.row
        assert row["status"] == "failed" and row["error_code"] == "download_failed"
        assert "media store upload of s3://not-made-yet/videos/" in row["error_message"]
        assert row["error_message"].startswith("the video was made but could not be stored: ")
        assert "bucket does not exist" in row["error_message"] and "retry_download()" in row["error_message"]
        assert row["file_path"] is None

        s3_server.client().create_bucket(Bucket="not-made-yet")
        job.retry_download()
        row = job.row
    finally:
        studio.close()
    assert row["status"] == "completed" and row["file_path"].startswith(url + "/")
    assert _sha(s3_server.objects("not-made-yet")[row["file_path"].removeprefix("s3://not-made-yet/")]) == row["sha256"]
    assert SECRET_ACCESS_KEY not in caplog.text


def test_credentials_never_reach_the_ledger_or_the_logs(tmp_path, emulator_server, s3_server, caplog):
    caplog.set_level(logging.DEBUG, logger="sorakit")
    studio = _studio(tmp_path, emulator_server)
    try:
        _make(studio, ["a tram in fog"])
        text = repr(studio) + repr(studio.media_store) + studio.ledger.df.to_csv()
    finally:
        studio.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("ledger.db*"))
    for secret in (SECRET_ACCESS_KEY, ACCESS_KEY_ID):
        assert secret.encode() not in raw and secret not in text and secret not in caplog.text


@pytest.mark.parametrize("url, shown", [
    ("s3://AKIDSORAKITTEST:made-up-secret@team/videos", "s3://***@team/videos"),
    ("s3://team/videos?X-Amz-Signature=made-up-secret", "s3://team/videos?***"),
])
def test_a_url_with_credentials_is_refused_before_anything_is_written(tmp_path, s3_server, url, shown):
    with pytest.raises(ValidationError) as err:
        Studio(tmp_path / "ledger.db", media_dir=url, emulate=True, resume=False)
    assert err.value.field == "media_dir" and err.value.value == shown
    assert "made-up-secret" not in str(err.value) and "credentials come from the environment" in str(err.value)
    assert not (tmp_path / "ledger.db").exists()


def test_the_store_url_from_the_environment(tmp_path, emulator_server, s3_server, monkeypatch):
    monkeypatch.setenv("SORAKIT_MEDIA", "s3://key:made-up-secret@team/videos")
    with pytest.raises(ValidationError) as err:
        Studio(tmp_path / "ledger.db", emulate=True, resume=False)
    assert err.value.field == "SORAKIT_MEDIA" and "made-up-secret" not in str(err.value)
    monkeypatch.setenv("SORAKIT_MEDIA", URL)
    studio = Studio(tmp_path / "ledger.db", emulate=True, emulator=emulator_server.base_url, policy=FAST,
                    resume=False)
    try:
        (job,) = _make(studio, ["a snail on a leaf"])
        assert job.file_url.startswith(URL + "/") and _sha(job.file_path.read_bytes()) == job.row["sha256"]
    finally:
        studio.close()


def test_storage_options_with_a_secret_are_refused(tmp_path, s3_server):
    for options, name in [({"secret": "made-up-secret"}, "media_options['secret']"),
                          ({"client_kwargs": {"aws_secret_access_key": "made-up-secret"}},
                           "media_options['client_kwargs.aws_secret_access_key']")]:
        with pytest.raises(ValidationError) as err:
            Studio(tmp_path / "ledger.db", media_dir=URL, media_options=options, emulate=True, resume=False)
        assert err.value.field == name and "made-up-secret" not in str(err.value)
    assert not (tmp_path / "ledger.db").exists()


def test_storage_options_reach_the_store_and_its_readers(tmp_path, emulator_server, s3_server, monkeypatch):
    """An endpoint given as a storage option (not in the environment) is used for uploads and
    for this process's read-through fetches."""
    endpoint = os.environ["AWS_ENDPOINT_URL"]
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    studio = _studio(tmp_path, emulator_server, url=f"s3://{BUCKET}/opts", media_options={"endpoint_url": endpoint})
    try:
        (job,) = _make(studio, ["a lantern on water"])
        sha = job.row["sha256"]
        cached = job.file_path
        cached.unlink()  # force a fetch through the registered options
        assert _sha(job.file_path.read_bytes()) == sha
    finally:
        studio.close()
    assert f"opts/{sha[:2]}/{sha}.mp4" in s3_server.objects()


def test_a_missing_s3_extra_names_the_install_command(tmp_path):
    code = ("import sys; sys.modules['s3fs'] = None\n"
            "import sorakit\n"
            "try:\n"
            "    sorakit.Studio(sys.argv[1], media_dir='s3://team/videos', emulate=True, resume=False)\n"
            "except sorakit.ConfigurationError as exc:\n"
            "    print('REFUSED', exc)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ledger.db")], capture_output=True,
                          text=True, env={**os.environ, "SORAKIT_QUIET": "1"}, timeout=120)
    assert "REFUSED" in done.stdout, done.stderr[-2000:]
    assert "pip install 'sorakit[s3]'" in done.stdout
    assert not (tmp_path / "ledger.db").exists()


def test_a_fetched_object_whose_bytes_do_not_match_its_name_is_not_cached(tmp_path, s3_server):
    from sorakit.media import local_copy

    sha = _sha(b"the real video")
    key = f"videos/{sha[:2]}/{sha}.mp4"
    s3_server.client().put_object(Bucket=BUCKET, Key=key, Body=b"something else")
    with pytest.raises(StoreError, match="not the name's"):
        local_copy(f"s3://{BUCKET}/{key}")
    assert not list((tmp_path / "cache").rglob("*.mp4"))
