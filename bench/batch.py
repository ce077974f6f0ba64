"""Benchmark: 100 video jobs through sorakit against the emulator over loopback HTTP, next to the
official ``openai`` SDK (``create_and_poll`` + ``download_content``) run sequentially and in a
10-thread pool.

Every run uses the same emulator settings: a fixed generation time (``--gen``, default 2 s),
at most ``--cap`` (10) jobs running per API key (excess jobs wait ``queued`` server-side, as
OpenAI and Runware do), ``openai-poll-after-ms`` as the emulator sends it (gen × 100 ms).
The emulator runs in a separate process behind uvicorn, so the CPU time measured here is the
client's alone. Ideal makespan = gen × ⌈jobs / cap⌉.

Rendering real MP4s costs the emulator about a second of CPU per clip, which would swamp a
2-second generation time; so all jobs share one prompt and a warm-up pass fills the emulator's
content-addressed render cache (each run restarts the emulator with the same seed, so the clips
of every run are the same set and come from the cache).

    python bench/batch.py                 # 100 jobs; sequential SDK on 10 jobs, extrapolated
    python bench/batch.py --jobs 50 --seq-jobs 5
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "a red fox trotting through fresh snow at dawn, tracking shot"
FAKE_KEY = "test-key-bench-not-real"


# ----------------------------------------------------------------------------- emulator process
def _serve(conn, gen: float, cap: int, seed: int, render_dir: str) -> None:
    from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer

    emu = Emulator(EmulatorConfig(generation_seconds=gen, concurrency_per_key=cap, seed=seed,
                                  render_workers=2), media_dir=Path(render_dir))
    with EmulatorServer(emu, host="127.0.0.1", port=0) as server:
        conn.send(server.base_url)
        while True:
            cmd = conn.recv()
            if cmd == "counters":
                conn.send(emu.counters.snapshot())
            elif cmd == "span":
                jobs = emu.jobs("openai")
                conn.send(max(j.finish_at for j in jobs) - min(j.created_at for j in jobs) if jobs else 0.0)
            elif cmd == "renders":
                emu.wait_renders(timeout=600)
                conn.send(True)
            else:
                break
    emu.close()


class EmulatorProcess:
    """A fresh emulator (same seed, shared render cache) in its own process."""

    def __init__(self, gen: float, cap: int, seed: int, render_dir: Path):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, gen, cap, seed, str(render_dir)), daemon=True)
        self.proc.start()
        self.base_url = self.conn.recv()

    def url(self, provider: str = "openai") -> str:
        return f"{self.base_url}/{provider}/v1"

    def counters(self) -> dict:
        self.conn.send("counters")
        return self.conn.recv()

    def span(self) -> float:
        """Server side: first create to last finish (what no client can beat)."""
        self.conn.send("span")
        return self.conn.recv()

    def wait_renders(self) -> None:
        self.conn.send("renders")
        self.conn.recv()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.send("stop")
        self.proc.join(timeout=30)


def _polls(counters: dict) -> int:
    return counters["providers"].get("openai", {}).get("polls", 0)


# ----------------------------------------------------------------------------- the runs
def run_sorakit(emu: EmulatorProcess, jobs: int, workdir: Path, **studio_kw) -> dict:
    from sorakit.engine import Studio

    studio = Studio(workdir / "ledger.db", media_dir=workdir / "media", emulate=True,
                    emulator=emu.base_url, resume=False, **studio_kw)
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        batch = studio.batch([PROMPT] * jobs, models="sora-2", seconds=4, size="720x1280", progress=False)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        counts = batch.counts()
        assert counts.get("completed") == jobs, counts
    finally:
        studio.close()
    return {"wall": wall, "cpu": cpu, "jobs": jobs, "polls": _polls(emu.counters()), "measured": jobs,
            "span": emu.span()}


def _sdk_job(client, out_dir: Path, i: int) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        video = client.videos.create_and_poll(model="sora-2", prompt=PROMPT, seconds="4", size="720x1280")
    assert video.status == "completed", video.status
    content = client.videos.download_content(video.id)
    content.write_to_file(out_dir / f"{i}.mp4")


def run_sdk(emu: EmulatorProcess, jobs: int, threads: int, workdir: Path) -> dict:
    import openai

    out = workdir / "sdk"
    out.mkdir(parents=True, exist_ok=True)
    client = openai.OpenAI(base_url=emu.url("openai"), api_key=FAKE_KEY, max_retries=2)
    cpu0, t0 = time.process_time(), time.perf_counter()
    if threads <= 1:
        for i in range(jobs):
            _sdk_job(client, out, i)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda i: _sdk_job(client, out, i), range(jobs)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    client.close()
    return {"wall": wall, "cpu": cpu, "jobs": jobs, "polls": _polls(emu.counters()), "measured": jobs,
            "span": emu.span()}


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--gen", type=float, default=2.0, help="fixed generation seconds per job")
    ap.add_argument("--cap", type=int, default=10, help="server concurrency per key")
    ap.add_argument("--seq-jobs", type=int, default=10, help="jobs for the sequential SDK run (extrapolated)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--render-cache", type=Path, default=None, help="keep rendered clips here between runs")
    ap.add_argument("--skip-sdk", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("SORAKIT_QUIET", "1")

    ideal = args.gen * math.ceil(args.jobs / args.cap)
    tmp = Path(tempfile.mkdtemp(prefix="sorakit-bench-"))
    render_dir = args.render_cache or tmp / "renders"
    render_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    try:
        print(f"warm-up: rendering {args.jobs} clips into the emulator's cache ({render_dir}) ...", flush=True)
        t = time.perf_counter()
        with EmulatorProcess(args.gen, args.cap, args.seed, render_dir) as emu:
            run_sorakit(emu, args.jobs, tmp / "warmup")
            emu.wait_renders()
        print(f"warm-up done in {time.perf_counter() - t:.0f} s", flush=True)

        with EmulatorProcess(args.gen, args.cap, args.seed, render_dir) as emu:
            results["sorakit (defaults)"] = run_sorakit(emu, args.jobs, tmp / "sorakit")
        print("sorakit done", flush=True)
        if not args.skip_sdk:
            with EmulatorProcess(args.gen, args.cap, args.seed, render_dir) as emu:
                results[f"openai SDK, 10 threads"] = run_sdk(emu, args.jobs, 10, tmp / "sdk10")
            print("SDK 10 threads done", flush=True)
            with EmulatorProcess(args.gen, args.cap, args.seed, render_dir) as emu:
                r = run_sdk(emu, args.seq_jobs, 1, tmp / "sdk1")
            scale = args.jobs / args.seq_jobs
            results[f"openai SDK, sequential*"] = {
                "wall": r["wall"] * scale, "cpu": r["cpu"] * scale, "polls": r["polls"] * scale,
                "jobs": args.jobs, "measured": args.seq_jobs, "span": r["span"] * scale}
            print("SDK sequential done", flush=True)
    finally:
        if args.render_cache is None:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            for p in tmp.iterdir():
                if p != render_dir:
                    shutil.rmtree(p, ignore_errors=True)

    print()
    print(f"{args.jobs} jobs · generation {args.gen:g} s · server cap {args.cap}/key · "
          f"ideal makespan {ideal:.1f} s (gen × ⌈jobs/cap⌉) · emulator in its own process over loopback")
    head = (f"{'client':<28} {'makespan s':>10} {'× ideal':>8} {'server span s':>14} {'status req/job':>15} "
            f"{'CPU ms/job':>11}")
    print(head)
    print("-" * len(head))
    for name, r in results.items():
        print(f"{name:<28} {r['wall']:>10.1f} {r['wall'] / ideal:>8.2f} {r['span']:>14.1f} "
              f"{r['polls'] / r['jobs']:>15.1f} {1000 * r['cpu'] / r['jobs']:>11.1f}")
    floor = args.gen * 0.1 + args.gen * 0.9 * math.ceil(args.jobs / args.cap)
    print(f"server span = first create to last finish on the emulator. The emulator holds a key's slot "
          f"for the running 90 % of each generation (10 % is queue time), so its floor is "
          f"{floor:.1f} s, below the ideal {ideal:.1f} s.")
    if any(r["measured"] != r["jobs"] for r in results.values()):
        print(f"* sequential SDK: {args.seq_jobs} jobs measured, figures scaled ×{args.jobs / args.seq_jobs:g} "
              f"to {args.jobs} jobs")
    print("sorakit CPU includes validation, ledger writes (SQLite, one commit per transition), sha256, "
          "provider thumbnail posters; the SDK rows only create, poll and write the file.")
    ratio = results["sorakit (defaults)"]["wall"] / ideal
    print(f"sorakit makespan / ideal = {ratio:.3f} (target ≤ 1.10): {'OK' if ratio <= 1.10 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
