"""The durable job ledger: one committed SQL transaction per change, pandas for reading.

SQLite (the default, one file) runs in WAL mode with ``synchronous=NORMAL``: a process killed at
any moment loses no committed row, readers never block the writer, and several processes can
append to the same file (writers queue on ``busy_timeout``; every write transaction starts with
``BEGIN IMMEDIATE`` so a writer waits for the lock instead of failing half way). Any other
SQLAlchemy URL works too; PostgreSQL (``postgresql+psycopg://``) is the one tested for teams.
"""

from __future__ import annotations

import gc
import json
import getpass
import os
import threading
import time
import uuid
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import StaticPool

from .._exceptions import ValidationError
from . import _cache
from ._codec import Codec, category_order, epoch_to_datetime, new_job_id, split_tags
from ._errors import JobNotFound, LeaseLost, LedgerError
from ._schema import (
    ACTIONS,
    ACTIVE,
    ACTIVE_SQL,
    COLS,
    COMPLETED,
    GROUPINGS,
    LEDGER_COLUMNS,
    FRAME_COLUMNS,
    LEDGER_DTYPES,
    REV,
    SCHEMA_VERSION,
    STATUSES,
    DATETIME_DTYPE,
    VOTE_COLUMNS,
    VOTE_OUTCOMES,
    build_tables,
    day_number,
    db_later,
    db_now,
)

__all__ = ["Ledger", "Latency", "DEFAULT_FILENAME", "ENV_VAR", "USER_ENV_VAR", "current_user"]


@dataclass(frozen=True)
class Latency:
    """A model's past latency at a provider, from the ledger (`Ledger.latency`)."""

    model: str
    provider: str | None
    count: int
    """How many completed runs the figures come from (0 = no history)."""
    median_s: float | None
    """Median seconds from submit to completion (None without history)."""
    p90_s: float | None
    """90th percentile of the same (None without history)."""

    def describe(self) -> str:
        """``usually ready in ~48 s (median of 12 runs, p90 71 s)`` or ``no history for this model yet``."""
        if not self.count or self.median_s is None:
            return "no history for this model yet"
        runs = "run" if self.count == 1 else "runs"
        return (f"usually ready in ~{seconds_text(self.median_s)} (median of {self.count} {runs}, "
                f"p90 {seconds_text(self.p90_s or self.median_s)})")

    def brief(self) -> str:
        """The same in a few words, for a gallery tile: ``usually ~48 s`` or ``no history yet``."""
        if not self.count or self.median_s is None:
            return "no history yet"
        return f"usually ~{seconds_text(self.median_s)}"


def seconds_text(seconds: float) -> str:
    """``48 s``, ``3 min 5 s``: how a user reads a duration (ETAs)."""
    s = int(round(seconds))
    if s < 120:
        return f"{s} s"
    m, s = divmod(s, 60)
    return f"{m} min {s} s" if s else f"{m} min"

DEFAULT_FILENAME = "sorakit-ledger.db"
ENV_VAR = "SORAKIT_LEDGER"
USER_ENV_VAR = "SORAKIT_USER"
_BUSY_TIMEOUT_MS = 60_000
_PG_LOCK_KEY = 0x736F72616B6974  # "sorakit": serialises schema set-up between processes
_SECRET_QUERY_KEYS = ("password", "passwd", "secret", "token", "sslpassword", "key")
_CHUNK_ROWS = 50_000
"""Rows fetched and turned into columns at a time by a frame read: a million-row read then never
holds more than this many rows as Python tuples (they take some 3x the memory of the frame)."""
_FILTERS = ("model", "provider", "status", "tag", "since", "until", "emulated", "batch_id", "action", "user",
            "job_id", "provider_job_id")
_ACTIVE_TERM = sa.text(f"({ACTIVE_SQL})")
"""`ACTIVE` in brackets, to AND with other conditions (its OR would otherwise bind looser)."""
_CLAIM_CHUNK = 500
"""Job ids per lease statement (SQLite binds at most 32766 parameters; PostgreSQL 65535)."""


def current_user() -> str | None:
    """Who is working: ``$SORAKIT_USER``, else the operating system's user name (None if unknown).
    Recorded in the ``user`` column of every job this process inserts."""
    name = os.environ.get(USER_ENV_VAR, "").strip()
    if name:
        return name
    try:
        return getpass.getuser() or None
    except Exception:  # no user name in the environment nor a passwd entry (some containers)
        return None


def _mask_url(url: URL) -> str:
    shown = url.render_as_string(hide_password=True)
    if url.query:
        masked = {
            k: ("***" if any(s in k.lower() for s in _SECRET_QUERY_KEYS) else v) for k, v in url.query.items()
        }
        shown = url.set(query=masked).render_as_string(hide_password=True)
    return shown


def _install_sqlite_pragmas(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised through every test
        dbapi_conn.isolation_level = None  # sorakit issues BEGIN itself (see _on_begin)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA journal_size_limit = 67108864")  # trim the WAL file after big batches
        cur.execute("PRAGMA cache_size = -32768")  # 32 MiB page cache (the default 2 MiB thrashes)
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - exercised through every test
        write = conn.get_execution_options().get("sorakit_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return [value]
    return list(value)


class Ledger:
    """The durable record of every video job, readable as a pandas DataFrame.

    ``Ledger()`` opens (creating if needed) ``$SORAKIT_LEDGER`` or ``./sorakit-ledger.db``.
    ``Ledger("runs/team.db")`` opens an SQLite file; ``Ledger("postgresql+psycopg://user@host/db")``
    any SQLAlchemy URL (a plain ``postgresql://`` URL uses psycopg 3). ``Ledger(":memory:")`` is a
    throw-away in-memory ledger. An existing SQLAlchemy ``Engine`` may be passed too.

    Every ``insert``/``update`` is one committed transaction. Opening an older ledger adds the
    columns it lacks. Each row records its ``user`` (``$SORAKIT_USER``, else the OS user) and the
    lease of the process driving it (:meth:`claim`, :meth:`renew`, :meth:`release`: one atomic
    conditional update each, judged by the database's clock) so a team can share one ledger. Use it as a context manager, or call :meth:`close`. ``df_cache=False``
    turns off the columnar snapshot that speeds up :attr:`df` for big SQLite ledgers.

    Example::

        led = Ledger()
        job = led.insert(provider="openai", model="sora-2", prompt="a red fox", seconds=4)
        led.update(job, status="completed", billed_cost=0.4, billed_cost_source="provider")
        led.df.groupby("model", observed=True).billed_cost.sum()
    """

    def __init__(self, location: str | os.PathLike[str] | Engine | None = None, *, df_cache: bool = True):
        self._lock = threading.RLock()
        self._owns_engine = True
        self._path: Path | None = None
        self._df_cache_enabled = df_cache
        self._snapshots = _cache.Writer()
        if isinstance(location, Engine):
            engine = location
            self._owns_engine = False
            if engine.dialect.name == "sqlite":
                _install_sqlite_pragmas(engine)
                if engine.url.database and engine.url.database != ":memory:":
                    self._path = Path(engine.url.database).resolve()
            self._location = _mask_url(engine.url)
        else:
            engine = self._make_engine(location)
        self._engine: Engine | None = engine
        dialect = engine.dialect.name
        self._t = build_tables(dialect)
        self._codec = Codec(dialect)
        self._updaters: dict[tuple[tuple[str, ...], bool], tuple[str, tuple[str, ...] | None, dict[str, Any], dict]] = {}
        self._release_sql: tuple[str, tuple[str, ...] | None, dict[str, Any]] | None = None
        self._serialise = engine.url.database in (None, "", ":memory:") and dialect == "sqlite"
        try:
            self._ensure_schema()
        except LedgerError:
            self.close()
            raise
        except sa.exc.SQLAlchemyError as exc:
            self.close()
            raise LedgerError(f"cannot open the ledger at {self._location}: {_short(exc)}") from None

    # ------------------------------------------------------------------------------------------
    # opening
    # ------------------------------------------------------------------------------------------
    def _make_engine(self, location: str | os.PathLike[str] | None) -> Engine:
        if location is None:
            location = os.environ.get(ENV_VAR) or str(Path.cwd() / DEFAULT_FILENAME)
        text = os.fspath(location) if isinstance(location, (str, os.PathLike)) else None
        if not isinstance(text, str):
            raise ValidationError("location", location, "a file path, an SQLAlchemy URL, an Engine, or None")
        if text == ":memory:":
            self._location = ":memory:"
            engine = sa.create_engine(
                "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
            )
            _install_sqlite_pragmas(engine)
            return engine
        if "://" in text:
            try:
                url = make_url(text)
            except sa.exc.ArgumentError:
                raise ValidationError(
                    "location", text, "a file path or an SQLAlchemy URL like postgresql+psycopg://user@host/db"
                ) from None
            if url.drivername in ("postgresql", "postgres"):
                url = url.set(drivername="postgresql+psycopg")
            self._location = _mask_url(url)
            if url.get_backend_name() == "sqlite":
                db = url.database
                if not db or db == ":memory:":
                    self._location = ":memory:"
                    engine = sa.create_engine(
                        url, poolclass=StaticPool, connect_args={"check_same_thread": False}
                    )
                else:
                    self._path = Path(db).expanduser().resolve()
                    self._path.parent.mkdir(parents=True, exist_ok=True)
                    engine = sa.create_engine(
                        url.set(database=str(self._path)),
                        connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
                    )
                _install_sqlite_pragmas(engine)
                return engine
            try:
                return sa.create_engine(url, pool_pre_ping=True)
            except (ImportError, sa.exc.ArgumentError) as exc:
                raise LedgerError(
                    f"cannot open the ledger at {self._location}: {exc} "
                    "(for PostgreSQL: pip install 'sorakit[postgres]')"
                ) from None
        path = Path(text).expanduser().resolve()
        if path.is_dir():
            path = path / DEFAULT_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._location = str(path)
        engine = sa.create_engine(
            URL.create("sqlite", database=str(path)),
            connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _install_sqlite_pragmas(engine)
        return engine

    def _ensure_schema(self) -> None:
        with self._conn() as conn:
            if self._schema_ok(conn):
                return
        with self._write() as conn:
            if self._t.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            self._migrate(conn)

    def _schema_ok(self, conn: sa.Connection) -> bool:
        insp = sa.inspect(conn)
        if not insp.has_table("jobs") or not insp.has_table("meta") or not insp.has_table("votes"):
            return False
        have = {c["name"] for c in insp.get_columns("jobs")}
        if any(c.name not in have for c in self._t.jobs.columns):
            return False
        indexes = self._index_names(conn)
        if any(i.name not in indexes for i in self._t.jobs.indexes):
            return False
        meta = self._meta(conn)
        if "ledger_id" not in meta:
            return False
        version = _int_or(meta.get("schema_version"), 0)
        self._warn_if_newer(version)
        return version >= SCHEMA_VERSION

    def _warn_if_newer(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            warnings.warn(
                f"the ledger at {self._location} has schema version {version}, newer than this "
                f"sorakit's {SCHEMA_VERSION}; columns this version does not know are left untouched",
                stacklevel=4,
            )

    def _migrate(self, conn: sa.Connection) -> None:
        jobs, meta = self._t.jobs, self._t.meta
        insp = sa.inspect(conn)
        existed = insp.has_table("jobs")
        if not existed:
            self._t.metadata.create_all(conn)
        else:
            have = {c["name"] for c in insp.get_columns("jobs")}
            if "job_id" not in have:
                raise LedgerError(f"the table 'jobs' at {self._location} is not a sorakit ledger (it has no job_id)")
            prep = conn.dialect.identifier_preparer
            for col in jobs.columns:
                if col.name not in have:
                    ddl = col.type.compile(dialect=conn.dialect)
                    conn.exec_driver_sql(f"ALTER TABLE {prep.quote('jobs')} ADD COLUMN {prep.quote(col.name)} {ddl}")
            if not insp.has_table("meta"):
                meta.create(conn)
            if not insp.has_table("votes"):  # ledgers from before the blind arena (issue 24)
                self._t.votes.create(conn)
            indexes = self._index_names(conn)
            for index in jobs.indexes:
                if index.name not in indexes:
                    index.create(conn)
        current = self._meta(conn)
        version = _int_or(current.get("schema_version"), 0)
        self._warn_if_newer(version)
        if existed and version < 2:
            self._split_seeds(conn)
        wanted = {
            "schema_version": str(max(version, SCHEMA_VERSION)),
            "ledger_id": current.get("ledger_id") or uuid.uuid4().hex,
            "created_at": current.get("created_at") or datetime.now(timezone.utc).isoformat(),
        }
        for key, value in wanted.items():
            if key not in current:
                conn.execute(meta.insert().values(key=key, value=value))
            elif current[key] != value:
                conn.execute(meta.update().where(meta.c.key == key).values(value=value))

    def _split_seeds(self, conn: sa.Connection, chunk: int = 5000) -> None:
        """Schema 1 → 2. A version 1 row kept the seed asked for in ``extra.request_seed`` and had
        ``seed`` overwritten with the provider's on completion: ``seed`` becomes the asked-for seed,
        ``provider_seed`` the old ``seed`` when the provider reported it (it differs from the one
        asked for, or the job got as far as its video), and the key leaves ``extra``. Rows without
        the key (written before it existed) keep their seed. Read and written in pages of
        ``chunk`` rows, in the transaction of the upgrade (all or nothing)."""
        jobs = self._t.jobs
        page = (sa.select(jobs.c.job_id, jobs.c.seed, jobs.c.status, jobs.c.extra)
                .where(jobs.c.extra.like("%request_seed%"), jobs.c.job_id > sa.bindparam("_after"))
                .order_by(jobs.c.job_id).limit(chunk))
        change = (jobs.update().where(jobs.c.job_id == sa.bindparam("_id"))
                  .values(seed=sa.bindparam("_seed"), provider_seed=sa.bindparam("_provider_seed"),
                          extra=sa.bindparam("_extra")))
        after = ""
        while True:
            found = conn.execute(page, {"_after": after}).all()
            if not found:
                return
            after = found[-1][0]
            changes = []
            for job_id, seed, status, text in found:
                try:
                    extra = json.loads(text)
                except (TypeError, ValueError):
                    continue
                if not isinstance(extra, dict) or "request_seed" not in extra:
                    continue
                asked = extra.pop("request_seed")
                asked = asked if isinstance(asked, int) and not isinstance(asked, bool) else None
                used = seed if seed is not None and (seed != asked or status in ("downloading", "completed")) else None
                changes.append({"_id": job_id, "_seed": asked, "_provider_seed": used,
                                "_extra": json.dumps(extra, default=str, ensure_ascii=False)})
            if changes:
                conn.execute(change, changes)

    def _index_names(self, conn: sa.Connection) -> set[str]:
        # the inspector skips expression indexes (ix_jobs_model_day), so ask the catalog directly
        if self._t.dialect == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'"
        elif self._t.dialect == "postgresql":
            sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'jobs' AND schemaname = current_schema()"
        else:
            return {i["name"] for i in sa.inspect(conn).get_indexes("jobs")}
        return {row[0] for row in conn.exec_driver_sql(sql)}

    def _meta(self, conn: sa.Connection) -> dict[str, str]:
        meta = self._t.meta
        return {k: v for k, v in conn.execute(sa.select(meta.c.key, meta.c.value)).all()}

    # ------------------------------------------------------------------------------------------
    # connections and transactions
    # ------------------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for your own SQL; the tables are ``jobs`` and ``meta``)."""
        if self._engine is None:
            raise LedgerError(f"the ledger at {self._location} is closed")
        return self._engine

    @contextmanager
    def _conn(self) -> Iterator[sa.Connection]:
        with self._maybe_lock():
            with self.engine.connect() as conn:
                yield conn

    @contextmanager
    def _maybe_lock(self) -> Iterator[None]:
        if self._serialise:  # one shared in-memory connection: one user at a time
            with self._lock:
                yield
        else:
            yield

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """One committed write transaction. Nothing shared is touched besides the rows written:
        no counter row, so writers on a server database never queue behind each other."""
        with self._maybe_lock():
            with self.engine.connect() as conn:
                conn.execution_options(sorakit_write=True)
                conn.info.pop(REV, None)  # the stamp belongs to one transaction (see _stamp)
                try:
                    with conn.begin():
                        yield conn
                finally:
                    conn.info.pop(REV, None)

    def _stamp(self, conn: sa.Connection) -> dict[str, int]:
        """``{"_rev": n}`` for the rows this SQLite write transaction touches, ``{}`` elsewhere.

        ``n`` is the time in microseconds, or one more than the largest stamp in the table if that
        is not smaller (a clock set back): read from the ``_rev`` index inside the transaction,
        which ``BEGIN IMMEDIATE`` makes the only writer of the file, so stamps only grow in
        commit order and the ``Ledger.df`` snapshot can ask for the rows stamped after its own.
        Nothing is stamped on other databases: nothing there needs it (see ``_schema``).
        """
        if REV not in self._t.jobs.c:
            return {}
        cached = conn.info.get(REV)
        if cached is None:
            top = conn.exec_driver_sql(f"SELECT max({REV}) FROM jobs").scalar()
            cached = conn.info[REV] = max(time.time_ns() // 1000, (top or 0) + 1)
        return {REV: cached}

    def _fetch(self, conn: sa.Connection, stmt: sa.Executable) -> tuple[list[str], list[tuple]]:
        result = conn.execute(stmt)
        names = list(result.keys())
        cursor = getattr(result, "cursor", None)
        if cursor is not None:  # raw DBAPI tuples: the Codec does all conversion, vectorised
            rows = cursor.fetchall()
            result.close()
        else:  # pragma: no cover - only if SQLAlchemy stops exposing the cursor
            rows = [tuple(r) for r in result]
        return names, rows

    # ------------------------------------------------------------------------------------------
    # writing
    # ------------------------------------------------------------------------------------------
    def _new_row(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Validated, encoded fields of a new row with the defaults filled in (absent = NULL)."""
        row = self._codec.encode(fields)
        get = row.get
        if get("job_id") is None:
            row["job_id"] = new_job_id()
        if get("status") is None:
            row["status"] = "pending"
        if get("created_at") is None:
            row["created_at"] = self._codec.now()
        if get("updated_at") is None:
            row["updated_at"] = row["created_at"]
        if get("schema_version") is None:
            row["schema_version"] = SCHEMA_VERSION
        if get("attempts") is None:
            row["attempts"] = 0
        return row

    def _insert_sql(self, conn: sa.Connection) -> tuple[str, list[str] | None]:
        """The INSERT statement compiled once, and the parameter order when the driver is positional.

        Rows are already validated and encoded into plain driver types by the Codec, so they go
        straight to the DBAPI ``executemany`` (SQLAlchemy's per-row parameter processing would
        double the cost of a bulk insert).
        """
        cached = getattr(self, "_insert_compiled", None)
        if cached is None:
            keys = self._insert_keys()
            compiled = self._t.jobs.insert().compile(dialect=conn.dialect, column_keys=keys)
            order = list(compiled.positiontup) if compiled.positional else None
            cached = self._insert_compiled = (str(compiled), order)
        return cached

    def _insert_keys(self) -> list[str]:
        return [c.name for c in self._t.jobs.columns]

    def _insert_rows(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        stamp = self._stamp(conn)
        for row in rows:
            row.update(stamp)
        sql, order = self._insert_sql(conn)
        if order is not None:
            params: list[Any] = [tuple([r.get(k) for k in order]) for r in rows]
        else:
            keys = self._insert_keys()
            params = [{k: r.get(k) for k in keys} for r in rows]
        try:
            if len(params) == 1:
                conn.exec_driver_sql(sql, params[0])
            else:
                conn.exec_driver_sql(sql, params)
        except sa.exc.IntegrityError:
            ids = [r["job_id"] for r in rows]
            raise ValidationError(
                "job_id", ids[0] if len(ids) == 1 else ids, "an id not already in the ledger",
                "a job with this id already exists",
            ) from None

    def insert(self, **fields: Any) -> str:
        """Write a new job row in its own committed transaction and return its job id.

        ``status`` defaults to ``"pending"``, ``created_at``/``updated_at`` to now (UTC),
        ``attempts`` to 0; ``job_id`` is generated unless given. Every field is checked first:
        an unknown name or a bad value raises :class:`~sorakit.ValidationError` naming it.
        Datetimes may be aware or naive (taken as UTC) datetimes, ISO strings or epoch seconds.
        ``user`` defaults to `current_user` (``$SORAKIT_USER``, else the OS user).
        """
        row = self._new_row(_with_user(fields, current_user()))
        with self._write() as conn:
            self._insert_rows(conn, [row])
        return row["job_id"]

    def insert_many(self, rows: Iterable[Mapping[str, Any]], *, lease: tuple[str, float] | None = None) -> list[str]:
        """Write many new job rows in one committed transaction; returns their job ids in order.

        Every row is validated before anything is written, so a bad row writes nothing.
        ``lease=(owner, seconds)`` claims the new rows for ``owner`` in the same transaction (see
        :meth:`claim`): no other process can resume a job between its insert and its first lease.
        """
        user = current_user()
        encoded = [self._new_row(_with_user(r, user)) for r in rows]
        if not encoded:
            return []
        with self._write() as conn:
            self._insert_rows(conn, encoded)
            if lease is not None:
                self._lease(conn, [r["job_id"] for r in encoded], lease[0], lease[1], force=True)
        return [r["job_id"] for r in encoded]

    # ------------------------------------------------------------------------------------------
    # leases: at most one process drives a job
    # ------------------------------------------------------------------------------------------
    def claim(self, job_ids: Sequence[str], owner: str, seconds: float, *, force: bool = False,
              dead: Sequence[str] = ()) -> list[str]:
        """Take the lease of those unfinished jobs nobody else holds; returns the ids taken.

        One atomic conditional ``UPDATE ... RETURNING`` per 500 ids: a row is taken when its lease
        is free, expired (``lease_until`` before the *database's* clock) or already ``owner``'s, so
        two processes claiming at the same moment never both get a row. ``force`` takes leased
        rows too (``resume(force=True)``); ``dead`` names owners known to have ended (a process of
        this machine that no longer runs), whose leases count as run out. The lease runs
        ``seconds`` from the database's now.
        """
        if not isinstance(owner, str) or not owner:
            raise ValidationError("owner", owner, "a non-empty string naming the process")
        _check_seconds(seconds)
        with self._write() as conn:
            return self._lease(conn, list(job_ids), owner, seconds, force=force, dead=list(dead))

    def renew(self, job_ids: Sequence[str], owner: str, seconds: float) -> list[str]:
        """Extend ``owner``'s leases to ``seconds`` from the database's now (the driver's
        heartbeat); returns the ids still held (a missing id was taken over: stop driving it)."""
        _check_seconds(seconds)
        jobs = self._t.jobs
        later = db_later(self._t.dialect, sa.bindparam("secs", float(seconds), sa.Double()))
        held: list[str] = []
        with self._write() as conn:
            for chunk in _chunks(list(job_ids)):
                stmt = (jobs.update().where(jobs.c.job_id.in_(chunk), jobs.c.lease_owner == owner)
                        .values(lease_until=later, **self._stamp(conn)).returning(jobs.c.job_id))
                held += conn.execute(stmt).scalars().all()
        return held

    def release(self, job_ids: Sequence[str], owner: str) -> list[str]:
        """Give up ``owner``'s leases of these jobs (it stopped driving them); returns the ids
        released. Leases held by someone else are left alone."""
        with self._write() as conn:
            return self._release(conn, job_ids, owner)

    def _release(self, conn: sa.Connection, job_ids: Sequence[str], owner: str) -> list[str]:
        ids = list(job_ids)
        if len(ids) <= _RELEASE_EACH:  # a few jobs that just finished (the engine's group commit)
            sql, order, defaults = self._releaser()
            freed: list[str] = []
            for jid in ids:
                params = dict(defaults, where_job_id=jid, where_lease_owner=owner)
                if "set__rev_now" in params:
                    params["set__rev_now"] = time.time_ns() // 1000
                row = conn.exec_driver_sql(sql, tuple(params[n] for n in order) if order is not None else params).first()
                if row is not None:
                    freed.append(row[0])
            return freed
        jobs = self._t.jobs
        freed = []
        for chunk in _chunks(ids):
            stmt = (jobs.update().where(jobs.c.job_id.in_(chunk), jobs.c.lease_owner == owner)
                    .values(lease_owner=None, lease_until=None, **self._stamp(conn))
                    .returning(jobs.c.job_id))
            freed += conn.execute(stmt).scalars().all()
        return freed

    def held_leases(self) -> list[tuple[str, str, bool]]:
        """``(job_id, lease_owner, live)`` of every unfinished job someone holds (or held) the
        lease of, oldest first; ``live`` as in :meth:`leases`. A Studio reads this at its heartbeat
        to find jobs whose holder stopped renewing (``adopt``): only the small active index and
        three columns are read, never a row's payload."""
        jobs = self._t.jobs
        now = db_now(self._t.dialect)
        live = sa.and_(jobs.c.lease_until.is_not(None), jobs.c.lease_until >= now)
        stmt = (sa.select(jobs.c.job_id, jobs.c.lease_owner, sa.case((live, True), else_=False))
                .where(ACTIVE, jobs.c.lease_owner.is_not(None))
                .order_by(jobs.c.created_at, jobs.c.job_id))
        with self._conn() as conn:
            return [(jid, who, bool(alive)) for jid, who, alive in conn.execute(stmt)]

    def leases(self, job_ids: Sequence[str]) -> dict[str, tuple[str | None, bool]]:
        """``{job_id: (lease_owner, live)}`` where ``live`` says the lease has not run out by the
        database's clock. Unknown ids are absent."""
        jobs = self._t.jobs
        now = db_now(self._t.dialect)
        live = sa.and_(jobs.c.lease_owner.is_not(None), jobs.c.lease_until.is_not(None), jobs.c.lease_until >= now)
        out: dict[str, tuple[str | None, bool]] = {}
        with self._conn() as conn:
            for chunk in _chunks(list(job_ids)):
                stmt = sa.select(jobs.c.job_id, jobs.c.lease_owner, sa.case((live, True), else_=False))
                for jid, who, alive in conn.execute(stmt.where(jobs.c.job_id.in_(chunk))):
                    out[jid] = (who, bool(alive))
        return out

    def _lease(self, conn: sa.Connection, job_ids: list[str], owner: str, seconds: float,
               force: bool, dead: list[str] | None = None) -> list[str]:
        jobs = self._t.jobs
        dialect = self._t.dialect
        later = db_later(dialect, sa.bindparam("secs", float(seconds), sa.Double()))
        free = sa.or_(jobs.c.lease_until.is_(None), jobs.c.lease_until < db_now(dialect),
                      jobs.c.lease_owner.is_(None), jobs.c.lease_owner.in_([owner, *(dead or [])]))
        taken: list[str] = []
        for chunk in _chunks(job_ids):
            where = [jobs.c.job_id.in_(chunk), _ACTIVE_TERM]
            if not force:
                where.append(free)
            stmt = (jobs.update().where(*where)
                    .values(lease_owner=owner, lease_until=later, **self._stamp(conn))
                    .returning(jobs.c.job_id))
            taken += conn.execute(stmt).scalars().all()
        return taken

    def update(self, job_id: str, **fields: Any) -> None:
        """Change fields of one job in its own committed transaction (``updated_at`` is set to now
        unless given). Raises :class:`JobNotFound` (a ``KeyError``) for an unknown job id."""
        sql, params = self._update_statement(job_id, fields)
        with self._write() as conn:
            if conn.exec_driver_sql(sql, params).rowcount == 0:
                raise JobNotFound(job_id, self._location)

    def update_many(self, updates: Sequence[tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], Any]], *,
                    release: Sequence[str] = (), owner: str | None = None) -> list[BaseException | None]:
        """Several :meth:`update` calls (and a :meth:`release` of ``owner``'s leases of ``release``)
        committed in one transaction: a group commit for a writer that has many jobs' transitions
        queued at once. Returns, per update, None or the exception :meth:`update` would have raised,
        then (when ``release`` is given) one more entry for the release. A failed update does not
        stop the others: the group is then redone one transaction per update. Nothing is committed
        before the whole group is, so a caller told None may move on.

        An update may carry a third item, a fence ``(lease_owner, seconds)``: it is written only if
        ``lease_owner`` holds the job's lease, and in the same statement the lease is renewed to
        ``seconds`` from the database's now (what :meth:`renew` does), so "the lease is ours" and
        "this is written" are one fact. A lease not held gives :class:`LeaseLost` for that update
        (nothing of it written); the others are committed."""
        released = bool(release) and owner is not None
        errors: list[BaseException | None] = [None] * (len(updates) + released)
        ready: list[tuple[int, str, str, Any, Any]] = []
        for i, (job_id, fields, *more) in enumerate(updates):
            fence = more[0] if more else None
            try:
                ready.append((i, job_id, *self._update_statement(job_id, fields, fence), fence))
            except Exception as exc:  # a value the codec refuses: that update alone fails
                errors[i] = exc
        try:
            with self._write() as conn:
                for i, job_id, sql, params, fence in ready:
                    if conn.exec_driver_sql(sql, params).rowcount == 0:
                        if fence is not None:  # nothing of it was written: the others go on
                            errors[i] = LeaseLost(job_id, fence[0])
                            continue
                        raise JobNotFound(job_id, self._location)
                if released:
                    self._release(conn, release, owner)  # type: ignore[arg-type]
            return errors
        except Exception as exc:
            if len(ready) + released == 1:
                errors[ready[0][0] if ready else -1] = exc
                return errors
        # one of them failed and the transaction rolled back: each on its own, so the rest land
        for i, job_id, _sql, _params, fence in ready:
            errors[i] = None
            try:
                sql, params = self._update_statement(job_id, updates[i][1], fence)
                with self._write() as conn:
                    if conn.exec_driver_sql(sql, params).rowcount == 0:
                        errors[i] = LeaseLost(job_id, fence[0]) if fence is not None \
                            else JobNotFound(job_id, self._location)
            except Exception as exc:
                errors[i] = exc
        if released:
            try:
                self.release(release, owner)  # type: ignore[arg-type]
            except Exception as exc:
                errors[-1] = exc
        return errors

    def _update_statement(self, job_id: str, fields: Mapping[str, Any], fence: Any = None) -> tuple[str, Any]:
        """SQL text and parameters of :meth:`update` (fields validated and encoded here); with a
        ``fence`` ``(lease_owner, seconds)`` (see :meth:`update_many`)."""
        enc = self._codec.encode(fields)
        if "job_id" in enc and enc["job_id"] != job_id:
            raise ValidationError("job_id", fields["job_id"], "the job's own id", "a job id cannot change")
        enc.pop("job_id", None)
        if enc.get("updated_at") is None:
            enc["updated_at"] = self._codec.now()
        if fence is not None:
            for name in ("lease_owner", "lease_until"):
                enc.pop(name, None)  # the fence sets the lease itself
        sql, order, params, processors = self._updater(tuple(enc), fence is not None)
        params = dict(params)
        for name, value in enc.items():
            proc = processors.get(name)
            params[f"set_{name}"] = value if proc is None or value is None else proc(value)
        params["where_job_id"] = job_id
        if fence is not None:
            lease_owner, seconds = fence
            if not isinstance(lease_owner, str) or not lease_owner:
                raise ValidationError("owner", lease_owner, "a non-empty string naming the process")
            _check_seconds(seconds)
            params["where_lease_owner"] = lease_owner
            params["lease_secs"] = float(seconds)
        if "set__rev_now" in params:
            params["set__rev_now"] = time.time_ns() // 1000
        return sql, tuple(params[n] for n in order) if order is not None else params

    def _updater(self, names: tuple[str, ...], fenced: bool = False
                 ) -> tuple[str, tuple[str, ...] | None, dict[str, Any], dict]:
        """The ``UPDATE jobs SET <names> WHERE job_id = ?`` of :meth:`update`, compiled once per
        set of column names for this database: (SQL text, bind names in positional order or None,
        default parameters, bind processors by column). Building and compiling an SQLAlchemy
        statement on every update cost about as much as the SQLite commit itself (bench/cpu.py).

        On SQLite the ``_rev`` stamp is set in the same statement, by the rule of :meth:`_stamp`:
        ``max(now in µs, largest stamp + 1)``, read inside the ``BEGIN IMMEDIATE`` transaction."""
        prepared = self._updaters.get((names, fenced))
        if prepared is not None:
            return prepared
        jobs = self._t.jobs
        dialect = self.engine.dialect
        values: dict[str, Any] = {n: sa.bindparam(f"set_{n}", None, type_=jobs.c[n].type, required=False)
                                   for n in names}
        if REV in jobs.c:
            top = sa.select(sa.func.max(jobs.c[REV])).scalar_subquery()
            values[REV] = sa.func.max(sa.bindparam("set__rev_now", 0, type_=sa.BigInteger()),
                                      sa.func.coalesce(top, 0) + 1)
        where = jobs.c.job_id == sa.bindparam("where_job_id", "", type_=jobs.c.job_id.type)
        if fenced:  # written only while the lease is ours, and renewed by the same statement
            where = sa.and_(where, jobs.c.lease_owner == sa.bindparam("where_lease_owner", "",
                                                                     type_=jobs.c.lease_owner.type))
            values["lease_until"] = db_later(self._t.dialect, sa.bindparam("lease_secs", 0.0, sa.Double()))
        sql, order, defaults = self._compile(jobs.update().where(where).values(values))
        processors = {n: p for n in names if (p := jobs.c[n].type.bind_processor(dialect)) is not None}
        prepared = self._updaters[(names, fenced)] = (sql, order, defaults, processors)
        return prepared

    def _releaser(self) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        """``UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE job_id = ? AND
        lease_owner = ? RETURNING job_id`` (``_rev`` stamped as in :meth:`_updater`), compiled once:
        building the SQLAlchemy statement for each release cost more than the update it rode with."""
        if self._release_sql is not None:
            return self._release_sql
        jobs = self._t.jobs
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None}
        if REV in jobs.c:
            top = sa.select(sa.func.max(jobs.c[REV])).scalar_subquery()
            values[REV] = sa.func.max(sa.bindparam("set__rev_now", 0, type_=sa.BigInteger()),
                                      sa.func.coalesce(top, 0) + 1)
        where = sa.and_(jobs.c.job_id == sa.bindparam("where_job_id", "", type_=jobs.c.job_id.type),
                        jobs.c.lease_owner == sa.bindparam("where_lease_owner", "", type_=jobs.c.lease_owner.type))
        self._release_sql = self._compile(jobs.update().where(where).values(values).returning(jobs.c.job_id))
        return self._release_sql

    def _compile(self, stmt: sa.Executable) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        """(SQL text for ``exec_driver_sql``, bind names in positional order or None, default parameters)."""
        compiled = stmt.compile(dialect=self.engine.dialect)
        order = tuple(compiled.positiontup) if compiled.positional else None
        return compiled.string, order, dict(compiled.construct_params())

    def rate(self, job_id: str, rating: int | None) -> None:
        """Rate a job from 1 (worst) to 5 (best); ``None`` clears the rating."""
        self.update(job_id, rating=rating)

    def vote(self, left_job_id: str, right_job_id: str, outcome: str, *, prompt: str | None = None,
             user: str | None = None, created_at: Any = None) -> str:
        """Record one blind pairwise vote between two jobs and return its id (``vote_…``).

        ``outcome`` is one of `VOTE_OUTCOMES`: ``left`` (the first job's clip is better),
        ``right``, ``tie`` or ``both_bad``. ``user`` defaults to `current_user`, ``created_at``
        to now. Both jobs must be in the ledger (`JobNotFound` otherwise) and differ."""
        if outcome not in VOTE_OUTCOMES:
            raise ValidationError("outcome", outcome, "one of " + ", ".join(repr(o) for o in VOTE_OUTCOMES))
        for field, value in (("left_job_id", left_job_id), ("right_job_id", right_job_id)):
            if not isinstance(value, str) or not value:
                raise ValidationError(field, value, "a job id from the ledger")
        if left_job_id == right_job_id:
            raise ValidationError("right_job_id", right_job_id, "a job other than the left one")
        if prompt is not None and not isinstance(prompt, str):
            raise ValidationError("prompt", prompt, "a string or None")
        votes, jobs = self._t.votes, self._t.jobs
        when = self._codec.now() if created_at is None else self._codec.encode_datetime(created_at, "created_at")
        vote_id = "vote_" + new_job_id()[4:]
        with self._write() as conn:
            found = set(conn.execute(sa.select(jobs.c.job_id).where(
                jobs.c.job_id.in_([left_job_id, right_job_id]))).scalars())
            for job_id in (left_job_id, right_job_id):
                if job_id not in found:
                    raise JobNotFound(job_id, self._location)
            conn.execute(votes.insert().values(
                vote_id=vote_id, created_at=when, user=user if user is not None else current_user(),
                left_job_id=left_job_id, right_job_id=right_job_id, outcome=outcome, prompt=prompt))
        return vote_id

    def delete_vote(self, vote_id: str) -> None:
        """Take back one blind vote (the arena's undo): the row goes, as if never cast. Raises
        `ValidationError` naming ``vote_id`` when no vote has that id."""
        if not isinstance(vote_id, str) or not vote_id:
            raise ValidationError("vote_id", vote_id, "the id of a vote in this ledger (see votes())")
        votes = self._t.votes
        with self._write() as conn:
            gone = conn.execute(votes.delete().where(votes.c.vote_id == vote_id)).rowcount
        if not gone:
            raise ValidationError("vote_id", vote_id, "the id of a vote in this ledger (see votes())",
                                  f"there is no such vote in {self._location}")

    def votes(self, *, since: Any = None, user: str | None = None) -> pd.DataFrame:
        """Every blind vote, oldest first, as a DataFrame with columns `VOTE_COLUMNS`
        (``created_at`` as UTC datetimes, ``outcome`` a category in `VOTE_OUTCOMES` order)."""
        votes = self._t.votes
        stmt = sa.select(*[votes.c[n] for n in VOTE_COLUMNS]).order_by(votes.c.created_at, votes.c.vote_id)
        if since is not None:
            stmt = stmt.where(votes.c.created_at >= self._codec.encode_datetime(since, "since"))
        if user is not None:
            stmt = stmt.where(votes.c.user == user)
        with self._conn() as conn:
            rows = conn.execute(stmt).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(VOTE_COLUMNS))
        for name in ("vote_id", "user", "left_job_id", "right_job_id", "prompt"):
            frame[name] = frame[name].astype("string")
        when = frame["created_at"]
        if self._t.dialect == "sqlite":
            # exact to the µs (pandas' unit="s" went through nanoseconds: half the votes were 1 µs off)
            frame["created_at"] = epoch_to_datetime(when.to_numpy(dtype="float64", na_value=np.nan, copy=True))
        else:
            frame["created_at"] = pd.to_datetime(when, utc=True).astype(DATETIME_DTYPE)
        frame["outcome"] = pd.Categorical(frame["outcome"], categories=list(VOTE_OUTCOMES))
        return frame

    def note(self, job_id: str, text: str | None) -> None:
        """Set the free-text notes of a job (``None`` clears them)."""
        self.update(job_id, notes=text)

    def tag(self, job_id: str, *tags: str | Iterable[str]) -> list[str]:
        """Add tags to a job (kept in order, without duplicates); returns the job's tags."""
        return self._retag(job_id, _flatten_tags(tags), add=True)

    def untag(self, job_id: str, *tags: str | Iterable[str]) -> list[str]:
        """Remove tags from a job (absent ones are ignored); returns the job's remaining tags."""
        return self._retag(job_id, _flatten_tags(tags), add=False)

    def _retag(self, job_id: str, tags: list[str], add: bool) -> list[str]:
        jobs = self._t.jobs
        with self._write() as conn:
            stmt = sa.select(jobs.c.tags).where(jobs.c.job_id == job_id).with_for_update()
            found = conn.execute(stmt).first()
            if found is None:
                raise JobNotFound(job_id, self._location)
            current = split_tags(found[0])
            if add:
                new = current + [t for t in tags if t not in current]
            else:
                new = [t for t in current if t not in tags]
            values = {"tags": ",".join(new) or None, "updated_at": self._codec.now(), **self._stamp(conn)}
            conn.execute(jobs.update().where(jobs.c.job_id == job_id).values(**values))
        return new

    # ------------------------------------------------------------------------------------------
    # reading
    # ------------------------------------------------------------------------------------------
    def _select(self) -> sa.Select:
        jobs = self._t.jobs
        return sa.select(*[jobs.c[n] for n in LEDGER_COLUMNS])

    def get(self, job_id: str) -> dict[str, Any]:
        """One job as a dict of Python values (aware UTC datetimes, ``tags`` as a list, ``extra``
        parsed from JSON, ``None`` for missing). Raises :class:`JobNotFound` for an unknown id."""
        jobs = self._t.jobs
        with self._conn() as conn:
            names, rows = self._fetch(conn, self._select().where(jobs.c.job_id == job_id))
        if not rows:
            raise JobNotFound(job_id, self._location)
        return self._codec.decode_row(names, rows[0])

    def rows(self, **filters: Any) -> list[dict[str, Any]]:
        """Jobs matching the filters of :meth:`query` (and ``job_id`` / ``provider_job_id``: one id
        or a list), as dicts like :meth:`get`, oldest first."""
        jobs = self._t.jobs
        stmt = self._select().where(*self._where(filters)).order_by(jobs.c.created_at, jobs.c.job_id)
        with self._conn() as conn:
            names, raw = self._fetch(conn, stmt)
        return [self._codec.decode_row(names, r) for r in raw]

    def pending(self) -> list[dict[str, Any]]:
        """Every job whose status is not terminal (pending, submitted, queued, in_progress,
        downloading, timed_out_waiting, unknown), oldest first: what ``resume`` must look at."""
        jobs = self._t.jobs
        stmt = (
            self._select()
            .where(ACTIVE)
            .order_by(jobs.c.created_at, jobs.c.job_id)
        )
        with self._conn() as conn:
            names, raw = self._fetch(conn, stmt)
        return [self._codec.decode_row(names, r) for r in raw]

    @property
    def df(self) -> pd.DataFrame:
        """The whole ledger as a DataFrame with real dtypes (see ``LEDGER_DTYPES``), oldest first.

        A fresh frame each time: changing it does not change the ledger. For SQLite ledgers of
        50,000 rows or more a columnar snapshot (``<file>-df.arrow``, see :attr:`df_cache_path`)
        makes repeated loads fast: only rows written since it was saved are read from SQL.
        """
        path = self.df_cache_path
        if path is None:
            return _reading_order(self._frame([]))
        return _reading_order(self._cached_frame(path))

    @property
    def df_cache_path(self) -> Path | None:
        """The columnar snapshot file that speeds up :attr:`df` (it may not exist yet), or None
        when not used: server databases, in-memory ledgers, ``df_cache=False``, or no pyarrow."""
        if self._path is None or not self._df_cache_enabled or not _cache.available():
            return None
        return _cache.path_for(self._path)

    def _cached_frame(self, path: Path) -> pd.DataFrame:
        snap = _cache.read(path)
        jobs = self._t.jobs
        with self._conn() as conn, conn.begin():  # one read transaction: stamp, count and rows agree
            ledger_id = self._meta(conn).get("ledger_id", "")
            stamp = int(conn.exec_driver_sql(f"SELECT coalesce(max({REV}), 0) FROM jobs").scalar_one())
            count = int(conn.execute(sa.select(sa.func.count()).select_from(jobs)).scalar_one())
            if snap is not None and (snap.ledger_id != ledger_id or snap.rev > stamp):
                snap = None
            if snap is not None:
                fresh = self._read(conn, self._select().where(jobs.c[REV] > snap.rev))
            else:
                fresh = self._read(conn, self._select())
        if snap is None:
            df = _sorted(fresh)
            changed = len(df)
        else:
            changed = len(fresh)
            df = snap.frame
            if changed:
                keep = ~df["job_id"].isin(fresh["job_id"]).to_numpy()
                df = _concat([df[keep], fresh])
            df = _sorted(df)
            if len(df) != count:  # rows vanished behind our back: the snapshot is not to be trusted
                try:
                    path.unlink()
                except OSError:
                    pass
                return self._frame([])
        if count >= _cache.MIN_ROWS and (snap is None or changed >= max(10_000, count // 20)):
            self._snapshots.start(path, df, stamp, ledger_id)
        return df

    def query(
        self,
        model: str | Sequence[str] | None = None,
        provider: str | Sequence[str] | None = None,
        status: str | Sequence[str] | None = None,
        tag: str | Sequence[str] | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        emulated: bool | None = None,
        *,
        batch_id: str | Sequence[str] | None = None,
        action: str | Sequence[str] | None = None,
        user: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Jobs matching every given filter, as a DataFrame like :attr:`df`.

        Each of model, provider, status, batch_id, action, user and tag takes one value or a list (any
        of them matches; for ``tag``: a job carrying any of the tags). ``since`` (inclusive) and
        ``until`` (exclusive) bound ``created_at``: datetimes (naive = UTC), dates or ISO strings.
        ``emulated`` True/False keeps only emulator / only real jobs.
        """
        filters = dict(
            model=model, provider=provider, status=status, tag=tag, since=since, until=until,
            emulated=emulated, batch_id=batch_id, action=action, user=user,
        )
        return _reading_order(self._frame(self._where(filters)))

    def _where(self, filters: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
        jobs = self._t.jobs
        clauses: list[sa.ColumnElement[bool]] = []
        for name, value in filters.items():
            if name not in _FILTERS:
                raise ValidationError(name, value, _FILTERS, message=f"unknown filter {name!r}")
            if value is None:
                continue
            if name in ("model", "provider", "status", "batch_id", "action", "user", "job_id", "provider_job_id"):
                values = _as_list(value)
                choices = STATUSES if name == "status" else ACTIONS if name == "action" else None
                for v in values:
                    if not isinstance(v, str) or (choices is not None and v not in choices):
                        raise ValidationError(name, v, choices or "strings")
                clauses.append(jobs.c[name].in_(values))
            elif name == "tag":
                tags = split_tags(_as_list(value), "tag")
                # whole, case-sensitive tags: find ",tag," in ",a,b," (LIKE would ignore case on SQLite)
                padded = sa.literal(",", sa.Text) + sa.func.coalesce(jobs.c.tags, "") + sa.literal(",", sa.Text)
                find = sa.func.strpos if self._t.dialect == "postgresql" else sa.func.instr
                clauses.append(sa.or_(*[find(padded, f",{t},") > 0 for t in tags]) if tags else sa.false())
            elif name == "since":
                clauses.append(jobs.c.created_at >= self._codec.encode_datetime(value, "since"))
            elif name == "until":
                clauses.append(jobs.c.created_at < self._codec.encode_datetime(value, "until"))
            elif name == "emulated":
                if not isinstance(value, (bool, np.bool_)):
                    raise ValidationError("emulated", value, "True, False or None")
                clauses.append(jobs.c.emulated == bool(value))
        return clauses

    def _frame(self, where: list[sa.ColumnElement[bool]]) -> pd.DataFrame:
        with self._conn() as conn:
            return _sorted(self._read(conn, self._select().where(*where)))

    def _read(self, conn: sa.Connection, stmt: sa.Select) -> pd.DataFrame:
        """The rows of ``stmt`` as a typed frame, fetched ``_CHUNK_ROWS`` at a time from the
        driver's cursor, each chunk turned into columns before the next is fetched.

        Why the driver's own rows: the libraries that read SQLite straight into Arrow
        (adbc-driver-sqlite, connectorx) ship their own build of SQLite (apache/arrow-adbc#4143),
        and two SQLite copies with one file open in the same process release each other's POSIX
        locks when either closes it. Pushing the columns through SQLite's text (JSON, CSV)
        instead loses digits: SQLite renders a REAL with 15 of them (0.1 + 0.2 becomes 0.3, epoch
        seconds lose their microseconds). ``bench/ledger.py`` prints what this path costs.
        """
        with _no_gc():
            result = conn.execute(stmt)
            names = list(result.keys())
            cursor = result.cursor
            parts = []
            try:
                while rows := cursor.fetchmany(_CHUNK_ROWS):
                    parts.append(self._codec.frame(names, rows))
                    del rows
            finally:
                result.close()
        return _concat(parts) if parts else self._codec.frame(names, [])

    def __len__(self) -> int:
        with self._conn() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self._t.jobs)).scalar_one())

    def __contains__(self, job_id: object) -> bool:
        jobs = self._t.jobs
        with self._conn() as conn:
            return conn.execute(sa.select(jobs.c.job_id).where(jobs.c.job_id == job_id)).first() is not None

    # ------------------------------------------------------------------------------------------
    # cost
    # ------------------------------------------------------------------------------------------
    def cost_by(self, by: str | Sequence[str] = ("model", "day"), **filters: Any) -> pd.DataFrame:
        """Spend grouped by any of ``model``, ``provider``, ``status``, ``user`` (who asked for
        the job), ``day`` (UTC date of ``created_at``) and ``tag`` (a job with two tags counts
        under both).

        Returns one row per group with ``count``, ``estimated_cost`` and ``billed_cost`` (sums;
        NaN when no job in the group has a known cost), then ``asked_seconds`` and
        ``delivered_seconds``: over the clips the checks measured (``check_seconds``), the seconds
        asked for (what a per-second price bills) against the seconds the files hold — "did I get
        what I paid for" (NaN before any clip is checked). Sorted by the groups. Takes the same
        filters as :meth:`query`, e.g. ``cost_by("model", emulated=False)``.
        """
        keys = [by] if isinstance(by, str) else list(by)
        for k in keys:
            if k not in GROUPINGS:
                raise ValidationError("by", k, GROUPINGS)
        if len(set(keys)) != len(keys):
            raise ValidationError("by", keys, "each grouping at most once")
        jobs = self._t.jobs
        exprs = []
        for k in keys:
            if k == "day":
                exprs.append(self._day_expr().label("day"))
            elif k == "tag":
                exprs.append(jobs.c.tags.label("tag"))
            else:
                exprs.append(jobs.c[k].label(k))
        stmt = sa.select(
            *exprs,
            sa.func.count().label("count"),
            sa.func.sum(jobs.c.estimated_cost).label("estimated_cost"),
            sa.func.sum(jobs.c.billed_cost).label("billed_cost"),
            sa.func.sum(sa.case((jobs.c.check_seconds.is_not(None), jobs.c.seconds))).label("asked_seconds"),
            sa.func.sum(jobs.c.check_seconds).label("delivered_seconds"),
        ).where(*self._where(filters))
        if exprs:
            stmt = stmt.group_by(*[sa.text(str(i + 1)) for i in range(len(exprs))])
        with self._conn() as conn:
            names, raw = self._fetch(conn, stmt)
        columns = list(zip(*raw)) if raw else [()] * len(names)
        data: dict[str, Any] = {}
        for name, seq in zip(names, columns):
            if name == "day":
                days = np.array([np.nan if d is None else d for d in seq], dtype="float64")
                data[name] = pd.to_datetime(days * 86400.0, unit="s").astype("datetime64[us]")
            elif name == "tag":
                data[name] = pd.array(list(seq), dtype="string")
            elif name in ("model", "provider", "status", "user"):
                data[name] = self._codec.frame_from_columns({name: seq})[name].array
            elif name == "count":
                data[name] = np.array(seq, dtype="int64")
            else:
                data[name] = np.array([np.nan if v is None else float(v) for v in seq], dtype="float64")
        out = pd.DataFrame(data)
        if "tag" in keys:
            out["tag"] = out["tag"].str.split(",")
            out = out.explode("tag", ignore_index=True)
            out["tag"] = out["tag"].astype("string")
            grouped = out.groupby(keys, dropna=False, observed=True, sort=False)
            out = grouped.agg(
                count=("count", "sum"),
                estimated_cost=("estimated_cost", lambda s: s.sum(min_count=1)),
                billed_cost=("billed_cost", lambda s: s.sum(min_count=1)),
                asked_seconds=("asked_seconds", lambda s: s.sum(min_count=1)),
                delivered_seconds=("delivered_seconds", lambda s: s.sum(min_count=1)),
            ).reset_index()
        if keys:
            out = out.sort_values(keys, kind="stable", na_position="last", ignore_index=True)
        return out[[*keys, "count", "estimated_cost", "billed_cost", "asked_seconds", "delivered_seconds"]]

    def latency(self, model: str, provider: str | None = None, *, emulated: bool | None = None,
                window: int = 500) -> Latency:
        """How long ``model`` (at ``provider``) took to finish here before: the median and 90th
        percentile of ``latency_s`` (submitted -> completed) over its newest ``window`` completed
        runs, with the count. ``emulated`` restricts to emulator runs (True) or real ones (False);
        an emulator's seconds say nothing about a real service. A `Latency` with ``count == 0``
        means there is no history: say so rather than guess.

        One indexed SQL read of at most ``window`` numbers (``ix_jobs_latency`` covers the query),
        so its cost does not grow with the ledger.
        """
        if not isinstance(model, str) or not model:
            raise ValidationError("model", model, "a model name")
        if provider is not None and (not isinstance(provider, str) or not provider):
            raise ValidationError("provider", provider, "a provider name or None")
        if emulated is not None and not isinstance(emulated, (bool, np.bool_)):
            raise ValidationError("emulated", emulated, "True, False or None")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValidationError("window", window, "a positive integer")
        jobs = self._t.jobs
        where = [jobs.c.model == model, COMPLETED]
        if provider is not None:
            where.append(jobs.c.provider == provider)
        if emulated is not None:
            where.append(jobs.c.emulated == bool(emulated))
        stmt = (sa.select(jobs.c.latency_s).where(*where)
                .order_by(jobs.c.completed_at.desc()).limit(window))
        with self._conn() as conn:
            values = np.fromiter((r[0] for r in conn.execute(stmt)), dtype="float64")
        values = values[np.isfinite(values)]
        if not len(values):
            return Latency(model, provider, 0, None, None)
        median, p90 = np.percentile(values, [50, 90])
        return Latency(model, provider, int(len(values)), float(median), float(p90))

    def _day_expr(self) -> sa.ColumnElement[Any]:
        return day_number(self._t.jobs.c.created_at, self._t.dialect)

    # ------------------------------------------------------------------------------------------
    # files
    # ------------------------------------------------------------------------------------------
    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write the whole ledger to a Parquet file (dtypes kept); returns the path.

        The blind votes (:meth:`votes`) travel in the same file, in its key-value metadata
        (``sorakit.votes``, JSON records), so :meth:`import_parquet` brings them back too."""
        path = Path(path)
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise LedgerError(f"writing Parquet needs pyarrow: pip install 'sorakit[parquet]' ({exc})") from None
        table = pa.Table.from_pandas(self.df, preserve_index=False)
        votes = self.votes()
        if len(votes):
            meta = dict(table.schema.metadata or {})
            meta[_VOTES_KEY] = votes.to_json(orient="records", date_format="iso", date_unit="us").encode()
            table = table.replace_schema_metadata(meta)
        pq.write_table(table, path)
        return path

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the whole ledger to a CSV file (ISO-8601 UTC times, tags as 'a,b'); returns the path."""
        path = Path(path)
        self.df.to_csv(path, index=False)
        return path

    def import_parquet(self, path: str | os.PathLike[str]) -> int:
        """Add the rows of a Parquet export whose job_id is not in the ledger yet (one
        transaction); returns how many were imported. The export's votes come along: those whose
        vote_id is new and whose two jobs are in the ledger (after the import) are added."""
        try:
            import pyarrow.parquet as pq

            frame = pd.read_parquet(path)
            meta = pq.read_schema(path).metadata or {}
        except ImportError as exc:
            raise LedgerError(f"reading Parquet needs pyarrow: pip install 'sorakit[parquet]' ({exc})") from None
        added = self._import_frame(frame)
        if _VOTES_KEY in meta:
            self._import_votes(json.loads(meta[_VOTES_KEY]))
        return added

    def _import_votes(self, records: list[dict]) -> int:
        """Insert exported votes (JSON records) not in the ledger yet whose jobs are; one transaction."""
        votes, jobs = self._t.votes, self._t.jobs
        rows = []
        for rec in records:
            if not isinstance(rec, dict) or not isinstance(rec.get("vote_id"), str):
                raise ValidationError("votes", rec, "records with a vote_id", "the file's sorakit.votes metadata is damaged")
            if rec.get("outcome") not in VOTE_OUTCOMES:
                raise ValidationError("outcome", rec.get("outcome"), "one of " + ", ".join(map(repr, VOTE_OUTCOMES)))
            rows.append({n: rec.get(n) for n in VOTE_COLUMNS})
            rows[-1]["created_at"] = self._codec.encode_datetime(rec.get("created_at"), "created_at")
        if not rows:
            return 0
        with self._write() as conn:
            have = set(conn.execute(sa.select(votes.c.vote_id)).scalars())
            wanted = sorted({r[k] for r in rows for k in ("left_job_id", "right_job_id")})
            known: set[str] = set()
            for chunk in _chunks(wanted):
                known.update(conn.execute(sa.select(jobs.c.job_id).where(jobs.c.job_id.in_(chunk))).scalars())
            fresh = [r for r in rows if r["vote_id"] not in have
                     and r["left_job_id"] in known and r["right_job_id"] in known]
            if fresh:
                conn.execute(votes.insert(), fresh)
        return len(fresh)

    def import_csv(self, path: str | os.PathLike[str]) -> int:
        """Add the rows of a CSV export whose job_id is not in the ledger yet (one transaction);
        returns how many were imported."""
        raw = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
        return self._import_frame(_typed_from_text(raw))

    def _import_frame(self, frame: pd.DataFrame) -> int:
        unknown = [c for c in frame.columns if c not in COLS]
        if unknown:
            raise ValidationError(
                str(unknown[0]), list(unknown), LEDGER_COLUMNS, "the file has columns the ledger does not know"
            )
        if "job_id" not in frame.columns:
            raise ValidationError("job_id", None, "a job_id column", "the file has no job_id column")
        names = list(frame.columns)
        columns = [_python_values(frame[n]) for n in names]
        records = [dict(zip(names, vals)) for vals in zip(*columns)] if len(frame) else []
        seen: set[str] = set()
        candidates = []
        for rec in records:
            rec = {k: v for k, v in rec.items() if v is not None}
            jid = rec.get("job_id")
            if jid is not None:
                if jid in seen:
                    continue
                seen.add(jid)
            candidates.append(self._new_row(rec))
        if not candidates:
            return 0
        jobs = self._t.jobs
        with self._write() as conn:
            existing: set[str] = set()
            ids = [r["job_id"] for r in candidates]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                existing.update(conn.execute(sa.select(jobs.c.job_id).where(jobs.c.job_id.in_(chunk))).scalars())
            fresh = [r for r in candidates if r["job_id"] not in existing]
            if fresh:
                self._insert_rows(conn, fresh)
        return len(fresh)

    # ------------------------------------------------------------------------------------------
    # lifetime
    # ------------------------------------------------------------------------------------------
    @property
    def location(self) -> str:
        """Where the ledger lives: an absolute file path, ``:memory:``, or a URL with the password masked."""
        return self._location

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database or an in-memory ledger."""
        return self._path

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._engine is None

    def close(self) -> None:
        """Release the database connections (after a ``.df`` snapshot still being written is on
        disk). Committed data is already safe; closing twice is fine."""
        snapshots = getattr(self, "_snapshots", None)
        if snapshots is not None:
            snapshots.wait()
        engine, self._engine = getattr(self, "_engine", None), None
        if engine is not None and self._owns_engine:
            engine.dispose()

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = ", closed" if self.closed else ""
        return f"Ledger({self._location!r}{state})"


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of result tuples are created and
    dropped: none of them can form a cycle, and repeated collections over them cost seconds."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _with_user(fields: Mapping[str, Any], user: str | None) -> Mapping[str, Any]:
    """``fields`` with ``user`` (`current_user`, read once per call) filled in when the caller
    named nobody. Reading it once matters: ``getpass.getuser`` per row was a third of a bulk
    insert's time."""
    if fields.get("user") is not None or user is None:
        return fields
    return {**fields, "user": user}


_VOTES_KEY = b"sorakit.votes"
"""Where :meth:`Ledger.to_parquet` keeps the votes in the file's key-value metadata."""

_RELEASE_EACH = 16
"""Up to this many leases are released one prepared statement each; more, by chunked ``IN`` lists."""


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CLAIM_CHUNK):
        yield ids[start : start + _CLAIM_CHUNK]


def _check_seconds(seconds: Any) -> None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 86400 * 365:
        raise ValidationError("seconds", seconds, "a lease length in seconds, more than 0")


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _flatten_tags(tags: tuple[Any, ...]) -> list[str]:
    out: list[str] = []
    for t in tags:
        for s in split_tags(t if isinstance(t, str) else list(t)):
            if s not in out:
                out.append(s)
    return out


def _reading_order(df: pd.DataFrame) -> pd.DataFrame:
    """The frame a user gets: columns in ``FRAME_COLUMNS`` order (prompt, model, provider, status,
    cost, latency first). Internally (snapshots, merges) frames keep the table's order."""
    return df[[c for c in FRAME_COLUMNS if c in df.columns] + [c for c in df.columns if c not in COLS]]


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` oldest first, jobs created at the same time by job id: one order however it was read."""
    if len(df) < 2:
        return df
    created = df["created_at"]
    if created.is_monotonic_increasing:
        times = created.array.asi8  # int64 microseconds (no NaT: that is never monotonic)
        ties = times[1:] == times[:-1]
        if not ties.any():
            return df
        ids = df["job_id"].to_numpy(dtype=object)
        if (ids[1:][ties] >= ids[:-1][ties]).all():
            return df
    return df.sort_values(["created_at", "job_id"], kind="stable", na_position="last", ignore_index=True)


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate ledger frames keeping categorical columns categorical (and their categories
    the same as a fresh read would give: fixed ones first, then the observed values sorted)."""
    parts = [p for p in parts if len(p)] or parts[:1]
    if len(parts) == 1:
        return parts[0].reset_index(drop=True)
    parts = [p.copy(deep=False) for p in parts]
    for name, dtype in LEDGER_DTYPES.items():
        if not (isinstance(dtype, pd.CategoricalDtype) or dtype == "category"):
            continue
        seen: set[str] = set()
        for p in parts:
            col = p[name]
            seen.update(str(c) for c in col.cat.remove_unused_categories().cat.categories)
        categories = category_order(dtype, seen)
        for p in parts:
            p[name] = p[name].cat.set_categories(categories)
    return pd.concat(parts, ignore_index=True)


def _python_values(series: pd.Series) -> list[Any]:
    """A column as Python values with every kind of missing turned into None."""
    mask = series.isna().to_numpy()
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = list(series.dt.to_pydatetime()) if len(series) else []
    else:
        values = series.astype(object).tolist()
    return [None if m else v for v, m in zip(values, mask)]


def _typed_from_text(raw: pd.DataFrame) -> pd.DataFrame:
    """Columns of a CSV read as text turned back into their ledger types."""
    out = {}
    for name in raw.columns:
        col = COLS.get(name)
        s = raw[name]
        if col is None or col.kind in ("id", "str", "tags", "json", "cat"):
            out[name] = s
        elif col.kind in ("int", "int8"):
            out[name] = pd.to_numeric(s, errors="raise").astype(LEDGER_DTYPES[name])
        elif col.kind == "float":
            out[name] = pd.to_numeric(s, errors="raise").astype("float64")
        elif col.kind == "bool":
            lowered = s.str.strip().str.lower()
            mapped = lowered.map({"true": True, "false": False, "1": True, "0": False})
            bad = lowered.notna() & mapped.isna()
            if bad.any():
                raise ValidationError(name, s[bad].iloc[0], "True or False")
            out[name] = mapped.astype("boolean")
        elif col.kind == "datetime":
            out[name] = pd.to_datetime(s, utc=True, format="ISO8601")
    return pd.DataFrame(out)
