"""A real PostgreSQL server for the tests, started by the test session itself.

``postgres_url`` (session scope) runs ``initdb`` in a temporary directory, starts ``postgres`` on
127.0.0.1 at a free port (unix socket in the same temporary directory), creates the database
``sorakit_test`` and yields ``postgresql+psycopg://postgres@127.0.0.1:PORT/sorakit_test``. The
server is stopped and its directory removed at the end of the session.

``fresh_pg_url`` (function scope) gives each test its own empty schema in that database (the URL
sets ``search_path``), which is much cheaper than a database per test.

Running as root, the server runs as the ``postgres`` user (initdb refuses root). Without the
PostgreSQL binaries or psycopg the tests skip loudly, and fail under ``CI=true``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require(condition: bool, reason: str) -> None:
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}: .ci/run must install it")
    pytest.skip(f"SKIPPED LOUDLY: {reason} (install it, or run .ci/run, to cover this test)")


def find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's /usr/lib/postgresql/*/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in Path(p).parent.name.split(".") if x.isdigit()]
    )
    for cand in reversed(candidates):
        if (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="sorakit-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise RuntimeError("running as root needs runuser to start PostgreSQL as the postgres user")
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chmod(self.root, 0o700)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = [runuser, "-u", "postgres", "--"]

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
        )

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync",
        )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={self.port}",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=60",
                "-c shared_buffers=32MB",
            ]
        )
        try:
            self._run(
                str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                "-o", options, "start",
            )
        except subprocess.CalledProcessError as exc:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{log}") from None

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _admin_exec(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a throw-away PostgreSQL database on a server this test session started."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        psycopg = None
    _require(psycopg is not None, "psycopg (PostgreSQL driver) is not installed")
    bindir = find_pg_bin()
    _require(bindir is not None, "PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = _Server(bindir)
    try:
        server.start()
        base = f"postgresql://postgres@127.0.0.1:{server.port}"
        _admin_exec(f"{base}/postgres", "CREATE DATABASE sorakit_test")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/sorakit_test"
    finally:
        server.stop()


@pytest.fixture
def fresh_pg_url(postgres_url: str) -> Iterator[str]:
    """The test database with a new empty schema first on ``search_path`` (dropped afterwards)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    _admin_exec(plain, f"CREATE SCHEMA {schema}")
    yield f"{postgres_url}?options={quote(f'-csearch_path={schema}')}"
    try:
        _admin_exec(plain, f"DROP SCHEMA {schema} CASCADE")
    except Exception:  # noqa: BLE001 - a leftover schema in a throw-away server is harmless
        pass
