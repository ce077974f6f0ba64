"""Benchmark: does a long-running kernel stay flat? RSS of one Studio after 1,000 and 10,000 jobs.

The emulator runs in a separate process (``bench/batch.py``'s server), so the figures are the
client's alone: the engine, its HTTP clients, the ledger connection. Every job asks for the same
clip (one prompt, one seed, Runware ``seedance-1-pro``), so the emulator renders it once and
serves it from its content-addressed cache; generation takes ``--gen`` seconds (default 0.05).

Flat means: after a warm-up, RSS grows by (close to) nothing per finished job. The engine drops a
job's per-job state (``_rows``, ``_live``, ``_events`` ...) when its task ends; the ledger keeps
the record. Printed: RSS after the warm-up, after ``--first`` jobs and after ``--jobs`` jobs, and
the growth per 1,000 jobs between the two, split into the heap (anon), mapped files, and the Python
heap itself (allocated blocks, tracked objects): the figure that would show a leak of Python
objects. RSS is read after ``malloc_trim`` (glibc), so freed heap pages kept by malloc do not count.

Each job here downloads the same clip, so its poster (named by the clip's sha256) is made once and
reused. Making a poster decodes a frame with PyAV (FFmpeg), and FFmpeg's native heap grows by a few
hundred KB per 1,000 decodes (not Python objects: tracemalloc sees nothing); the last line measures
that apart, with ``--decodes`` fresh decodes of one clip, so it is not mistaken for the engine's.

SQLite's own memory (``sqlite3_memory_used``: mostly the ledger connection's page cache, which the
ledger caps at 32 MiB per connection) is printed apart: it grows with the ledger *file* until it
reaches that cap, by design, and then stops. "RSS less SQLite" is what must stay flat.

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


def sqlite_mb() -> float:
    """Bytes SQLite's allocator holds now (all connections in this process), in MB; NaN when the
    sqlite3 module's library cannot be reached through ctypes."""
    try:
        import ctypes
        import ctypes.util

        lib = ctypes.CDLL(ctypes.util.find_library("sqlite3") or "libsqlite3.so.0")
        lib.sqlite3_memory_used.restype = ctypes.c_int64
        return lib.sqlite3_memory_used() / 2**20
    except (OSError, AttributeError):
        return float("nan")


def rss_mb() -> dict[str, float]:
    """VmRSS and its parts: RssAnon (the heap: what would leak) and RssFile (mapped files, such as
    the SQLite ledger's pages, which grow with the ledger's size, not with what is kept alive)."""
    out = {}
    gc.collect()
    try:  # hand freed heap pages back to the OS, so RSS shows what is live, not what malloc keeps
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "RssAnon", "RssFile"):
                out[key] = int(line.split()[1]) / 1024
    out["sqlite"] = sqlite_mb()
    out["blocks"] = sys.getallocatedblocks()   # Python heap: every live object's memory block
    out["objects"] = len(gc.get_objects())      # objects the garbage collector tracks
    return out


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
    ap.add_argument("--sqlite-cache-kib", type=int, default=None,
                    help="cap SQLite's page cache per connection (to tell its growth from a leak)")
    ap.add_argument("--no-posters", action="store_true",
                    help="skip making posters at all (to tell their share of the growth)")
    ap.add_argument("--decodes", type=int, default=2000, help="poster decodes measured apart at the end (0: skip)")
    args = ap.parse_args()

    from sorakit.engine import Policy, Studio

    if args.no_posters:
        import sorakit.engine._core.download as download_module  # where the engine makes posters

        download_module.make_poster = lambda *a, **k: None
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
    if args.sqlite_cache_kib is not None:
        import sqlalchemy as sa

        engine = studio.ledger.engine

        @sa.event.listens_for(engine, "connect")
        def _small_cache(conn, _record):  # runs after the ledger's own pragmas
            conn.execute(f"PRAGMA cache_size = -{int(args.sqlite_cache_kib)}")

        engine.dispose()  # reconnect with the cap
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
        clip = next(iter((tmp / "media").rglob("*.mp4")), None)
        decode = decode_growth(clip, args.decodes) if clip and args.decodes else None
        db_mb = sum(p.stat().st_size for p in tmp.glob("ledger.db*")) / 2**20
    finally:
        studio.close()
        parent.send("stop")
        proc.join(10)
        shutil.rmtree(tmp, ignore_errors=True)
    n = max(1, args.jobs - args.first)
    cache = "default" if args.sqlite_cache_kib is None else f"{args.sqlite_cache_kib} KiB"
    print(f"memory: {rows} jobs in one Studio in {elapsed:.0f} s (ledger file {db_mb:.1f} MB, "
          f"SQLite page cache per connection: {cache})")
    print(f"  {'after':>16}  {'RSS MB':>8}  {'anon MB':>8}  {'file MB':>8}  {'SQLite MB':>9}  {'py blocks':>10}  {'gc objects':>10}")
    for label, m in ((f"warm-up {args.warmup:,}", warm), (f"{args.first:,} jobs", first), (f"{args.jobs:,} jobs", last)):
        print(f"  {label:>16}  {m['VmRSS']:8.1f}  {m['RssAnon']:8.1f}  {m['RssFile']:8.1f}  {m['sqlite']:9.1f}  {m['blocks']:>10,}  "
              f"{m['objects']:>10,}")
    for key, name in (("VmRSS", "RSS"), ("RssAnon", "anon (heap)"), ("RssFile", "file-backed")):
        d = last[key] - first[key]
        print(f"  growth {args.first:,} -> {args.jobs:,} jobs, {name}: {d:+.1f} MB ({d / n * 1000:+.2f} MB per 1,000 jobs)")
    d = (last["VmRSS"] - last["sqlite"]) - (first["VmRSS"] - first["sqlite"])
    print(f"  growth {args.first:,} -> {args.jobs:,} jobs, RSS less SQLite's own memory: {d:+.1f} MB "
          f"({d / n * 1000:+.2f} MB per 1,000 jobs); SQLite: {last['sqlite'] - first['sqlite']:+.1f} MB")
    print(f"  Python heap growth: {last['blocks'] - first['blocks']:+,} blocks, {last['objects'] - first['objects']:+,} "
          f"objects over {n:,} jobs")
    print(f"  engine per-job state at the end: {per_job}")
    if decode:
        print(f"  PyAV poster decodes apart: +{decode[0]:.1f} MB anon over the first {args.decodes // 2:,}, "
              f"+{decode[1]:.1f} MB over the next {args.decodes - args.decodes // 2:,} (FFmpeg's native heap)")


def decode_growth(clip: Path, n: int) -> tuple[float, float]:
    """Anon RSS growth over two halves of ``n`` poster decodes of ``clip`` (after 100 warm-up ones)."""
    from sorakit.media import poster_from_video

    out = Path(tempfile.mkdtemp(prefix="sorakit-decode-")) / "clip.mp4"
    shutil.copy(clip, out)
    try:
        for _ in range(100):
            poster_from_video(out)
        a = rss_mb()["RssAnon"]
        for _ in range(n // 2):
            poster_from_video(out)
        b = rss_mb()["RssAnon"]
        for _ in range(n - n // 2):
            poster_from_video(out)
        c = rss_mb()["RssAnon"]
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)
    return b - a, c - b


if __name__ == "__main__":
    main()
