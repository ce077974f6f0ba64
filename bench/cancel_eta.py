"""Benchmark: the two figures of issue 16 items 2 and 3.

1. ETA query time: ``Ledger.latency(model, provider)`` on a ledger of ``--rows`` (100k) jobs over
   several models and providers, next to the obvious pandas way (``ledger.df`` filtered, then
   ``quantile``), side by side in one run. Medians of ``--repeat`` calls.
2. Cancel: ``job.cancel()`` from the call to the ledger saying ``cancelled``, against the emulator
   over loopback HTTP (a uvicorn server, manual clock so jobs stay running): a Gemini Omni Flash
   interaction (one cancel request) and a job not yet sent (cancelled locally). Medians of
   ``--cancels`` jobs each.

    python bench/cancel_eta.py               # 100k rows, 30 latency calls, 10 cancels of each kind
    python bench/cancel_eta.py --rows 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODELS = [("sora-2", "openai"), ("veo-3-fast", "gemini"), ("veo-3-fast", "runware"),
          ("kling-3-standard", "relay"), ("seedance-1-pro", "runware"), ("gemini-omni-flash", "gemini")]


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_latency(rows: int, repeat: int, folder: Path) -> None:
    from sorakit.ledger import Ledger

    rnd = random.Random(16)
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    statuses = ["completed"] * 8 + ["failed", "cancelled"]
    with Ledger(folder / "ledger.db") as led:
        t = time.perf_counter()
        for start in range(0, rows, 10_000):
            batch = []
            for i in range(start, min(rows, start + 10_000)):
                model, provider = MODELS[i % len(MODELS)]
                status = rnd.choice(statuses)
                batch.append(dict(model=model, provider=provider, prompt=f"prompt {i}", status=status,
                                  emulated=(i // len(MODELS)) % 3 != 0, latency_s=rnd.uniform(20, 120) if status == "completed" else None,
                                  completed_at=t0 + dt.timedelta(seconds=i)))
            led.insert_many(batch)
        print(f"seeded {rows:,} rows in {time.perf_counter() - t:.1f}s")
        lat = led.latency("sora-2", "openai", emulated=True)
        sql_ms = median_ms(lambda: led.latency("sora-2", "openai", emulated=True), repeat)

        def with_pandas():
            df = led.df
            sel = df[(df.model == "sora-2") & (df.provider == "openai") & (df.status == "completed")
                     & (df.emulated == True) & df.latency_s.notna()]  # noqa: E712
            sel = sel.sort_values("completed_at").tail(500)
            return sel.latency_s.quantile([0.5, 0.9])

        pandas_ms = median_ms(with_pandas, max(3, repeat // 10))
        print(f"Ledger.latency('sora-2', 'openai') on {rows:,} rows: median {sql_ms:.2f} ms "
              f"-> {lat.describe()}")
        print(f"the same through ledger.df + pandas quantile: median {pandas_ms:.1f} ms "
              f"({pandas_ms / sql_ms:.0f}x slower)")


def _until(pred, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and not pred():
        time.sleep(0.01)


def _timed_cancels(jobs) -> list[float]:
    """Milliseconds of each ``job.cancel()`` (asserting the ledger then says ``cancelled``)."""
    out = []
    for j in jobs:
        t = time.perf_counter()
        r = j.cancel()
        out.append((time.perf_counter() - t) * 1000)
        assert r.cancelled and j.status == "cancelled", r
    return out


def bench_cancel(n: int, folder: Path) -> None:
    from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer, ManualClock
    from sorakit.engine import Policy, Studio

    emu = Emulator(EmulatorConfig(time_scale=0.01, seed=3, render_eagerly=False), folder / "emu",
                   clock=ManualClock())
    with EmulatorServer(emu, host="127.0.0.1", port=0) as server:
        studio = Studio(emulate=True, ledger=folder / "cancel.db", emulator=server.base_url, resume=False,
                        policy=Policy(poll_initial=0.05, poll_max=0.5), concurrency=n + 1)
        try:
            jobs = [studio.submit(f"a kite {i}", model="gemini-omni-flash", provider="gemini", seconds=6)
                    for i in range(n)]
            _until(lambda: all(j.row.get("provider_job_id") for j in jobs))
            remote = _timed_cancels(jobs)
            print(f"cancel of a running Omni Flash interaction -> ledger 'cancelled': median "
                  f"{statistics.median(remote):.1f} ms over {n} jobs "
                  f"(emulator: {emu.counters['gemini']['cancel_calls']} cancel calls, "
                  f"{emu.counters['gemini']['cancels']} cancels)")
        finally:
            studio.close()
        studio = Studio(emulate=True, ledger=folder / "cancel-local.db", emulator=server.base_url, resume=False,
                        policy=Policy(poll_initial=0.05, poll_max=0.5), concurrency=1)
        try:
            holder = studio.submit("holds the slot", model="sora-2")
            waiting = [studio.submit(f"waits {i}", model="sora-2") for i in range(n)]
            _until(lambda: bool(holder.row.get("provider_job_id")))
            local = _timed_cancels(waiting)
            assert all(j.row["extra"]["cancel"]["how"] == "local" for j in waiting)
            print(f"cancel of a job not yet sent -> ledger 'cancelled': median {statistics.median(local):.1f} ms "
                  f"over {n} jobs (emulator creates for them: "
                  f"{sum(emu.counters.prompt_creates(f'waits {i}') for i in range(n))})")
        finally:
            studio.close()
    emu.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--cancels", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sorakit-bench-") as tmp:
        bench_latency(a.rows, a.repeat, Path(tmp))
        bench_cancel(a.cancels, Path(tmp))


if __name__ == "__main__":
    main()
