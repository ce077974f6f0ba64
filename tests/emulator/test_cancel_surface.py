"""How each emulated provider answers a request to stop a job: only the Interactions API stops one;
OpenAI deletes finished videos only (its spec); the others have no such call at all."""

import httpx
import pytest


@pytest.fixture
def client(manual_emulator):
    with httpx.Client(transport=manual_emulator.sync_transport(), base_url="http://emulator",
                      headers={"Authorization": "Bearer k", "x-goog-api-key": "k"}) as c:
        yield c


def test_openai_delete_refuses_a_running_video_then_deletes_it_once_finished(manual_emulator, client):
    video = client.post("/openai/v1/videos", json={"prompt": "a red kite", "model": "sora-2"}).json()
    r = client.delete(f"/openai/v1/videos/{video['id']}")
    assert r.status_code == 400 and "only a completed or failed video" in r.json()["error"]["message"]
    manual_emulator.test_clock.advance(3600)
    assert client.get(f"/openai/v1/videos/{video['id']}").json()["status"] == "completed"  # it ran on
    r = client.delete(f"/openai/v1/videos/{video['id']}")
    assert r.json() == {"id": video["id"], "object": "video.deleted", "deleted": True}
    counters = manual_emulator.counters["openai"]
    assert (counters["cancel_calls"], counters["deletes"], counters["cancels"]) == (2, 1, 0)


@pytest.mark.parametrize("method,path", [
    ("DELETE", "/runcrate/v1/videos/vid_1"),
    ("POST", "/runcrate/v1/videos/vid_1/cancel"),
    ("POST", "/relay/v1/videos/generations/gen_1/cancel"),
    ("POST", "/gemini/v1beta/models/veo-3.0-fast-generate-001/operations/op1:cancel"),
])
def test_providers_without_a_cancel_call_answer_404_or_405(client, method, path):
    assert client.request(method, path).status_code in (404, 405)
