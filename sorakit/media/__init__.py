"""Media on disk: streaming downloads into a content-addressed cache, posters, and probing.

```
download(client, request, media_dir)  -> Download(path, sha256, bytes)   atomic, checksummed
make_poster(video_path, thumbnail=None) -> Path | None                    ≤ ~40 KB JPEG/WebP
probe(path) -> ClipFacts                                                 what was really produced
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
from ._probe import ClipFacts, probe, probe_many

__all__ = [*_download_all, "ClipFacts", "probe", "probe_many"]
