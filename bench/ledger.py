"""Benchmark of the SQLite job ledger at scale.

    python bench/ledger.py [--rows 1000000] [--batch 20000] [--keep DIR]

Creates a temporary SQLite ledger, fills it with realistic rows (prompts of 80-200 characters,
10 models on 5 providers, 60 days, mostly completed jobs with costs, hashes, paths and URLs) and
prints a table of measured figures against their targets:

* bulk insert rate: ``Ledger.insert_many`` in batches (one transaction each), rows per second
* ``Ledger.df`` full load: median of 3, first without the columnar snapshot (cold: every row
  decoded from SQLite), then with it (warm: what a notebook sees once the snapshot exists)
* ``Ledger.cost_by(["model", "day"])``: median of 3 (SQL GROUP BY)
* file size on disk (database + WAL)

Row generation is not timed. Exit status is 0 even when a target is missed: this is a report.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
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


def _median_time(fn, repeats: int = 3) -> tuple[float, object]:
    times = []
    result = None
    for _ in range(repeats):
        result = None
        gc.collect()
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=20_000, help="rows per insert_many call (one transaction)")
    ap.add_argument("--keep", type=Path, default=None, help="put the ledger in this directory and keep it")
    args = ap.parse_args(argv)

    tmp = None
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        path = args.keep / "bench-ledger.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="sorakit-bench-")
        path = Path(tmp.name) / "bench-ledger.db"

    rng = random.Random(7)
    led = Ledger(path)
    insert_time = insert_cpu = 0.0
    done = 0
    print(f"inserting {args.rows:,} rows in batches of {args.batch:,} into {path} ...", flush=True)
    while done < args.rows:
        n = min(args.batch, args.rows - done)
        rows = make_rows(n, done, args.rows, rng)
        t, c = time.perf_counter(), time.process_time()
        led.insert_many(rows)
        insert_time += time.perf_counter() - t
        insert_cpu += time.process_time() - c
        done += n
    rate = args.rows / insert_time
    assert len(led) == args.rows

    cache = getattr(led, "df_cache_path", None)

    def cold():
        with Ledger(path, df_cache=False) as plain:  # every row decoded from SQLite
            return plain.df

    df_cold, df = _median_time(cold)
    assert len(df) == args.rows
    del df
    df_warm = None
    if cache is not None:
        led.df  # builds the snapshot
        df_warm, df = _median_time(lambda: led.df)
        assert len(df) == args.rows
        del df
    agg, frame = _median_time(lambda: led.cost_by(["model", "day"]))
    led.close()
    size_mb = sum(
        os.path.getsize(str(path) + s) for s in ("", "-wal") if os.path.exists(str(path) + s)
    ) / 1e6

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines = [
        (
            "bulk insert rate",
            f"{rate:,.0f} rows/s ({args.rows / insert_cpu:,.0f} per CPU-second)",
            ">= 20,000 rows/s",
            verdict(rate >= 20_000),
        ),
        ("Ledger.df full load (cold)", f"{df_cold:.2f} s", "<= 3 s", verdict(df_cold <= 3)),
    ]
    if df_warm is not None:
        lines.append(("Ledger.df full load (warm)", f"{df_warm:.2f} s", "<= 3 s", verdict(df_warm <= 3)))
    lines += [
        ("cost_by(model, day)", f"{agg:.3f} s ({len(frame)} groups)", "<= 1 s", verdict(agg <= 1)),
        ("file size on disk", f"{size_mb:,.0f} MB", "-", "-"),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"\nsorakit ledger benchmark: {args.rows:,} rows, SQLite, python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {load:.1f} at the end (other work slows every figure)"
    )
    widths = [max(len(r[i]) for r in lines + [("measure", "value", "target", "result")]) for i in range(4)]
    header = ("measure", "value", "target", "result")
    for row in [header, tuple("-" * w for w in widths), *lines]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
