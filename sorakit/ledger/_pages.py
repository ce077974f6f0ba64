"""Reading a whole SQLite table in bulk, straight from the pages of the database.

Why: fetching a million 45-column rows through ``sqlite3`` makes 45 million Python objects (about
15 s with the conversion to columns), and having SQLite print the rows as text for a C parser does
not help either: SQLite's own per-value work (~100 ns: column decode, number formatting, string
building) is then the floor, and two connections in two threads do not run it in parallel (its
global allocator mutex). So for a full read ``Ledger.df`` hands this module the database image of
its read transaction (the file itself, mapped, when it holds exactly that snapshot; else a copy
from ``Connection.serialize()``; see ``Ledger._read_pages``) and the table's b-tree is decoded
following the documented, frozen file format (https://www.sqlite.org/fileformat2.html):

* the table b-tree is walked from its root page level by level to its leaf pages, in key order,
  so rows come out in rowid order: the order of a plain ``SELECT``;
* a leaf cell is ``payload size, rowid, record``. A record that spills onto overflow pages (a row
  longer than about a page, e.g. a very long prompt) is not decoded here: its rowid is reported
  and the caller reads those few rows with SQL;
* a record is a header of serial types (one varint per column; rows written before a column was
  added by ``ALTER TABLE`` have fewer, the missing ones are NULL) followed by the values:
  big-endian integers, big-endian IEEE doubles, and text.

The records are decoded by the compiled ``_records`` module (``_records.c``: two passes over row
ranges in two threads, numbers and text lengths first, then the text copied straight to its
final place; a million ledger rows in about a second) or, where it was not built (no C compiler
at install time), by numpy: rows in batches of ``_ROWS`` (their pages stay in the CPU cache
across the columns), headers as byte matrices, numbers by strided reads, and the text of a batch
copied out with one Arrow ``take`` over the records (their values and the gaps between them tile
the image in address order). Both check every value to lie inside its record, every record
inside its page, and text to be UTF-8. Anything they do not expect (a BLOB, text in a number
column, a number in a text column, UTF-16 text, a ``WITHOUT ROWID`` table, a malformed page...)
raises :class:`Unsupported` and the caller reads the table with SQL instead: the result is always
what the row-by-row read gives, or that read is used. Nothing here opens, locks or writes the
database file.
"""

from __future__ import annotations

import importlib.util
import mmap
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

try:  # the compiled record decoder (setup.py builds it where a C compiler is at hand)
    from . import _records as _native
except ImportError:  # pragma: no cover - exercised by the tests that force the numpy decoder
    _native = None

__all__ = ["Unsupported", "TableImage", "available", "native", "read_table"]

_HEADER = b"SQLite format 3\x00"
_LEAF, _INTERIOR = 13, 5  # table b-tree page types
_TAIL = 1024  # reads of up to this many bytes may start anywhere in the image (>= 512, the widest header read)
_LEAVES = 2048  # leaf pages the compiled decoder takes at a time (8 MB of 4 KB pages)
_ROWS = 4096  # rows decoded together: their pages stay in the CPU cache across the columns
_SIZES = np.array([0, 1, 2, 3, 4, 6, 8, 8, 0, 0, 0, 0], dtype=np.int32)  # serial types 0-11
_SIZE_OF = np.concatenate([_SIZES, (np.arange(12, 16384, dtype=np.int32) - 12) >> 1])  # types of 1-2 bytes
_TEXT_OK = np.zeros(16386, dtype=bool)  # serial types allowed in a text column: NULL or text
_TEXT_OK[0] = True
_TEXT_OK[13:-1:2] = True  # odd from 13 on (the last entry stands for "larger": checked apart)



def _zeros(shape, dtype) -> np.ndarray:
    """A zeroed array in fresh anonymous memory, for the decoder's large outputs: the kernel hands
    out its pages on first write, so they are faulted in by the decoding threads in parallel and
    only once (``np.zeros`` would do the same, but numpy also asks for transparent huge pages,
    which on virtual machines like this project's CI cost about 3x more to fault in than they
    save for the ~1 GB a million rows decode into)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes < 1 << 20:
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(shape)


def native() -> bool:
    """True when records are decoded by the compiled ``_records`` module (else by numpy)."""
    return _native is not None


class Unsupported(Exception):
    """The image holds something this reader does not decode: read the table with SQL."""


def available() -> bool:
    """True when this host can do it: little-endian (the numbers are byte-swapped as such), with
    pyarrow (the text comes out as Arrow arrays)."""
    return sys.byteorder == "little" and importlib.util.find_spec("pyarrow") is not None


@dataclass
class TableImage:
    """The decoded rows of a table, in rowid order, without the rows listed in ``spilled``.

    ``columns`` maps a column name to ``(values, valid)``: an int64 array for ``"int"`` columns
    (0 where NULL),
    a float64 array for ``"real"`` ones (NaN where NULL), a ``pyarrow.LargeStringArray`` for
    ``"text"`` ones; ``valid`` is False where the value is NULL. ``spilled`` are the rowids of
    the rows whose record continues on overflow pages: not decoded, read them with SQL.
    """

    columns: dict[str, tuple[object, np.ndarray]]
    rowids: np.ndarray
    spilled: np.ndarray


def read_table(
    image: bytes,
    root: int,
    table_columns: Sequence[str],
    want: Mapping[str, str],
    threads: int | None = None,
    rows: int | None = None,
    advise: Callable[[str], None] | None = None,
) -> TableImage:
    """Decode the columns ``want`` (name -> ``"int"``, ``"real"`` or ``"text"``) of the rowid table
    whose b-tree starts at page ``root`` of ``image`` (the database file mapped, or a copy from
    ``Connection.serialize()``: anything with the buffer protocol).

    ``table_columns`` are all the table's columns in declaration order (``PRAGMA table_info``).
    Integers stored in a ``"real"`` column come back as floats (SQLite writes integral REAL
    values as integers). ``rows``, the table's row count when the caller knows it (``count(*)`` in
    the same transaction), lets the compiled decoder start on the first leaf pages while the
    later ones are still being read from disk; a different number of rows raises Unsupported.
    ``advise``, for a mapped file, is told how the image is about to be read: ``"scattered"``
    (the b-tree's interior pages) and then ``"all"`` (the leaves), so the OS reads accordingly.
    Raises :class:`Unsupported` for anything it does not decode.
    """
    if threads is None:
        threads = max(1, min(4, os.cpu_count() or 1))
    try:
        return _Reader(image, root, list(table_columns), dict(want), advise).run(threads, rows)
    except Unsupported:
        raise
    except (IndexError, ValueError, OverflowError, TypeError) as exc:  # a malformed image
        raise Unsupported(f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("pyarrow"):  # ArrowInvalid: bad UTF-8
            raise Unsupported(f"{type(exc).__name__}: {exc}") from None
        raise


class _Reader:
    def __init__(self, image, root: int, table_columns: list[str], want: dict[str, str], advise=None):
        if sys.byteorder != "little":  # pragma: no cover - see available()
            raise Unsupported("big-endian host")
        self.image = image
        buf = self.buf = np.frombuffer(image, dtype=np.uint8)
        if len(buf) < 512 or bytes(buf[:16]) != _HEADER:
            raise Unsupported("not an SQLite database image")
        page_size = int(buf[16]) << 8 | int(buf[17])
        if page_size == 1:
            page_size = 65536
        if page_size < 512 or page_size & (page_size - 1) or len(buf) % page_size:
            raise Unsupported(f"page size {page_size}")
        self.page_size = page_size
        self.max_local = page_size - int(buf[20]) - 35  # larger payloads spill (table leaf)
        if int.from_bytes(bytes(buf[56:60]), "big") != 1:
            raise Unsupported("text encoding is not UTF-8")
        if not 1 < root <= len(buf) // page_size:
            raise Unsupported(f"root page {root}")
        missing = [n for n in want if n not in table_columns]
        if missing:
            raise Unsupported(f"no column {missing[0]}")
        for kind in want.values():
            if kind not in ("int", "real", "text"):
                raise ValueError(kind)
        self.root = root
        self.want = want
        self.ncols = max((table_columns.index(n) for n in want), default=-1) + 1  # header prefix to read
        index = {n: i for i, n in enumerate(table_columns)}
        self.names = {k: [n for n in want if want[n] == k] for k in ("int", "real", "text")}
        self.idx = {k: np.array([index[n] for n in v], dtype=np.intp) for k, v in self.names.items()}
        # unaligned fixed-width reads at many offsets at once: strided views over the image, and
        # the same over a zero-padded copy of the last bytes (reads may run past the end)
        self._tail_start = max(0, len(buf) - _TAIL)
        self._tail = np.zeros(len(buf) - self._tail_start + _TAIL, dtype=np.uint8)
        self._tail[: len(buf) - self._tail_start] = buf[self._tail_start :]
        self._windows: dict[tuple[int, str], np.ndarray] = {}
        self._arrow_image = None  # the image as an Arrow buffer (numpy decoder's text)
        self._advise = advise or (lambda stage: None)

    # -- reads -----------------------------------------------------------------------------------
    def _window(self, which: int, dtype: str) -> np.ndarray:
        key = (which, dtype)
        win = self._windows.get(key)
        if win is None:
            b = self.buf if which == 0 else self._tail
            width = np.dtype(dtype).itemsize
            win = np.ndarray(shape=(max(0, len(b) - width + 1),), dtype=dtype, buffer=b, strides=(1,))
            self._windows[key] = win
        return win

    def read(self, pos: np.ndarray, dtype: str) -> np.ndarray:
        """The ``dtype`` value (``">u2"``, ``"<u8"``, ``"V60"``...) at each byte offset ``pos``;
        bytes past the end read as 0."""
        win = self._window(0, dtype)
        if pos.size == 0:
            return win[pos]
        if int(pos.min()) < 0:
            raise Unsupported("negative offset")
        if int(pos.max()) < len(win):
            return win[pos]
        inside = pos < len(win)
        out = np.empty(pos.shape, dtype=win.dtype)
        out[inside] = win[pos[inside]]
        out[~inside] = self._window(1, dtype)[pos[~inside] - self._tail_start]
        return out

    def be16(self, pos: np.ndarray) -> np.ndarray:
        return self.read(pos, ">u2").astype(np.int64)

    def be32(self, pos: np.ndarray) -> np.ndarray:
        return self.read(pos, ">u4").astype(np.int64)

    def varint(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SQLite varints at ``pos``: (value as int64, length in bytes). Big-endian groups of 7
        bits, 1 to 9 bytes, the ninth contributing all 8 of its bits."""
        w = self.be16(pos)
        b0, b1 = w >> 8, w & 0xFF
        one = b0 < 0x80
        value = np.where(one, b0, ((b0 & 0x7F) << 7) | b1)
        length = 2 - one.astype(np.int64)
        longer = np.flatnonzero(~one & (b1 >= 0x80))
        if len(longer):
            value[longer], length[longer] = self._varint_slow(pos[longer])
        return value, length

    def _varint_slow(self, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value = np.zeros(len(pos), dtype=np.uint64)
        length = np.zeros(len(pos), dtype=np.int64)
        todo = np.arange(len(pos))
        v = np.zeros(len(pos), dtype=np.uint64)
        for k in range(9):
            b = self.read(pos[todo] + k, "u1")
            if k == 8:
                value[todo] = (v << np.uint64(8)) | b.astype(np.uint64)
                length[todo] = 9
                break
            v = (v << np.uint64(7)) | (b & 0x7F).astype(np.uint64)
            done = b < 0x80
            value[todo[done]] = v[done]
            length[todo[done]] = k + 1
            todo, v = todo[~done], v[~done]
            if not len(todo):
                break
        return value.view(np.int64), length

    # -- b-tree ----------------------------------------------------------------------------------
    def _header(self, pages: np.ndarray) -> np.ndarray:
        """Offset of each page's b-tree header (page 1 starts with the 100-byte file header)."""
        return (pages - 1) * self.page_size + np.where(pages == 1, 100, 0)

    def leaf_pages(self) -> np.ndarray:
        """The leaf pages of the table b-tree, left to right (= rowid order). All leaves of a
        b-tree are equally deep, so the level whose first page is a leaf is returned without
        reading the others (the first read of a page of the mapped file may wait for the disk);
        :meth:`leaf_cells` checks each of them when it reads its header."""
        n_pages = len(self.buf) // self.page_size
        level = np.array([self.root], dtype=np.int64)
        for _depth in range(64):
            if ((level < 1) | (level > n_pages)).any():
                raise Unsupported("child page out of range")
            hdr = self._header(level)
            if self.buf[hdr[0]] == _LEAF:
                return level
            kinds = self.buf[hdr]
            if not (kinds == _INTERIOR).all():
                raise Unsupported("not a rowid table b-tree")
            ncell = self.be16(hdr + 3)
            if (hdr % self.page_size + 12 + 2 * ncell > self.page_size).any():
                raise Unsupported("cell pointers run past their page")
            # children of an interior page: the left child of each cell in order, then the right-most
            counts = ncell + 1
            owner = np.repeat(np.arange(len(level)), counts)
            k = np.arange(int(counts.sum())) - (np.cumsum(counts) - counts)[owner]
            is_right = k == ncell[owner]
            child = np.empty(len(owner), dtype=np.int64)
            right = np.flatnonzero(is_right)
            child[right] = self.be32(hdr[owner[right]] + 8)
            left = np.flatnonzero(~is_right)
            if len(left):
                o = owner[left]
                cell = (level[o] - 1) * self.page_size + self.be16(hdr[o] + 12 + 2 * k[left])
                child[left] = self.be32(cell)
            level = child
        raise Unsupported("b-tree too deep")

    def leaf_cells(self, leaves: np.ndarray) -> np.ndarray:
        """Offsets of every cell of the leaf pages, in key order."""
        hdr = self._header(leaves)
        if (self.buf[hdr] != _LEAF).any():
            raise Unsupported("not a rowid table b-tree")
        ncell = self.be16(hdr + 3)
        if (hdr % self.page_size + 8 + 2 * ncell > self.page_size).any():
            raise Unsupported("cell pointers run past their page")
        owner = np.repeat(np.arange(len(leaves)), ncell)
        k = np.arange(int(ncell.sum())) - (np.cumsum(ncell) - ncell)[owner]
        offset = self.be16(hdr[owner] + 8 + 2 * k)
        if ((offset < 8) | (offset > self.page_size - 4)).any():
            raise Unsupported("cell pointer out of range")
        return (leaves[owner] - 1) * self.page_size + offset

    # -- records ---------------------------------------------------------------------------------
    def run(self, threads: int, rows: int | None = None) -> TableImage:
        self._advise("scattered")
        leaves = self.leaf_pages()
        self._advise("all")
        if _native is not None:
            return self._run_native(leaves, threads, rows)
        cells = self.leaf_cells(leaves)
        n = len(cells)
        self.rowid = np.empty(n, dtype=np.int64)
        self.spill = np.zeros(n, dtype=bool)
        self.ints = np.zeros((len(self.idx["int"]), n), dtype=np.int64)
        self.reals = np.zeros((len(self.idx["real"]), n), dtype=np.float64)
        self.text_chunks: list[list | None] = [None] * -(-n // _ROWS)  # per batch: one array per column
        self.valid = {k: np.zeros((len(self.idx[k]), n), dtype=bool) for k in ("int", "real", "text")}
        threads = max(1, min(threads, -(-n // _ROWS)))
        bounds = [(i * n // threads // _ROWS * _ROWS) for i in range(threads)] + [n]
        spans = [(bounds[i], bounds[i + 1]) for i in range(threads)]
        work = lambda span: self._decode_span(cells, *span)  # noqa: E731
        pool = ThreadPoolExecutor(threads) if threads > 1 else None
        try:
            for _ in pool.map(work, spans) if pool else map(work, spans):
                pass
            texts = list(pool.map(self._text, range(len(self.idx["text"])))) if pool else [
                self._text(j) for j in range(len(self.idx["text"]))
            ]
        finally:
            if pool:
                pool.shutdown()
        keep = ~self.spill
        spilled = self.rowid[self.spill]
        whole = not len(spilled)
        out: dict[str, tuple[object, np.ndarray]] = {}
        for j, name in enumerate(self.names["int"]):
            v, ok = self.ints[j], self.valid["int"][j]
            out[name] = (v, ok) if whole else (v[keep], ok[keep])
        for j, name in enumerate(self.names["real"]):
            v, ok = self.reals[j], self.valid["real"][j]
            out[name] = (v, ok) if whole else (v[keep], ok[keep])
        for j, name in enumerate(self.names["text"]):
            arr, ok = texts[j], self.valid["text"][j]
            out[name] = (arr, ok) if whole else (arr, ok[keep])  # spilled rows were never gathered
        ordered = {name: out[name] for name in self.want}
        return TableImage(ordered, self.rowid if whole else self.rowid[keep], spilled)

    def _run_native(self, leaves: np.ndarray, threads: int, rows: int | None) -> TableImage:
        """The records decoded by ``_records``, ``_LEAVES`` leaf pages at a time: this thread reads
        each chunk's page headers (for the mapped file: where it waits for the disk) while the
        pool decodes the chunks before it. Per chunk, ``scan`` writes numbers and validity into
        the whole table's arrays and text lengths into the chunk's; their running sums place
        the text, which ``gather`` copies straight to one buffer per column; each becomes an
        Arrow chunk, checked to be UTF-8."""
        import pyarrow as pa

        if rows is None:  # not known: count the cells first
            rows = len(self.leaf_cells(leaves))
        n = rows
        kinds = np.zeros(self.ncols, dtype=np.uint8)
        slots = np.zeros(self.ncols, dtype=np.int32)
        for code, kind in enumerate(("int", "real", "text"), start=1):
            kinds[self.idx[kind]] = code
            slots[self.idx[kind]] = np.arange(len(self.idx[kind]), dtype=np.int32)
        k_int, k_real, k_text = (len(self.idx[k]) for k in ("int", "real", "text"))
        rowid = _zeros(n, np.int64)
        spill = _zeros(n, np.uint8)
        ints = _zeros((k_int, n), np.int64)
        int_valid = _zeros((k_int, n), np.uint8)
        reals = _zeros((k_real, n), np.float64)
        real_valid = _zeros((k_real, n), np.uint8)
        text_valid = _zeros((k_text, n), np.uint8)
        layout = (self.page_size, self.max_local, kinds.tobytes(), slots)

        def decode(cells: np.ndarray, base: int) -> list:
            m = len(cells)
            offsets = np.zeros((k_text, m + 1), dtype=np.int64)  # lengths at [j, i + 1], then their sums
            _native.scan(self.image, cells, base, n, *layout, rowid, spill, ints, int_valid, reals, real_valid,
                         offsets, text_valid)
            np.cumsum(offsets, axis=1, out=offsets)
            data = tuple(np.empty(int(offsets[j, -1]), dtype=np.uint8) for j in range(k_text))
            _native.gather(self.image, cells, base, n, *layout, spill, offsets, data)
            chunk = []
            for j in range(k_text):
                valid = text_valid[j, base : base + m].view(bool)
                nulls = int(m - np.count_nonzero(valid))
                bitmap = pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None
                arr = pa.Array.from_buffers(
                    pa.large_string(), m, [bitmap, pa.py_buffer(offsets[j]), pa.py_buffer(data[j])], null_count=nulls
                )
                arr.validate(full=True)  # offsets, and every value UTF-8
                chunk.append(arr)
            return chunk

        pool = ThreadPoolExecutor(max(1, threads))
        try:
            pending, base = [], 0
            for first in range(0, len(leaves), _LEAVES):
                cells = np.ascontiguousarray(self.leaf_cells(leaves[first : first + _LEAVES]), dtype=np.int64)
                if base + len(cells) > n:
                    raise Unsupported(f"more than the {n} rows counted")
                pending.append(pool.submit(decode, cells, base))
                base += len(cells)
            if base != n:
                raise Unsupported(f"{base} rows, {n} counted")
            try:
                chunks = [f.result() for f in pending]
            except ValueError as exc:  # what _records found unexpected
                raise Unsupported(str(exc)) from None
        finally:
            pool.shutdown(cancel_futures=True)
        texts = [pa.chunked_array([c[j] for c in chunks], type=pa.large_string()) for j in range(k_text)]
        spilled_rows = spill.view(bool)
        whole = not spilled_rows.any()
        keep = ~spilled_rows
        out: dict[str, tuple[object, np.ndarray]] = {}
        for kind, values, valid in (("int", ints, int_valid), ("real", reals, real_valid)):
            for j, name in enumerate(self.names[kind]):
                v, ok = values[j], valid[j].view(bool)
                out[name] = (v, ok) if whole else (v[keep], ok[keep])
        for j, name in enumerate(self.names["text"]):
            arr, ok = texts[j], text_valid[j].view(bool)
            out[name] = (arr, ok) if whole else (arr.filter(pa.array(keep)), ok[keep])
        ordered = {name: out[name] for name in self.want}
        return TableImage(ordered, rowid if whole else rowid[keep], rowid[spilled_rows])

    def _decode_span(self, cells: np.ndarray, lo: int, hi: int) -> None:
        for a in range(lo, hi, _ROWS):
            self._decode_rows(cells, a, min(hi, a + _ROWS))

    def _decode_rows(self, cells: np.ndarray, lo: int, hi: int) -> None:
        cell = cells[lo:hi]
        payload, n1 = self.varint(cell)
        rowid, n2 = self.varint(cell + n1)
        self.rowid[lo:hi] = rowid
        spill = payload > self.max_local
        rows: slice | np.ndarray = slice(lo, hi)
        if spill.any():
            self.spill[lo:hi] = spill
            keep = np.flatnonzero(~spill)
            cell, n1, n2, payload = cell[keep], n1[keep], n2[keep], payload[keep]
            rows = lo + keep
            if not len(keep):
                return
        start = cell + n1 + n2  # the record
        if (start + payload > (cell // self.page_size + 1) * self.page_size).any():
            raise Unsupported("a record runs past its page")
        hsize, n3 = self.varint(start)
        hlen = hsize - n3  # bytes of serial types
        if ((hlen < 0) | (hsize > payload)).any():
            raise Unsupported("malformed record header")
        st = self._serial_types(start + n3, hlen)  # (row, column)
        if st.max(initial=0) < len(_SIZE_OF):
            size = _SIZE_OF[st]
        else:  # text or BLOBs of 8 KB or more
            small = st < 12
            size = np.where(small, _SIZES[np.where(small, st, 0)], (st - 12) >> 1)
        offset = np.cumsum(size, axis=1, dtype=np.int64)
        if self.ncols and (offset[:, -1] > payload - hsize).any():
            raise Unsupported("record values run past the payload")
        offset -= size
        offset += (start + hsize)[:, None]  # absolute offset of every value
        st, size, offset = st.T, size.T, offset.T  # (column, row) views
        if len(self.idx["int"]) or len(self.idx["real"]):
            self._numbers(st, size, offset, rows)
        if len(self.idx["text"]):
            self._text_values(st, size, offset, rows, lo // _ROWS)

    def _serial_types(self, hp: np.ndarray, hlen: np.ndarray) -> np.ndarray:
        """The first ``ncols`` serial types of each record header as an (n, ncols) matrix, 0 (NULL)
        where a header has fewer (a row written before the column was added). The headers are
        read as one (n, width) byte matrix and their varints (1-2 bytes) decoded together."""
        n, ncols = len(hp), self.ncols
        width = int(hlen.max(initial=0))
        if width == 0 or width > 512:
            return self._serial_types_slow(hp, hlen)
        head = self.read(hp, f"V{width}").view(np.uint8).reshape(n, width)
        cont = head >= 0x80
        inside = np.arange(width) < hlen[:, None]
        if width > 1 and (cont[:, 1:] & cont[:, :-1] & inside[:, 1:]).any():
            return self._serial_types_slow(hp, hlen)  # a 3-byte varint: text of 8 KB or more
        if (cont & inside)[np.arange(n), np.maximum(hlen - 1, 0)].any():
            raise Unsupported("record header ends inside a varint")
        ends = inside & ~cont
        value = head.astype(np.int32)
        if width > 1:
            value[:, 1:] |= ((head[:, :-1] & 0x7F).astype(np.int32) << 7) * cont[:, :-1]
        counts = ends.sum(axis=1)
        first = int(counts[0]) if n else 0
        if n and (counts == first).all() and first >= ncols:
            return value[ends].reshape(n, first)[:, :ncols]
        row, col = np.nonzero(ends)
        k = np.arange(len(row)) - (np.cumsum(counts) - counts)[row]
        take = k < ncols
        out = np.zeros((n, ncols), dtype=np.int32)
        out[row[take], k[take]] = value[row[take], col[take]]
        return out

    def _serial_types_slow(self, hp: np.ndarray, hlen: np.ndarray) -> np.ndarray:
        hend = hp + hlen
        out = np.zeros((len(hp), self.ncols), dtype=np.int64)
        hp = hp.copy()
        for k in range(self.ncols):
            have = np.flatnonzero(hp < hend)
            if not len(have):
                break
            out[have, k], n = self.varint(hp[have])
            hp[have] += n
        if (hp > hend).any() or (out < 0).any():
            raise Unsupported("malformed record header")
        return out

    def _numbers(self, st, size, offset, rows) -> None:
        for kind in ("int", "real"):
            idx = self.idx[kind]
            if not len(idx):
                continue
            s, z = st[idx], size[idx]
            if (s >= 10).any():
                raise Unsupported(f"text or a BLOB in a number column ({kind})")
            raw = self.read(offset[idx], ">i8").astype(np.int64)  # 8 bytes from the value on
            is_int = (s >= 1) & (s <= 6)
            ints = np.where(is_int, raw >> np.where(is_int, 64 - 8 * z, 0), s == 9)  # keeps the sign
            valid = s != 0
            if kind == "int":
                if (s == 7).any():
                    raise Unsupported("a REAL value in an integer column")
                self.ints[:, rows] = ints
            else:
                values = np.where(s == 7, raw.view(np.float64), ints.astype(np.float64))
                values[~valid] = np.nan
                self.reals[:, rows] = values
            self.valid[kind][:, rows] = valid

    def _text_values(self, st, size, offset, rows, batch: int) -> None:
        """This batch's text, one Arrow ``large_string`` array per column, copied out of the image
        by one ``take`` while the rows' pages are still in the CPU cache."""
        import pyarrow as pa
        import pyarrow.compute as pc

        idx = self.idx["text"]
        s = st[idx]
        top = len(_TEXT_OK) - 1
        ok = _TEXT_OK[np.minimum(s, top)]
        if s.max(initial=0) >= top:  # text of 8 KB or more (pages of 16 KB and up)
            ok |= (s >= top) & ((s & 1) == 1)
        if not ok.all():
            raise Unsupported("a value in a text column is not text")
        valid = s != 0
        self.valid["text"][:, rows] = valid
        k, m = s.shape
        begin = offset[idx]  # (k, m)
        # records in address order: their text values, with the gaps between, tile the image in
        # increasing order, so one large_binary array over the image has them all as elements
        order = np.argsort(offset[0], kind="stable")  # the first value of each record
        rank = np.empty(m, dtype=np.int64)
        rank[order] = np.arange(m)
        by_place = np.argsort(idx, kind="stable")  # text columns in record order
        place = np.empty(k, dtype=np.int64)
        place[by_place] = np.arange(k)
        bounds = np.empty((m, k, 2), dtype=np.int64)
        bounds[:, :, 0] = begin[by_place].T[order]
        bounds[:, :, 1] = (begin + size[idx])[by_place].T[order]
        flat = bounds.reshape(-1)
        if m and (flat[0] < 0 or flat[-1] > len(self.buf) or (np.diff(flat) < 0).any()):
            raise Unsupported("records overlap")
        offsets = np.empty(len(flat) + 1, dtype=np.int64)
        offsets[:-1] = flat
        offsets[-1] = flat[-1] if m else 0
        if self._arrow_image is None:
            self._arrow_image = pa.py_buffer(self.image)
        tiles = pa.Array.from_buffers(pa.large_binary(), len(flat), [None, pa.py_buffer(offsets), self._arrow_image])
        take = 2 * (rank[None, :] * k + place[:, None])  # (k, m): all rows of a column together
        # the system allocator: Arrow's default (mimalloc) faulted its fresh memory in 3x slower here
        copied = pc.take(tiles, take.reshape(-1), boundscheck=False, memory_pool=pa.system_memory_pool())
        _, offs, data = copied.cast(pa.large_string()).buffers()  # the cast checks UTF-8
        out = []
        for j in range(k):
            ok_j = valid[j]
            nulls = int(m - np.count_nonzero(ok_j))
            bitmap = pa.py_buffer(np.packbits(ok_j, bitorder="little")) if nulls else None
            column = offs.slice(j * m * 8, (m + 1) * 8)
            out.append(pa.Array.from_buffers(pa.large_string(), m, [bitmap, column, data], null_count=nulls))
        self.text_chunks[batch] = out

    def _text(self, j: int):
        import pyarrow as pa

        return pa.chunked_array([c[j] for c in self.text_chunks if c is not None], type=pa.large_string())
