"""Benchmark: does a long-running kernel stay flat? RSS of one Studio after 1,000 and 10,000 jobs.

The emulator runs in a separate process (``bench/batch.py``'s server), so the figures are the
client's alone: the engine, its HTTP clients, the ledger connection. Every job asks for the same
clip (one prompt, one seed, Runware ``seedance-1-pro``), so the emulator renders it once and
serves it from its content-addressed cache; generation takes ``--gen`` seconds (default 0.05).

Flat means: after a warm-up, RSS grows by (close to) nothing per finished job. The engine drops a
job's per-job state (``_rows``, ``_live``, ``_events`` ...) when its task ends; the ledger keeps
the record. Printed: RSS after the warm-up, after ``--first`` jobs and after ``--jobs`` jobs, and
the growth per 1,000 jobs between the two.

    python bench/memory.py                      # 1,000 and 10,000 jobs
    python bench/memory.py --first 200 --jobs 1000
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from batch import _serve  # noqa: E402  (the emulator process of the batch benchmark)

PROMPT = "a heron standing still in a misty lake, memory benchmark"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_jobs(studio, n: int, chunk: int) -> int:
    done = 0
    while done < n:
        k = min(chunk, n - done)
        batch = studio.batch([PROMPT] * k, models="seedance-1-pro", providers="runware", size="864x480",
                             seconds=5, seeds=[77], progress=False)
        counts = batch.counts()
        if counts.get("completed") != k:
            raise SystemExit(f"jobs did not all complete: {counts}")
        done += k
    return done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--first", type=int, default=1_000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--gen", type=float, default=0.05)
    args = ap.parse_args()

    from sorakit.engine import Policy, Studio

    tmp = Path(tempfile.mkdtemp(prefix="sorakit-memory-"))
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, args.gen, 256, 7, str(tmp / "renders")), daemon=True)
    proc.start()
    url = parent.recv()
    os.environ["SORAKIT_QUIET"] = "1"
    policy = Policy(poll_initial=0.05, poll_max=0.3, retry_initial=0.02, retry_max=0.3,
                    progress_write_interval=1.0)
    studio = Studio(tmp / "ledger.db", media_dir=tmp / "media", emulate=True, emulator=url, policy=policy,
                    concurrency=128, resume=False)
    try:
        t0 = time.monotonic()
        run_jobs(studio, args.warmup, args.chunk)
        gc.collect()
        warm = rss_mb()
        run_jobs(studio, args.first - args.warmup, args.chunk)
        gc.collect()
        first = rss_mb()
        run_jobs(studio, args.jobs - args.first, args.chunk)
        gc.collect()
        last = rss_mb()
        elapsed = time.monotonic() - t0
        eng = studio._engine
        per_job = {k: len(getattr(eng, k)) for k in ("_rows", "_live", "_events", "_errors", "_active")}
        rows = len(studio.ledger.rows())
    finally:
        studio.close()
        parent.send("stop")
        proc.join(10)
        shutil.rmtree(tmp, ignore_errors=True)
    growth = (last - first) / max(1, (args.jobs - args.first)) * 1000
    print(f"memory: {rows} jobs in one Studio in {elapsed:.0f} s (ledger rows {rows})")
    print(f"  RSS after warm-up ({args.warmup} jobs): {warm:8.1f} MB")
    print(f"  RSS after {args.first:>6,} jobs:          {first:8.1f} MB")
    print(f"  RSS after {args.jobs:>6,} jobs:          {last:8.1f} MB")
    print(f"  growth between them: {last - first:+.1f} MB ({growth:+.2f} MB per 1,000 jobs)")
    print(f"  engine per-job state at the end: {per_job}")


if __name__ == "__main__":
    main()
