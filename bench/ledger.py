"""Benchmark of the SQLite job ledger at scale.

    python bench/ledger.py [--rows 1000000] [--batch 20000] [--keep DIR] [--reuse]
                           [--no-drop-caches] [--row-by-row] [--numpy]

Creates a temporary SQLite ledger, fills it with realistic rows (prompts of 80-200 characters,
10 models on 5 providers, 60 days, mostly completed jobs with costs, hashes, paths and URLs) and
prints a table of measured figures against their targets, each with the 1-minute load average at
the time (other work on the machine slows every figure):

* bulk insert rate: ``Ledger.insert_many`` in batches (one transaction each), rows per second;
* ``Ledger.df`` cold: a new process opens the ledger with no ``-df.arrow`` snapshot on disk and
  (as root, unless ``--no-drop-caches``) the OS page cache dropped, then reads ``Ledger.df``
  (which then writes the snapshot in a background thread; the process waits for it before it
  exits). Also the same with the file in the OS cache, and with ``df_cache=False`` (no snapshot
  written at all). Median of 3. The table says where the pages came from (the mapped file or a
  copy) and which record decoder ran (compiled, or numpy);
* ``Ledger.df`` warm: with the snapshot on disk, in a new process (a restarted kernel) and again
  in the same process (a re-run cell). Median of 3;
* ``--row-by-row``: the cold read without the page decoder and without the snapshot (the SQL
  fallback, what every read cost before), for comparison;
* ``--numpy``: the cold read with the numpy record decoder instead of the compiled one (what an
  install without a C compiler gets), for comparison;
* ``Ledger.cost_by(["model", "day"])``: median of 3 (SQL GROUP BY);
* file size on disk (database + WAL, and the snapshot) and the peak RSS of the processes that
  loaded the frame.

Row generation is not timed. Exit status is 0 even when a target is missed: this is a report.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
from sorakit.ledger import Ledger, _pages
path, mode = sys.argv[1], sys.argv[2]
if mode == "row-by-row":
    _pages.available = lambda: False
if mode == "numpy":
    _pages._native = None
with Ledger(path, df_cache=(mode not in ("row-by-row", "read-only", "numpy"))) as led:
    t = time.perf_counter()
    df = led.df
    first = time.perf_counter() - t
    again = []
    if mode == "again":
        for _ in range(3):
            df = None
            t = time.perf_counter()
            df = led.df
            again.append(time.perf_counter() - t)
    source = led._last_full_read or "snapshot"
    if source != "snapshot" and source != "rows":
        source += ", " + ("compiled" if _pages.native() else "numpy") + " decoder"
print(json.dumps({"seconds": first, "again": again, "rows": len(df), "source": source,
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


def load_in_child(path: Path, mode: str) -> dict:
    """``Ledger.df`` timed in a new Python process (as a freshly started kernel sees it)."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), mode, str(ROOT)], check=True, capture_output=True, text=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["load"] = load()
    return result


def _median_time(fn, repeats: int = 3) -> tuple[float, object, float]:
    times, loads = [], []
    result = None
    for _ in range(repeats):
        result = None
        gc.collect()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
        loads.append(load())
    return statistics.median(times), result, statistics.median(loads)


def _cold(path: Path, snapshot: Path, drop: bool, mode: str = "default", repeats: int = 3) -> tuple[list[dict], bool]:
    runs, dropped = [], drop
    for _ in range(repeats):
        snapshot.unlink(missing_ok=True)
        if drop:
            dropped = drop_page_cache() and dropped
        runs.append(load_in_child(path, mode))
    return runs, dropped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=20_000, help="rows per insert_many call (one transaction)")
    ap.add_argument("--keep", type=Path, default=None, help="put the ledger in this directory and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: measure the ledger already there")
    ap.add_argument("--no-drop-caches", action="store_true", help="never drop the OS page cache")
    ap.add_argument("--row-by-row", action="store_true", help="also time the SQL row-by-row read")
    ap.add_argument("--numpy", action="store_true", help="also time the numpy record decoder")
    args = ap.parse_args(argv)

    tmp = None
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        path = args.keep / "bench-ledger.db"
        if not args.reuse:
            for suffix in ("", "-wal", "-shm", "-df.arrow", "-df.parquet"):
                Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sorakit-bench-")
        path = Path(tmp.name) / "bench-ledger.db"
    print(f"load average at the start: {load():.2f}", flush=True)

    rate = cpu_rate = insert_load = None
    if not (args.reuse and path.exists()):
        rng = random.Random(7)
        insert_time = insert_cpu = 0.0
        done = 0
        print(f"inserting {args.rows:,} rows in batches of {args.batch:,} into {path} ...", flush=True)
        with Ledger(path) as led:
            while done < args.rows:
                n = min(args.batch, args.rows - done)
                rows = make_rows(n, done, args.rows, rng)
                t, c = time.perf_counter(), time.process_time()
                led.insert_many(rows)
                insert_time += time.perf_counter() - t
                insert_cpu += time.process_time() - c
                done += n
            assert len(led) == args.rows
        rate, cpu_rate, insert_load = args.rows / insert_time, args.rows / insert_cpu, load()
    with Ledger(path) as led:
        total = len(led)
        snapshot = led.df_cache_path

    print("timing Ledger.df (each load in a new process) ...", flush=True)
    cold, dropped = _cold(path, snapshot, not args.no_drop_caches)
    cold_os, _ = _cold(path, snapshot, False)
    cold_read, _ = _cold(path, snapshot, False, "read-only")
    assert all(r["rows"] == total for r in cold + cold_os + cold_read)
    load_in_child(path, "default")  # writes the snapshot again (the read-only runs removed it)
    warm = [load_in_child(path, "default") for _ in range(3)]
    again = load_in_child(path, "again")
    baseline = _cold(path, snapshot, False, "row-by-row")[0] if args.row_by_row else None
    numpy_runs = _cold(path, snapshot, False, "numpy")[0] if args.numpy else None

    with Ledger(path) as led:
        led.df  # make sure the snapshot exists for the size figure
        agg, frame, agg_load = _median_time(lambda: led.cost_by(["model", "day"]))
    size_mb = sum(os.path.getsize(str(path) + s) for s in ("", "-wal") if os.path.exists(str(path) + s)) / 1e6
    snap_mb = snapshot.stat().st_size / 1e6 if snapshot.exists() else 0.0

    def med(runs: list[dict], key: str = "seconds") -> float:
        return statistics.median(r[key] for r in runs)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    cold_label = "Ledger.df cold (page cache dropped)" if dropped else "Ledger.df cold (page cache NOT dropped)"
    again_s = again["again"]

    def src(runs: list[dict]) -> str:
        return " / ".join(sorted({r["source"] for r in runs}))

    def secs(runs: list[dict]) -> list[float]:
        return [r["seconds"] for r in runs]

    timed = [  # (measure, seconds of each run, load average, target in seconds or None)
        (f"{cold_label} [{src(cold)}]", secs(cold), med(cold, "load"), 3),
        (f"Ledger.df cold (file in OS cache) [{src(cold_os)}]", secs(cold_os), med(cold_os, "load"), 3),
        (f"Ledger.df cold, no snapshot kept [{src(cold_read)}]", secs(cold_read), med(cold_read, "load"), 3),
        ("Ledger.df warm (new process) [snapshot]", secs(warm), med(warm, "load"), 3),
        ("Ledger.df warm (same process) [snapshot]", again_s, again["load"], 3),
    ]
    if numpy_runs:
        timed.append((f"Ledger.df cold, no snapshot kept [{src(numpy_runs)}]", secs(numpy_runs), med(numpy_runs, "load"), 3))
    if baseline:
        timed.append(("Ledger.df row by row (SQL, no snapshot)", secs(baseline), med(baseline, "load"), None))
    lines = []
    if rate is not None:
        lines.append(
            ("bulk insert rate", f"{rate:,.0f} rows/s ({cpu_rate:,.0f} per CPU-second)", ">= 20,000 rows/s",
             verdict(rate >= 20_000), f"{insert_load:.2f}")
        )
    for name, runs, at, target in timed:
        seconds = statistics.median(runs)
        ok = "-" if target is None else verdict(seconds <= target)
        value = f"{seconds:.2f} s ({min(runs):.2f}-{max(runs):.2f})"
        lines.append((name, value, "-" if target is None else f"<= {target} s", ok, f"{at:.2f}"))
    cold_rss = max(r["rss_mb"] for r in cold + cold_os + cold_read)
    lines += [
        ("cost_by(model, day)", f"{agg:.3f} s ({len(frame)} groups)", "<= 1 s", verdict(agg <= 1), f"{agg_load:.2f}"),
        ("file size on disk", f"{size_mb:,.0f} MB (+ {snap_mb:,.0f} MB snapshot)", "-", "-", "-"),
        ("peak RSS, cold load process", f"{cold_rss:,.0f} MB", "-", "-", "-"),
        ("peak RSS, warm load process", f"{max(r['rss_mb'] for r in warm):,.0f} MB", "-", "-", "-"),
    ]
    print(
        f"\nsorakit ledger benchmark: {total:,} rows, SQLite, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs; times are medians of 3 (fastest-slowest); 'load' is the 1-minute load average then"
    )
    header = ("measure", "value", "target", "result", "load")
    widths = [max(len(r[i]) for r in lines + [header]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
