"""``make stress``: the reliability trials, repeated until the time is up, with the counts printed.

Cycles through crash-resume trials (SIGKILL at a random moment across every job state), fault
storms (random seeds, and the extremes: every download fails, every poll fails, every create
times out), the two-writer ledger test and the team trials (four processes open Studios on one
SQLite / PostgreSQL ledger at the same moment and resume while a fifth drives its own jobs; in the
``kill`` variant that one is SIGKILLed and its jobs must be taken over once its lease runs out),
each at least once. Prints the counts — trials, duplicate creates, lost rows, corrupt files, jobs
non-terminal after a wait, jobs driven twice, other problems — the takeover time after a SIGKILL,
and exits non-zero unless all but ``trials`` are 0. PostgreSQL trials run on a server this script
starts on 127.0.0.1 (skipped, and said so, when PostgreSQL is not installed). The trials are ``tests/engine/_trials.py`` (the
same code the test suite runs); ``tests/engine/test_stress.py`` runs a short version in CI.

    python bench/stress.py                 # about ten minutes
    python bench/stress.py --seconds 60    # a short run
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("SORAKIT_QUIET", "1")

from engine._trials import (  # noqa: E402
    STORMS, Tally, crash_trial, storm_trial, takeover_line, team_line, team_trial, two_writers_trial)

TEAMS = ("team:sqlite", "team:sqlite:kill", "team:postgresql", "team:postgresql:kill")


class Postgres:
    """A throw-away PostgreSQL server on 127.0.0.1 (the test suite's own), a schema per trial."""

    def __init__(self) -> None:
        from support.pg import _Server, find_pg_bin

        bindir = find_pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        import psycopg  # noqa: F401 - the driver must be there too

        self.server = _Server(bindir)
        self.server.start()
        self.base = f"postgresql://postgres@127.0.0.1:{self.server.port}"
        self._exec(f"{self.base}/postgres", "CREATE DATABASE sorakit_stress")
        self.n = 0

    @staticmethod
    def _exec(url: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql)

    def fresh_url(self) -> str:
        from urllib.parse import quote

        self.n += 1
        schema = f"s{self.n}"
        self._exec(f"{self.base}/sorakit_stress", f"CREATE SCHEMA {schema}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.server.port}/sorakit_stress" \
               f"?options={quote(f'-csearch_path={schema}')}"

    def stop(self) -> None:
        self.server.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="keep starting trials until this many seconds")
    ap.add_argument("--seed", type=int, default=None, help="seed of the trial order and kill moments")
    ap.add_argument("--writer-rows", type=int, default=200, help="rows per writer in the two-writer trial")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    kinds = ["crash", *(f"storm:{s}" for s in STORMS), "writers", *TEAMS]
    pg = None
    try:
        pg = Postgres()
    except Exception as exc:  # noqa: BLE001 - said out loud, and the PostgreSQL trials are dropped
        print(f"stress: SKIPPED the PostgreSQL team trials: {exc}", flush=True)
        kinds = [k for k in kinds if "postgresql" not in k]
    root = Path(tempfile.mkdtemp(prefix="sorakit-stress-"))
    renders = root / "renders"
    total = Tally()
    per_kind: dict[str, Tally] = {k: Tally() for k in kinds}
    started = time.monotonic()
    print(f"stress: seed {seed}, {args.seconds:.0f} s, trials: {', '.join(kinds)}", flush=True)
    n = 0
    try:
        while n < len(kinds) or time.monotonic() - started < args.seconds:
            kind = kinds[n % len(kinds)] if n < len(kinds) else rng.choice(kinds)
            work = root / f"t{n}"
            t0 = time.monotonic()
            try:
                if kind == "crash":
                    tally = crash_trial(work, renders, rng.uniform(0.0, 2.5))
                elif kind == "writers":
                    tally = two_writers_trial(work, args.writer_rows)
                elif kind.startswith("team:"):
                    backend = kind.split(":")[1]
                    url = str(work / "team.db") if backend == "sqlite" else pg.fresh_url()
                    tally = team_trial(work, renders, url, processes=4, kill=kind.endswith(":kill"),
                                       backend=backend, seed=rng.randrange(1 << 20))
                else:
                    tally = storm_trial(kind.split(":", 1)[1], rng.randrange(1 << 20), work, renders)
            except Exception as exc:  # a trial that crashes is a failed trial, not the end of the run
                tally = Tally(trials=1)
                tally.problem("other", f"{kind}: {type(exc).__name__}: {exc}")
            shutil.rmtree(work, ignore_errors=True)
            total.add(tally)
            per_kind[kind].add(tally)
            mark = "ok" if tally.clean else "PROBLEM"
            print(f"  [{time.monotonic() - started:6.1f}s] {kind:<28} {time.monotonic() - t0:5.1f}s {mark}", flush=True)
            for p in tally.problems:
                print(f"      {p}", flush=True)
            n += 1
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if pg is not None:
            pg.stop()
    print(f"stress: {time.monotonic() - started:.0f} s, seed {seed}")
    for kind, t in per_kind.items():
        print(f"  {kind:<28} {t.line()}")
        if kind.startswith("team:"):
            print(f"  {'':<28} {team_line(t)}")
        if kind.endswith(":kill"):
            print(f"  {'':<28} {takeover_line(t)}")
    print(f"TOTAL {total.line()}")
    return 0 if total.clean else 1


if __name__ == "__main__":
    sys.exit(main())
