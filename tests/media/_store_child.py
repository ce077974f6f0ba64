"""Child processes of tests/media/test_store_s3.py (run as ``python _store_child.py <role> ...``).

``teammate <ledger> <store url> <job id>...``: a second machine's view. Opens a Studio on the same
ledger and store (its own ``SORAKIT_CACHE``), and for each job prints as JSON what a user would
get: the sha256 of ``job.file_path``, of the bytes the player sends to the browser, whether a
poster shows, and ``probe``'s width; or the error when the store cannot be reached.

``crash <ledger> <store url> <emulator url>``: starts one job and dies (exit 17) right after the
video is uploaded to the store, before the engine writes the completed row.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for engine._helpers

from engine._helpers import fast_policy  # noqa: E402
from sorakit.engine import Studio  # noqa: E402
from sorakit.media._store import RemoteStore  # noqa: E402
from support.frontend import FakeView  # noqa: E402  (the player's front end: open, then chunks)



def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def teammate(ledger: str, url: str, ids: list[str]) -> None:
    from sorakit.display import player
    from sorakit.display._poster import poster
    from sorakit.media import probe

    studio = Studio(ledger, media_dir=url, emulate=True, resume=False)
    out = {}
    try:
        for jid in ids:
            job = studio.job(jid)
            entry: dict = {"file_url": job.file_url}
            try:
                entry["file_sha"] = _sha(job.file_path.read_bytes())
                entry["file"] = str(job.file_path)
            except Exception as exc:  # reported, judged by the test
                entry["error"] = f"{type(exc).__name__}: {exc}"
            try:  # the bytes the player streams to a browser that presses play
                entry["played_sha"] = _sha(FakeView(player(job)).fetch())
            except AssertionError:  # the player answered with an error: nothing to play
                entry["played_sha"] = None
            entry["poster"] = poster(job.row) is not None
            try:
                entry["width"] = probe(job.file_url).width
            except Exception as exc:
                entry["probe_error"] = type(exc).__name__
            out[jid] = entry
    finally:
        studio.close()
    print(json.dumps(out), flush=True)


def crash(ledger: str, url: str, emulator: str) -> None:
    original = RemoteStore.put

    def put_then_die(self, path):
        got = original(self, path)
        if str(path).endswith(".mp4"):
            print("UPLOADED", got, flush=True)
            os._exit(17)
        return got

    RemoteStore.put = put_then_die
    studio = Studio(ledger, media_dir=url, emulate=True, emulator=emulator, policy=fast_policy(), resume=False,
                    max_wait=60)
    studio.generate("a heron lands between upload and row", model="sora-2", seconds=4, wait=True)
    print("NOT REACHED", flush=True)


if __name__ == "__main__":
    role, *args = sys.argv[1:]
    if role == "teammate":
        teammate(args[0], args[1], args[2:])
    elif role == "crash":
        crash(*args)
    else:
        raise SystemExit(f"unknown role {role!r}")
