"""What the ledger stores: column names, kinds, pandas dtypes, and the SQL tables.

One row per job (one per variation for providers that return several videos per task).
The table is built per SQL dialect so each backend stores values in its fastest faithful form:

* PostgreSQL: ``timestamptz`` for datetimes, ``boolean``, ``bigint``, ``double precision``.
* SQLite: datetimes as REAL seconds since the Unix epoch (UTC), exact to the microsecond for
  1970-2106. Reading a million of them into pandas is one vectorised conversion instead of a
  million string parses, and ``datetime(created_at, 'unixepoch')`` still shows them readably
  in the ``sqlite3`` shell.

On SQLite the table has one more column, ``_rev``: a stamp (microseconds since the epoch, always
larger than every stamp before it) written with every row a transaction inserts or changes. It
lets ``Ledger.df`` reuse a local columnar snapshot and read only the rows stamped since. SQLite
admits one writer at a time anyway, so finding the next stamp (the top of the ``_rev`` index) costs
no concurrency. Server databases have no snapshot and need no stamp: there a write touches only
its own rows, and concurrent writers never queue behind a shared counter. (Ledgers written by earlier
sorakit versions also bumped a ``rev`` row in ``meta`` on every write; it is left alone and unused.)
The column never appears in ``Ledger.df`` or in row dicts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

import pandas as pd
import sqlalchemy as sa

__all__ = [
    "SCHEMA_VERSION",
    "STATUSES",
    "TERMINAL_STATUSES",
    "ACTIONS",
    "BILLED_COST_SOURCES",
    "LEDGER_COLUMNS",
    "FRAME_COLUMNS",
    "LEDGER_DTYPES",
    "LEDGER_COLUMN_DOCS",
    "GROUPINGS",
    "VOTE_OUTCOMES",
    "VOTE_COLUMNS",
]

SCHEMA_VERSION = 2
"""Version of the table layout this code writes. Older ledgers are upgraded on open.

2: ``provider_seed`` (the seed the provider used) beside ``seed`` (the seed asked for); version 1
ledgers kept the asked-for seed in ``extra.request_seed`` and overwrote ``seed`` on completion."""

STATUSES: tuple[str, ...] = (
    "pending",
    "submitted",
    "queued",
    "in_progress",
    "downloading",
    "completed",
    "failed",
    "cancelled",
    "timed_out_waiting",
    "unknown",
)
"""Every job status, in lifecycle order (the category order of ``Ledger.df['status']``)."""

TERMINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""Statuses after which nothing more happens. ``timed_out_waiting`` and ``unknown`` are *not*
terminal: the job may still be running remotely, so ``Ledger.pending()`` returns them for resume."""

ACTIONS: tuple[str, ...] = ("generate", "remix", "extend", "edit")
BILLED_COST_SOURCES: tuple[str, ...] = ("provider", "catalog", "none", "usage")
GROUPINGS: tuple[str, ...] = ("model", "provider", "status", "day", "tag", "user")
"""What ``Ledger.cost_by`` can group on (``day`` is the UTC date of ``created_at``)."""


@dataclass(frozen=True)
class _Col:
    name: str
    kind: str  # id, str, cat, int, int8, float, bool, datetime, tags, json
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None


_COLS: tuple[_Col, ...] = (
    _Col("job_id", "id", "Local job id: 'job_' + 26 lowercase Crockford base32 characters, sortable by creation time."),
    _Col("batch_id", "str", "Id shared by the jobs of one batch / comparison run."),
    _Col("provider", "cat", "Service that ran the job: openai, runware, runcrate, relay, gemini, emulator..."),
    _Col("model", "cat", "Canonical model name from the catalog (sora-2, veo-3-fast, ...)."),
    _Col("provider_model", "str", "The provider's own model id."),
    _Col("provider_job_id", "str", "The provider's handle: video id, Runware taskUUID, or operation name."),
    _Col("variation_index", "int", "Which of several videos one task returned (Runware numberResults).", 0),
    _Col("status", "cat", "Job status; see sorakit.ledger.STATUSES.", choices=STATUSES),
    _Col("progress", "int", "Percent done as the provider reports it (0-100).", 0, 100),
    _Col("action", "cat", "generate, remix, extend or edit.", choices=ACTIONS),
    _Col("prompt", "str", "The text prompt."),
    _Col("negative_prompt", "str", "What to avoid, where supported."),
    _Col("seed", "int", "The seed you asked for; empty when the provider chose."),
    _Col("provider_seed", "int", "The seed the provider reports it used (each variation its own); "
         "empty until the job completes, or when the provider does not say."),
    _Col("size", "str", "Frame size as 'WIDTHxHEIGHT', e.g. '1280x720'."),
    _Col("width", "int", "Frame width in pixels.", 1),
    _Col("height", "int", "Frame height in pixels.", 1),
    _Col("seconds", "float", "Clip length in seconds.", 0),
    _Col("fps", "float", "Frames per second.", 0),
    _Col("audio", "bool", "Whether an audio track was asked for / produced."),
    _Col("variations", "int", "How many videos the request asked for.", 1),
    _Col("input_image_sha256", "str", "sha256 of the first-frame image for image-to-video."),
    _Col("source_video_id", "str", "Provider video id of the source for remix / extend / edit."),
    _Col("created_at", "datetime", "When the row was written (UTC)."),
    _Col("submitted_at", "datetime", "When the provider acknowledged the job (UTC)."),
    _Col("completed_at", "datetime", "When the job reached a terminal status (UTC)."),
    _Col("updated_at", "datetime", "Last change to the row (UTC); set on every update."),
    _Col("latency_s", "float", "Seconds from submit to completion.", 0),
    _Col("estimated_cost", "float", "Catalog estimate before submit, in `currency` (NaN = unknown).", 0),
    _Col("billed_cost", "float", "What was billed, in `currency` (NaN = unknown).", 0),
    _Col("billed_cost_source", "cat", "Where billed_cost came from: provider (the cost it reported), usage (the output tokens it reported × the catalog's per-token rate), catalog (the estimate) or none.", choices=BILLED_COST_SOURCES),
    _Col("currency", "str", "ISO currency code of the costs, e.g. 'USD'."),
    _Col("video_url", "str", "Provider download URL (may expire)."),
    _Col("video_url_expires_at", "datetime", "When video_url stops working (UTC)."),
    _Col("file_path", "str", "Where the video file was saved."),
    _Col("poster_path", "str", "Where the poster image was saved."),
    _Col("sha256", "str", "sha256 of the video file."),
    _Col("bytes", "int", "Size of the video file in bytes.", 0),
    _Col("error_code", "str", "Provider or sorakit error code when the job failed."),
    _Col("error_message", "str", "Readable error message when the job failed."),
    _Col("tags", "tags", "Free labels; in Ledger.df one string joined by ','."),
    _Col("rating", "int8", "Your rating, 1-5.", 1, 5),
    _Col("notes", "str", "Your free-text notes."),
    _Col("emulated", "bool", "True when the built-in emulator produced the video (no real spend)."),
    _Col("attempts", "int", "How many submit attempts were made.", 0),
    _Col("schema_version", "int", "Ledger schema version that wrote the row."),
    _Col("extra", "json", "Provider-specific raw data as JSON text."),
    _Col("user", "cat", "Who asked for the job: $SORAKIT_USER, else the OS user name."),
    _Col("lease_owner", "str", "The process that drives the job now ('user@host:pid:session'); "
         "empty when nobody holds a lease."),
    _Col("lease_until", "datetime", "When the driver's lease runs out (UTC, by the database clock); "
         "another process may take the job over after it."),
    # clip checks (sorakit.media.check_clip), written in the background after a job completes;
    # all empty until then (check_defects "" = checked, nothing found)
    _Col("check_defects", "str", "Defects the clip checks found, comma-separated from mismatch, black, frozen, "
         "flicker; '' = checked and clean; empty (NA) = not checked yet."),
    _Col("check_mismatch", "str", "What the delivered video differs in from the request, e.g. "
         "'seconds 4 (asked 8); no audio (asked)'; '' = what was asked."),
    _Col("check_seconds", "float", "Delivered duration in seconds, measured from the file.", 0),
    _Col("check_size", "str", "Delivered frame size 'WIDTHxHEIGHT', measured from the file."),
    _Col("check_fps", "float", "Delivered frame rate, measured from the file.", 0),
    _Col("check_audio", "bool", "Whether the delivered file has an audio track."),
    _Col("check_black_s", "float", "Seconds of black stretches (runs of at least 0.5 s).", 0),
    _Col("check_frozen_s", "float", "Seconds of frozen stretches: the picture does not change for 0.5 s or more.", 0),
    _Col("check_cuts", "int", "Hard cuts counted (a frame difference far above its neighbours').", 0),
    _Col("check_flicker", "float", "VBench temporal-flickering score: (255 - mean |frame[t+1] - frame[t]|) / 255 "
         "on a luma thumbnail; 1 = steady.", 0, 1),
    _Col("check_motion", "float", "How much moves: mean absolute difference of consecutive frames, 0-100.", 0, 100),
    _Col("check_phash", "str", "64-bit DCT perceptual hash of 8 frames spread over the clip (16 hex digits); "
         "near-duplicates differ in few bits (sorakit.media.hash_distance)."),
    _Col("check_error", "str", "Why the clip could not be checked (file missing, not a video ...)."),
    _Col("checked_at", "datetime", "When the clip checks and scorers last ran (UTC)."),
    _Col("scores", "json", "Your scorers' numbers by name (studio.scorers.add): {name: value}; "
         "a scorer that raised is recorded under 'errors': {name: 'ExcType: message'}."),
)

COLS: Mapping[str, _Col] = MappingProxyType({c.name: c for c in _COLS})

LEDGER_COLUMNS: tuple[str, ...] = tuple(c.name for c in _COLS)
"""Every ledger column, in table (storage and snapshot) order."""

_READ_FIRST = ("prompt", "model", "provider", "status", "billed_cost", "estimated_cost", "latency_s",
               "seconds", "size", "seed", "created_at", "completed_at", "file_path", "rating", "tags",
               "notes", "error_code", "error_message", "job_id", "batch_id")
FRAME_COLUMNS: tuple[str, ...] = _READ_FIRST + tuple(n for n in LEDGER_COLUMNS if n not in _READ_FIRST)
"""Every ledger column in ``Ledger.df`` / ``query`` order: what people read first (prompt, model,
provider, status, cost, latency ...), then ids and bookkeeping, so ``df.head()`` shows them."""

LEDGER_COLUMN_DOCS: Mapping[str, str] = MappingProxyType({c.name: c.doc for c in _COLS})
"""One sentence per column, for tooltips and docs."""

STATUS_DTYPE = pd.CategoricalDtype(list(STATUSES))
ACTION_DTYPE = pd.CategoricalDtype(list(ACTIONS))
SOURCE_DTYPE = pd.CategoricalDtype(list(BILLED_COST_SOURCES))
DATETIME_DTYPE = pd.DatetimeTZDtype(unit="us", tz="UTC")

_KIND_DTYPE = {
    "id": "string",
    "str": "string",
    "tags": "string",
    "json": "string",
    "cat": "category",
    "int": "Int64",
    "int8": "Int8",
    "float": "float64",
    "bool": "boolean",
    "datetime": DATETIME_DTYPE,
}
_FIXED_CATEGORIES = {"status": STATUS_DTYPE, "action": ACTION_DTYPE, "billed_cost_source": SOURCE_DTYPE}


def _dtype_for(col: _Col):
    if col.name in _FIXED_CATEGORIES:
        return _FIXED_CATEGORIES[col.name]
    return _KIND_DTYPE[col.kind]


LEDGER_DTYPES: Mapping[str, object] = MappingProxyType({c.name: _dtype_for(c) for c in _COLS})
"""pandas dtype of every column of ``Ledger.df``: ``string`` for text, ``category`` for provider,
model, status, action and billed_cost_source (the last three with a fixed category order),
``Int64`` / ``Int8`` for integers, ``float64`` for money and durations, ``boolean`` for flags and
``datetime64[us, UTC]`` for times."""

DATETIME_COLUMNS = tuple(c.name for c in _COLS if c.kind == "datetime")

REV = "_rev"  # internal change stamp column (SQLite only)


def _sql_type(col: _Col, dialect: str) -> sa.types.TypeEngine:
    kind = col.kind
    if kind == "datetime":
        return sa.DateTime(timezone=True) if dialect != "sqlite" else sa.Double()
    if kind in ("int", "int8"):
        return sa.BigInteger() if kind == "int" else sa.SmallInteger()
    if kind == "float":
        return sa.Double()
    if kind == "bool":
        return sa.Boolean(create_constraint=False)
    return sa.Text()


ACTIVE_SQL = "status IS NULL OR status NOT IN ('cancelled', 'completed', 'failed')"
"""Rows whose status is not terminal (``TERMINAL_STATUSES``), as SQL."""
assert set(re.findall(r"'(\w+)'", ACTIVE_SQL)) == TERMINAL_STATUSES
ACTIVE = sa.text(ACTIVE_SQL)
COMPLETED_SQL = "status = 'completed' AND latency_s IS NOT NULL"
"""Rows with a measured latency (``Ledger.latency``'s partial index)."""
COMPLETED = sa.text(COMPLETED_SQL)


def db_now(dialect: str) -> sa.ColumnElement:
    """The database server's current time, in the form ``dialect`` stores datetimes: leases are
    judged by this one clock, never by the clients' clocks (which may disagree by seconds).

    SQLite: REAL seconds since the epoch (``julianday('now')`` is millisecond-exact and works on
    every SQLite version; ``unixepoch('subsec')`` needs 3.42). PostgreSQL: ``clock_timestamp()``
    (the time of the statement itself, not of the transaction's start like ``now()``).
    """
    if dialect == "sqlite":
        return sa.literal_column("((julianday('now') - 2440587.5) * 86400.0)", sa.Double())
    return sa.func.clock_timestamp()


def db_later(dialect: str, seconds: sa.ColumnElement) -> sa.ColumnElement:
    """``db_now`` plus ``seconds`` (a bound number), as stored by ``dialect``."""
    if dialect == "sqlite":
        return db_now(dialect) + seconds
    return sa.func.clock_timestamp() + sa.func.make_interval(0, 0, 0, 0, 0, 0, seconds)


def day_number(created_at: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    """Whole days since 1970-01-01 UTC: the ``day`` of ``cost_by`` (the same SQL as the index)."""
    if dialect == "sqlite":
        return sa.cast(created_at / sa.literal_column("86400.0", sa.Double()), sa.BigInteger)
    epoch = sa.extract("epoch", created_at)
    return sa.cast(sa.func.floor(epoch / sa.literal_column("86400")), sa.BigInteger)


VOTE_OUTCOMES: tuple[str, ...] = ("left", "right", "tie", "both_bad")
"""What a blind vote can say: the left clip is better, the right one, they are as good, or both bad."""

VOTE_COLUMNS: tuple[str, ...] = ("vote_id", "created_at", "user", "left_job_id", "right_job_id", "outcome", "prompt")
"""Columns of the ``votes`` table (one row per blind pairwise vote; ``Ledger.votes()``)."""


@dataclass
class Tables:
    metadata: sa.MetaData
    jobs: sa.Table
    meta: sa.Table
    dialect: str
    votes: sa.Table | None = None


def build_tables(dialect: str) -> Tables:
    """The ``jobs`` and ``meta`` tables as stored by ``dialect`` (``sqlite``, ``postgresql``...)."""
    md = sa.MetaData()
    cols = []
    for c in _COLS:
        if c.kind == "id":
            cols.append(sa.Column(c.name, sa.Text(), primary_key=True))
        else:
            cols.append(sa.Column(c.name, _sql_type(c, dialect), nullable=True))
    if dialect == "sqlite":
        cols.append(sa.Column(REV, sa.BigInteger(), nullable=True))
    jobs = sa.Table(
        "jobs",
        md,
        *cols,
        sa.Index("ix_jobs_created_at", "created_at"),  # since / until
        # pending(): only jobs that are not terminal are in this (small, partial) index, so a
        # million finished jobs cost it nothing; ACTIVE_SQL must match its WHERE word for word
        sa.Index("ix_jobs_active", "created_at", "job_id", sqlite_where=ACTIVE, postgresql_where=ACTIVE),
    )
    # Ledger.latency: the newest completed runs of one model at one provider, read from the index
    # alone (it holds the latency): a card asks it while a job waits, on ledgers of any size
    sa.Index("ix_jobs_latency", jobs.c.model, jobs.c.provider, jobs.c.emulated, jobs.c.completed_at,
             jobs.c.latency_s, jobs.c.status, sqlite_where=COMPLETED, postgresql_where=COMPLETED)
    if dialect == "sqlite":
        sa.Index("ix_jobs_rev", jobs.c[REV])  # rows changed since the Ledger.df snapshot
        # SQLite aggregates by sorting every row; this index hands cost_by(["model", "day"]), the
        # everyday spend report, its groups already in order (PostgreSQL hash-aggregates instead).
        sa.Index(
            "ix_jobs_model_day", jobs.c.model, day_number(jobs.c.created_at, dialect),
            jobs.c.estimated_cost, jobs.c.billed_cost,
        )
    meta = sa.Table(
        "meta",
        md,
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=True),
    )
    # blind arena votes (issue 24): one row per vote, in the same database as the jobs so a team
    # sharing a ledger shares its judgements; a ledger without the table gains it on open
    votes = sa.Table(
        "votes",
        md,
        sa.Column("vote_id", sa.Text(), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True) if dialect != "sqlite" else sa.Double(), nullable=False),
        sa.Column("user", sa.Text(), nullable=True),
        sa.Column("left_job_id", sa.Text(), nullable=False),
        sa.Column("right_job_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Index("ix_votes_created_at", "created_at"),
    )
    return Tables(md, jobs, meta, dialect, votes)
