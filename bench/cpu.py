"""Benchmark: client CPU per job — 1,000 emulated jobs, and the same run on another git ref beside it.

The figure is the engine's: the Studio runs with ``clip_checks=False`` (the checks decode each
finished video, ~0.2 s of CPU for an 8 s 720p clip: ``bench/checks.py`` prints that on its own).
It is ``time.process_time()`` of the client process (every thread: the caller, the
engine's event loop, the worker threads that write the ledger, fsync, hash and make posters)
from ``studio.batch(...)`` to its return, divided by the number of jobs. Ledger commits (SQLite,
one per transition), sha256 of every file, atomic renames and posters are all included. The
emulator runs in a process of its own (bench/batch.py's ``EmulatorProcess``), so its CPU is not
counted; it always runs *this* tree's code, for both sides of a comparison.

Rendering: a warm-up pass renders the clips once into a content-addressed cache directory
(``--render-cache``, kept between invocations); every measured run starts a fresh emulator with
the same seed, so its clips come from that cache and rendering costs nothing in the runs.

    python bench/cpu.py                         # 3 runs of 1,000 jobs on this tree
    python bench/cpu.py --compare HEAD~5        # the same, alternating with the code of HEAD~5
    python bench/cpu.py --profile prof.txt      # one run under yappi (all threads), top functions

``--compare REF`` extracts REF with ``git archive`` into a temporary directory and runs each
measurement in a subprocess whose ``sorakit`` is imported from there (checked and printed);
the two sides alternate (this tree, REF, this tree, ...) and the medians of ``--runs`` runs
each are printed with their ratio. Parts are per thread (Linux ``/proc``): the engine loop
thread, the ledger writer thread, the caller's thread, the other worker threads (fsync, posters,
file moves) and the rest (threads that ended, rounding to the clock tick).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PROMPT = "a red fox trotting through fresh snow at dawn, tracking shot"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "sorakit-bench-cpu-renders"


# ----------------------------------------------------------------------------- one run (a subprocess)
def _thread_cpu() -> dict[int, float]:
    """CPU seconds of every live thread of this process, by native thread id (Linux only)."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return out


def child(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(HERE))
    import batch as batch_bench  # noqa: E402 - the emulator process (this tree's code)

    code = Path(args.code).resolve()
    sys.path.insert(0, str(code))
    for name in [m for m in sys.modules if m == "sorakit" or m.startswith("sorakit.")]:
        del sys.modules[name]
    import threading

    import sorakit
    from sorakit.engine import Studio

    origin = Path(sorakit.__file__).resolve()
    if code not in origin.parents:
        raise SystemExit(f"sorakit imported from {origin}, not from {code}")
    os.environ.setdefault("SORAKIT_QUIET", "1")
    work = Path(tempfile.mkdtemp(prefix="sorakit-bench-cpu-"))
    prof = None
    try:
        with batch_bench.EmulatorProcess(args.gen, args.cap, args.seed, Path(args.render_cache)) as emu:
            # the engine's CPU per job: clip checks (a decode of every finished video, ~0.2 s of CPU
            # for an 8 s 720p clip, bench/checks.py) are a feature of their own, off here; a ref
            # older than them has no such switch
            import inspect

            opts = {"clip_checks": False} if "clip_checks" in inspect.signature(Studio).parameters else {}
            studio = Studio(work / "ledger.db", media_dir=work / "media", emulate=True,
                            emulator=emu.base_url, resume=False, **opts)
            try:
                if args.profile:
                    import yappi

                    yappi.set_clock_type("cpu")
                    yappi.start(builtins=True, profile_threads=True)
                before = _thread_cpu()
                cpu0, t0 = time.process_time(), time.perf_counter()
                b = studio.batch([PROMPT] * args.jobs, models="sora-2", seconds=4, size="720x1280",
                                 progress=False)
                wall = time.perf_counter() - t0
                cpu = time.process_time() - cpu0
                after = _thread_cpu()
                if args.profile:
                    yappi.stop()
                    prof = yappi.get_func_stats()
                    if args.pstat:
                        prof.save(args.pstat, type="pstat")
                counts = b.counts()
                if counts.get("completed") != args.jobs:
                    raise SystemExit(f"not every job completed: {counts}")
                threads = {t.native_id: t for t in threading.enumerate()}
                engine_stats = dict(getattr(studio._engine, "stats", {}) or {})
            finally:
                studio.close()
            seen = emu.counters()["providers"].get("openai", {})
            polls, requests = seen.get("polls", 0), seen.get("requests", 0)
        parts = {"engine loop": 0.0, "ledger writer": 0.0, "caller": 0.0, "workers": 0.0}
        for tid, secs in after.items():
            d = secs - before.get(tid, 0.0)
            t = threads.get(tid)
            if t is threading.main_thread():
                parts["caller"] += d
            elif t is not None and t.name.startswith("sorakit-ledger"):
                parts["ledger writer"] += d
            elif t is not None and t.name.startswith("sorakit-engine"):
                parts["engine loop"] += d
            else:
                parts["workers"] += d
        parts["other (ended threads, rounding)"] = max(0.0, cpu - sum(parts.values()))
        result = {"code": str(code), "sorakit": str(origin), "jobs": args.jobs, "cpu": cpu, "wall": wall,
                  "parts": parts, "polls": polls, "requests": requests, "stats": engine_stats}
        if prof is not None:
            result["profile"] = _profile_report(prof, args.jobs, args.top)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


_GROUPS = (
    ("sqlalchemy", "SQLAlchemy"), ("sqlite3", "sqlite3"), ("/httpx/", "httpx"), ("/httpcore/", "httpcore"),
    ("/h11/", "h11"), ("/anyio/", "anyio"), ("asyncio", "asyncio"), ("/PIL/", "PIL"), ("/av/", "PyAV"),
    ("hashlib", "hashlib"), ("/json/", "json"), ("logging", "logging"), ("/pandas/", "pandas"),
    ("sorakit/ledger", "sorakit.ledger"), ("sorakit/engine", "sorakit.engine"),
    ("sorakit/providers", "sorakit.providers"), ("sorakit/media", "sorakit.media"),
    ("sorakit/catalog", "sorakit.catalog"), ("sorakit", "sorakit (other)"),
)


def _profile_report(stats, jobs: int, top: int) -> str:
    rows = list(stats)
    total = sum(s.tsub for s in rows)
    by_group: dict[str, float] = {}
    for s in rows:
        path = s.module or ""
        group = next((g for key, g in _GROUPS if key in path), "builtins" if not path or path.startswith("<") or "built-in" in path or s.builtin else "other")
        by_group[group] = by_group.get(group, 0.0) + s.tsub
    lines = [f"yappi (cpu clock, all threads): {1000 * total / jobs:.2f} ms/job own time in total "
             f"(profiler overhead included)", "", "own time by library:"]
    for g, secs in sorted(by_group.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {1000 * secs / jobs:7.3f} ms/job  {100 * secs / total:5.1f} %  {g}")
    lines += ["", f"top {top} functions by own time:"]
    for s in sorted(rows, key=lambda s: -s.tsub)[:top]:
        lines.append(f"  {1000 * s.tsub / jobs:7.3f} ms/job own {1000 * s.ttot / jobs:8.3f} incl "
                     f"{s.ncall / jobs:8.1f} calls/job  {s.name}  ({_short(s.module)}:{s.lineno})")
    lines += ["", f"top {top} functions by inclusive time (sorakit's own):"]
    mine = [s for s in rows if "sorakit/" in (s.module or "")]
    for s in sorted(mine, key=lambda s: -s.ttot)[:top]:
        lines.append(f"  {1000 * s.ttot / jobs:8.3f} ms/job incl {s.ncall / jobs:8.1f} calls/job  "
                     f"{s.name}  ({_short(s.module)}:{s.lineno})")
    return "\n".join(lines)


def _short(path: str) -> str:
    for marker in ("site-packages/", "sorakit/", "lib/python"):
        i = (path or "").rfind(marker)
        if i >= 0:
            return path[i:]
    return path or "?"


def floor(args: argparse.Namespace) -> dict:
    """CPU per request of httpx alone (the client sorakit uses: its pool limits and this tree's
    `http_transport`, 32 requests at a time) against the same emulator: a GET of an unknown video
    id (a small 404 JSON answer). bench/transport.py compares it with httpx's default transport."""
    import asyncio

    sys.path.insert(0, str(HERE))
    import batch as batch_bench
    import httpx

    async def run(url: str, n: int) -> float:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=8)
        from sorakit.engine._core.transport import http_transport

        async with httpx.AsyncClient(limits=limits, transport=http_transport(limits)) as client:
            gate = asyncio.Semaphore(32)

            async def one() -> None:
                async with gate:
                    (await client.get(url)).read()

            await asyncio.gather(*[one() for _ in range(64)])  # connections open, code warm
            cpu0 = time.process_time()
            await asyncio.gather(*[one() for _ in range(n)])
            return (time.process_time() - cpu0) / n

    with batch_bench.EmulatorProcess(args.gen, args.cap, args.seed, Path(args.render_cache)) as emu:
        per_request = asyncio.run(run(emu.url("openai") + "/videos/video_floor", args.floor_requests))
    return {"per_request": per_request}


# ----------------------------------------------------------------------------- the driver
def _run_side(code: Path, args: argparse.Namespace, profile: bool = False) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--code", str(code), "--jobs", str(args.jobs),
           "--gen", str(args.gen), "--cap", str(args.cap), "--seed", str(args.seed),
           "--render-cache", str(args.render_cache), "--top", str(args.top)]
    if profile:
        cmd += ["--profile-child", "--pstat", f"{args.profile}.{'ref' if code != ROOT else 'this'}.pstat"]
    env = dict(os.environ, SORAKIT_QUIET="1")
    env.pop("PYTHONPATH", None)  # the child puts ``code`` first itself
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"run failed ({code}):\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _warm(args: argparse.Namespace) -> None:
    marker = args.render_cache / f"warm-{args.jobs}-seed{args.seed}-gen{args.gen:g}"
    if marker.exists():
        return
    args.render_cache.mkdir(parents=True, exist_ok=True)
    print(f"warm-up: rendering {args.jobs} clips into {args.render_cache} (once) ...", flush=True)
    t = time.perf_counter()
    sys.path.insert(0, str(HERE))
    import batch as batch_bench

    with batch_bench.EmulatorProcess(args.gen, args.cap, args.seed, args.render_cache) as emu:
        try:  # the jobs themselves may time out while a loaded machine renders: the renders count
            batch_bench.run_sorakit(emu, args.jobs, Path(tempfile.mkdtemp(prefix="sorakit-bench-warm-")),
                                    max_wait=24 * 3600)
        except AssertionError as exc:
            print(f"warm-up: not every job completed ({exc}); waiting for the renders", flush=True)
        emu.wait_renders()
    marker.write_text("ok\n")
    print(f"warm-up done in {time.perf_counter() - t:.0f} s", flush=True)


def _export(ref: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    dest = Path(tempfile.mkdtemp(prefix=f"sorakit-ref-{sha[:10]}-"))
    archive = subprocess.run(["git", "archive", "--format=tar", sha], cwd=ROOT, check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def _fmt(r: dict) -> str:
    n = r["jobs"]
    parts = " · ".join(f"{k} {1000 * v / n:.1f}" for k, v in r["parts"].items())
    return (f"{1000 * r['cpu'] / n:6.2f} ms/job  (wall {r['wall']:5.1f} s, {r['polls'] / n:4.1f} polls/job; "
            f"{parts})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3, help="measured runs per side (median printed)")
    ap.add_argument("--gen", type=float, default=1.0, help="fixed generation seconds per job (emulator)")
    ap.add_argument("--cap", type=int, default=100, help="emulator jobs running at once per key")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--render-cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--compare", metavar="REF", help="also measure the code of this git ref, alternating")
    ap.add_argument("--profile", type=Path, metavar="FILE", help="one extra run under yappi; report to FILE")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--floor-requests", type=int, default=2000,
                    help="requests of the httpx-alone floor measurement (0: skip it)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--profile-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--code", default=str(ROOT), help=argparse.SUPPRESS)
    ap.add_argument("--pstat", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        args.profile = args.profile_child
        print(json.dumps(child(args)))
        return 0
    if args.floor_child:
        print(json.dumps(floor(args)))
        return 0

    _warm(args)
    sides: dict[str, Path] = {"this tree": ROOT}
    ref_dir = None
    if args.compare:
        ref_dir = _export(args.compare)
        sides[f"ref {args.compare}"] = ref_dir
    results: dict[str, list[dict]] = {name: [] for name in sides}
    try:
        for i in range(args.runs):
            order = list(sides.items()) if i % 2 == 0 else list(sides.items())[::-1]
            for name, code in order:
                r = _run_side(code, args)
                results[name].append(r)
                print(f"run {i + 1} {name:<18} {_fmt(r)}", flush=True)
        if args.profile:
            report = []
            for name, code in sides.items():
                r = _run_side(code, args, profile=True)
                report.append(f"=== {name} ({r['sorakit']}) ===\n{r['profile']}\n")
            args.profile.write_text("\n".join(report))
            print(f"profile written to {args.profile} (full stats: {args.profile}.*.pstat, for pstats)")
    finally:
        if ref_dir is not None:
            shutil.rmtree(ref_dir, ignore_errors=True)

    print()
    print(f"{args.jobs} jobs · sora-2 on the emulator (openai surface) · generation {args.gen:g} s · "
          f"cap {args.cap}/key · {args.runs} runs per side, alternating · client process CPU only")
    med = {}
    for name, rs in results.items():
        per_job = sorted(1000 * r["cpu"] / r["jobs"] for r in rs)
        med[name] = statistics.median(per_job)
        parts = {k: statistics.median(1000 * r["parts"][k] / r["jobs"] for r in rs) for k in rs[0]["parts"]}
        print(f"{name:<18} median {med[name]:6.2f} ms/job  (runs: {', '.join(f'{x:.2f}' for x in per_job)}; "
              f"{statistics.median(r['polls'] / r['jobs'] for r in rs):.1f} polls/job)")
        print(f"{'':<18} parts: " + " · ".join(f"{k} {v:.2f}" for k, v in parts.items()))
    if args.compare:
        a, b = med["this tree"], med[f"ref {args.compare}"]
        print(f"this tree / ref = {a / b:.3f}  (ref / this tree = {b / a:.2f}×)")
    if args.floor_requests > 0:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--floor-child", "--gen", str(args.gen),
               "--cap", str(args.cap), "--seed", str(args.seed), "--render-cache", str(args.render_cache),
               "--floor-requests", str(args.floor_requests)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, SORAKIT_QUIET="1"))
        if out.returncode == 0:
            per_request = 1000 * json.loads(out.stdout.strip().splitlines()[-1])["per_request"]
            for name, rs in results.items():
                if all("requests" in r for r in rs):
                    req = statistics.median(r["requests"] / r["jobs"] for r in rs)
                    print(f"floor ({name}): httpx alone costs {per_request:.2f} ms CPU per request here "
                          f"(32 at a time, same emulator); {req:.2f} requests/job -> {per_request * req:.2f} ms/job "
                          f"before any ledger write, file or poster")
        else:
            print(f"(the httpx floor measurement failed: {out.stderr[-500:]})")
    target = med["this tree"]
    print(f"target ≤ 10 ms/job: {'OK' if target <= 10 else 'MISSED'} ({target:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
