"""Reliability trials shared by the tests and by ``make stress`` (``bench/stress.py``).

Each trial starts its own emulator (served on 127.0.0.1), drives jobs through a `Studio`, and
returns a `Tally` of what went wrong — the counts the stress run prints and that must all be 0:

* ``duplicate_creates``: creates the emulator accepted beyond one per job (double billing);
* ``lost_rows``: rows the ledger should hold and does not;
* ``corrupt_files``: completed rows whose file is missing, short or not checksum-true;
* ``non_terminal_after_wait``: jobs a wait returned on that were neither done nor left in the
  state the trial's faults call for (``timed_out_waiting`` when every poll fails);
* ``other``: anything else a trial expected and did not see (listed in ``problems``).

* ``driven_twice``: jobs two live processes drove (each holding a lease on it at once, by the
  processes' own record of their claims), or downloaded more often than once.

Trials: `crash_trial` (a child process runs 20 jobs and is SIGKILLed at a random moment; this
process resumes), `storm_trial` (random faults, or one extreme: every download / poll fails, every
create times out), `two_writers_trial` (two processes append to one ledger at once) and
`team_trial` (several processes open Studios on one SQLite or PostgreSQL ledger at the same
moment and resume, while another drives its own jobs and may be SIGKILLed).
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from sorakit._types import TERMINAL
from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer, FaultConfig
from sorakit.emulator._store import RequestLog
from sorakit.engine import Studio
from sorakit.ledger import Ledger

from engine._helpers import fast_policy, sha256_of

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CHILD = HERE / "_crash_child.py"
TEAM_CHILD = HERE / "_team_child.py"
CRASH_OPENAI = [f"crash trial openai job {i}" for i in range(10)]
CRASH_RUNWARE = [f"crash trial runware job {i}" for i in range(10)]
STORMS = ("random", "all-downloads-fail", "all-polls-fail", "all-creates-time-out")


@dataclass
class Tally:
    trials: int = 0
    duplicate_creates: int = 0
    lost_rows: int = 0
    corrupt_files: int = 0
    non_terminal_after_wait: int = 0
    driven_twice: int = 0
    other: int = 0
    problems: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    """Measured values by name (lists), e.g. ``takeover_s``: seconds from a SIGKILL to the moment
    another process claimed the dead holder's job."""

    COUNTS = ("trials", "duplicate_creates", "lost_rows", "corrupt_files", "non_terminal_after_wait",
              "driven_twice", "other")

    def add(self, other: "Tally") -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems += other.problems
        for name, values in other.figures.items():
            self.figures.setdefault(name, []).extend(values)

    def problem(self, count: str, text: str) -> None:
        setattr(self, count, getattr(self, count) + 1)
        self.problems.append(text)

    @property
    def clean(self) -> bool:
        return all(getattr(self, n) == 0 for n in self.COUNTS if n != "trials")

    def line(self) -> str:
        return ", ".join(f"{n.replace('_', ' ')}: {getattr(self, n)}" for n in self.COUNTS)


@contextmanager
def served(config: EmulatorConfig, render_dir: Path) -> Iterator[tuple[Emulator, EmulatorServer]]:
    """A fresh emulator on 127.0.0.1 (renders cached by content in ``render_dir``)."""
    emu = Emulator(config, media_dir=render_dir)
    try:
        with EmulatorServer(emu, host="127.0.0.1", port=0) as server:
            yield emu, server
    finally:
        emu.close()


def check_file(row: dict, tally: Tally, label: str) -> None:
    """A completed row's file is on disk, complete and checksum-true."""
    path = Path(row.get("file_path") or "")
    if not path.is_file() or path.stat().st_size != row.get("bytes") or not row.get("bytes") \
            or sha256_of(path) != row.get("sha256"):
        tally.problem("corrupt_files", f"{label}: {row['job_id']} file {path} is missing or not checksum-true")


def check_creates(emu: Emulator, prompts: dict[str, int], provider: Optional[str], tally: Tally, label: str) -> None:
    """Each prompt was created exactly ``prompts[p]`` times (0 extra = no double billing)."""
    for p, expected in prompts.items():
        got = emu.counters.prompt_creates(p, provider)
        if got > expected:
            tally.problem("duplicate_creates", f"{label}: {p!r} created {got} times (expected {expected})")
        elif got < expected:
            tally.problem("other", f"{label}: {p!r} created {got} times (expected {expected})")


def check_done(rows: list[dict], tally: Tally, label: str, *, expect: str = "completed",
               blocked: str = "blocked-term", allowed_failures: tuple[str, ...] = (),
               allowed_stops: tuple[str, ...] = ()) -> None:
    """After a wait: every row in its expected end state (files checked for completed ones).
    Prompts containing ``blocked`` must fail; ``allowed_failures`` are error codes a visible,
    recorded give-up may carry under the trial's faults; ``allowed_stops`` are non-terminal
    statuses the engine may leave a row in *with its reason recorded* (``unknown``)."""
    for row in rows:
        status = row.get("status")
        want = "failed" if blocked in (row.get("prompt") or "") else expect
        if status == "failed" and row.get("error_code") in allowed_failures and row.get("error_message"):
            continue
        if status in allowed_stops and row.get("error_message"):
            continue
        if status == want:
            if status == "completed":
                check_file(row, tally, label)
            continue
        text = f"{label}: {row['job_id']} is {status} ({row.get('error_code')}: {row.get('error_message')}), expected {want}"
        if status not in TERMINAL and status != "timed_out_waiting" or (status == "timed_out_waiting"
                                                                        and want in TERMINAL):
            tally.problem("non_terminal_after_wait", text)
        else:
            tally.problem("other", text)


# ------------------------------------------------------------------------------------- crash
def _read_until(proc: subprocess.Popen, marker: str, timeout: float) -> None:
    found = threading.Event()

    def reader():
        for line in proc.stdout:
            if line.strip() == marker:
                found.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    if not found.wait(timeout):
        proc.kill()
        raise AssertionError(f"the child never printed {marker}")


def crash_trial(workdir: Path, render_dir: Path, moment: float, *, emulator_seed: int = 4321) -> Tally:
    """A child process starts 20 jobs (10 OpenAI, 10 Runware) and is SIGKILLed ``moment`` seconds
    after its rows are committed; this process resumes. Jobs take about two seconds, so moments
    from 0 to 2.5 s land in every state: creates in flight, polling, downloading, done."""
    tally = Tally(trials=1)
    label = f"crash@{moment:.2f}s"
    workdir.mkdir(parents=True, exist_ok=True)
    ledger, media = workdir / "ledger.db", workdir / "media"
    with served(EmulatorConfig(time_scale=0.05, seed=emulator_seed), render_dir) as (emu, server):
        env = {**os.environ, "SORAKIT_QUIET": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO)] + sys.path)}
        proc = subprocess.Popen([sys.executable, str(CHILD), str(ledger), str(media), server.base_url],
                                stdout=subprocess.PIPE, text=True, env=env)
        try:
            _read_until(proc, "STARTED", timeout=60)
            time.sleep(moment)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
            if proc.stdout:
                proc.stdout.close()
        if proc.returncode != -signal.SIGKILL:
            tally.problem("other", f"{label}: the child ended with {proc.returncode}, not SIGKILL")
        with Ledger(ledger) as led:
            before = led.rows()
        states: dict[str, int] = {}
        for r in before:
            states[r["status"]] = states.get(r["status"], 0) + 1
        label += f" {states}"
        if len(before) != 20:
            tally.lost_rows += max(0, 20 - len(before))
            tally.problems.append(f"{label}: {len(before)} rows after the kill, expected 20")
        studio = Studio(ledger, media_dir=media, emulate=True, emulator=server.base_url, policy=fast_policy(),
                        resume=False)
        try:
            jobs = studio.resume(progress=False)
            unfinished = sum(1 for r in before if r["status"] != "completed")
            if len(jobs) != unfinished:
                tally.problem("other", f"{label}: resume drove {len(jobs)} jobs, {unfinished} were unfinished")
            rows = studio.ledger.rows()
        finally:
            studio.close()
        if len(rows) < 20:
            tally.lost_rows += 20 - len(rows)
            tally.problems.append(f"{label}: {len(rows)} rows after resume, expected 20")
        check_done(rows, tally, label)
        check_creates(emu, dict.fromkeys(CRASH_OPENAI, 1), "openai", tally, label)
        check_creates(emu, dict.fromkeys(CRASH_RUNWARE, 1), "runware", tally, label)
    return tally


# ------------------------------------------------------------------------------------- storms
def storm_trial(kind: str, seed: int, workdir: Path, render_dir: Path) -> Tally:
    """Jobs through one kind of storm, then the recovery a user would do; see `STORMS`."""
    tally = Tally(trials=1)
    label = f"storm {kind} seed {seed}"
    rng = random.Random(seed)
    workdir.mkdir(parents=True, exist_ok=True)
    openai = [f"storm {kind} {seed} openai {i}" for i in range(4)]
    runware = [f"storm {kind} {seed} runware {i}" for i in range(3)]
    policy, max_wait = fast_policy(), 60.0
    if kind == "random":
        openai.append(f"storm {seed} blocked-term")
        faults = FaultConfig(error_5xx=rng.uniform(0.05, 0.3), reset=rng.uniform(0.05, 0.2),
                             truncate_download=rng.uniform(0.1, 0.4), expire_urls=rng.uniform(0.05, 0.25),
                             seed=seed)
    elif kind == "all-downloads-fail":
        faults = FaultConfig(truncate_download=1.0, operations=("download",), seed=seed)
        policy = fast_policy(download_retries=2)
    elif kind == "all-polls-fail":
        faults = FaultConfig(error_5xx=1.0, operations=("poll",), seed=seed)
        max_wait = 2.0
    elif kind == "all-creates-time-out":
        # every create answers after the client gave up (the emulator then drops it): OpenAI
        # creates cannot be re-sent blindly, so after max_resends proofs of absence they stay
        # 'unknown' with the reason; once the network heals, resume() finishes them
        faults = FaultConfig(slow_rate=1.0, slow_seconds=1.0, operations=("create",), seed=seed)
        policy = fast_policy(request_timeout=0.4, reconcile_grace=1.5)
    else:
        raise ValueError(f"unknown storm {kind!r}; one of {STORMS}")
    config = EmulatorConfig(time_scale=0.01, seed=seed)
    if kind == "random":
        config.rate_limit_per_minute = 8
        config.rate_limit_window_seconds = 0.5
    with served(config, render_dir) as (emu, server):
        emu.config.faults = faults
        studio = Studio(workdir / "ledger.db", media_dir=workdir / "media", emulate=True,
                        emulator=server.base_url, policy=policy, max_wait=max_wait, resume=False)
        try:
            a = studio.batch(openai, models="sora-2", wait=False, progress=False)
            b = studio.batch(runware, models="seedance-1-pro", providers="runware", size="864x480", seconds=5,
                             seeds=[seed % 1000], wait=False, progress=False)
            a.wait(), b.wait()
            rows = [j.row for j in list(a) + list(b)]
            if len(rows) != len(openai) + len(runware):
                tally.lost_rows += len(openai) + len(runware) - len(rows)
            if kind == "random":
                # giving up visibly is allowed under random faults: on a video after 9 faults in a
                # row, and on a create whose re-sends all met a fault (left 'unknown': re-sending
                # again might bill twice). Recovery as a user would: heal, resume, retry downloads.
                check_done(rows, tally, label, allowed_stops=("unknown",),
                           allowed_failures=("download_failed", "video_expired"))
                emu.config.faults = FaultConfig()
                studio = heal(studio, workdir, server)
                check_done(studio.ledger.rows(), tally, label + " after resume", allowed_failures=("video_expired",))
            elif kind == "all-downloads-fail":
                for row in rows:
                    if row["status"] != "failed" or row["error_code"] != "download_failed":
                        check_done([row], tally, label, expect="failed")
                emu.config.faults = FaultConfig()
                for job in list(a) + list(b):
                    job.retry_download(timeout=30)
                check_done([j.row for j in list(a) + list(b)], tally, label + " after retry_download")
            elif kind == "all-polls-fail":
                check_done(rows, tally, label, expect="timed_out_waiting")
                emu.config.faults = FaultConfig()
                studio.resume(progress=False)
                check_done([j.row for j in list(a) + list(b)], tally, label + " after resume")
            else:
                # a 0.4 s request timeout also cuts slow downloads short: download_failed is a
                # visible, allowed give-up here. Recovery as a user would: a new session resumes
                # (default timeouts) and retries the downloads.
                check_done(rows, tally, label, allowed_stops=("unknown",), allowed_failures=("download_failed",))
                emu.config.faults = FaultConfig()
                studio = heal(studio, workdir, server)
                check_done(studio.ledger.rows(), tally, label + " after resume")
        finally:
            studio.close()
        check_creates(emu, dict.fromkeys(openai, 1), "openai", tally, label)
        check_creates(emu, dict.fromkeys(runware, 1), "runware", tally, label)
    return tally


def heal(studio: Studio, workdir: Path, server: EmulatorServer) -> Studio:
    """After the faults stop: a new session (default timeouts) resumes every open row and retries
    the downloads it gave up on. Returns the new Studio (the old one is closed)."""
    studio.close()
    studio = Studio(workdir / "ledger.db", media_dir=workdir / "media", emulate=True,
                    emulator=server.base_url, policy=fast_policy(), resume=False)
    studio.resume(progress=False)
    for job in studio.jobs(status="failed"):
        if job.row["error_code"] == "download_failed":
            job.retry_download(timeout=30)
    return studio


# ------------------------------------------------------------------------------------- writers
def two_writers_trial(workdir: Path, per_writer: int = 200) -> Tally:
    """Two processes append (and update) ``per_writer`` rows each to one SQLite ledger at once
    (the writer of ``tests/ledger/test_durability.py``); every row and update must land."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_durability", HERE.parent / "ledger" / "test_durability.py")
    durability = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(durability)
    WRITER = durability.WRITER

    tally = Tally(trials=1)
    workdir.mkdir(parents=True, exist_ok=True)
    location = str(workdir / "shared.db")
    Ledger(location).close()
    go = workdir / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, location, f"w{w}", str(per_writer), str(go)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for w in range(2)]
    time.sleep(0.3)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        if p.returncode != 0:
            tally.problem("other", f"two writers: a writer failed: {err[-500:]}")
    bulk = per_writer // 10
    expected = 2 * ((per_writer - bulk) + bulk * 5)
    with Ledger(location) as led:
        rows = led.rows()
    if len(rows) != expected:
        tally.lost_rows += max(0, expected - len(rows))
        tally.problems.append(f"two writers: {len(rows)} of {expected} rows")
    if len({r["job_id"] for r in rows}) != len(rows):
        tally.problem("other", "two writers: duplicate job ids")
    lost_updates = sum(1 for r in rows if r.get("provider") == "emulator" and r.get("status") != "completed")
    if lost_updates:
        tally.lost_rows += lost_updates
        tally.problems.append(f"two writers: {lost_updates} updates lost")
    return tally




# ------------------------------------------------------------------------------------- teams
def unsent_rows(studio: Studio, prompts: list[str], model: str = "sora-2", **fields) -> list[str]:
    """Rows written exactly as a submit writes them (one create per prompt), then left unleased:
    as if their process closed before sending them."""
    ids = []
    for prompt in prompts:
        p, rt = studio._plan(studio._request(prompt, model, fields.get("provider"),
                                             {k: v for k, v in fields.items() if k != "provider"}))
        launch = studio._prepare([(p, rt)], as_batch=False, budget=None, allow_unknown_cost=True,
                                 timeout=None, wait=False, raise_=False)
        ids += studio._loop.run(studio._engine.insert(launch.prepared[0][2]))
    studio.ledger.release(ids, studio._engine.owner)
    return ids


def _child(args: list[str], log: Path) -> subprocess.Popen:
    """A team child; its stderr goes to ``log`` (a pipe nobody reads yet could fill and stall it)."""
    env = {**os.environ, "SORAKIT_QUIET": "1", "PYTHONPATH": os.pathsep.join([str(REPO)] + sys.path)}
    with open(log, "w") as err:
        return subprocess.Popen([sys.executable, str(TEAM_CHILD), *args], stdout=subprocess.PIPE,
                                stderr=err, text=True, env=env)


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-800:]
    except OSError:
        return ""


def team_trial(workdir: Path, render_dir: Path, ledger_url: str, *, processes: int = 4, kill: bool = False,
               backend: str = "sqlite", seed: int = 7, passive: bool = False) -> Tally:
    """``processes`` workers open Studios on one ledger at the same moment (each resumes on
    opening, then again, then waits for every job), while a holder process drives 6 jobs of its
    own; 8 more rows wait unleased. With ``kill`` the holder is SIGKILLed just after the workers
    open and wait: they must take its jobs over once its leases run out (2 s in the children's
    policy). The holder drives one job at a time, so its jobs are queued or in flight then.

    Counts: ``duplicate_creates`` (per prompt, from the emulator), ``driven_twice`` (a job whose
    lease two live processes took, from the processes' own claim records; or, without a kill,
    downloads beyond one per video from the emulator), every job ``completed`` once with a true
    file. Figures: ``takeover_s`` (SIGKILL to a worker's claim, per job taken over).

    ``passive``: the workers' users do nothing after opening (no wait, no resume): the holder's
    jobs must still finish, adopted by an open Studio once their lease runs out."""
    tally = Tally(trials=1)
    label = f"team {backend} {processes}p{' kill' if kill else ''}{' passive' if passive else ''}"
    workdir.mkdir(parents=True, exist_ok=True)
    go = workdir / "go"
    with served(EmulatorConfig(time_scale=0.05, seed=seed), render_dir) as (emu, server):
        emu.requests = RequestLog(maxlen=200_000, max_body=0)   # every request of the trial, bodies aside
        setup = Studio(ledger_url, media_dir=workdir / "media-setup", emulate=True, emulator=server.base_url,
                       policy=fast_policy(), resume=False)
        free_openai = [f"{label} free openai {i}" for i in range(6)]
        free_runware = [f"{label} free runware {i}" for i in range(2)]
        try:
            free = unsent_rows(setup, free_openai)
            free += unsent_rows(setup, free_runware, model="seedance-1-pro", provider="runware",
                                size="864x480", seconds=5, seed=3)
        finally:
            setup.close()
        prefix = f"{label} held"
        holder = _child(["holder", ledger_url, str(workdir / "media-h"), server.base_url,
                         str(workdir / "holder.json"), prefix], workdir / "holder.log")
        workers: list[subprocess.Popen] = []
        killed_at = None
        try:
            _read_until(holder, "STARTED", timeout=60)
            workers = [_child(["passive" if passive else "worker", ledger_url, str(workdir / f"media-{w}"), server.base_url,
                               str(workdir / f"worker{w}.json"), str(go)], workdir / f"worker{w}.log")
                       for w in range(processes)]
            time.sleep(1.0)              # let them import sorakit and sit at the start line
            go.touch()
            for n, w in enumerate(workers):  # all opened, resumed, and waiting for every job
                try:
                    _read_until(w, "WAITING", timeout=120)
                except AssertionError as exc:
                    raise AssertionError(f"{exc}: {_tail(workdir / f'worker{n}.log')}") from None
            if kill:                     # the holder's jobs are queued or mid-flight (one at a time)
                os.kill(holder.pid, signal.SIGKILL)
                killed_at = time.time()
            for n, w in enumerate(workers):
                w.communicate(timeout=240)
                if w.returncode != 0:
                    tally.problem("other", f"{label}: a worker failed: {_tail(workdir / f'worker{n}.log')}")
            if not kill:
                holder.communicate(timeout=240)
                if holder.returncode != 0:
                    tally.problem("other", f"{label}: the holder failed: {_tail(workdir / 'holder.log')}")
        finally:
            for p in [holder, *workers]:
                if p.poll() is None:
                    p.kill()
                p.wait(timeout=30)
        reports = [json.loads(f.read_text()) for f in sorted(workdir.glob("worker*.json"))]
        if not kill:
            if (workdir / "holder.json").exists():
                reports.append({**json.loads((workdir / "holder.json").read_text()), "holder": True})
        with Ledger(ledger_url) as led:
            rows = led.rows()
        held = [r["job_id"] for r in rows if (r.get("prompt") or "").startswith(prefix)]
        if len(rows) != 14 or len(held) != 6:
            tally.lost_rows += max(0, 14 - len(rows))
            tally.problems.append(f"{label}: {len(rows)} rows ({len(held)} held), expected 14 (6 held)")
        check_done(rows, tally, label)
        check_creates(emu, dict.fromkeys(free_openai + [f"{prefix} openai {i}" for i in range(4)], 1),
                      "openai", tally, label)
        check_creates(emu, dict.fromkeys(free_runware + [f"{prefix} runware {i}" for i in range(2)], 1),
                      "runware", tally, label)
        # who drove what: the holder took its 6 jobs at insert and lived until killed_at (or the end)
        drivers: dict[str, list[tuple[str, float]]] = {}
        for rep_ in reports:
            for jid, at in rep_["claims"].items():
                drivers.setdefault(jid, []).append((rep_["owner"], at))
        for jid in held:
            if kill:
                early = [(o, at) for o, at in drivers.get(jid, []) if at < killed_at]
                if early:
                    tally.problem("driven_twice", f"{label}: {jid} claimed by {early} while its holder lived")
                late = [at - killed_at for _, at in drivers.get(jid, [])]
                if late:
                    tally.figures.setdefault("takeover_s", []).append(min(late))
        if kill and not tally.figures.get("takeover_s"):
            tally.problem("other", f"{label}: no job of the killed holder was taken over")
        for jid, who in drivers.items():
            if len({o for o, _ in who}) > 1:
                tally.problem("driven_twice", f"{label}: {jid} driven by {sorted({o for o, _ in who})}")
        undriven = [j for j in free if j not in drivers]
        if undriven:
            tally.problem("other", f"{label}: {len(undriven)} free job(s) never claimed by a worker")
        if not kill:  # every video (and OpenAI thumbnail) fetched once: nobody downloaded twice
            fetched: dict[str, int] = {}
            for e in emu.requests.entries("GET"):
                if e.path.endswith("/content") or "/media/" in e.path:
                    key = f"{e.path}?{e.query}"
                    fetched[key] = fetched.get(key, 0) + 1
            # a fetch may be retried by its one driver (a timeout while the emulator renders, on a
            # loaded machine): each video completed by exactly one download, and no more extra
            # fetches than the processes' own retries, else two processes fetched it
            done = sum(r["stats"].get("downloads", 0) for r in reports)
            retries = sum(r["stats"].get("retries", 0) for r in reports)
            extra = {k: n for k, n in fetched.items() if n > 1}
            if done != 14 or sum(n - 1 for n in extra.values()) > retries:
                tally.problem("driven_twice", f"{label}: {done} completed downloads for 14 videos; fetched "
                                              f"more than once: {extra} (retries reported: {retries})")
            if len(fetched) != 10 * 2 + 4:     # each video, and each OpenAI thumbnail
                tally.problem("other", f"{label}: {len(fetched)} distinct downloads, expected 24: {sorted(fetched)}")
        for name, value in (("jobs", len(rows)), ("creates", emu.counters.total("creates")),
                            ("completed", sum(1 for r in rows if r["status"] == "completed"))):
            tally.figures.setdefault(name, []).append(value)
        tally.figures.setdefault("workers_that_drove", []).append(
            sum(1 for r in reports if r["claims"] and not r.get("holder")))
    return tally


def team_line(tally: Tally) -> str:
    """What the team trials of ``tally`` did, summed: jobs, accepted creates, completed rows."""
    f = tally.figures
    return (f"jobs {sum(f.get('jobs', []))}, creates accepted by the emulator {sum(f.get('creates', []))}, "
            f"completed {sum(f.get('completed', []))}")


def takeover_line(tally: Tally) -> str:
    """The takeover figures of ``tally`` as one line (median and max seconds)."""
    times = tally.figures.get("takeover_s") or []
    if not times:
        return "takeover: no job was taken over"
    return (f"takeover after SIGKILL: {len(times)} job(s), median {statistics.median(times):.2f} s, "
            f"max {max(times):.2f} s (lease 2.0 s, watch 0.1 s)")
