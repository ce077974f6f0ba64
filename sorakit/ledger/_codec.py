"""Turning Python values into ledger cells and back, and raw result rows into a typed DataFrame.

Every value a caller passes is validated here, so a bad field fails before anything is written
and the error names the field, the value and what is allowed. Encoding depends on the dialect
only for datetimes (REAL epoch seconds on SQLite, aware ``datetime`` elsewhere).
"""

from __future__ import annotations

import importlib.util
import json
import numbers
import os
import secrets
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .._exceptions import ValidationError
from ._schema import COLS, DATETIME_DTYPE, LEDGER_COLUMNS, LEDGER_DTYPES, _Col

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# ---------------------------------------------------------------------------------------------
# job ids: "job_" + ULID-like 26 chars (48-bit ms time + 80-bit random), monotonic per process
# ---------------------------------------------------------------------------------------------
_B32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lowercase: sorts like the numbers
_B32_PAIRS = [a + b for a in _B32 for b in _B32]  # 10 bits -> 2 digits
_SHIFTS = tuple(range(120, -10, -10))
_id_lock = threading.Lock()
_id_state = [0, 0]  # last ms, last random


def _reset_ids() -> None:
    _id_state[0] = 0
    _id_state[1] = 0


if hasattr(os, "register_at_fork"):  # a forked child must not continue the parent's sequence
    os.register_at_fork(after_in_child=_reset_ids)


def new_job_id() -> str:
    """A new local job id: ``job_`` + 26 base32 chars, unique and sortable by creation time."""
    ms = time.time_ns() // 1_000_000
    with _id_lock:
        last_ms, last_rand = _id_state
        if ms <= last_ms:
            ms = last_ms
            rand = last_rand + 1
            if rand >= 1 << 80:  # 2**79 ids in one millisecond: move to the next one
                ms += 1
                rand = secrets.randbits(79)
        else:
            rand = secrets.randbits(79)  # top bit clear leaves room to count up within the ms
        _id_state[0] = ms
        _id_state[1] = rand
    n = (ms << 80) | rand  # 128 bits, written as 26 base32 digits (the top 2 bits are zero)
    return "job_" + "".join([_B32_PAIRS[(n >> s) & 1023] for s in _SHIFTS])


# ---------------------------------------------------------------------------------------------
# value checks and encoders
# ---------------------------------------------------------------------------------------------
def _isna(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, float) and v != v:
        return True
    if isinstance(v, np.generic):
        try:
            return bool(np.isnan(v))
        except TypeError:
            return False
    return False


def _bad(col: _Col, value: Any, allowed: Any, message: str | None = None) -> ValidationError:
    return ValidationError(col.name, value, allowed, message)


def _range_text(col: _Col, what: str) -> str:
    if col.minimum is not None and col.maximum is not None:
        return f"{what} from {col.minimum:g} to {col.maximum:g}, or None"
    if col.minimum is not None:
        return f"{what} >= {col.minimum:g}, or None"
    return f"{what} or None"


def _check_range(col: _Col, x: float, what: str) -> None:
    if (col.minimum is not None and x < col.minimum) or (col.maximum is not None and x > col.maximum):
        raise _bad(col, x, _range_text(col, what))


def _enc_str(col: _Col, v: Any) -> Any:
    if type(v) is str or v is None:
        return v
    if isinstance(v, str):
        return str(v)
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    if _isna(v):
        return None
    raise _bad(col, v, "a string or None")


def _enc_id(col: _Col, v: Any) -> Any:
    if isinstance(v, str) and v.strip():
        return str(v)
    raise _bad(col, v, "a non-empty string")


def _enc_cat(col: _Col, v: Any) -> Any:
    if v is None or _isna(v):
        return None
    if col.choices is not None:
        if v in col.choices:
            return str(v)
        raise _bad(col, v, col.choices)
    if isinstance(v, str) and v:
        return str(v)
    raise _bad(col, v, "a non-empty string or None")


def _enc_int(col: _Col, v: Any) -> Any:
    t = type(v)
    if t is int:
        x = v
    elif v is None:
        return None
    elif t is bool or isinstance(v, (bool, np.bool_)):
        raise _bad(col, v, _range_text(col, "an integer"))
    elif isinstance(v, numbers.Integral):
        x = int(v)
    elif isinstance(v, numbers.Real):
        f = float(v)
        if f != f:
            return None
        if not f.is_integer():
            raise _bad(col, v, _range_text(col, "a whole number"))
        x = int(f)
    elif _isna(v):
        return None
    else:
        raise _bad(col, v, _range_text(col, "an integer"))
    if col.minimum is not None or col.maximum is not None:
        _check_range(col, x, "an integer")
    return x


def _enc_float(col: _Col, v: Any) -> Any:
    t = type(v)
    if t is float:
        x = v
    elif v is None:
        return None
    elif t is bool or isinstance(v, (bool, np.bool_)):
        raise _bad(col, v, _range_text(col, "a number"))
    elif isinstance(v, numbers.Real):
        x = float(v)
    elif _isna(v):
        return None
    else:
        raise _bad(col, v, _range_text(col, "a number"))
    if x != x:
        return None  # NaN means unknown: stored as NULL
    if x in (float("inf"), float("-inf")):
        raise _bad(col, v, _range_text(col, "a finite number"))
    if col.minimum is not None or col.maximum is not None:
        _check_range(col, x, "a number")
    return x


def _enc_bool(col: _Col, v: Any) -> Any:
    if v is True or v is False or v is None:
        return v
    if isinstance(v, np.bool_):
        return bool(v)
    if _isna(v):
        return None
    raise _bad(col, v, "True, False or None")


def to_utc(v: Any, field: str = "datetime") -> datetime | None:
    """A tz-aware UTC datetime from a datetime (naive = UTC), date, ISO string or epoch seconds."""
    if v is None:
        return None
    if isinstance(v, datetime):  # includes pandas.Timestamp
        if v is pd.NaT:
            return None
        if isinstance(v, pd.Timestamp):
            v = v.to_pydatetime()
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    if isinstance(v, str):
        text = v.strip()
        try:
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = pd.Timestamp(text).to_pydatetime()
            except (ValueError, TypeError):
                raise ValidationError(field, v, "an ISO-8601 date/time, a datetime, or epoch seconds") from None
        return to_utc(parsed, field)
    if isinstance(v, np.datetime64):
        return None if np.isnat(v) else to_utc(pd.Timestamp(v), field)
    if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
        f = float(v)
        if f != f:
            return None
        return EPOCH + timedelta(microseconds=round(f * 1e6))
    if _isna(v):
        return None
    raise ValidationError(field, v, "a datetime, an ISO-8601 string, or epoch seconds")


def _epoch_seconds(v: datetime) -> float:
    return (v.replace(tzinfo=UTC) if v.tzinfo is None else v).timestamp()


def _aware_utc(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def _enc_dt_epoch(col: _Col, v: Any) -> Any:
    if type(v) is datetime:  # fast path
        return (v.replace(tzinfo=UTC) if v.tzinfo is None else v).timestamp()
    d = to_utc(v, col.name)
    return None if d is None else d.timestamp()


def _enc_dt_aware(col: _Col, v: Any) -> Any:
    return to_utc(v, col.name)


def split_tags(v: Any, field: str = "tags") -> list[str]:
    """Tags from a list/tuple/set of strings or a comma-separated string, stripped, de-duplicated."""
    if v is None or (not isinstance(v, (str, list, tuple, set, frozenset)) and _isna(v)):
        return []
    if isinstance(v, str):
        items: Iterable[Any] = v.split(",")
    elif isinstance(v, (list, tuple, set, frozenset)):
        items = v
        for t in items:
            if not isinstance(t, str):
                raise ValidationError(field, t, "tags are strings")
            if "," in t:
                raise ValidationError(field, t, "tags without commas")
    else:
        raise ValidationError(field, v, "a list of strings or a comma-separated string")
    out: list[str] = []
    for t in items:
        t = t.strip()
        if t and t not in out:
            out.append(t)
    return out


def _enc_tags(col: _Col, v: Any) -> Any:
    tags = split_tags(v, col.name)
    return ",".join(tags) if tags else None


def _enc_json(col: _Col, v: Any) -> Any:
    if v is None or isinstance(v, str):
        return v
    if not isinstance(v, (dict, list, tuple)) and _isna(v):
        return None
    try:
        return json.dumps(v, default=str, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise _bad(col, v, "JSON-serialisable data or a JSON string", str(exc)) from None


_ENCODERS: dict[str, Callable[[_Col, Any], Any]] = {
    "id": _enc_id,
    "str": _enc_str,
    "cat": _enc_cat,
    "int": _enc_int,
    "int8": _enc_int,
    "float": _enc_float,
    "bool": _enc_bool,
    "tags": _enc_tags,
    "json": _enc_json,
}


def unknown_field(name: str, value: Any) -> ValidationError:
    return ValidationError(name, value, LEDGER_COLUMNS, message=f"unknown ledger field {name!r}")


class Codec:
    """Encoders/decoders for one SQL dialect."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.epoch_datetimes = dialect == "sqlite"
        dt = _enc_dt_epoch if self.epoch_datetimes else _enc_dt_aware
        self._enc = {
            name: (col, dt if col.kind == "datetime" else _ENCODERS[col.kind]) for name, col in COLS.items()
        }
        # already-valid values that can be stored unchanged without a call (insert_many speed)
        inf = float("inf")
        self._str_fast = frozenset(n for n, c in COLS.items() if c.kind == "str" or (c.kind == "cat" and not c.choices))
        self._choice_fast = {n: frozenset(c.choices) for n, c in COLS.items() if c.kind == "cat" and c.choices}
        self._bool_fast = frozenset(n for n, c in COLS.items() if c.kind == "bool")
        to_cell = _epoch_seconds if self.epoch_datetimes else _aware_utc
        self._dt_fast = {n: to_cell for n, c in COLS.items() if c.kind == "datetime"}
        self._num_fast: dict[str, tuple[type, float, float]] = {}
        for name, col in COLS.items():
            lo = -inf if col.minimum is None else col.minimum
            hi = inf if col.maximum is None else col.maximum
            if col.kind in ("int", "int8"):
                self._num_fast[name] = (int, lo, hi)
            elif col.kind == "float":
                self._num_fast[name] = (float, lo, min(hi, sys.float_info.max))  # NaN and inf fail

    # -- encoding ------------------------------------------------------------------------------
    def encode(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Validate and encode the given fields (only those); unknown names raise ValidationError."""
        out = {}
        enc = self._enc
        str_fast, choice_fast, num_fast = self._str_fast, self._choice_fast, self._num_fast
        bool_fast, dt_fast = self._bool_fast, self._dt_fast
        for name, value in fields.items():
            t = type(value)
            if t is str:
                if (name in str_fast and value) or value in choice_fast.get(name, ()):
                    out[name] = value
                    continue
            elif t is int or t is float:
                fast = num_fast.get(name)
                if fast is not None and t is fast[0] and fast[1] <= value <= fast[2]:
                    out[name] = value
                    continue
            elif t is bool and name in bool_fast:
                out[name] = value
                continue
            elif t is datetime and name in dt_fast:
                out[name] = dt_fast[name](value)
                continue
            try:
                col, f = enc[name]
            except KeyError:
                raise unknown_field(name, value) from None
            out[name] = f(col, value)
        return out

    def encode_datetime(self, value: Any, field: str) -> Any:
        d = to_utc(value, field)
        if d is None:
            raise ValidationError(field, value, "a datetime, a date, an ISO-8601 string, or epoch seconds")
        return d.timestamp() if self.epoch_datetimes else d

    def now(self) -> Any:
        d = datetime.now(UTC)
        return d.timestamp() if self.epoch_datetimes else d

    # -- decoding to Python --------------------------------------------------------------------
    def decode_row(self, names: Sequence[str], raw: Sequence[Any]) -> dict[str, Any]:
        """A row dict with Python values: aware UTC datetimes, bools, tags as a list, extra parsed."""
        out = {}
        for name, v in zip(names, raw):
            col = COLS.get(name)
            if col is None:
                continue
            kind = col.kind
            if kind == "datetime":
                if v is not None:
                    if isinstance(v, datetime):
                        v = v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
                    else:
                        v = EPOCH + timedelta(microseconds=round(float(v) * 1e6))
            elif kind == "bool":
                if v is not None:
                    v = bool(v)
            elif kind == "tags":
                v = v.split(",") if v else []
            elif kind == "json":
                if isinstance(v, str):
                    try:
                        v = json.loads(v)
                    except ValueError:
                        pass
            elif kind == "float":
                if v is not None:
                    v = float(v)
            out[name] = v
        return out

    # -- decoding to pandas --------------------------------------------------------------------
    def frame(self, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
        """A DataFrame with the ledger dtypes from raw result tuples (columns in ``names`` order)."""
        if rows:
            columns: list[Sequence[Any]] = list(zip(*rows))
        else:
            columns = [()] * len(names)
        return self.frame_from_columns(dict(zip(names, columns)))

    def frame_from_columns(self, columns: Mapping[str, Sequence[Any]]) -> pd.DataFrame:
        data = {}
        for name, seq in columns.items():
            col = COLS.get(name)
            if col is None:
                continue
            data[name] = self._column(col, seq)
        df = pd.DataFrame(data, copy=False)
        return df

    def _column(self, col: _Col, seq: Sequence[Any]):
        kind = col.kind
        if kind in ("id", "str", "tags", "json"):
            return _strings(seq)
        if kind == "cat":
            return _categorical(seq, LEDGER_DTYPES[col.name])
        if kind in ("int", "int8", "bool"):
            return _masked(seq, kind)
        if kind == "float":
            return np.array(seq, dtype="float64")
        if kind == "datetime":
            if self.epoch_datetimes:
                return epoch_to_datetime(np.array(seq, dtype="float64"))
            return pd.array(pd.to_datetime(list(seq), utc=True)).astype(DATETIME_DTYPE)
        raise AssertionError(kind)  # pragma: no cover


def _arrow_strings() -> bool:
    return importlib.util.find_spec("pyarrow") is not None and pd.StringDtype().storage == "pyarrow"


_ARROW_STRINGS = _arrow_strings()


def _strings(seq: Sequence[Any]):
    """A ``string`` array. With pyarrow storage, built by pyarrow directly: 3x faster than
    pandas' element-wise checks, which matters for a million prompts."""
    if _ARROW_STRINGS:
        import pyarrow as pa

        try:
            return pd.arrays.ArrowStringArray(pa.array(seq, type=pa.large_string()))
        except (pa.ArrowException, TypeError, ValueError):
            pass  # a non-text value in a text column (edited by hand): let pandas convert it
    return pd.array(seq if isinstance(seq, list) else list(seq), dtype="string")


_MASKED_DTYPES = {"int": "Int64", "int8": "Int8", "bool": "boolean"}


def _masked(seq: Sequence[Any], kind: str):
    """An ``Int64`` / ``Int8`` / ``boolean`` array: what ``pd.array(seq, dtype=...)`` gives, four
    times faster for the usual cells (Python ints and None; 0 and 1 for SQLite's booleans), built
    by pyarrow. Anything else (a float or text written by hand) goes through pandas itself."""
    if _ARROW_STRINGS:
        import pyarrow as pa

        try:
            values = pa.array(seq, type=pa.int64())
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            values = None
        if values is not None:
            mask = values.is_null().to_numpy(zero_copy_only=False)
            data = values.fill_null(1 if kind != "bool" else 0).to_numpy()
            if kind == "int":
                return pd.arrays.IntegerArray(data, mask)
            if kind == "int8" and ((data >= -128) & (data <= 127)).all():
                return pd.arrays.IntegerArray(data.astype(np.int8), mask)
            if kind == "bool" and ((data == 0) | (data == 1)).all():
                return pd.arrays.BooleanArray(data == 1, mask)
    return pd.array(seq, dtype=_MASKED_DTYPES[kind])


def epoch_to_datetime(seconds: np.ndarray):
    """float epoch seconds (NaN = missing) to a ``datetime64[us, UTC]`` array, exact to the µs.
    ``seconds`` is used as scratch space (overwritten): one new array instead of five."""
    missing = np.isnan(seconds)
    scaled = np.multiply(seconds, 1e6, out=seconds)
    np.round(scaled, out=scaled)
    scaled[missing] = 0.0
    us = scaled.astype("int64")
    us[missing] = np.iinfo(np.int64).min  # NaT
    return pd.array(us.view("M8[us]"), dtype=DATETIME_DTYPE)  # naive values read as UTC


def category_order(dtype: Any, seen: Iterable[str]) -> list[str]:
    """The categories of a ledger column holding the values ``seen``: a fixed order (status,
    action, billed_cost_source) first, then any other value (from a newer sorakit) sorted."""
    seen = set(seen)
    fixed = [str(c) for c in dtype.categories] if isinstance(dtype, pd.CategoricalDtype) else []
    return fixed + sorted(seen.difference(fixed))


def _categorical(seq: Sequence[Any], dtype: Any) -> pd.Categorical:
    """A categorical column with the ledger's category order (see :func:`category_order`); the
    values are hashed by pyarrow where it is at hand (3x faster than ``pd.factorize`` on text)."""
    if _ARROW_STRINGS:
        import pyarrow as pa

        try:
            encoded = pa.array(seq, type=pa.large_string()).dictionary_encode()
        except (pa.ArrowException, TypeError, ValueError):
            encoded = None  # not all text (edited by hand): let pandas factorize it
        if encoded is not None:
            codes = encoded.indices.fill_null(-1).to_numpy()
            return _recoded(codes, encoded.dictionary.to_pylist(), dtype)
    values = np.asarray(seq if isinstance(seq, (list, tuple)) else list(seq), dtype=object)
    if values.ndim != 1:  # pragma: no cover - defensive
        values = values.reshape(-1)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return _recoded(codes, uniques, dtype)


def _recoded(codes: np.ndarray, uniques: Sequence[Any], dtype: Any) -> pd.Categorical:
    """``codes`` into ``uniques`` (-1: missing) as a categorical in the ledger's category order."""
    uniques = [str(u) for u in uniques]
    categories = category_order(dtype, uniques)
    position = {c: i for i, c in enumerate(categories)}
    lookup = np.array([position[u] for u in uniques] + [-1], dtype="int64")
    new_codes = lookup[codes]  # the missing -1 picks the trailing -1
    return pd.Categorical.from_codes(new_codes, categories=pd.Index(categories))
