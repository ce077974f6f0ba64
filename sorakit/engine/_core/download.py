"""The download phase: fetch a finished video, check it, make its poster, store both.

`Downloader.fetch` returns an outcome: `Downloaded` (the ``completed`` update, once the file is in
the store: a crash before that leaves the row ``downloading``, redone on resume) or
`DownloadFailed` (the video can no longer be had: expired). The driver writes either. Retries: 5xx,
transport errors and truncated bodies count against ``download_retries`` (then `_Suspend`: the row
becomes ``failed`` with ``download_failed``, cost kept, ``job.retry_download()`` fetches it again);
a 429 is waited out until the wait bound; an expired link is refreshed by polling (Runware) or
asked again until the provider's expiry time (OpenAI's content endpoint).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import httpx

from ..._exceptions import NotFoundError, PermissionDenied, ProviderError, RateLimitError, ServerError, \
    StoreError, TransportError
from ..._types import JobState
from ...media import IncompleteDownload, download as media_download
from ...media._store import MediaStore
from .book import Book
from .runtime import Pacing, _Deadline, _Suspend, _Task
from .transitions import downloaded_changes

__all__ = ["Downloaded", "DownloadFailed", "DownloadOutcome", "Downloader", "state_of"]

log = logging.getLogger("sorakit.engine")
UTC = dt.timezone.utc


@dataclass(frozen=True)
class Downloaded:
    """The video and its poster are stored: ``changes`` make the row ``completed``."""

    changes: dict


@dataclass(frozen=True)
class DownloadFailed:
    """The video was made (and billed) but can no longer be fetched: fail the row with ``code``."""

    code: str
    message: str


DownloadOutcome = Union[Downloaded, DownloadFailed]


def state_of(row: dict) -> JobState:
    """The finished provider state a ``downloading`` row describes (what to fetch)."""
    extra = row.get("extra") or {}
    exp = row.get("video_url_expires_at")
    return JobState(provider_job_id=row.get("provider_job_id") or "", status="completed",
                    video_url=row.get("video_url"),
                    video_url_expires_at=exp.timestamp() if isinstance(exp, dt.datetime) else None,
                    provider_video_id=extra.get("video_id") or row.get("provider_job_id"))


class Downloader:
    """The download phase of one engine: ``media_dir`` (the content-addressed cache) and ``store``."""

    def __init__(self, book: Book, pace: Pacing, policy: Any, stats: dict, media_dir: Path, store: MediaStore):
        self.book = book
        self.pace = pace
        self.policy = policy
        self.stats = stats
        self.media_dir = media_dir
        self.store = store

    async def fetch(self, t: _Task, jid: str) -> DownloadOutcome:
        rt, prov, pace = t.rt, t.rt.provider, self.pace
        attempt = refreshes = limited = 0
        async with rt.downloads:
            while True:
                if pace.remaining(t) <= 0:
                    raise _Deadline()
                state = state_of(self.book.rows[jid])
                try:
                    got = await media_download(
                        rt.client, prov.build_download(state, "video"), self.media_dir,
                        raise_for_error=prov.raise_for_error,
                        decode=(lambda r, s=state: prov.decode_media(s, r)) if prov.inline_media(state) else None,
                        # the thumbnail fetched once the video arrived whole; the poster is made
                        # in the worker trip that seals the video
                        poster=True, thumbnail=(lambda s=state: self._thumbnail(t, s)) if "thumbnail" in prov.variants
                        else None)
                    self.stats["downloads"] += 1
                    break
                except (NotFoundError, PermissionDenied) as exc:
                    # expired link: Runware -> poll again for a fresh videoURL; OpenAI -> content
                    # endpoint again until expires_at says it is gone for good
                    if refreshes >= 4:
                        return DownloadFailed("video_expired",
                                              f"the finished video can no longer be downloaded: {exc.message}")
                    refreshes += 1
                    if state.video_url:
                        await self._refresh_url(t, jid)
                    else:
                        exp = state.video_url_expires_at
                        if exp is not None and time.time() > exp + 60:
                            return DownloadFailed("video_expired",
                                                  "the provider deleted the video after its expiry time")
                        await pace.sleep(t, pace.backoff(refreshes - 1))
                except RateLimitError as exc:  # not a failed attempt: wait as asked, until the bound
                    self.stats["retries"] += 1
                    limited += 1
                    await pace.sleep(t, pace.backoff(min(limited, 6), exc.retry_after))
                except (ServerError, IncompleteDownload, httpx.TransportError) as exc:
                    attempt += 1
                    self.stats["retries"] += 1
                    if attempt > self.policy.download_retries:
                        raise _Suspend(TransportError(
                            f"{attempt} attempts failed ({type(exc).__name__})")) from None
                    await pace.sleep(t, pace.backoff(attempt - 1, getattr(exc, "retry_after", None)))
                except ProviderError as exc:
                    raise _Suspend(exc) from None
        poster = got.poster
        # checksum verified by the download; upload (a no-op for a local folder) before the row
        # says completed: a crash in between leaves the row downloading, redone on resume
        file_url = await self._put(got.path)
        poster_url = await self._put_poster(jid, poster)
        return Downloaded(downloaded_changes(self.book.rows[jid], file_url, poster_url, got.sha256, got.bytes,
                                             dt.datetime.now(UTC)))

    async def _put(self, path: Path) -> str:
        """The store URL of a cached file: uploaded by a worker thread to a remote store; a local
        store only names the path (no I/O, so no trip to a thread)."""
        if getattr(self.store, "remote", True):
            return await asyncio.to_thread(self.store.put, path)
        return self.store.put(path)

    async def _put_poster(self, jid: str, poster: Optional[Path]) -> Optional[str]:
        """The poster's store URL; a poster that cannot be uploaded is left out (a missing poster
        never fails a job: players fall back to a frame of the video)."""
        if poster is None:
            return None
        try:
            return await self._put(poster)
        except StoreError as exc:
            log.warning("sorakit: job %s: the poster was not stored (%s)", jid, exc)
            return None

    @staticmethod
    async def _thumbnail(t: _Task, state: JobState) -> Optional[bytes]:
        try:
            response = await t.rt.client.send(t.rt.provider.build_download(state, "thumbnail"))
            if response.is_success and response.content:
                return response.content
        except (httpx.HTTPError, ValueError):
            pass
        return None

    async def _refresh_url(self, t: _Task, jid: str) -> None:
        prov = t.rt.provider
        pjid = self.book.rows[jid].get("provider_job_id")
        response = await self.pace.safe(t, lambda: prov.build_poll(pjid), "poll")
        self.stats["polls"] += 1
        try:
            states = prov.parse_poll(pjid, response)
        except ProviderError as exc:
            raise _Suspend(exc) from None
        vid = (self.book.rows[jid].get("extra") or {}).get("video_id")
        fresh = [s for s in states if s.status == "completed" and s.video_url
                 and (vid is None or s.provider_video_id == vid)]
        if fresh:
            s = fresh[0]
            await self.book.write(jid, video_url=s.video_url, video_url_expires_at=(
                dt.datetime.fromtimestamp(s.video_url_expires_at, UTC) if s.video_url_expires_at else None))
