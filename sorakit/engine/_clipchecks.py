"""Clip checks and user scorers for every finished job, off the kernel and off the engine loop.

```
engine: status -> completed ─▶ ClipChecker.submit(job_id)      (non-blocking: a queue)
worker thread "sorakit-checks": ledger row ─▶ local file ─▶ check_clip (cached by sha256)
                                 ─▶ judge against the row's request ─▶ scorers ─▶ ledger.update
                                 ─▶ notify(job_id, fields)      (cards, tiles refresh)
```
One worker thread: a check is ~0.3 s of CPU for 8 s of 720p; a batch of 100 clips queues, and the
engine loop and the kernel never wait for it (PyAV decodes with the GIL released). Results of
`check_clip` are cached by the video's sha256 (in memory and as JSON files in the media folder's
``.checks/``), so checking the same file again — a duplicate, a re-check, another kernel — is free;
the request-dependent part (delivered vs asked) is judged again per row.

User scorers (`Scorers`, ``studio.scorers``): ``fn(path, row) -> float | dict[str, float]``. Their
numbers land in the ``scores`` column as ``{name: value}``; a scorer that raises is recorded as
``scores["errors"][name] = "ExcType: message"`` and never raised into the caller.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import hashlib
import json
import logging
import math
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Union

from .._exceptions import ValidationError

log = logging.getLogger("sorakit")

__all__ = ["Scorers", "ClipChecker", "CHECK_COLUMNS", "check_fields"]

CHECK_COLUMNS = ("check_defects", "check_mismatch", "check_seconds", "check_size", "check_fps", "check_audio",
                 "check_black_s", "check_frozen_s", "check_cuts", "check_flicker", "check_motion", "check_phash",
                 "check_error", "checked_at", "scores")
"""The ledger columns this module writes."""

_RESERVED = ("errors",)


def _missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(v)) if not isinstance(v, (dict, list, tuple)) else False
    except (TypeError, ValueError):
        return False


class Scorers:
    """Your scorers, run on every finished job's video beside the built-in checks.

    ``studio.scorers.add("brightness", fn)``: ``fn(path, row)`` gets the video's local path and its
    ledger row (a dict) and returns a number, or a dict of numbers (stored under the scorer's name).
    """

    def __init__(self) -> None:
        self._fns: "OrderedDict[str, Callable[[str, dict], Any]]" = OrderedDict()
        self._lock = threading.Lock()

    def add(self, name: str, fn: Callable[[str, dict], Any]) -> "Scorers":
        """Register ``fn`` as ``name`` (replacing a scorer of that name). Returns the registry."""
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise ValidationError("name", name, "a non-empty string of at most 64 characters")
        if name in _RESERVED:
            raise ValidationError("name", name, f"any name but {', '.join(map(repr, _RESERVED))}",
                                  message=f"{name!r} is where failed scorers' errors are kept; choose another name")
        if not callable(fn):
            raise ValidationError("fn", fn, "a callable fn(path, row) -> float or dict of floats")
        with self._lock:
            self._fns[name] = fn
        return self

    def remove(self, name: str) -> None:
        with self._lock:
            if name not in self._fns:
                raise ValidationError("name", name, sorted(self._fns) or "a registered scorer (none are)")
            del self._fns[name]

    @property
    def names(self) -> list[str]:
        with self._lock:
            return list(self._fns)

    def get(self, name: str) -> Callable[[str, dict], Any]:
        with self._lock:
            if name not in self._fns:
                raise ValidationError("scorers", name, sorted(self._fns) or "a registered scorer (none are)")
            return self._fns[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fns

    def __len__(self) -> int:
        return len(self._fns)

    def __iter__(self):
        return iter(self.names)

    def __repr__(self) -> str:
        return f"<Scorers {self.names}>"


def _number(name: str, v: Any) -> Any:
    """A scorer's value as JSON: a float (NaN/inf refused), or a dict of them."""
    if isinstance(v, Mapping):
        return {str(k): _number(f"{name}.{k}", x) for k, x in v.items()}
    if isinstance(v, bool) or not isinstance(v, (int, float)) and not hasattr(v, "__float__"):
        raise TypeError(f"scorer {name!r} returned {type(v).__name__} {v!r}, not a number or a dict of numbers")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"scorer {name!r} returned {f}, not a finite number")
    return f


def run_scorers(scorers: Scorers, names: Iterable[str], path: str, row: Mapping[str, Any],
                scores: Optional[dict] = None) -> dict:
    """``scores`` updated with the scorers ``names`` run on ``path`` (errors recorded, not raised)."""
    out = dict(scores or {})
    errors = dict(out.get("errors") or {})
    for name in names:
        try:
            fn = scorers.get(name)
            out[name] = _number(name, fn(path, dict(row)))
            errors.pop(name, None)
        except Exception as exc:  # a user's scorer: its failure is data, never the caller's exception
            out.pop(name, None)
            errors[name] = f"{type(exc).__name__}: {exc}"[:500]
    if errors:
        out["errors"] = errors
    else:
        out.pop("errors", None)
    return out


def check_fields(check: Any) -> dict:
    """Ledger columns of a judged `ClipCheck`."""
    return dict(
        check_defects=",".join(check.defects), check_mismatch=check.mismatch, check_seconds=check.seconds,
        check_size=f"{check.width}x{check.height}", check_fps=check.fps, check_audio=check.has_audio,
        check_black_s=check.black_s, check_frozen_s=check.frozen_s, check_cuts=check.cuts,
        check_flicker=min(1.0, max(0.0, check.flicker)), check_motion=min(100.0, check.motion),
        check_phash=check.phash, check_error=None,
    )


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class CheckCache:
    """`ClipCheck` by (sha256, CHECKS_VERSION): in memory (bounded) and as JSON files in ``root``."""

    def __init__(self, root: Optional[Path], size: int = 4096):
        self.root = root
        self._mem: "OrderedDict[str, Any]" = OrderedDict()
        self._size = size
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _file(self, sha: str) -> Optional[Path]:
        from ..media._checks import CHECKS_VERSION

        return None if self.root is None else self.root / f"{sha}.v{CHECKS_VERSION}.json"

    def get(self, sha: str) -> Any:
        from ..media._checks import ClipCheck

        with self._lock:
            if sha in self._mem:
                self._mem.move_to_end(sha)
                self.hits += 1
                return self._mem[sha]
        f = self._file(sha)
        if f is not None and f.is_file():
            try:
                check = ClipCheck.from_dict(json.loads(f.read_text()))
            except Exception:  # a torn or foreign file: measure again
                check = None
            if check is not None:
                self._put_mem(sha, check)
                self.hits += 1
                return check
        self.misses += 1
        return None

    def _put_mem(self, sha: str, check: Any) -> None:
        with self._lock:
            self._mem[sha] = check
            self._mem.move_to_end(sha)
            while len(self._mem) > self._size:
                self._mem.popitem(last=False)

    def put(self, sha: str, check: Any) -> None:
        self._put_mem(sha, check)
        f = self._file(sha)
        if f is None:
            return
        try:
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_name(f"{f.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(check.as_dict()))
            os.replace(tmp, f)
        except OSError:  # a read-only media folder: the memory cache still serves this kernel
            log.debug("sorakit: could not write the check cache %s", f, exc_info=True)


class ClipChecker:
    """Checks finished jobs on one worker thread and writes the results to the ledger."""

    def __init__(self, ledger: Any, scorers: Scorers, *, cache_dir: Optional[Path],
                 notify: Callable[[str, dict], None]):
        self.ledger = ledger
        self.scorers = scorers
        self.cache = CheckCache(cache_dir)
        self._notify = notify
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sorakit-checks")
        self._futures: dict[str, concurrent.futures.Future] = {}
        self._lock = threading.Lock()
        self._closed = False

    def pending(self, job_id: str) -> bool:
        """Whether a check of ``job_id`` is queued or running."""
        with self._lock:
            f = self._futures.get(job_id)
            return f is not None and not f.done()

    def submit(self, job_id: str, *, rerun: bool = False,
               scorers: Union[None, bool, Iterable[str]] = None) -> concurrent.futures.Future:
        """Queue a check of ``job_id`` (never blocks). A check of it already queued is reused
        unless ``rerun`` or ``scorers`` ask for more."""
        with self._lock:
            f = self._futures.get(job_id)
            if f is not None and not f.done() and not rerun and scorers is None:
                return f
            if self._closed:
                f = concurrent.futures.Future()
                f.set_result(None)
                return f
            f = self._pool.submit(self._run, job_id, rerun, None if scorers is None else
                                  (scorers if isinstance(scorers, bool) else list(scorers)))
            self._futures[job_id] = f
        f.add_done_callback(lambda _f, j=job_id: self._forget(j, _f))
        return f

    def _forget(self, job_id: str, f: concurrent.futures.Future) -> None:
        with self._lock:
            if self._futures.get(job_id) is f:
                del self._futures[job_id]

    def _run(self, job_id: str, rerun: bool, scorers: Union[None, bool, list]) -> Optional[dict]:
        try:
            return self._check(job_id, rerun, scorers)
        except Exception:  # the worker must survive anything; the row simply stays unchecked
            log.exception("sorakit: clip check of %s failed", job_id)
            raise

    def _check(self, job_id: str, rerun: bool, scorers: Union[None, bool, list]) -> Optional[dict]:
        from ..media._checks import check_clip, judge
        from ..media._store import try_local_copy

        row = self.ledger.get(job_id)
        if row.get("status") != "completed":
            return None
        checked = not _missing(row.get("check_defects"))
        scores = row.get("scores") if isinstance(row.get("scores"), dict) else {}
        if scorers is None:  # the registered ones this row has no result of yet (or all, on rerun)
            names = [n for n in self.scorers.names
                     if rerun or (n not in scores and n not in (scores.get("errors") or {}))]
        elif scorers is True:
            names = self.scorers.names
        elif scorers is False:
            names = []
        else:
            names = list(scorers)
        fields: dict[str, Any] = {}
        need_check = rerun or not checked
        if not need_check and not names:
            return {}
        path = try_local_copy(row.get("file_path")) if not _missing(row.get("file_path")) else None
        if path is None:
            fields = {"check_error": f"video file not found: {row.get('file_path')}"}
            if need_check:
                fields.update(check_defects=None)
        else:
            if need_check:
                sha = row.get("sha256") if not _missing(row.get("sha256")) else _sha256(path)
                measured = self.cache.get(sha)
                if measured is None:
                    try:
                        measured = check_clip(path)
                    except Exception as exc:
                        measured = None
                        fields = {"check_error": f"{type(exc).__name__}: {exc}"[:500], "check_defects": None}
                    if measured is not None:
                        self.cache.put(sha, measured)
                if measured is not None:
                    fields.update(check_fields(judge(measured, row)))
            if names:
                fields["scores"] = run_scorers(self.scorers, names, path, row, scores)
        fields["checked_at"] = dt.datetime.now(dt.timezone.utc)
        self.ledger.update(job_id, **fields)
        self._notify(job_id, fields)
        return fields

    def wait(self, job_ids: Optional[Iterable[str]] = None, timeout: Optional[float] = None) -> None:
        """Wait for the queued checks of ``job_ids`` (all when None)."""
        with self._lock:
            futures = [f for j, f in self._futures.items() if job_ids is None or j in set(job_ids)]
        concurrent.futures.wait(futures, timeout=timeout)

    def close(self) -> None:
        """Drop queued checks (their rows stay unchecked: ``studio.check()`` finishes them later)
        and let the one running finish (a fraction of a second), so it never writes to a ledger
        its Studio has closed."""
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)
