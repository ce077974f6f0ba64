"""Benchmark the emulator's video renderer (``sorakit.emulator._render``).

Renders an 8 s, 24 fps clip at several sizes, several times each, and prints the median wall
time, the real-time factor (seconds of video per wall second) and the output size.  The
target: 1280x720 renders at least 4x faster than real time, i.e. an 8 s clip in <= 2 s.
The CPU column (user + system time of all threads) shows the work done, which stays
meaningful when other processes compete for the cores and stretch the wall time.

    python bench/emulator.py [--runs 3] [--seconds 8] [--no-audio]

Exits with status 1 when the 1280x720 target is missed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

try:
    from sorakit.emulator._render import RenderSpec, render_video
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sorakit.emulator._render import RenderSpec, render_video

SIZES = [
    ("1280x720", 1280, 720),
    ("720x1280", 720, 1280),
    ("1920x1080", 1920, 1080),
    ("854x480", 854, 480),
]
TARGET_SIZE = "1280x720"
TARGET_FACTOR = 4.0
PROMPT = (
    "A calico cat surfing a neon wave at sunset, cinematic lighting, 35mm film grain, "
    "slow motion spray, the camera tracking alongside"
)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per size (default 3)")
    parser.add_argument("--seconds", type=float, default=8.0, help="clip length (default 8)")
    parser.add_argument("--fps", type=int, default=24, help="frames per second (default 24)")
    parser.add_argument("--no-audio", action="store_true", help="render without the AAC track")
    args = parser.parse_args(argv)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"sorakit emulator renderer: {args.seconds:g} s @ {args.fps} fps, audio={'off' if args.no_audio else 'on'}, "
        f"{args.runs} runs per size; CPUs={os.cpu_count()}, load avg (1 min) at start={load:.2f}"
    )
    header = f"{'size':>10}  {'median s':>9}  {'min s':>7}  {'cpu s':>6}  {'x real time':>11}  {'bytes':>9}"
    print(header)
    print("-" * len(header))
    verdict = True
    with tempfile.TemporaryDirectory(prefix="sorakit-bench-") as tmp:
        warm = RenderSpec(model="sora-2", prompt="warm-up", seed=0, width=320, height=180, seconds=0.5)
        render_video(warm, Path(tmp) / "warm.mp4")
        for name, width, height in SIZES:
            spec = RenderSpec(
                model="sora-2",
                prompt=PROMPT,
                seed=42,
                width=width,
                height=height,
                seconds=args.seconds,
                fps=args.fps,
                audio=not args.no_audio,
            )
            times, cpus, size = [], [], 0
            for run in range(args.runs):
                cpu0 = _cpu_seconds()
                started = time.perf_counter()
                info = render_video(spec, Path(tmp) / f"{name}-{run}.mp4")
                times.append(time.perf_counter() - started)
                cpus.append(_cpu_seconds() - cpu0)
                size = info.bytes
            median = statistics.median(times)
            factor = info.seconds / median
            mark = ""
            if name == TARGET_SIZE:
                ok = factor >= TARGET_FACTOR
                verdict = verdict and ok
                mark = f"  {'PASS' if ok else 'FAIL'} (target >= {TARGET_FACTOR:g}x)"
            cpu = statistics.median(cpus)
            print(f"{name:>10}  {median:9.3f}  {min(times):7.3f}  {cpu:6.2f}  {factor:10.1f}x  {size:9,d}{mark}")
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\n{TARGET_SIZE} target ({TARGET_FACTOR:g}x real time): {'PASS' if verdict else 'FAIL'}  (load avg at end={load_end:.2f})")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
