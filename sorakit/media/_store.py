"""Where finished videos live: a local folder (as always) or a shared store at an fsspec URL.

```
SORAKIT_MEDIA / Studio(media_dir=...)        store          what a ledger row's file_path holds
/data/sorakit-media   (a plain path)         LocalStore     /data/sorakit-media/ab/ab12…ef.mp4
s3://bucket/prefix    (any fsspec URL:       RemoteStore    s3://bucket/prefix/ab/ab12…ef.mp4
gs://, az://, file://, memory://)
```
Keys are content addressed (``<prefix>/<sha[:2]>/<sha256><suffix>``, the names local files have
always had), so an upload is idempotent and a teammate's copy can be checked against its name.

The engine downloads into the local cache (checksummed, atomic), then `RemoteStore.put` re-reads
the file, checks its sha256 against its name and uploads it; only then does the row say
``completed`` with the object's URL. A crash between the upload and the row write leaves the row
``downloading`` with no path: resume (or ``job.retry_download()``) fetches and uploads again, and
the second upload of the same content lands on the same key.

Reads go through `local_copy(url)`: a read-through cache on this machine (``$SORAKIT_CACHE``, else
the user cache folder: ``~/.cache/sorakit`` on Linux, ``~/Library/Caches/sorakit`` on macOS,
``%LOCALAPPDATA%\\sorakit\\Cache`` on Windows), filled once per object through a temporary file
whose sha256 must equal the name before it is renamed into place. A cached object is used without
any network access, so players, posters and `probe` work offline after the first view.

Credentials come only from the environment or the store's usual config files (``AWS_*``
variables, ``~/.aws/credentials``, ``GOOGLE_APPLICATION_CREDENTIALS``...), read by the store's own
library. A URL with credentials in it (``s3://key:secret@bucket``), a query string (where SAS
tokens and signatures travel) or storage options naming a secret are refused with a
`ValidationError`, so no secret reaches the ledger, a repr or a log line.

Why fsspec (with s3fs) and not obstore: one API for every URL scheme users already pass to pandas
(``s3://``, ``gs://``, ``az://``, ``file://``, ``memory://`` for tests), and pure-Python wheels,
as the package itself is (DESIGN.md). obstore (Rust) is faster per request but is a compiled wheel
and knows only its own stores. Measured side by side (``python bench/store.py``, moto on
loopback, medians of 12, two runs on a shared 2-core machine at load 9-12): an 8 MB upload
197-256 ms with s3fs vs 211-271 ms with obstore, its first view 76-143 ms vs 58-76 ms; a 256 KB
one 19-48 vs 5-9 ms up, 10-24 vs 4-11 ms down; a cached view 0.1 ms either way.
That is tens of milliseconds once per finished video (which took minutes to generate) or per
first view, so it is not what a user waits for; the breadth of URLs is.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Mapping, Optional, Union
from urllib.parse import urlsplit

from .._exceptions import ConfigurationError, StoreError, ValidationError

__all__ = ["LocalStore", "RemoteStore", "MediaStore", "open_store", "is_url", "local_copy", "cache_root",
           "INSTALL_HINT"]

INSTALL_HINT = "pip install 'sorakit[s3]'"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_NAME = re.compile(r"([0-9a-f]{64})(\.[A-Za-z0-9]{1,10})?")
# storage option names that carry a secret (s3fs key/secret/token, gcsfs token, adlfs account_key,
# sas_token, client_secret, password...); nested dicts (client_kwargs) are checked too
_SECRET_OPTION = re.compile(r"(^key$|secret|token|password|passwd|credential|account_key|sas|signature|"
                            r"private|session|access_key)", re.I)
_PACKAGE_OF = {"s3": INSTALL_HINT, "s3a": INSTALL_HINT, "gs": "pip install gcsfs", "gcs": "pip install gcsfs",
               "az": "pip install adlfs", "abfs": "pip install adlfs", "abfss": "pip install adlfs"}
_CHUNK = 1 << 20
INPUT_IMAGE_SUFFIX_OF_TYPE = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
INPUT_IMAGE_SUFFIXES = (*INPUT_IMAGE_SUFFIX_OF_TYPE.values(), ".img")
"""How a job's input image is named in the media cache and store (``.img`` when the type is unknown)."""


def is_url(value: Any) -> bool:
    """True for ``scheme://...`` (an fsspec URL); False for a plain path (``C:\\x`` included)."""
    return isinstance(value, str) and bool(_URL.match(value))


def cache_root() -> Path:
    """The read-through cache folder: ``$SORAKIT_CACHE`` or the user cache folder + ``sorakit``."""
    env = os.environ.get("SORAKIT_CACHE")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "sorakit" / "Cache"
        return base
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "sorakit"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sorakit"


def _media_cache() -> Path:
    return cache_root() / "media"


def _redact(url: str) -> str:
    """The URL with any user info and query replaced by ``***`` (for error messages)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return f"{parts.scheme}://{netloc}{parts.path}" + ("?***" if parts.query else "")


def check_url(url: str, field: str) -> str:
    """``url`` without a trailing slash, or `ValidationError` (credentials, query, no location)."""
    parts = urlsplit(url)
    allowed = ("an fsspec URL without credentials, such as s3://bucket/prefix, gs://bucket/prefix or "
               "file:///shared/media; credentials come from the environment (AWS_ACCESS_KEY_ID, "
               "AWS_PROFILE...) or the store's config files (~/.aws/credentials)")
    if "@" in parts.netloc:
        raise ValidationError(field, _redact(url), allowed,
                              "the media store URL carries credentials; they would be written into "
                              "every ledger row")
    if parts.query or parts.fragment:
        raise ValidationError(field, _redact(url), allowed,
                              "the media store URL has a query string (signatures and SAS tokens travel "
                              "there); it would be written into every ledger row")
    if not (parts.netloc or parts.path.strip("/")):
        raise ValidationError(field, url, allowed, "the media store URL names no bucket or folder")
    return url.rstrip("/")


def check_options(options: Any, field: str = "media_options") -> dict:
    """Storage options (endpoint, region...) with no secret in them, else `ValidationError`."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValidationError(field, options, "None or a mapping of fsspec storage options")

    def walk(m: Mapping, where: str) -> None:
        for k, v in m.items():
            name = f"{where}.{k}" if where else str(k)
            if _SECRET_OPTION.search(str(k)):
                raise ValidationError(f"{field}[{name!r}]", "***", "options without secrets: credentials "
                                      "come from the environment (AWS_ACCESS_KEY_ID...) or ~/.aws")
            if isinstance(v, Mapping):
                walk(v, name)

    walk(options, "")
    return dict(options)


# options given to a Studio for a store, so readers of its URLs (players, posters, probe) in this
# process reach the same endpoint; longest prefix wins
_OPTIONS: dict[str, dict] = {}
_OPTIONS_LOCK = threading.Lock()


def _options_for(url: str) -> dict:
    with _OPTIONS_LOCK:
        best = max((p for p in _OPTIONS if url == p or url.startswith(p + "/")), key=len, default=None)
        return dict(_OPTIONS[best]) if best is not None else {}


def _filesystem(url: str, options: Optional[Mapping] = None):
    """(fsspec filesystem, path) for ``url``; a missing package is a `ConfigurationError` naming it."""
    scheme = url.split("://", 1)[0].lower()
    hint = _PACKAGE_OF.get(scheme, f"pip install fsspec (and the fsspec package for {scheme}://)")
    try:
        import fsspec.core
    except ImportError:
        raise ConfigurationError(f"a media store at {scheme}:// needs fsspec: {hint}") from None
    opts = dict(options if options is not None else _options_for(url))
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if scheme in ("s3", "s3a") and endpoint and "endpoint_url" not in opts:
        # the AWS SDKs' own variable, passed explicitly so fsspec's instance cache (keyed on the
        # arguments) does not hand back a client made for another endpoint
        opts["endpoint_url"] = endpoint
    try:
        return fsspec.core.url_to_fs(url, **opts)
    except ImportError as exc:
        raise ConfigurationError(f"a media store at {scheme}:// needs a package that is not installed: "
                                 f"{hint} ({exc})") from None
    except ValueError as exc:  # unknown protocol
        raise ConfigurationError(f"{scheme}:// is not a storage protocol fsspec knows ({exc})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:400]


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _place(src: Path, dest: Path) -> None:
    """Put a copy of ``src`` at ``dest`` (hard link when possible) via a temp name: atomic."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".partial-{uuid.uuid4().hex}"
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


class LocalStore:
    """Files stay in ``root`` where they were downloaded; rows record their local path."""

    remote = False
    url: Optional[str] = None

    def __init__(self, root: Union[str, os.PathLike]):
        self.root = Path(root)

    def put(self, path: Union[str, os.PathLike]) -> str:
        return str(path)

    def find(self, sha256: str, suffixes) -> Optional[Path]:
        return None

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"


class RemoteStore:
    """A shared store at an fsspec URL; ``root`` is this machine's read-through cache, where the
    engine downloads (so the uploader's own copy is already cached)."""

    remote = True

    def __init__(self, url: str, options: Optional[Mapping[str, Any]] = None, *, field: str = "media_dir"):
        self.url = check_url(url, field)
        self._options = check_options(options)
        self.fs, self._base = _filesystem(self.url, self._options)  # the package is there, or a clear error
        if self._options:
            with _OPTIONS_LOCK:
                _OPTIONS[self.url] = dict(self._options)
        protocols = (self.fs.protocol,) if isinstance(self.fs.protocol, str) else tuple(self.fs.protocol)
        self._local = bool({"file", "local"} & set(protocols))
        self.root = _media_cache()

    def key_url(self, sha256: str, suffix: str) -> str:
        return f"{self.url}/{sha256[:2]}/{sha256}{suffix}"

    def put(self, path: Union[str, os.PathLike]) -> str:
        """Check ``path``'s sha256, upload it under its content key (skipped when an object of the
        same size is there) and return the object's URL. `StoreError` when the store refuses."""
        path = Path(path)
        sha = _hash_file(path)
        named = _NAME.fullmatch(path.name)
        if named and named.group(1) != sha:
            raise StoreError("upload", str(path), f"the file's sha256 is {sha[:12]}…, not its name: "
                             "the local copy is damaged; job.retry_download() fetches it again")
        suffix = "".join(path.suffixes[-1:]) if path.suffix else ""
        url = self.key_url(sha, suffix)
        target = f"{self._base.rstrip('/')}/{sha[:2]}/{sha}{suffix}"
        size = path.stat().st_size
        try:
            try:
                there = self.fs.size(target) == size
            except FileNotFoundError:
                there = False
            if not there:
                if self._local:  # object stores have no folders (and makedirs on s3 makes buckets)
                    self.fs.makedirs(self.fs._parent(target), exist_ok=True)
                self.fs.put_file(str(path), target)
        except Exception as exc:
            raise StoreError("upload", url, _reason(exc)) from None
        _place(path, _cache_file(url))  # the uploader reads its own videos offline
        return url

    def find(self, sha256: str, suffixes) -> Optional[Path]:
        """The cached copy of the object with this sha256 and one of ``suffixes``, fetched if needed."""
        for suffix in suffixes:
            url = self.key_url(sha256, suffix)
            try:
                return local_copy(url)
            except StoreError:
                continue
        return None

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r}, cache={str(self.root)!r})"


MediaStore = Union[LocalStore, RemoteStore]


def no_options_for_a_folder(options: Any) -> None:
    """`ValidationError` for storage options given with a local folder (they apply to a URL)."""
    if check_options(options):
        raise ValidationError("media_options", sorted(options), "None when the media store is a local folder "
                              "(storage options apply to a URL such as s3://bucket/prefix)")


def open_store(spec: Union[str, os.PathLike], options: Optional[Mapping[str, Any]] = None, *,
               field: str = "media_dir") -> MediaStore:
    """A `RemoteStore` for an fsspec URL, else a `LocalStore` at the (expanded) path."""
    if is_url(spec):
        return RemoteStore(str(spec), options, field=field)
    no_options_for_a_folder(options)
    return LocalStore(Path(spec).expanduser())


def _cache_file(url: str) -> Path:
    name = url.rsplit("/", 1)[-1]
    m = _NAME.fullmatch(name)
    if not m:
        raise ValidationError("file_path", url, "a media store URL ending in <sha256><suffix>, as sorakit writes")
    return _media_cache() / name[:2] / name


UNREACHABLE_FOR = 15.0
"""Seconds during which reads from a store that just failed (unreachable, access denied) fail at
once instead of waiting out the store client's retries again: a gallery of twelve videos on a
plane costs one timeout, not twelve (or four per video: poster, frame, player, probe)."""
_UNREACHABLE: dict[str, tuple[float, str]] = {}


def _root_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def local_copy(value: Union[str, os.PathLike, None]) -> Optional[Path]:
    """A local file for a row's ``file_path``/``poster_path``: a plain path as is; a store URL
    through the read-through cache (fetched once, sha256 checked, then used offline).

    None for None. `StoreError` when the object cannot be fetched or its sha256 is not its name.
    """
    if value is None:
        return None
    if not is_url(value):
        return Path(value)
    url = str(value)
    dest = _cache_file(url)
    if dest.is_file():
        return dest
    sha = dest.name[:64]
    root = _root_of(url)
    with _OPTIONS_LOCK:
        down = _UNREACHABLE.get(root)
    if down is not None and time.monotonic() - down[0] < UNREACHABLE_FOR:
        raise StoreError("fetch", url, f"{down[1]} (the store failed {time.monotonic() - down[0]:.0f} s ago; "
                         f"tried again after {UNREACHABLE_FOR:.0f} s)")
    fs, path = _filesystem(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".partial-{uuid.uuid4().hex}"
    try:
        try:
            fs.get_file(path, str(tmp))  # one streamed GET (fs.open would fetch in ranged blocks)
        except FileNotFoundError as exc:
            raise StoreError("fetch", url, _reason(exc)) from None
        except Exception as exc:  # unreachable, access denied...: the next reads fail at once
            with _OPTIONS_LOCK:
                _UNREACHABLE[root] = (time.monotonic(), _reason(exc))
            raise StoreError("fetch", url, _reason(exc)) from None
        with _OPTIONS_LOCK:
            _UNREACHABLE.pop(root, None)
        got = _hash_file(tmp)
        if got != sha:
            raise StoreError("fetch", url, f"the fetched bytes have sha256 {got[:12]}…, not the "
                             f"name's {sha[:12]}…; nothing was cached")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def try_local_copy(value: Union[str, os.PathLike, None]) -> Optional[str]:
    """`local_copy` for display code: the local file as a string, or None when there is none
    (not fetched, store unreachable, no such file)."""
    try:
        p = local_copy(value)
    except (StoreError, ValidationError, ConfigurationError):
        return None
    return str(p) if p is not None and p.is_file() else None
