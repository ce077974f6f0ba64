"""A columnar snapshot of a large SQLite ledger, so ``Ledger.df`` need not convert every row each time.

Reading every row through ``sqlite3`` and turning it into typed columns costs about a second per
100,000 jobs (see ``bench/ledger.py``); the same frame loads from an uncompressed Arrow IPC file in
a few hundredths of that. So for SQLite ledgers of at least ``MIN_ROWS`` rows, ``Ledger.df`` keeps
``<ledger file>-df.arrow`` beside the database and, on the next call, reads it plus only the rows
whose ``_rev`` stamp (see ``_schema``) is newer than the snapshot's. The file is read into memory,
not mapped: a snapshot truncated or replaced underneath (a backup restore, a sync tool) is then an
unreadable snapshot, rebuilt from the database, never a crashed kernel. (Earlier sorakit versions
wrote ``-df.parquet``; that file is removed when the new one is written.)

The snapshot is written by a background thread (:class:`Writer`), so the first ``Ledger.df`` of a
big ledger returns as soon as the frame is read; the thread works on its own copy of the frame's
number columns (text columns are immutable Arrow arrays, shared), so changing the returned frame
right away cannot leak into the file. ``Ledger.close()`` and interpreter exit wait for it.

The snapshot is only a cache: the database stays the truth. A snapshot is ignored when it belongs
to another ledger (``ledger_id``), another schema or snapshot format, or when its row count does
not add up (rows deleted behind sorakit's back); it is rebuilt from the database then. Deleting it
is always safe. Rows changed with raw SQL that does not set ``_rev`` are the one thing it cannot
see: delete the file (or open the ledger with ``df_cache=False``) after such edits.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ._schema import LEDGER_COLUMNS, LEDGER_DTYPES, SCHEMA_VERSION

MIN_ROWS = 50_000
"""Below this many rows a full read is fast enough and no snapshot file is written."""

FORMAT = 3  # 3: ``rev`` is the largest ``_rev`` stamp (2 counted write transactions in ``meta``)
_META_KEY = b"sorakit.ledger"


def available() -> bool:
    try:
        import pyarrow.ipc as ipc
    except ImportError:
        return False
    return ipc is not None


def path_for(db: Path) -> Path:
    """Where the snapshot of the ledger file ``db`` lives."""
    return db.with_name(db.name + "-df.arrow")


def _legacy_path(db_snapshot: Path) -> Path:
    return db_snapshot.with_name(db_snapshot.name[: -len("-df.arrow")] + "-df.parquet")


@dataclass
class Snapshot:
    frame: pd.DataFrame
    rev: int  # the largest ``_rev`` stamp in the ledger when the frame was read
    ledger_id: str


def read(path: Path) -> Snapshot | None:
    """The snapshot at ``path``, or None when there is none or it is unreadable / of another format."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        with pa.OSFile(str(path), "rb") as source:  # read, not mapped (see the module docstring)
            reader = ipc.open_file(source)
            schema = reader.schema
            info = json.loads((schema.metadata or {}).get(_META_KEY, b"{}"))
            if info.get("format") != FORMAT or info.get("schema_version") != SCHEMA_VERSION:
                return None
            if list(schema.names) != list(LEDGER_COLUMNS):
                return None
            frame = reader.read_all().to_pandas()
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):  # missing, truncated, or not ours
        return None
    for name in LEDGER_COLUMNS:  # pyarrow restores pandas dtypes from its metadata; make sure
        want = LEDGER_DTYPES[name]
        if frame[name].dtype != want:
            frame[name] = frame[name].astype(want)
    return Snapshot(frame, int(info["rev"]), str(info["ledger_id"]))


def write(path: Path, frame: pd.DataFrame, rev: int, ledger_id: str) -> bool:
    """Atomically replace the snapshot at ``path``. Returns False (and leaves no file) on failure."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        info = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "rev": rev, "ledger_id": ledger_id}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(info).encode()})
        with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        os.replace(tmp, path)
    except (OSError, ValueError, TypeError, pa.ArrowException):  # read-only folder, disk full...: the cache is optional
        try:
            tmp.unlink()
        except OSError:
            pass
        return False
    try:
        _legacy_path(path).unlink(missing_ok=True)
    except OSError:
        pass
    return True


def _remove_orphans(path: Path) -> None:
    """Temporary files of snapshot writes whose process is gone (killed mid-write)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            pid = int(tmp.name[len(path.name) + 2 :].split(".")[0])
            if pid == os.getpid():
                continue
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, PermissionError, OSError):
            continue


class Writer:
    """Writes one ledger's snapshot in a background thread, one write at a time."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, path: Path, frame: pd.DataFrame, rev: int, ledger_id: str) -> bool:
        """Start writing ``frame`` (copied first: the caller may change it) to ``path``. False
        when a write is still running (the next ``Ledger.df`` will try again)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            own = frame.copy(deep=True)  # numbers are copied; Arrow text is immutable and shared

            def run() -> None:
                _remove_orphans(path)
                write(path, own, rev, ledger_id)

            # not a daemon: interpreter exit waits for the file rather than leaving half of it
            self._thread = threading.Thread(target=run, name=f"sorakit-snapshot-{path.name}")
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> None:
        """Until the running write (if any) has finished."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
