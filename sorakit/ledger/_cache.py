"""A columnar snapshot of a large SQLite ledger, so ``Ledger.df`` need not decode every row each time.

A full read of a million jobs takes ~15 s row by row through ``sqlite3``, and still ~4-5 s on two
cores when decoded straight from the database pages (``_pages``), while the same frame loads from
Parquet in about half a second.
So for SQLite ledgers of at least ``MIN_ROWS`` rows, ``Ledger.df`` keeps ``<ledger file>-df.parquet``
beside the database and, on the next call, reads it plus only the rows whose ``_rev`` (the write
transaction counter, see ``_schema``) is newer.

The snapshot is only a cache: the database stays the truth. A snapshot is ignored when it belongs
to another ledger (``ledger_id``), another schema version, or when its row count does not add up
(rows deleted behind sorakit's back); it is rebuilt from the database then. Deleting it is always
safe. Rows changed with raw SQL that does not bump ``_rev`` are the one thing it cannot see:
delete the file (or open the ledger with ``df_cache=False``) after such edits.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ._schema import LEDGER_COLUMNS, LEDGER_DTYPES, SCHEMA_VERSION

MIN_ROWS = 50_000
"""Below this many rows a full read is fast enough and no snapshot file is written."""

FORMAT = 1
_META_KEY = b"sorakit.ledger"


def available() -> bool:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return False
    return pq is not None


def path_for(db: Path) -> Path:
    """Where the snapshot of the ledger file ``db`` lives."""
    return db.with_name(db.name + "-df.parquet")


@dataclass
class Snapshot:
    frame: pd.DataFrame
    rev: int
    ledger_id: str


def read(path: Path) -> Snapshot | None:
    """The snapshot at ``path``, or None when there is none or it is unreadable / of another format."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        info = json.loads((schema.metadata or {}).get(_META_KEY, b"{}"))
        if info.get("format") != FORMAT or info.get("schema_version") != SCHEMA_VERSION:
            return None
        if list(schema.names) != list(LEDGER_COLUMNS):
            return None
        table = pq.read_table(path, memory_map=True)
        frame = table.to_pandas()
    except (OSError, ValueError, KeyError, TypeError):  # missing, truncated, or not ours
        return None
    for name in LEDGER_COLUMNS:  # pyarrow restores pandas dtypes from its metadata; make sure
        want = LEDGER_DTYPES[name]
        if frame[name].dtype != want:
            frame[name] = frame[name].astype(want)
    return Snapshot(frame, int(info["rev"]), str(info["ledger_id"]))


def write(path: Path, frame: pd.DataFrame, rev: int, ledger_id: str) -> bool:
    """Atomically replace the snapshot at ``path``. Returns False (and leaves no file) on failure."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        info = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "rev": rev, "ledger_id": ledger_id}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_KEY: json.dumps(info).encode()})
        pq.write_table(table, tmp, compression="lz4")
        os.replace(tmp, path)
        return True
    except (OSError, ValueError, TypeError):  # read-only folder, disk full...: the cache is optional
        try:
            tmp.unlink()
        except OSError:
            pass
        return False
