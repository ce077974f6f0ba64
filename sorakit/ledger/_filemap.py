"""A read-only memory map of an SQLite database file, for the bulk decoder in ``_pages``.

Why: ``Connection.serialize()`` copies the whole database twice (into SQLite's buffer, then into
a Python ``bytes``), which for a 900 MB ledger is about 1.8 s of a cold ``Ledger.df``, most of it
the kernel handing out fresh memory. A shared mapping of the file costs next to nothing: its pages
are the OS page cache.

Two hazards, and how they are met:

* **POSIX locks.** SQLite coordinates processes with ``fcntl`` locks, and POSIX drops *all* of a
  process's locks on a file when *any* descriptor of that file is closed, even one SQLite never
  saw. So this module opens each database file once, read-only, and never closes that
  descriptor while the file exists (``_DESCRIPTORS``; one per big ledger file per process, the
  way SQLite itself parks descriptors it cannot close). The map is made with ``mmap(2)`` through
  ``ctypes`` because Python's ``mmap`` module duplicates the descriptor and closes the duplicate
  when the map goes away, which is such a close. A descriptor whose file has been deleted is
  closed on the next lookup (no other connection can reach that file by its name any more).
* **Consistency.** The file on disk is only the reader's snapshot when nothing newer and nothing
  older is in it: the caller (``Ledger._read_pages``) checks that inside its read transaction,
  see there. While that transaction is open SQLite writes nothing into the file (a checkpoint
  never copies frames past an open reader's snapshot; in rollback-journal mode the reader's
  SHARED lock keeps writers out), so the map stays put for as long as the decode takes. Like
  SQLite's own ``PRAGMA mmap_size``, it would fault (SIGBUS) only if something other than SQLite
  truncated the file underneath.

The map is unmapped when the last object viewing it is released (numpy arrays and Arrow buffers
made from the ``memoryview`` keep it alive), so a stray view can never point at unmapped memory.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import sys
import threading
from pathlib import Path

__all__ = ["FileMap", "advise", "available", "map_file"]

_DESCRIPTORS: dict[tuple[int, int], int] = {}
_LOCK = threading.Lock()
_libc = None


def available() -> bool:
    """True where a file can be mapped this way (Linux and macOS)."""
    return _load() is not None


def _load():
    global _libc
    if _libc is None and sys.platform in ("linux", "darwin"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int64]
            libc.munmap.restype = ctypes.c_int
            libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
            libc.madvise.restype = ctypes.c_int
            libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
            _libc = libc
        except (OSError, AttributeError):  # pragma: no cover - no libc symbols
            _libc = False
    return _libc or None


def _descriptor(path: Path) -> int:
    """The process's read-only descriptor of ``path``, opened on first use and kept open."""
    st = os.stat(path)
    key = (st.st_dev, st.st_ino)
    with _LOCK:
        for other, fd in list(_DESCRIPTORS.items()):
            if other != key and os.fstat(fd).st_nlink == 0:  # that file was deleted
                os.close(fd)
                del _DESCRIPTORS[other]
        fd = _DESCRIPTORS.get(key)
        if fd is None:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            opened = os.fstat(fd)
            _DESCRIPTORS[(opened.st_dev, opened.st_ino)] = fd  # kept open: see the module docstring
            if (opened.st_dev, opened.st_ino) != key:
                raise OSError(f"{path} was replaced while being opened")
        return fd


class FileMap:
    """Owns one mapping; unmaps it when released. Only the exported array refers to it, so it
    is released as soon as the last view of the bytes is (no cycle waits for the collector)."""

    def __init__(self, fd: int, length: int):
        libc = _load()
        if libc is None:  # pragma: no cover - see available()
            raise OSError("mmap is not available here")
        addr = libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr is None or addr == ctypes.c_void_p(-1).value:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        self._addr, self.length = addr, length

    def view(self) -> memoryview:
        array = (ctypes.c_char * self.length).from_address(self._addr)
        array._owner = self  # every view of the bytes keeps the mapping alive
        return memoryview(array).cast("B")

    def advise(self, advice: int) -> None:
        """``madvise(2)`` over the whole map; a refusal is only a missed hint."""
        if self._addr is not None and _libc:
            _libc.madvise(self._addr, self.length, advice)

    def __del__(self) -> None:
        addr, self._addr = getattr(self, "_addr", None), None
        if addr is not None and _libc:
            _libc.munmap(addr, self.length)


def map_file(path: Path, length: int) -> memoryview:
    """The first ``length`` bytes of the file at ``path``, mapped read-only, as a byte
    ``memoryview``; unmapped once it and everything made from it are released. Raises
    ``OSError`` when the file is shorter or cannot be mapped."""
    fd = _descriptor(path)
    size = os.fstat(fd).st_size
    if length <= 0 or size < length:
        raise OSError(f"{path} holds {size} bytes, {length} expected")
    return FileMap(fd, length).view()



def advise(view: memoryview, stage: str) -> None:
    """Tell the OS how the map made by :func:`map_file` is about to be read: ``"scattered"``
    (a page here and there: read just those pages) or ``"all"`` (start reading all of it in the
    background now). Anything else, or a view of something else, is ignored.

    Why: walking the b-tree touches a few hundred interior pages spread evenly over the file,
    and the kernel's read-ahead took that for a sequential read and read most of the file
    before the walk could finish (0.6-0.9 s on 891 MB, with nothing decoded meanwhile)."""
    owner = getattr(getattr(view, "obj", None), "_owner", None)
    if not isinstance(owner, FileMap) or not _libc:
        return
    if stage == "scattered" and hasattr(mmap, "MADV_RANDOM"):
        owner.advise(mmap.MADV_RANDOM)
    elif stage == "all" and hasattr(mmap, "MADV_WILLNEED"):
        owner.advise(mmap.MADV_NORMAL)  # read-ahead on again (MADV_RANDOM turned it off)
        owner.advise(mmap.MADV_WILLNEED)
