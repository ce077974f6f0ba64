"""Official SDKs on the calls issue 21 found the emulator missing or disagreeing with the published record.

- google-genai 3.6.1 ``interactions.delete`` (``_gaos/interactions.py``: ``DELETE /{v}/interactions/{id}``,
  answered 200 with no body the SDK reads — ``tests/interactions/test_paths.py``): the emulator answered
  405. A finished interaction also reads as the live service answers it: ``object: "interaction"`` and the
  steps ``user_input``, ``thought``, ``model_output``, so the SDK's own ``output_video`` (the last video
  after the last user input) is computed over real steps.
- runcrate-sdk 0.5.0 turns a file path in any ``image=`` / ``start_image=`` keyword into a data URI
  (``resources/models.py`` ``_IMAGE_FIELDS``), a helper it shares with ``generate_image``; Runcrate's
  video reference ("Submit video generation job") names ``image_url``. Both sides agree on
  ``image_url``: the emulator takes it, and refuses ``image`` / ``start_image`` with a 400 naming it.
"""

from __future__ import annotations

import base64

import pytest
import runcrate
from google import genai
from google.genai import types

from conformance.conftest import png, probe
from sorakit.catalog import load_catalog
from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer

OMNI = "gemini-omni-flash-preview"


def gemini(server):
    return genai.Client(api_key="AIza-published", http_options=types.HttpOptions(base_url=server.base_url + "/gemini"))


def test_interactions_delete_and_the_live_step_timeline(server):
    emu = server.emulator
    c = gemini(server)
    it = c.interactions.create(model=OMNI, input="a kite over dunes", background=True)
    emu.test_clock.advance(300)
    done = c.interactions.get(it.id)
    assert [s.type for s in done.steps] == ["user_input", "thought", "model_output"]
    assert done.model_dump().get("object") == "interaction"
    assert probe(base64.b64decode(done.output_video.data) if isinstance(done.output_video.data, str)
                 else done.output_video.data)[0] == 1280
    assert c.interactions.delete(id=it.id) is None  # 200: the SDK reads no body
    with pytest.raises(Exception) as e:
        c.interactions.get(it.id)
    assert getattr(e.value, "status_code", None) == 404
    with pytest.raises(Exception) as e:  # a deleted interaction cannot be continued either
        c.interactions.create(model=OMNI, input="now at night", previous_interaction_id=it.id, background=True)
    assert getattr(e.value, "status_code", None) == 400


@pytest.fixture
def i2v_server(tmp_path):
    """An emulator whose catalog grants Runcrate's veo-3 image-to-video (an overlay, as Runcrate's
    reference documents image_url; the shipped catalog leaves the capability out)."""
    overlay = tmp_path / "i2v.toml"
    overlay.write_text('[[models."veo-3".offers]]\nprovider = "runcrate"\n'
                       'capabilities = ["text-to-video", "image-to-video"]\n')
    emu = Emulator(EmulatorConfig(time_scale=0.01), media_dir=tmp_path / "media",
                   catalog=load_catalog(overlays=[overlay]))
    try:
        with EmulatorServer(emu, host="127.0.0.1", port=0) as srv:
            yield srv
    finally:
        emu.close()


@pytest.fixture
def runcrate_client(i2v_server):
    c = runcrate.Runcrate(api_key="rc_live_test", inference_url=i2v_server.base_url + "/runcrate", max_retries=0)
    yield c
    close = getattr(c, "close", None)
    if close:
        close()


def test_runcrate_image_to_video_takes_image_url_and_names_it_when_sent_image(runcrate_client, i2v_server, tmp_path):
    frame = tmp_path / "frame.png"
    frame.write_bytes(png(1280, 720))
    # the SDK's image= (a path it turns into a data URI) is refused, and the message says what to send
    with pytest.raises(runcrate.BadRequestError) as e:
        runcrate_client.models.generate_video(model="google/veo-3.0", prompt="a harbour at dawn", duration=8,
                                              image=str(frame))
    assert "image_url" in str(e.value)
    with pytest.raises(runcrate.BadRequestError) as e:
        runcrate_client.models.generate_video(model="google/veo-3.0", prompt="a harbour at dawn", duration=8,
                                              start_image=str(frame))
    assert "image_url" in str(e.value)
    # image_url (the documented field) as a data URI goes through, and its picture is the first frame
    data_uri = "data:image/png;base64," + base64.b64encode(frame.read_bytes()).decode()
    job = runcrate_client.models.generate_video(model="google/veo-3.0", prompt="a harbour at dawn", duration=8,
                                                image_url=data_uri)
    assert job.status == "queued"
    [emu_job] = [j for j in i2v_server.emulator.jobs("runcrate") if j.id == job.id]
    assert emu_job.spec.input_image == frame.read_bytes()
