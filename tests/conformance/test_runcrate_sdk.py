"""The official ``runcrate-sdk`` (0.5), unmodified, against the emulator: only ``inference_url``
points at it (the SDK appends ``/v1/videos``)."""

from __future__ import annotations

import pytest
import runcrate

from conformance.conftest import probe

KEY = "rc_live_test"  # the SDK insists on the rc_live_ prefix; a short, obviously fake key


@pytest.fixture
def client(server):
    c = runcrate.Runcrate(api_key=KEY, inference_url=server.base_url + "/runcrate", max_retries=0)
    yield c
    close = getattr(c, "close", None)
    if close:
        close()


def test_create_status_download(client, server):
    emu = server.emulator
    job = client.models.generate_video(model="openai/sora-2", prompt="a sailboat at sunset", duration=4,
                                       aspect_ratio="9:16")
    assert job.status == "queued" and job.id
    assert client.models.get_video_status(job.id).status in ("queued", "processing")
    with pytest.raises(runcrate.NotFoundError):
        client.models.download_video(job.id)  # 404 before completion (PROTOCOLS §3)
    emu.test_clock.advance(600)
    assert client.models.get_video_status(job.id).status == "completed"
    w, h, seconds, _ = probe(client.models.download_video(job.id))
    assert (w, h) == (720, 1280) and seconds == pytest.approx(4, abs=0.2)


def test_error_types(client, server):
    with pytest.raises(runcrate.BadRequestError):
        client.models.generate_video(model="openai/sora-2", prompt="x", duration=7)
    with pytest.raises(runcrate.NotFoundError):
        client.models.get_video_status("vid_doesnotexist")
    server.emulator.config.require_key = "rc_live_other"
    with pytest.raises(runcrate.AuthenticationError):
        client.models.generate_video(model="openai/sora-2", prompt="x", duration=4)
