"""Gallery and comparison matrix against the real Studio and emulator (the ledger browser: test_browser.py)."""

import pytest

from sorakit.display import compare, gallery, job_card

PROMPTS = ["A corgi surfing a wave at golden hour", "A paper boat in a rainy gutter, macro"]


@pytest.fixture
def done(studio):
    """Four finished emulated jobs: 2 prompts × 2 models at runware, seed 7 (small, quick renders)."""
    batch = studio.batch(PROMPTS, models=["seedance-1-pro-fast", "seedance-1-pro"], providers=["runware"],
                         seeds=[7], size="864x480", seconds=5, progress=False)
    assert batch.counts().get("completed") == 4, batch.counts()
    return list(batch)


def test_gallery_shows_a_captioned_poster_per_video(studio, done):
    g = gallery(studio, columns=3)
    assert len(g.tile_list) == 4 and len(g.tiles) == 4 and g.cells == [{"tiles": [i]} for i in range(4)]
    assert g.template == "repeat(3, minmax(0, 1fr))"
    cap = g.tiles[0]["caption"]
    row = g.tile_list[0].row
    assert row["prompt"] in cap and "seedance-1-pro-fast@runware" in cap and "seed\u00a07" in cap
    # no catalog price for this output, but Runware reports what it billed (includeCost): that is shown
    assert row["billed_cost_source"] == "provider" and f"${row['billed_cost']:.2f}" in cap
    assert all(t["poster"].startswith("data:image/webp;base64,") and t["playable"] for t in g.tiles)
    assert not g.loaded  # no video sent before play
    assert "4 videos" in g.header and "emulated" in g.header
    from support.frontend import FakeView

    view = FakeView(g)
    assert view.fetch(tile=1) == open(g.tile_list[1].row["file_path"], "rb").read()
    assert view.sent[0][0]["type"] == "pong"  # the view's transport probe (view-wide: tile -1)
    assert g.loaded and all(m["tile"] == 1 for m, _b in view.sent[1:])
    [(err, _)] = view.ask({"type": "open", "tile": 9})  # no such tile: an error, not a crash
    assert err["type"] == "error"


def test_an_unknown_cost_is_never_shown_as_zero(studio):
    """A job whose cost nobody knows (an Omni id the catalog lacks: its tokens are reported, the
    rate is not) says unknown, never $0."""
    job = studio.generate("a heron lifts off", model="gemini-omni-9.9-flash@gemini", seconds=4, progress=False)
    assert job.status == "completed" and job.cost is None
    g = gallery(studio)
    cap = g.tiles[0]["caption"]
    assert "unknown" in cap and "$0.00" not in cap and "unknown" in g.header


def test_a_gallery_is_one_widget_model_and_its_state_holds_no_video(studio, done):
    """The whole grid is one comm; the saved state is posters and captions, never video bytes."""
    import json

    from ipywidgets.widgets.widget import _instances

    before = set(_instances)
    g = gallery(studio)
    made = [_instances[k] for k in set(_instances) - before]
    assert made == [g]  # the shared Layout already existed: one model for four tiles
    from support.frontend import FakeView

    state = json.dumps(g.get_state())
    FakeView(g).fetch(tile=0)
    assert json.dumps(g.get_state()) == state and "data:video" not in state


def test_gallery_of_jobs_filters_and_limit(studio, done):
    assert len(gallery(done[:2]).tiles) == 2
    assert len(gallery(studio, model="seedance-1-pro").tiles) == 2
    assert all(r["model"] == "seedance-1-pro" for r in gallery(studio, model="seedance-1-pro").rows)
    g = gallery(studio, limit=3)
    assert len(g.tiles) == 3 and "newest 3 of 4" in g.header
    assert "nothing to show" in gallery([]).header


def test_gallery_static_fallback_is_posters_and_captions(studio, done):
    bundle, _metadata = gallery(studio)._repr_mimebundle_()  # anywidget: (data, metadata)
    assert "application/vnd.jupyter.widget-view+json" in bundle
    html = bundle["text/html"]
    assert html.count("data:image/jpeg;base64,") == 4 and "data:video" not in html
    assert "seed\u00a07" in html and PROMPTS[0] in html
    assert "sorakit gallery" in bundle["text/plain"]


def test_compare_arranges_prompts_by_model(studio, done):
    c = compare(done)
    assert c.prompts == PROMPTS
    assert c.columns == ["seedance-1-pro-fast@runware", "seedance-1-pro@runware"]
    assert all(len(c.tiles_at[(p, m)]) == 1 for p in PROMPTS for m in c.columns)
    assert c.tiles_at[(PROMPTS[1], "seedance-1-pro@runware")][0].row["prompt"] == PROMPTS[1]
    assert len(c.tiles) == 4 and c.cells[0]["html"] == "prompt ╲ model"


def test_compare_submits_the_matrix_and_fills_in_live(studio):
    c = compare(studio, prompts=["a fox in snow", "a lighthouse at night"],
                models=["veo-3-fast@runware", "seedance-1-pro"], seconds=5, size="864x480")
    # veo-3-fast takes neither 5 s nor 864x480: its cells say why; seedance's run
    assert c.columns[0] == "veo-3-fast@runware"
    assert "not allowed" in c.cells[len(c.columns) + 2]["html"]
    kling = [t for (p, m), ts in c.tiles_at.items() for t in ts]
    assert len(kling) == 2 and all(t.row["model"] == "seedance-1-pro" for t in kling)
    for t in kling:
        studio.job(t.job_id).wait(timeout=60)
    import time
    deadline = time.monotonic() + 10
    while not all(t.terminal for t in kling) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(t.row["status"] == "completed" for t in kling)
    c.push()
    assert all(t["playable"] and t["poster"] for t in c.tiles)  # live tiles turned into posters


def test_rating_from_the_real_studio_lands_in_the_ledger(studio, done):
    card = job_card(done[0])
    card._on_front_end(card, {"type": "rate", "tile": 0, "n": 3, "view": "v1"}, [])  # the page's third star
    assert studio.ledger.get(done[0].id)["rating"] == 3
    assert studio.job(done[0].id).row["rating"] == 3


def test_form_submit_against_the_emulator_ends_in_a_player(tmp_path):
    import time

    from sorakit.display import form
    from sorakit.emulator import Emulator, EmulatorConfig, ManualClock
    from sorakit.engine import Studio

    clock = ManualClock()                                   # the job runs only when the test says
    emu = Emulator(EmulatorConfig(time_scale=0.02), clock=clock)
    studio = Studio(emulate=True, ledger=tmp_path / "ledger.db", emulator=emu, clip_checks=True)  # shown below
    try:
        f = form(studio)
        f.set(model="veo-3-fast", provider="runware", seed="11", prompt="A hummingbird hovering at a red flower")
        f._on_front_end(f, {"type": "submit", "view": "v1"}, [])  # the page's Generate click
        card = f.tile_list[0]
        # the click returned while the job cannot have finished (no emulated time has passed)
        assert not card.terminal and studio.ledger.get(card.job_id)["status"] != "completed"
        clock.advance(3600)
        deadline = time.monotonic() + 60
        while f.tiles[0]["status"] != "completed" and time.monotonic() < deadline:  # pushed after the row
            time.sleep(0.05)
        assert card.row["status"] == "completed", card.row
        shown = f.tiles[0]
        assert not shown["active"] and shown["playable"] and card.path is not None
        assert "seed\u00a011" in shown["meta"]
        from sorakit.display._live import hub

        # the clip checks land a moment after completion (a worker thread): the card shows them ...
        while not any(m.startswith("checks ok") for m in f.tiles[0]["meta"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(m.startswith("checks ok") for m in f.tiles[0]["meta"]), f.tiles[0]["meta"]
        assert not hub(studio).subscribed  # ... and then stops listening: the job is done
    finally:
        studio.close()
        emu.close()


@pytest.mark.parametrize("model,provider", [("veo-3-fast", "gemini"), ("sora-2", "openai")])
def test_a_refused_prompt_shows_the_providers_code_and_message(studio, model, provider):
    """The emulator refuses prompts with 'blocked-term': the card (or the form) says why, readably."""
    import time

    from sorakit.display import form

    f = form(studio, model=model, provider=provider)
    f.set(prompt="a city street with a blocked-term on a sign")
    f.submit()
    if not f.tile_list:  # refused at submit: the message is in the form
        text = f.message.get("text", "") + " ".join(f.errors.values())
        assert "moderation" in text.lower() or "blocked" in text.lower()
        assert "Traceback" not in text
        return
    card = f.tile_list[0]
    deadline = time.monotonic() + 60
    while f.tiles[0]["status"] != "failed" and time.monotonic() < deadline:  # pushed after the row
        time.sleep(0.05)
    assert card.row["status"] == "failed", card.row
    shown = f.tiles[0]
    assert shown["outcome"][0] == "failed" and not shown["playable"]
    assert card.row["error_code"] in shown["failed"]
    assert "blocked" in shown["failed"].lower() or "safety" in shown["failed"].lower()


def test_live_gallery_tiles_follow_their_jobs_and_final_states_push_at_once(fake):
    """A batch's gallery: running tiles say so, a finished tile is a poster at once, then it stops listening."""
    from sorakit.display._gallery import Gallery
    from sorakit.display._rows import items_of

    jobs = [fake.submit(p, model="veo-3-fast", provider="gemini") for p in ("a fox", "a heron")]
    items, total = items_of(jobs, fake, status=None)
    g = Gallery(items, columns=2, total=total)
    assert fake.subscriber_count == 1 and [t["playable"] for t in g.tiles] == [False, False]
    assert "2 still running" in g.header
    fake.advance(jobs[0], status="failed", error_code="moderation_blocked", error_message="refused")
    fake.advance(jobs[1], status="completed")
    # final states are pushed without waiting for the coalescing timer
    assert g.tiles[0]["label"] == "failed · moderation_blocked" and "refused" in g.tiles[0]["caption"]
    assert g.tiles[1]["playable"] and g.tiles[1]["poster"].startswith("data:image/webp")
    assert "still running" not in g.header and fake.subscriber_count == 0
    g.close()


def test_a_gallery_of_a_batch_says_how_many_combinations_were_left_out_and_why(studio):
    """Issue 25 item 3: ``skip_invalid=True`` dropped half the combinations and the gallery said
    only "4 videos"."""
    from sorakit.display._gallery import show_batch

    batch = studio.batch(["a fox", "a heron"], models=["seedance-1-pro@runware", "kling-3-standard@runware"],
                         seeds=[1, 2], size="864x480", seconds=5, wait=False, progress=False, skip_invalid=True)
    assert len(batch) == 4 and len(batch.rejected) == 4
    for g in (gallery(batch), show_batch(batch).widget):
        assert "4 videos" in g.header
        assert ("4 combinations left out: kling-3-standard at runware (size=&#x27;864x480&#x27; is not allowed; "
                "allowed: 1280x720" in g.header), g.header
        assert "left out" in g._static_html() and "left out" in g._static_text()
    batch.wait(timeout=60)
    assert "4 combinations left out" in gallery(batch).header
    assert "left out" not in gallery(list(batch)).header  # a plain list of jobs has nothing left out


def test_left_out_combinations_are_grouped_by_reason():
    from collections import namedtuple

    from sorakit import ValidationError
    from sorakit.display._gallery import rejected_text

    R = namedtuple("R", "prompt model provider error")
    why = "Runware accepts no seed for kling-3-standard"
    rows = [R(p, "kling-3-standard@runware", None, ValidationError("seed", s, [None], why))
            for p in ("a fox", "a heron") for s in (1, 2)]
    assert rejected_text(rows) == (f"4 combinations left out: {why} (seed=1, 2 is not allowed; allowed: None)")
    assert rejected_text([]) == ""


def test_compare_header_says_prompts_and_models_in_words_and_sizes_the_prompt_column(studio):
    """Issue 25 item 8: "1 prompt(s) × 2 model(s)"; "a fox" took a third of the width."""
    c = compare(studio, prompts=["a fox"], models=["seedance-1-pro@runware", "seedance-1-pro-fast@runware"],
                seconds=5, size="864x480")
    assert "1 prompt × 2 models" in c.header and "(s)" not in c.header
    assert c.template.startswith("fit-content(") and "0.7fr" not in c.template
    assert "(s)" not in c._static_text()


def test_an_emulated_estimate_is_not_called_spend(studio):
    """Issue 25 item 6: "emulator · no spend" above "$6.90 committed this session"."""
    from sorakit.display import _request as rq

    import sorakit

    p = sorakit.plan(sorakit.VideoRequest(prompt="a fox", model="seedance-1-pro", provider="runware", seconds=5),
                     studio.catalog, emulated=True)
    text = rq.cost_html(p, studio)
    assert "committed" not in text and "emulated estimates this session, nothing charged" in text
    rate = p.rate
    assert f"× ${rate:g}/s" in text or f"× ${rate:.2f}/s" in text   # the price with all its digits
