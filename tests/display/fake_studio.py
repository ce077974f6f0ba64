"""A tiny stand-in Studio over the real Ledger, for widget tests that need exact control of timing
(a job held in progress, a failure with a given code). Same method names as ``sorakit.Studio``.
End-to-end tests use the real ``Studio(emulate=True)``.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Callable

from sorakit import VideoRequest
from sorakit.catalog import load_catalog, plan
from sorakit.ledger import Ledger


def make_mp4(path: Path, seconds: float = 1.0, size=(320, 180), fps: int = 12) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.zeros((size[1], size[0], 3), dtype=np.uint8)
            img[:, :, 0] = (np.arange(size[0]) * 255 // size[0])[None, :]
            img[:, :, 1] = (i * 20) % 255
            img[:, :, 2] = 120
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)


def make_poster(path: Path, size=(320, 180)) -> None:
    from PIL import Image

    Image.new("RGB", size, (40, 90, 160)).save(path, "JPEG", quality=80)


class FakeJob:
    def __init__(self, studio: "FakeStudio", job_id: str):
        self.studio, self.id = studio, job_id

    @property
    def row(self) -> dict:
        return self.studio.ledger.get(self.id)

    @property
    def status(self) -> str:
        return self.row["status"]

    @property
    def done(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    def wait(self, timeout: float = 30):
        import time

        end = time.monotonic() + timeout
        while not self.done and time.monotonic() < end:
            time.sleep(0.05)
        return self

    def rate(self, n):
        self.studio.ledger.rate(self.id, n)

    def tag(self, *t):
        self.studio.ledger.tag(self.id, *t)

    def note(self, text):
        self.studio.ledger.note(self.id, text)

    def remix(self, prompt, **kw):
        return self.studio.remix(self.id, prompt, **kw)


class Budget:
    cap = None
    spent = 0.0
    remaining = None


class FakeStudio:
    """Jobs stay where the test puts them: ``advance(job, status=..., progress=...)``."""

    def __init__(self, root: Path, auto: bool = False):
        self.auto = auto
        self.root = Path(root)
        self.ledger = Ledger(self.root / "ledger.db")
        self.catalog = load_catalog()
        self.budget = Budget()
        self._subs: list[Callable[[str, dict], None]] = []
        self._lock = threading.Lock()
        self.submitted: list[dict] = []

    def emulated(self, provider=None) -> bool:
        return True

    def subscribe(self, callback):
        with self._lock:
            self._subs.append(callback)

        def unsubscribe():
            with self._lock:
                if callback in self._subs:
                    self._subs.remove(callback)
        return unsubscribe

    @property
    def subscriber_count(self) -> int:
        return len(self._subs)

    def submit(self, prompt, model="sora-2", provider=None, **fields) -> FakeJob:
        fields.pop("wait", None)
        fields.pop("progress", None)
        req = VideoRequest(prompt=prompt, model=model, provider=provider, **fields)
        p = plan(req, self.catalog, emulated=True)
        self.submitted.append(dict(prompt=prompt, model=model, provider=provider, **fields))
        job_id = self.ledger.insert(
            provider=p.offer.provider, model=p.model.name, provider_model=p.offer.id, status="pending",
            prompt=p.prompt, size=p.size, width=p.width, height=p.height, seconds=p.seconds, fps=p.fps,
            audio=p.audio, variations=p.variations, seed=p.seed, estimated_cost=p.estimated_cost,
            action=p.action, source_video_id=p.source_video_id, emulated=True,
            negative_prompt=p.negative_prompt,
        )
        if self.auto:
            threading.Thread(target=self._run, args=(job_id,), daemon=True).start()
        return FakeJob(self, job_id)

    def _run(self, job_id: str) -> None:
        import time

        self.advance(job_id, status="queued", submitted_at=dt.datetime.now(dt.timezone.utc))
        for p in (5, 20, 45, 70, 90):
            time.sleep(0.4)
            self.advance(job_id, status="in_progress", progress=p)
        self.advance(job_id, status="downloading", progress=100)
        self.advance(job_id, status="completed", billed_cost=0.0)

    def remix(self, job_or_id, prompt, **kw):
        src = self.ledger.get(getattr(job_or_id, "id", job_or_id))
        return self.submit(prompt, model=src["model"], provider=src["provider"], action="remix",
                           source_video_id=src["provider_job_id"] or "vid_x")

    def job(self, job_id) -> FakeJob:
        self.ledger.get(job_id)
        return FakeJob(self, job_id)

    def advance(self, job, **changes) -> None:
        """Write changes to the ledger and call subscribers from another thread, like the engine."""
        job_id = getattr(job, "id", job)
        if changes.get("status") == "completed" and "file_path" not in changes:
            video = self.root / f"{job_id}.mp4"
            poster = self.root / f"{job_id}.jpg"
            make_mp4(video)
            make_poster(poster)
            changes.update(file_path=str(video), poster_path=str(poster), bytes=video.stat().st_size,
                           completed_at=dt.datetime.now(dt.timezone.utc), latency_s=3.2,
                           provider_job_id=f"vid_{job_id[-6:]}", progress=100)
        self.ledger.update(job_id, **changes)

        def notify():
            for cb in list(self._subs):
                cb(job_id, dict(changes))
        t = threading.Thread(target=notify)
        t.start()
        t.join()

    def close(self):
        self.ledger.close()
