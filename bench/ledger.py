"""Benchmark of the SQLite job ledger at 10,000, 100,000 and 1,000,000 jobs, in one run.

    python bench/ledger.py [--sizes 10000,100000,1000000] [--repeats 3] [--batch 20000]
                           [--drop-caches] [--keep DIR]

For each size it creates a temporary SQLite ledger, fills it with realistic rows (prompts of
80-200 characters, 10 models on 5 providers, 60 days, mostly completed jobs with costs, hashes,
paths and URLs) and measures, side by side:

* ``insert_many`` rate: batches of ``--batch`` rows, one transaction each (row generation is not
  timed), rows per second;
* ``Ledger.df`` cold: a new Python process (a freshly started kernel) opens the ledger with no
  ``-df.arrow`` snapshot on disk and reads ``Ledger.df`` through ``sqlite3``; the database file is
  in the OS page cache unless ``--drop-caches`` (root only; it slows everything else on the
  machine too);
* ``pd.read_sql("SELECT * FROM jobs", sqlite3.connect(path))`` in a new process: the plain pandas
  read of the same table, for comparison (object columns, epoch floats, no categoricals);
* ``Ledger.df`` warm: in a new process with the snapshot on disk (a restarted kernel), and a
  second ``.df`` in the same process (a re-run cell);
* ``Ledger.cost_by(["model", "day"])`` (SQL GROUP BY);
* peak RSS of the cold and the ``read_sql`` processes, and the file sizes.

Each time is the median of ``--repeats`` runs (fastest-slowest), shown with the 1-minute load
average at the time (other work on the machine slows every figure); the cold reads also show the
median CPU seconds of the reading process, which other work inflates less than the wall clock. Exit status is 0 even when a target is missed:
this is a report. Targets: 100,000 jobs cold <= 1.5 s, warm <= 0.3 s; 1,000,000 cold <= 15 s;
insert >= 20,000 rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from sorakit.ledger import Ledger  # noqa: E402

PROVIDERS = ["openai", "runware", "runcrate", "relay", "gemini"]
MODELS = {  # model -> (provider, price per second)
    "sora-2": ("openai", 0.10),
    "sora-2-pro": ("openai", 0.30),
    "veo-3": ("gemini", 0.40),
    "veo-3-fast": ("gemini", 0.15),
    "kling-3-standard": ("runware", 0.07),
    "kling-3-pro": ("runware", 0.12),
    "seedance-1-pro": ("runcrate", 0.05),
    "hailuo-02": ("runcrate", 0.045),
    "wan-2.5": ("relay", 0.05),
    "ltx-2-fast": ("relay", 0.04),
}
WORDS = (
    "a golden retriever surfing a turquoise wave at sunset cinematic drone shot over a neon city "
    "in the rain slow motion close-up of a hummingbird drinking nectar foggy pine forest at dawn "
    "handheld camera astronaut walking on a red desert planet time-lapse of clouds over mountains "
    "macro shot of coffee being poured steam rising soft light 35mm film grain wide angle tracking "
    "shot vintage car driving along a coastal road paper boat floating down a flooded street"
).split()
SIZES = [("1280x720", 1280, 720), ("720x1280", 720, 1280), ("1920x1080", 1920, 1080), ("1024x1024", 1024, 1024)]
TAGS = ["client-a", "client-b", "draft", "final", "hero", "ab-test"]


def _prompt(rng: random.Random) -> str:
    target = rng.randint(80, 200)
    words = []
    length = -1
    while length < target:
        w = rng.choice(WORDS)
        words.append(w)
        length += len(w) + 1
    return " ".join(words)[:target]


def make_rows(n: int, start: int, total: int, rng: random.Random) -> list[dict]:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    span = 60 * 86400.0
    models = list(MODELS)
    rows = []
    for i in range(start, start + n):
        model = rng.choice(models)
        provider, price = MODELS[model]
        created = t0 + timedelta(seconds=span * i / total + rng.random())
        size, w, h = rng.choice(SIZES)
        seconds = float(rng.choice([4, 8, 12]))
        roll = rng.random()
        status = "completed" if roll < 0.9 else "failed" if roll < 0.97 else "cancelled"
        latency = rng.uniform(30, 400)
        digest = "%064x" % rng.getrandbits(256)
        vid = "video_%024x" % rng.getrandbits(96)
        emulated = rng.random() < 0.3
        row = dict(
            provider=provider,
            model=model,
            provider_model=model.replace("-", "_"),
            provider_job_id=vid,
            status=status,
            progress=100 if status == "completed" else rng.randint(0, 99),
            action="generate" if rng.random() < 0.9 else "remix",
            prompt=_prompt(rng),
            seed=rng.getrandbits(31),
            size=size,
            width=w,
            height=h,
            seconds=seconds,
            fps=24.0,
            audio=rng.random() < 0.5,
            variations=1,
            created_at=created,
            submitted_at=created + timedelta(seconds=1.2),
            updated_at=created + timedelta(seconds=latency),
            estimated_cost=round(price * seconds, 4),
            emulated=emulated,
            attempts=1,
            currency="USD",
        )
        if status == "completed":
            row.update(
                completed_at=created + timedelta(seconds=latency),
                latency_s=latency,
                billed_cost=0.0 if emulated else round(price * seconds, 4),
                billed_cost_source="catalog" if not emulated else "none",
                video_url=f"https://cdn.example.test/{vid}/content.mp4",
                video_url_expires_at=created + timedelta(hours=1),
                file_path=f"/home/ds/.cache/sorakit/media/{digest[:2]}/{digest}.mp4",
                poster_path=f"/home/ds/.cache/sorakit/media/{digest[:2]}/{digest}.jpg",
                sha256=digest,
                bytes=rng.randint(500_000, 40_000_000),
            )
        elif status == "failed":
            row.update(error_code="moderation_blocked", error_message="The request was blocked by moderation.")
        if rng.random() < 0.2:
            row["tags"] = rng.sample(TAGS, rng.randint(1, 2))
        rows.append(row)
    return rows


ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import json, resource, sqlite3, sys, time
sys.path.insert(0, sys.argv[3])
import pandas as pd
from sorakit.ledger import Ledger
path, mode = sys.argv[1], sys.argv[2]
again = []
if mode == "read_sql":
    con = sqlite3.connect(path)
    t, c = time.perf_counter(), time.process_time()
    df = pd.read_sql("SELECT * FROM jobs", con)
    first, cpu = time.perf_counter() - t, time.process_time() - c
    con.close()
else:
    with Ledger(path) as led:
        t, c = time.perf_counter(), time.process_time()
        df = led.df
        first, cpu = time.perf_counter() - t, time.process_time() - c
        if mode == "again":
            led._snapshots.wait()
            for _ in range(int(sys.argv[4])):
                df = None
                t = time.perf_counter()
                df = led.df
                again.append(time.perf_counter() - t)
print(json.dumps({"seconds": first, "cpu": cpu, "again": again, "rows": len(df),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def drop_page_cache() -> bool:
    """Flush and drop the OS page cache (Linux, root only). False when not permitted."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def in_child(path: Path, mode: str, repeats: int = 0) -> dict:
    """One timed read in a new Python process (as a freshly started kernel sees it)."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode, str(ROOT), str(repeats)],
        check=True, capture_output=True, text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = load()
    return result


class Figure:
    """A median of timed runs and the median load average while they ran."""

    def __init__(self, seconds: list[float], loads: list[float], cpu: list[float] | None = None):
        self.seconds = statistics.median(seconds)
        self.cpu = statistics.median(cpu) if cpu else None
        self.low, self.high = min(seconds), max(seconds)
        self.load = statistics.median(loads)

    def cell(self) -> str:
        cpu = f" cpu {self.cpu:.2f}" if self.cpu is not None else ""
        return f"{self.seconds:.3f} s ({self.low:.2f}-{self.high:.2f}){cpu} @{self.load:.1f}"


def measure(path: Path, rows: int, args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(7)
    insert_time, done = 0.0, 0
    with Ledger(path) as led:
        snapshot = led.df_cache_path
        while done < rows:
            n = min(args.batch, rows - done)
            batch = make_rows(n, done, rows, rng)
            t = time.perf_counter()
            led.insert_many(batch)
            insert_time += time.perf_counter() - t
            done += n
        assert len(led) == rows
    out: dict[str, object] = {"insert": (rows / insert_time, load())}

    cold = []
    for _ in range(args.repeats):
        snapshot.unlink(missing_ok=True)
        if args.drop_caches and not drop_page_cache():
            raise SystemExit("--drop-caches needs root (writes /proc/sys/vm/drop_caches)")
        cold.append(in_child(path, "cold"))  # also leaves a snapshot behind (for >= MIN_ROWS)
    assert all(r["rows"] == rows for r in cold)
    out["cold"] = Figure([r["seconds"] for r in cold], [r["load"] for r in cold], [r["cpu"] for r in cold])
    out["cold_rss"] = max(r["rss_mb"] for r in cold)

    plain = []
    for _ in range(args.repeats):
        if args.drop_caches:
            drop_page_cache()
        plain.append(in_child(path, "read_sql"))
    assert all(r["rows"] == rows for r in plain)
    out["read_sql"] = Figure([r["seconds"] for r in plain], [r["load"] for r in plain], [r["cpu"] for r in plain])
    out["read_sql_rss"] = max(r["rss_mb"] for r in plain)

    warm = [in_child(path, "warm") for _ in range(args.repeats)]
    out["warm"] = Figure([r["seconds"] for r in warm], [r["load"] for r in warm])
    again = in_child(path, "again", args.repeats)
    out["again"] = Figure(again["again"], [again["load"]])

    with Ledger(path) as led:
        times, loads = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            groups = led.cost_by(["model", "day"])
            times.append(time.perf_counter() - t)
            loads.append(load())
    out["cost_by"] = Figure(times, loads)
    out["groups"] = len(groups)
    db_mb = sum(os.path.getsize(str(path) + s) for s in ("", "-wal") if os.path.exists(str(path) + s)) / 1e6
    snap_mb = snapshot.stat().st_size / 1e6 if snapshot.exists() else 0.0
    out["size"] = f"{db_mb:,.0f} MB + {snap_mb:,.0f} MB snapshot"
    return out


TARGETS = {  # (measure, rows) -> target
    ("cold", 100_000): 1.5,
    ("warm", 100_000): 0.3,
    ("again", 100_000): 0.3,
    ("cold", 1_000_000): 15.0,
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated job counts")
    ap.add_argument("--repeats", type=int, default=3, help="runs per timed figure (the median is shown)")
    ap.add_argument("--batch", type=int, default=20_000, help="rows per insert_many call (one transaction)")
    ap.add_argument("--drop-caches", action="store_true", help="drop the OS page cache before each cold read")
    ap.add_argument("--keep", type=Path, default=None, help="put the ledgers in this directory and keep them")
    args = ap.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    tmp = None
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        folder = args.keep
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sorakit-bench-")
        folder = Path(tmp.name)
    print(f"load average at the start: {load():.2f}", flush=True)
    results = {}
    for rows in sizes:
        path = folder / f"bench-{rows}.db"
        for suffix in ("", "-wal", "-shm", "-df.arrow"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        print(f"{rows:,} jobs: inserting and timing ...", flush=True)
        results[rows] = measure(path, rows, args)

    def verdict(key: str, rows: int, seconds: float) -> str:
        target = TARGETS.get((key, rows))
        if target is None:
            return ""
        return f" {'PASS' if seconds <= target else 'FAIL'} <={target:g}"

    lines = [("measure", *[f"{n:,} jobs" for n in sizes])]
    timed = [
        ("cold", "Ledger.df cold (new process, no snapshot)"),
        ("read_sql", "pd.read_sql SELECT * (new process)"),
        ("warm", "Ledger.df warm (new process, snapshot)"),
        ("again", "Ledger.df warm (same process, again)"),
        ("cost_by", "cost_by(['model', 'day'])"),
    ]
    for key, label in timed:
        cells = []
        for n in sizes:
            fig = results[n][key]
            cells.append(fig.cell() + verdict(key, n, fig.seconds))
        lines.append((label, *cells))
    lines.append((
        "insert_many rate @load",
        *[f"{results[n]['insert'][0]:,.0f} rows/s @{results[n]['insert'][1]:.1f}"
          + (" PASS" if results[n]["insert"][0] >= 20_000 else " FAIL") + " >=20000" for n in sizes],
    ))
    lines.append(("peak RSS: Ledger.df cold / read_sql",
                  *[f"{results[n]['cold_rss']:,.0f} / {results[n]['read_sql_rss']:,.0f} MB" for n in sizes]))
    lines.append(("cost_by groups", *[str(results[n]["groups"]) for n in sizes]))
    lines.append(("files on disk", *[str(results[n]["size"]) for n in sizes]))
    cache = "page cache dropped before each cold read" if args.drop_caches else "files in the OS page cache"
    print(
        f"\nsorakit ledger benchmark: SQLite {sqlite3.sqlite_version}, python {sys.version.split()[0]}, "
        f"pandas {pd.__version__}, {os.cpu_count()} CPUs, {cache}.\nTimes: median of {args.repeats} "
        "(fastest-slowest) @ the 1-minute load average then."
    )
    widths = [max(len(r[i]) for r in lines) for i in range(len(lines[0]))]
    for i, row in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
