"""Benchmark: client CPU per HTTP request — httpx's default transport vs the Runtime's own.

Both sit under the same ``httpx.AsyncClient(limits=32 connections, 8 idle, follow_redirects)``;
each request is a GET the emulator answers with a small 404 JSON (an unknown video id), 32 at a
time, read whole. The figure is ``time.process_time()`` of this process over ``--requests``
requests (after a warm-up of 64), divided by their number. The emulator runs in its own process
(bench/batch.py's ``EmulatorProcess``), so its CPU is not counted. The two sides alternate, and
the medians of ``--runs`` runs each are printed with their ratio (the machine may be shared:
the ratio is the figure to read).

    python bench/transport.py                 # 3 runs of 2,000 requests per side
    python bench/transport.py --runs 5 --requests 5000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import EmulatorProcess  # noqa: E402

from sorakit.engine._core.transport import http_transport  # noqa: E402

LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=8)
SIDES = {
    "httpx default": lambda: httpx.AsyncHTTPTransport(limits=LIMITS),
    "sorakit": lambda: http_transport(LIMITS),
}


async def cpu_per_request(url: str, n: int, make) -> float:
    async with httpx.AsyncClient(limits=LIMITS, transport=make(), follow_redirects=True) as client:
        gate = asyncio.Semaphore(32)

        async def one() -> None:
            async with gate:
                r = await client.get(url)
                r.read()
                assert r.status_code == 404, r

        await asyncio.gather(*[one() for _ in range(64)])
        cpu = time.process_time()
        await asyncio.gather(*[one() for _ in range(n)])
        return (time.process_time() - cpu) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    got: dict[str, list[float]] = {side: [] for side in SIDES}
    with tempfile.TemporaryDirectory() as renders, EmulatorProcess(1.0, 100, 7, Path(renders)) as emu:
        url = emu.url("openai") + "/videos/video_floor"
        for run in range(1, args.runs + 1):
            for side, make in SIDES.items():
                got[side].append(1000 * asyncio.run(cpu_per_request(url, args.requests, make)))
                print(f"run {run} {side:<14} {got[side][-1]:.3f} ms/request", flush=True)
    med = {side: statistics.median(v) for side, v in got.items()}
    print(" · ".join(f"median {side} {m:.3f} ms/request" for side, m in med.items())
          + f" · ratio sorakit/default {med['sorakit'] / med['httpx default']:.2f}")


if __name__ == "__main__":
    main()
