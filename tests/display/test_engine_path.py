"""One path from a widget to the engine: compare sends its grid as one Studio batch, the form uses
the Studio's public remix, and the engine reaches the display through logged hooks."""

from __future__ import annotations

import logging

import pytest

from sorakit import BudgetExceeded
from sorakit.display import compare
from sorakit.engine import Studio, register_display
from sorakit.engine import _hooks


def test_a_compare_grid_over_budget_sends_nothing_and_says_why(tmp_path):
    st = Studio(emulate=True, ledger=tmp_path / "ledger.db", time_scale=0.02, budget=1.0)
    try:
        # every cell fits the $1 cap on its own (~$0.42-0.63), the four together do not
        c = compare(st, prompts=["a fox in snow", "a lighthouse at night"],
                    models=["seedance-1-pro", "kling-3-standard@runware"], seconds=5)
        assert st.ledger.rows() == []                               # no row written
        assert st.emulator is None or st.emulator.counters.total("requests") == 0  # nothing sent
        assert c.tiles_at == {} and c.tiles == []
        texts = [cell["html"] for cell in c.cells[len(c.columns) + 1:] if cell.get("cls") != "sk-rowhead"]
        assert len(texts) == 4 and all("budget" in t.lower() for t in texts)
        assert st.budget.spent == 0
        with pytest.raises(BudgetExceeded) as e:  # the same grid as one batch is what was refused
            st.batch(["a fox in snow", "a lighthouse at night"],
                     models=["seedance-1-pro", "kling-3-standard@runware"], seconds=5,
                     wait=False, skip_invalid=True)
        assert type(e.value) is BudgetExceeded and st.estimate("a fox", models="kling-3-standard@runware",
                                                               seconds=5).total < 1.0
        assert all(f"exceeded by ${e.value.over:.2f}" in t and "nothing was sent" in t for t in texts)
    finally:
        st.close()


def test_compare_is_one_batch_with_rejected_cells(studio, monkeypatch):
    calls = []
    real = studio.batch
    monkeypatch.setattr(studio, "submit", lambda *a, **k: pytest.fail("compare must not submit cell by cell"))

    def spy(*a, **k):
        calls.append(k)
        return real(*a, **k)

    monkeypatch.setattr(studio, "batch", spy)
    c = compare(studio, prompts=["a fox in snow"], models=["veo-3-fast@runware", "seedance-1-pro"],
                seconds=5, size="864x480")
    assert len(calls) == 1 and calls[0]["skip_invalid"] is True and calls[0]["wait"] is False
    rows = studio.ledger.rows()
    assert len(rows) == 1 and len({r["batch_id"] for r in rows}) == 1      # one batch, one insert
    assert c.columns == ["veo-3-fast@runware", "seedance-1-pro@runware"]
    assert "not allowed" in c.cells[len(c.columns) + 2]["html"]


def test_batch_skip_invalid_lists_what_it_did_not_send(studio):
    b = studio.batch(["a heron"], models=["veo-3-fast@runware", "seedance-1-pro"], seconds=5,
                     size="864x480", wait=False, skip_invalid=True)
    assert len(b) == 1 and b.jobs[0].row["model"] == "seedance-1-pro"
    (r,) = b.rejected
    assert (r.prompt, r.model, r.provider) == ("a heron", "veo-3-fast@runware", None)
    assert r.error.field in ("seconds", "size")
    with pytest.raises(Exception) as info:  # without skip_invalid the same call refuses everything
        studio.batch(["a heron"], models=["veo-3-fast@runware", "seedance-1-pro"], seconds=5,
                     size="864x480", wait=False)
    assert getattr(info.value, "field", None) in ("seconds", "size")
    assert len(studio.ledger.rows()) == 1


class _Broken:
    def show_job(self, job):
        raise RuntimeError("the widget broke")

    def show_batch(self, batch):
        raise RuntimeError("the gallery broke")


def test_a_display_hook_that_raises_is_logged_with_its_traceback_and_text_shows(studio, caplog, capsys,
                                                                                   monkeypatch):
    job = studio.generate("a lighthouse", model="seedance-1-pro", seconds=5, progress=False)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, **k: shown.append(obj))
    previous = register_display(_Broken())
    try:
        with caplog.at_level(logging.ERROR, logger="sorakit"):
            job._ipython_display_()
            batch = studio.batch(["a heron"], models="seedance-1-pro", seconds=5, progress=False)
            batch._ipython_display_()
    finally:
        register_display(previous)
    records = [r for r in caplog.records if r.name == "sorakit"]
    assert [r.exc_info[1].args[0] for r in records] == ["the widget broke", "the gallery broke"]
    assert all(r.exc_info and "falling back to text" in r.getMessage() for r in records)
    assert "the widget broke" in caplog.text and "Traceback" in caplog.text
    # the text fallbacks: the job's HTML summary, the batch's repr
    assert len(shown) == 1 and "seedance-1-pro" in shown[0].data
    assert "<Batch batch_" in capsys.readouterr().out


def test_the_display_registers_its_hooks_on_import():
    import sorakit.display as display

    hooks = _hooks.display_hooks()
    assert hooks is not None and hooks.show_job is display.show_job and hooks.compare is display.compare


def test_form_remix_goes_through_studio_remix(studio, monkeypatch):
    from sorakit.display import form

    src = studio.generate("a red kite", model="sora-2", provider="openai", progress=False)
    seen = []
    real = studio.remix
    monkeypatch.setattr(studio, "remix", lambda *a, **k: seen.append((a, k)) or real(*a, **k))
    f = form(studio)
    f.set(remix_from=src.id, prompt="the same kite at dusk")
    result = f.submit()
    assert seen == [((src.id, "the same kite at dusk"), {"wait": False, "progress": False})]
    assert result.row["action"] == "remix" and result.row["source_video_id"] == src.video_id


def test_form_takes_model_at_provider_and_defaults_to_the_catalogs_model(studio):
    from sorakit.display import form

    f = form(studio, model="seedance-1-pro@relay")
    assert (f.value["model"], f.value["provider"]) == ("seedance-1-pro", "relay")
    assert form(studio).value["model"] == studio.catalog.default_model
    with pytest.raises(Exception) as e:
        form(studio, model="seedance-1-pro@runware", provider="relay")
    assert getattr(e.value, "field", None) == "provider"
