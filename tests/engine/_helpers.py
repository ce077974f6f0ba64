"""Helpers shared by the engine tests (import as ``from engine._helpers import ...``)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from sorakit.engine import Policy

FAST = dict(poll_initial=0.05, poll_max=0.5, retry_initial=0.02, retry_max=0.3, reconcile_grace=0.5,
            reconcile_slack=60.0, progress_write_interval=0.1, request_timeout=10.0)


def fast_policy(**kw) -> Policy:
    return Policy(**{**FAST, **kw})


def sha256_of(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def assert_complete(row: dict) -> None:
    """A completed row whose file is on disk, complete and checksum-true."""
    assert row["status"] == "completed", (row["status"], row.get("error_code"), row.get("error_message"))
    path = Path(row["file_path"])
    assert path.is_file() and path.stat().st_size == row["bytes"] > 0
    assert sha256_of(path) == row["sha256"] and path.name.startswith(row["sha256"])


def wait_until(predicate, timeout: float = 20.0) -> None:
    """Poll ``predicate`` until true (the bound only turns a hang into a failure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")
