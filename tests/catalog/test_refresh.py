"""`sorakit models --update` / `studio.update_catalog()` against a price map served on 127.0.0.1.

The map is tests/fixtures/litellm_video_prices.json: the video entries of LiteLLM's price map as
shipped in litellm 1.110.2 (litellm/model_prices_and_context_window_backup.json), unchanged. The
"changed" copy adds a model, changes a price and dates two shutdowns, as the real map does monthly.
"""

import copy
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sorakit import Studio
from sorakit.catalog import load_catalog, stale_notice
from sorakit.catalog._catalog import refreshed_overlay_path
from sorakit.catalog._refresh import litellm_changes, price_rules
from sorakit.cli import main

FIXTURE = Path(__file__).parents[1] / "fixtures" / "litellm_video_prices.json"
PINNED = json.loads(FIXTURE.read_text("utf-8"))
TODAY = dt.datetime.now(dt.timezone.utc).date()
FAR = "2099-01-31"  # a future shutdown date ("deprecated, shuts down on")


def changed_map() -> dict:
    m = copy.deepcopy(PINNED)
    m["gemini/gemini-omni-1.3-flash"] = dict(m["gemini/gemini-omni-1.2-flash"], output_cost_per_video_token=1e-05,
                                             source="https://ai.google.dev/gemini-api/docs/pricing")
    lite = m["vertex_ai/veo-3.1-lite-generate-001"]
    lite.update(output_cost_per_second=0.04, output_cost_per_second_1080p=0.07, deprecation_date=FAR,
                deprecation_source="https://docs.cloud.google.com/gemini-enterprise-agent-platform/models/model-versions")
    m["gemini/gemini-omni-1.2-flash"].update(deprecation_date="2026-12-01",
                                             successor_model="gemini/gemini-omni-1.3-flash")
    return m


@pytest.fixture
def map_server():
    """A price map on 127.0.0.1; ``state["map"]`` is what it serves."""
    state = {"map": PINNED, "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/model_prices.json":
                self.send_error(404)
                return
            state["hits"] += 1
            body = json.dumps(state["map"]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/model_prices.json"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """sorakit's cache in tmp_path; no user overlay; no provider key (no listing is asked)."""
    monkeypatch.setenv("SORAKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SORAKIT_CATALOG", raising=False)
    monkeypatch.delenv("SORAKIT_PRICE_MAP_URL", raising=False)
    for p in load_catalog(overlays=()).providers.values():
        for env in p.key_env:
            monkeypatch.delenv(env, raising=False)


def lines_for(out: str, model: str, provider: str) -> list[str]:
    return [l for l in out.splitlines() if l.split()[:2] == [model, provider]]


def test_price_rules_map_litellm_fields_onto_tiers():
    assert price_rules(PINNED["vertex_ai/veo-3.1-fast-generate-001"]) == [
        {"usd_per_second": 0.12, "resolution": "1080p"}, {"usd_per_second": 0.3, "resolution": "4k"},
        {"usd_per_second": 0.1}]
    assert price_rules(PINNED["gemini/gemini-omni-1.2-flash"]) == [{"usd_per_video_token": 1.2e-05}]
    # 768p is a 720p-class tier; 2k has no sorakit tier and is left out
    assert price_rules(PINNED["minimax/MiniMax-H3"]) == [{"usd_per_second": 0.08, "resolution": "720p"},
                                                          {"usd_per_second": 0.08}]
    assert price_rules(PINNED["openai/sora-2"]) == [{"usd_per_second": 0.1}]


def test_update_from_a_local_server_changes_models_and_estimates_with_provenance(map_server, capsys, tmp_path):
    # the pinned map: the shipped catalog already says what it says (listed differences are kept)
    assert main(["models", "--update", "--source", map_server["url"]]) == 0
    out = capsys.readouterr().out
    assert "provider listings: none asked (no API key set)" in out
    assert "0 fact(s) refreshed" in out and "kept: a listed difference" in out
    assert refreshed_overlay_path() == tmp_path / "cache" / "catalog" / "refreshed.toml"
    assert refreshed_overlay_path().is_file()
    main(["models"])
    before = capsys.readouterr().out
    assert "$0.08/s 1080p; $0.05/s" in lines_for(before, "veo-3.1-lite", "vertex")[0]
    assert lines_for(before, "gemini-omni-1.2-flash", "gemini") and "gemini-omni-1.3-flash" not in before
    est = Studio(emulate=True, ledger=tmp_path / "a.db").estimate("a fox", models="veo-3.1-lite@vertex", seconds=8)
    assert est.total == pytest.approx(0.05 * 8)

    # the map changes: a new model, a new price, a future and a past shutdown date
    map_server["map"] = changed_map()
    assert main(["models", "--update", "--source", map_server["url"]]) == 0
    out = capsys.readouterr().out
    assert f"refreshed on {TODAY} from {map_server['url']}" in out
    main(["models"])
    after = capsys.readouterr().out
    assert f"refreshed {TODAY}" in after.splitlines()[0]
    lite = lines_for(after, "veo-3.1-lite", "vertex")[0]
    assert "$0.07/s 1080p; $0.04/s" in lite and f"deprecated, shuts down {FAR}" in lite
    assert "$1e-05/video token" in lines_for(after, "gemini-omni-1.3-flash", "gemini")[0]
    assert not lines_for(after, "gemini-omni-1.2-flash", "gemini")  # shut down: only with --all
    main(["models", "--all"])
    assert "shut down 2026-12-01" in lines_for(capsys.readouterr().out, "gemini-omni-1.2-flash", "gemini")[0]

    studio = Studio(emulate=True, ledger=tmp_path / "b.db")
    est = studio.estimate("a fox", models="veo-3.1-lite@vertex", seconds=8)
    assert est.total == pytest.approx(0.04 * 8)
    line = est.lines[0]
    assert "entry vertex_ai/veo-3.1-lite-generate-001" in line.source and line.as_of == TODAY
    # provenance of every refreshed fact: the map's URL and the day it was fetched
    facts = studio.catalog.facts
    lite_facts = facts[(facts.model == "veo-3.1-lite") & (facts.provider == "vertex")]
    row = lite_facts[lite_facts.fact == "served_until"].iloc[0]
    assert row.value == FAR and row.url == map_server["url"] and row.as_of == TODAY
    assert "vertex_ai/veo-3.1-lite-generate-001" in row.source
    omni = studio.catalog.model("gemini-omni-1.2-flash").offer("gemini")
    assert omni.replacement == "gemini-omni-1.3-flash"
    new = studio.catalog.model("gemini-omni-1.3-flash").offer("gemini")
    assert new.token_price().usd_per_video_token == 1e-05
    assert {"sizes", "seconds"} <= set(new.unconfirmed)  # limits copied from 1.2, not claimed
    assert stale_notice(studio.catalog, TODAY + dt.timedelta(days=30)) is None
    assert "last refreshed on" in stale_notice(studio.catalog, TODAY + dt.timedelta(days=31))
    studio.close()


def test_studio_update_catalog_switches_the_studio(map_server, tmp_path):
    studio = Studio(emulate=True, ledger=tmp_path / "a.db")
    try:
        assert studio.estimate("a fox", models="veo-3.1-lite@vertex", seconds=4).total == pytest.approx(0.2)
        hits = map_server["hits"]
        map_server["map"] = changed_map()
        df = studio.update_catalog(map_server["url"], listings=False)
        assert map_server["hits"] == hits + 1
        applied = df[df.applied]
        assert set(applied.fact) >= {"prices", "served_until", "model", "replacement"}
        assert set(applied.url) == {map_server["url"]} and set(applied.fetched) == {TODAY}
        assert studio.estimate("a fox", models="veo-3.1-lite@vertex", seconds=4).total == pytest.approx(0.16)
        assert "gemini-omni-1.3-flash" in studio.catalog.models
        job = studio.generate("a fox", model="gemini-omni-1.3-flash", provider="gemini", seconds=4, progress=False)
        assert job.row["provider_model"] == "gemini-omni-1.3-flash"
    finally:
        studio.close()


def test_nothing_is_fetched_without_asking(map_server, monkeypatch, tmp_path):
    monkeypatch.setenv("SORAKIT_PRICE_MAP_URL", map_server["url"])
    code = ("import sorakit, sorakit.catalog, sorakit.catalog._refresh; "
            "sorakit.load_catalog(); print(sorakit.load_catalog().default_model)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[2])] + sys.path))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    studio = Studio(emulate=True, ledger=tmp_path / "a.db")
    studio.estimate("a fox", models="veo-3.1-lite@vertex")
    assert main(["models"]) == 0
    studio.close()
    assert map_server["hits"] == 0
    assert main(["models", "--update", "--no-listings"]) == 0  # the env names the source
    assert map_server["hits"] == 1


def test_check_reports_price_and_lifecycle_drift(map_server, capsys):
    assert main(["models", "--check", "--source", map_server["url"]]) == 0
    out = capsys.readouterr().out
    assert "0 price(s) and 0 lifecycle date(s) differ" in out
    map_server["map"] = changed_map()
    assert main(["models", "--check", "--source", map_server["url"]]) == 1
    out = capsys.readouterr().out
    assert "1 price(s) and 2 lifecycle date(s) differ" in out
    drift = [l for l in out.splitlines() if l.startswith("vertex") and "veo-3.1-lite-generate-001" in l]
    assert any("prices" in l and "$0.07/s 1080p; $0.04/s" in l for l in drift)
    assert any("served_until" in l and f"deprecated, shuts down {FAR}" in l for l in drift)
    assert not refreshed_overlay_path().exists()  # --check writes nothing


def test_an_unreadable_source_is_a_clear_error(map_server, capsys, tmp_path):
    bad = map_server["url"].replace("model_prices", "missing")
    assert main(["models", "--update", "--no-listings", "--source", bad]) == 2
    assert f"the price map at {bad} answered HTTP 404" in capsys.readouterr().err
    junk = tmp_path / "junk.json"
    junk.write_text('{"a": 1}')
    assert main(["models", "--update", "--no-listings", "--source", str(junk)]) == 2
    assert "is not in LiteLLM's format" in capsys.readouterr().err
    assert not refreshed_overlay_path().exists()


def test_the_refreshed_overlay_is_under_the_users_own(map_server, tmp_path, monkeypatch):
    map_server["map"] = changed_map()
    assert main(["models", "--update", "--no-listings", "--source", map_server["url"]]) == 0
    team = tmp_path / "team.toml"
    team.write_text('[models."veo-3.1-lite"]\n[[models."veo-3.1-lite".offers]]\nprovider = "vertex"\n'
                    'prices = [{ usd_per_second = 0.03, as_of = 2026-12-06, source = "our contract" }]\n')
    monkeypatch.setenv("SORAKIT_CATALOG", str(team))
    cat = load_catalog()
    assert cat.refreshed == TODAY
    assert cat.model("veo-3.1-lite").offer("vertex").price(1280, 720, True).usd_per_second == 0.03
    assert cat.model("veo-3.1-lite").offer("vertex").served_until == dt.date.fromisoformat(FAR)


def test_mapping_keeps_listed_differences_and_skips_what_sorakit_cannot_call():
    cat = load_catalog(overlays=())
    changes, _ = litellm_changes(PINNED, cat, fetched=dt.date(2026, 12, 6), url="pinned")
    kept = {(c.provider_model, c.provider, c.fact) for c in changes if not c.applied}
    assert ("veo-3.1-generate-001", "vertex", "served_until") in kept
    assert ("veo-3.1-generate-001", "gemini", "offer") in kept
    assert not [c for c in changes if c.applied]
    assert not [c for c in changes if c.provider == "vertex" and c.provider_model.startswith("gemini-omni")]
