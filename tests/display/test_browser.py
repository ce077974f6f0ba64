"""The ledger browser (a DataTables grid whose rows stay in the kernel): filters, sort, totals,
selection, rating and tags written to the ledger, a row played in place, and what it sends a view.

The view's side is played by the test: the same messages ``browser.js`` sends (``page``, ``rate``,
``tags``, ``play``, ``lib``), answered by the widget as in a notebook.
"""

import datetime as dt
import json
import re

import pytest

from sorakit import ValidationError
from sorakit.display import browse
from sorakit.display._browser import COLUMNS, FILTERS, grid_library


class View:
    """What a view of the browser sends and receives (``browser.js``)."""

    def __init__(self, b, view="v1"):
        self.b, self.view, self.sent = b, view, []
        b.send = lambda content, buffers=None: self.sent.append((content, list(buffers or [])))

    def ask(self, content):
        before = len(self.sent)
        self.b._on_message(self.b, {**content, "view": self.view}, [])
        return self.sent[before:]

    def page(self, start=0, length=25, order=(("created_at", "desc"),), draw=1):
        [(msg, _)] = [m for m in self.ask({"type": "page", "draw": draw, "start": start, "length": length,
                                           "order": [list(o) for o in order]}) if m[0]["type"] == "page"]
        assert msg["draw"] == draw and msg["view"] == self.view
        return msg


@pytest.fixture
def ledger_rows(studio):
    """Six rows written straight to the ledger (no rendering): two models, two users, tags, dates."""
    L = studio.ledger
    ids = []
    for i, (model, status, est, billed, user) in enumerate([
            ("seedance-1-pro", "completed", 0.4840, 0.4812, "ann"),
            ("seedance-1-pro", "completed", 0.4840, None, "bob"),
            ("veo-3-fast", "failed", 0.80, None, "ann"),
            ("veo-3-fast", "completed", 0.80, 0.50, "bob"),
            ("kling-3-standard", "completed", 0.42, 0.0003, "ann"),
            ("kling-3-standard", "cancelled", None, None, "bob")]):
        ids.append(L.insert(prompt=f"clip {i}: a {'red fox' if i % 2 else 'paper boat'} at dusk", model=model,
                            provider="runware", status=status, estimated_cost=est, billed_cost=billed, user=user,
                            seconds=5, size="864x480"))
    L.update(ids[0], created_at=dt.datetime(2026, 11, 1, 12, tzinfo=dt.timezone.utc))
    L.update(ids[1], created_at=dt.datetime(2026, 11, 2, 23, 59, tzinfo=dt.timezone.utc))
    L.tag(ids[3], "keeper")
    L.rate(ids[4], 4)
    return ids


def ids_of(page):
    return [r["DT_RowId"] for r in page["rows"]]


def test_filters_narrow_the_rows_and_the_totals(studio, ledger_rows):
    b = browse(studio)
    assert len(b.df) == 6 and "<b>6</b> jobs" in b.totals
    assert b.choices["model"] == ["kling-3-standard", "seedance-1-pro", "veo-3-fast"]
    assert b.choices["user"] == ["ann", "bob"] and b.choices["tag"] == ["keeper"]
    b.filter(model="seedance-1-pro")
    assert sorted(b.df["job_id"]) == sorted(ledger_rows[:2]) and "<b>2</b> jobs" in b.totals
    b.filter(model=None, tag="keeper")
    assert list(b.df["job_id"]) == [ledger_rows[3]]
    b.filter(tag=None, status="completed", user="ann")
    assert sorted(b.df["job_id"]) == sorted([ledger_rows[0], ledger_rows[4]])
    b.filters = {"text": "RED  fox"}  # words in the prompt, any case, as the view sets it
    assert sorted(b.df["job_id"]) == sorted(ledger_rows[1::2])
    b.filters = {"since": "2026-11-02", "until": "2026-11-02"}  # 'to' keeps its whole day
    assert list(b.df["job_id"]) == [ledger_rows[1]]
    b.filters = {"until": "2026-11-01"}
    assert list(b.df["job_id"]) == [ledger_rows[0]]
    b.filters = {}
    assert len(b.df) == 6


def test_a_bad_filter_names_the_field_the_value_and_what_is_allowed(studio, ledger_rows):
    b = browse(studio)
    with pytest.raises(ValidationError) as e:
        b.filter(colour="red")
    assert "colour" in str(e.value) and "model" in str(e.value)
    with pytest.raises(ValidationError) as e:
        b.filter(since="yesterday")
    assert "since='yesterday'" in str(e.value) and "ISO date" in str(e.value)
    b.filters = {"until": "not a date"}  # from a view: said in place, never a traceback
    assert "until" in b.message and "ISO date" in b.message


def test_sort_on_any_column_and_paging_come_from_the_kernel(studio, ledger_rows):
    b = browse(studio)
    v = View(b)
    first = v.page(order=[("created_at", "desc")])
    assert first["total"] == first["filtered"] == 6 and ids_of(first)[-1] == ledger_rows[0]
    assert set(first["rows"][0]) == {"DT_RowId", *(k for k, _t, _s in COLUMNS)}
    assert "scores" not in [c["data"] for c in b.columns]  # no scorer, no scores: the grid stays narrow
    by_cost = ids_of(v.page(order=[("cost", "desc")], draw=2))  # billed where reported, else estimated
    assert by_cost[0] == ledger_rows[2] and by_cost[-1] == ledger_rows[5]  # 0.80 first, unknown last
    by_rating = ids_of(v.page(order=[("rating", "desc")], draw=3))
    assert by_rating[0] == ledger_rows[4]
    asc = ids_of(v.page(order=[("model", "asc"), ("created_at", "asc")], draw=4))
    assert asc[:2] == ledger_rows[4:6]
    two = v.page(start=2, length=2, order=[("created_at", "asc")], draw=5)
    assert ids_of(two) == ledger_rows[2:4] and two["filtered"] == 6
    [(err, _)] = v.ask({"type": "page", "draw": 6, "start": 0, "length": 5, "order": [["poster", "asc"]]})
    assert err["rows"] == [] and "cannot sort on 'poster'" in err["error"]


def test_the_cost_total_is_the_sum_of_the_cost_column_as_shown(studio):
    """Issue 25 item 6: "$6.10" over rows that summed to $6.07."""
    for i, billed in enumerate([0.4812, None, 0.50, 0.0003]):
        studio.ledger.insert(prompt=f"p{i}", model="seedance-1-pro", provider="runware", status="completed",
                             estimated_cost=0.4840, billed_cost=billed)
    b = browse(studio)
    shown = [float(re.search(r"\$([\d,.]+)", r["cost"]).group(1)) for r in View(b).page()["rows"]]
    total = float(re.search(r"cost <b[^>]*>\$([\d,.]+)</b>", b.totals).group(1))
    assert len(shown) == 4 and round(sum(shown), 4) == total == 1.4655
    assert "billed where reported, else estimated" in b.totals
    assert "estimated <b>$1.936</b>" in b.totals and "(1 not reported)" in b.totals


def test_rating_and_tags_from_the_grid_are_written_to_the_ledger(studio, ledger_rows):
    b = browse(studio)
    v = View(b)
    v.ask({"type": "rate", "job_id": ledger_rows[1], "rating": 2})
    assert studio.ledger.get(ledger_rows[1])["rating"] == 2
    assert any(m == {"type": "reload", "reset": False} for m, _ in v.sent)  # the page redraws in place
    row = next(r for r in v.page()["rows"] if r["DT_RowId"] == ledger_rows[1])
    assert 'data-rating="2"' in row["rating"] and row["rating"].count("★") == 2
    v.ask({"type": "rate", "job_id": ledger_rows[1], "rating": 0})  # the same star again clears it
    assert studio.ledger.get(ledger_rows[1])["rating"] is None
    v.ask({"type": "tags", "job_id": ledger_rows[3], "tags": "best, dusk"})
    assert studio.ledger.get(ledger_rows[3])["tags"] == ["best", "dusk"]  # 'keeper' removed, two added
    assert "dusk" in b.choices["tag"]
    b.filter(tag="dusk")
    assert list(b.df["job_id"]) == [ledger_rows[3]]
    v.ask({"type": "rate", "job_id": ledger_rows[3], "rating": 9})
    assert "9 is not allowed" in b.message and "1 to 5" in b.message  # refused, said in place
    assert studio.ledger.get(ledger_rows[3])["rating"] is None


def test_the_selection_comes_back_as_a_dataframe(studio, ledger_rows):
    b = browse(studio)
    b.selected_ids = [ledger_rows[3], ledger_rows[0]]  # as the view syncs it, in the order chosen
    sel = b.selected
    assert list(sel["job_id"]) == [ledger_rows[3], ledger_rows[0]] and "prompt" in sel and "_cost" not in sel
    b.filter(model="kling-3-standard")
    View(b).ask({"type": "select_all"})
    assert sorted(b.selected["job_id"]) == sorted(ledger_rows[4:6])
    View(b).ask({"type": "select_none"})
    assert b.selected.empty
    with pytest.raises(ValidationError):
        b.select(["job_nope"])


def test_the_grid_library_comes_from_the_kernel_and_no_row_is_in_the_state(studio, ledger_rows):
    b = browse(studio)
    [(lib, _)] = View(b).ask({"type": "lib"})
    js, sheet = grid_library()
    assert lib["js"] == js and "DataTables" in js and "export{" in js and lib["css"] == sheet
    state = json.dumps({k: v for k, v in b.get_state().items() if k not in ("_esm", "_css")})
    assert ledger_rows[0] not in state and "paper boat" not in state  # pages are messages, not state
    assert len(b._esm.encode()) < 24_000 and "SpryMedia" not in b._esm and "SpryMedia" in js  # not the library


def test_rows_filters_sort_and_play_on_real_jobs(studio, tmp_path):
    """Real emulated jobs: a poster per row, a row played in place streams its file."""
    batch = studio.batch(["a corgi surfing", "a paper boat"], models=["seedance-1-pro-fast"], providers=["runware"],
                         seeds=[7], size="864x480", seconds=5, progress=False)
    jobs = list(batch)
    jobs[0].rate(5)
    b = browse(studio)
    v = View(b)
    page = v.page()
    assert all(r["poster"].count('src="data:image/webp;base64,') == 1 and "sk-rowplay" in r["poster"]
               for r in page["rows"])
    thumb = re.search(r'src="(data:[^"]+)"', page["rows"][0]["poster"]).group(1)
    assert len(thumb) < 6_000  # a thumbnail, not the poster
    sent = v.ask({"type": "play", "job_id": jobs[1].id})
    assert b.playing == jobs[1].id and b.stage["playable"] and b.stage["poster"].startswith("data:image/webp")
    assert sent[-1][0] == {"type": "load", "autoplay": True}
    assert "sha256" in b.details and jobs[1].id in b.details
    from support.frontend import FakeView

    fv = FakeView(b)
    assert fv.fetch() == open(jobs[1].row["file_path"], "rb").read()
    b.selected_ids = [j.id for j in jobs]
    g = b.gallery()
    assert len(g.tile_list) == 2 and {t.row["job_id"] for t in g.tile_list} == {j.id for j in jobs}
    assert "<sorakit ledger browser: 2 of 2 jobs>" == b._static_text()
    assert "a corgi surfing" in b._static_html()
    c = b.compare()
    assert "2 prompts × 1 model" in c.header
    out = b.to_html(tmp_path / "picked.html")
    assert "a corgi surfing" in out.read_text() and "a paper boat" in out.read_text()
    b.selected_ids = [jobs[0].id]
    [again] = b.rerun(seed=3)
    again.wait(timeout=60)
    row = studio.ledger.get(again.id)
    assert again.id != jobs[0].id and row["seed"] == 3 and row["status"] == "completed"
    assert (row["prompt"], row["model"], row["provider"], row["size"], row["seconds"]) == (
        "a corgi surfing", "seedance-1-pro-fast", "runware", "864x480", 5)
    b.refresh()
    assert len(b.df) == 3 and b.selected_ids == [jobs[0].id]  # a re-read keeps the selection


def test_every_filter_name_is_a_view_control():
    from sorakit.display._esm import source

    js = source("browser.js")
    assert set(FILTERS) == {"model", "provider", "status", "tag", "user", "since", "until", "text"}
    for k in ("model", "provider", "status", "tag", "user"):
        assert f'"{k}"' in js
    for k in ("since", "until", "text"):
        assert f'"{k}"' in js
