"""Media on disk: streaming downloads into a content-addressed cache, posters, and probing.

```
download(client, request, media_dir)  -> Download(path, sha256, bytes)   atomic, checksummed
make_poster(video_path, thumbnail=None) -> Path | None                    ≤ ~40 KB JPEG/WebP
probe(path) -> ClipFacts                                                 what was really produced
check_clip(path, request) -> ClipCheck                                   delivered vs asked, defects, motion, phash
open_store(path_or_url) -> LocalStore | RemoteStore                      where videos are kept
local_copy(path_or_url) -> Path                                          read-through cache (sha256 checked)
fragment(path) -> Fragment(path, mime, seconds, bytes)                    fragmented MP4 copy for MSE (remux)
```
"""

from ._download import __all__ as _download_all
from ._download import (
    Download,
    IncompleteDownload,
    cache_path,
    download,
    make_poster,
    poster_from_image,
    poster_from_video,
    store_bytes,
)
from ._fragment import FRAGMENT_SECONDS, Fragment, NotFragmentable, codec_string, fragment
from ._checks import CHECKS_VERSION, DEFECTS, ClipCheck, Thresholds, check_clip, hash_distance, judge
from ._probe import ClipFacts, probe, probe_many
from ._store import LocalStore, RemoteStore, cache_root, is_url, local_copy, open_store

__all__ = [*_download_all, "Fragment", "NotFragmentable", "fragment", "codec_string", "FRAGMENT_SECONDS",
           "ClipFacts", "probe", "probe_many", "ClipCheck", "check_clip", "hash_distance", "Thresholds", "judge",
           "CHECKS_VERSION", "DEFECTS", "LocalStore", "RemoteStore", "cache_root",
           "is_url", "local_copy", "open_store"]
