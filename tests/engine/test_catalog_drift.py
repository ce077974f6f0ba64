"""Drift detection end to end: `sorakit models --check` and `studio.check_catalog()` against the
emulator, which lists models from its own catalog and leaves out what it was told is shut down.
Also the staleness notice (on an injected date) and the user overlay in a Studio."""

from __future__ import annotations

import datetime as dt

import pytest

from sorakit.catalog import load_catalog
from sorakit.cli import main
from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer
from sorakit.engine import _studio
from support.catalog import WAN_OVERLAY



@pytest.fixture
def drifted_server(tmp_path, emulator_media_dir):
    """An emulator server whose provider serves one model more than sorakit's catalog knows
    (its catalog has an overlay) and was told kling-3-standard is gone at runware."""
    overlay = tmp_path / "provider-side.toml"
    overlay.write_text(WAN_OVERLAY)
    emu = Emulator(EmulatorConfig(time_scale=0.01, seed=5), media_dir=emulator_media_dir,
                   catalog=load_catalog(overlays=[overlay]))
    emu.shut_down("kling-3-standard", "runware")
    with EmulatorServer(emu, host="127.0.0.1", port=0) as server:
        yield server
    emu.close()


def test_models_check_against_the_emulator_reports_gone_and_new(drifted_server, capsys, monkeypatch):
    monkeypatch.delenv("SORAKIT_CATALOG", raising=False)
    status = main(["models", "--check", "--emulator", drifted_server.base_url])
    out = capsys.readouterr().out
    assert status == 1
    lines = out.splitlines()
    findings = {(l.split()[0], l.split()[2]): l for l in lines[2:-1]}
    gone = [l for l in lines[2:-1] if l.split()[2] == "gone"]
    assert len(gone) == 1 and gone[0].startswith("runware") and "klingai:kling-video@3-standard" in gone[0]
    new = [l for l in lines[2:-1] if l.split()[2] == "new"]
    assert len(new) == 1 and new[0].startswith("runware") and "alibaba:wan@2.5" in new[0]
    assert lines[2] == gone[0]  # the drift comes first
    assert "lists 0 model(s)" in findings[("openai", "ok")]  # Sora is shut down: OpenAI lists no video model
    assert "1 gone, 1 new, 0 still listed" in lines[-1]
    # the Developer-API Veo models the catalog marks shut down are not listed: no drift there
    assert not [l for l in lines if "veo-3.1-generate-preview" in l]
    # providers the emulator has no listing for say why
    assert any(l.startswith("relay") and "no model listing" in l for l in lines)
    assert any(l.startswith("vertex") and "not_checked" in l for l in lines)


def test_studio_check_catalog_is_a_dataframe(make_studio, emulator):
    studio = make_studio()
    clean = studio.check_catalog()
    assert set(clean["finding"]) == {"ok", "not_checked"}
    emulator.shut_down("gemini-omni-flash", "runware")
    emulator.shut_down("sora-2", "openai")  # already shut down in the catalog: listed or not, no drift
    df = studio.check_catalog()
    assert list(df.columns) == ["provider", "checked", "finding", "model", "provider_model", "detail"]
    gone = df[df.finding == "gone"]
    assert gone[["provider", "model", "provider_model"]].values.tolist() == [
        ["runware", "gemini-omni-flash", "google:gemini@omni-flash-1.1"]]
    assert (df[df.finding == "ok"].checked == "emulator").all()
    assert df.iloc[0].finding == "gone"  # most important first


def test_without_keys_it_says_what_it_could_not_check(make_studio, monkeypatch, emulator):
    for var in ("OPENAI_API_KEY", "RUNWARE_API_KEY", "RUNCRATE_API_KEY", "RELAY_API_KEY",
                "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_CLOUD_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    studio = make_studio(emulate=None)
    df = studio.check_catalog()
    assert (df.finding == "not_checked").all() and len(df) == len(studio.catalog.providers)
    runware = df[df.provider == "runware"].iloc[0]
    assert runware.detail == "no API key: set RUNWARE_API_KEY to check it"
    assert df[df.provider == "vertex"].iloc[0].detail == "no API key: set GOOGLE_CLOUD_API_KEY to check it"
    assert emulator.counters.total("requests") == 0


def test_live_provider_with_a_key_is_asked_and_errors_are_reported(make_studio, emulator_server):
    # a "live" runware pointed at the emulator's URL with a key: checked as live, its findings real
    studio = make_studio(emulate={"openai"}, keys={"runware": "test-key-runware"},
                         base_urls={"runware": emulator_server.url("runware")})
    df = studio.check_catalog()
    rw = df[df.provider == "runware"]
    assert set(rw.checked) == {"live"} and "ok" in set(rw.finding)
    assert set(df[df.provider == "runcrate"].finding) == {"not_checked"}


def test_stale_catalog_notice_once_per_studio(make_studio, monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SORAKIT_QUIET")
    as_of = load_catalog(overlays=()).as_of
    monkeypatch.setattr(_studio, "_today", lambda: as_of + dt.timedelta(days=30))
    make_studio(ledger=tmp_path / "a.db")
    assert "catalog" not in capsys.readouterr().out
    monkeypatch.setattr(_studio, "_today", lambda: as_of + dt.timedelta(days=45))
    studio = make_studio(ledger=tmp_path / "b.db")
    notices = [l for l in capsys.readouterr().out.splitlines() if "catalog" in l]
    assert notices == [f"sorakit: the model catalog was last checked on {as_of} (45 days ago); models and "
                       "prices may have changed — run `sorakit models --update` (or studio.update_catalog()) "
                       "to refresh it from LiteLLM's price map and the providers' listings"]
    studio.generate("a heron", model="kling-3-standard", progress=False)
    assert "catalog" not in capsys.readouterr().out  # once per Studio, at its start


def test_studio_with_an_overlay_file(make_studio, tmp_path):
    overlay = tmp_path / "team.toml"
    overlay.write_text("""
[models."kling-3-standard"]
[[models."kling-3-standard".offers]]
provider = "runware"
prices = [{ usd_per_second = 0.09, as_of = 2026-12-01, source = "our invoice" }]
""")
    studio = make_studio(catalog=overlay)
    est = studio.estimate("a heron", models="kling-3-standard")
    assert est.total == pytest.approx(0.09 * 5)


def test_models_lists_the_catalog(capsys, monkeypatch):
    monkeypatch.delenv("SORAKIT_CATALOG", raising=False)
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split() == ["model", "provider", "id", "status", "sizes", "seconds", "price", "as_of"]
    omni = [l for l in out if l.startswith("gemini-omni-flash")]
    assert omni and "google:gemini@omni-flash-1.1" in omni[0]
    assert not [l for l in out if "veo-3.0-generate-001" in l]  # shut down: only with --all
    main(["models", "--all"])
    assert [l for l in capsys.readouterr().out.splitlines() if "veo-3.0-generate-001" in l and "shut down 2026-06-30" in l]


def test_update_catalog_applies_what_a_live_listing_says(make_studio, drifted_server, monkeypatch, tmp_path):
    """`studio.update_catalog()` with a key set: the provider's listing (here the drifted emulator,
    asked as if live) no longer names kling-3-standard and names a Wan model the catalog lacks."""
    from pathlib import Path

    monkeypatch.setenv("SORAKIT_CACHE", str(tmp_path / "cache"))
    fixture = Path(__file__).parents[1] / "fixtures" / "litellm_video_prices.json"
    studio = make_studio(emulate={"openai"}, keys={"runware": "test-key-runware"},
                         base_urls={"runware": drifted_server.url("runware")})
    today = dt.datetime.now(dt.timezone.utc).date()
    assert studio.catalog.model("kling-3-standard").offer("runware").serves_on(today)
    df = studio.update_catalog(str(fixture))
    rows = df[df.provider == "runware"]
    gone = rows[rows.fact == "served_until"].iloc[0]
    assert gone.model == "kling-3-standard" and gone.applied and gone.new == f"shut down {today} (no longer listed)"
    assert gone.source == "Runware model listing" and gone.fetched == today
    assert not studio.catalog.model("kling-3-standard").offer("runware").serves_on(today)
    new = rows[rows.provider_model == "alibaba:wan@2.5"].iloc[0]
    assert new.fact == "model" and new.applied  # limits copied from the Wan model beside it, unconfirmed
    wan = studio.catalog.model("alibaba:wan@2.5").offer("runware")
    assert "sizes" in wan.unconfirmed and wan.prices == ()
