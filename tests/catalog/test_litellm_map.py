"""The shipped catalog against LiteLLM's price map, as the pinned `litellm` (test extra) ships it.

Every offer both describe must agree on its price rules and its shutdown date, unless the
difference is listed in ``[[differences]]`` of models.toml with its reason; and every listed
difference must still be one (a stale reason is removed, not kept). The map is read from the
package's file (``litellm/model_prices_and_context_window_backup.json``) without importing litellm,
whose import would fetch the map from the network.
"""

import datetime as dt
import json
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from conftest import require
from sorakit.catalog import load_catalog
from sorakit.catalog._refresh import PACKAGE_FILE, litellm_changes

PINNED = "1.110.2"
CAT = load_catalog(overlays=())


def _dist():
    try:
        return distribution("litellm")
    except PackageNotFoundError:
        return None


DIST = _dist()


@pytest.fixture(scope="module")
def litellm_map():
    require(DIST is not None, "the litellm package (test extra, litellm==%s) is not installed" % PINNED)
    return json.loads(Path(str(DIST.locate_file(PACKAGE_FILE))).read_text("utf-8"))


@pytest.fixture(scope="module")
def changes(litellm_map):
    found, _ = litellm_changes(litellm_map, CAT, fetched=CAT.as_of, url=f"litellm {DIST.version}")
    return found


def test_the_pinned_litellm_is_the_one_the_catalog_cites(litellm_map):
    assert DIST.version == PINNED
    assert f"litellm {PINNED}" in CAT.sources["litellm-map"].title


def test_prices_and_shutdown_dates_agree_with_litellm(changes):
    disagree = [f"{c.provider} {c.provider_model}: {c.fact} catalog {c.old!r}, LiteLLM {c.new!r} ({c.source})"
                for c in changes if c.applied and c.fact in ("prices", "served_until")]
    assert not disagree, "list the difference with its reason in [[differences]] of models.toml, or fix " \
                         "the catalog:\n" + "\n".join(disagree)


def test_every_listed_difference_is_still_one(litellm_map, changes):
    kept = {(c.source.split("entry ")[1].split(" ")[0], c.fact) for c in changes if not c.applied}
    for d in CAT.differences:
        assert d.source == "litellm" and d.key in litellm_map, d
        assert (d.key, d.fact) in kept, f"{d.key} {d.fact}: LiteLLM now agrees; remove the listed difference"


def test_the_shipped_omni_token_prices_are_litellms(litellm_map):
    for key, model in (("gemini/gemini-omni-1.2-flash", "gemini-omni-1.2-flash"),
                       ("gemini/gemini-omni-1.1-flash", "gemini-omni-1.1-flash"),
                       ("gemini/gemini-omni-flash-preview", "gemini-omni-flash")):
        offer = CAT.model(model).offer("gemini")
        assert offer.token_price().usd_per_video_token == litellm_map[key]["output_cost_per_video_token"]


def test_no_shut_down_id_is_live_on_a_fresh_clone():
    today = dt.datetime.now(dt.timezone.utc).date()
    live = {(o.provider, o.id) for o in CAT.offers(live_on=today)}
    for gone in (("gemini", "gemini-omni-flash-preview"), ("gemini", "gemini-omni-1.1-flash"),
                 ("gemini", "veo-3.1-generate-preview"), ("gemini", "veo-3.1-lite-generate-preview"),
                 ("openai", "sora-2")):
        assert gone not in live
    assert ("gemini", "gemini-omni-1.2-flash") in live
    assert CAT.model(CAT.default_model).offers and any(o.serves_on(today) for o in CAT.model(CAT.default_model).offers)


def test_check_from_the_package_finds_no_drift(litellm_map, monkeypatch, tmp_path, capsys):
    """`sorakit models --check --from-package`: the map inside the installed package, no network
    (no provider key is set, so no listing is asked either)."""
    from sorakit.cli import main

    monkeypatch.setenv("SORAKIT_CACHE", str(tmp_path))
    monkeypatch.delenv("SORAKIT_CATALOG", raising=False)
    for p in CAT.providers.values():
        for env in p.key_env:
            monkeypatch.delenv(env, raising=False)
    assert main(["models", "--check", "--from-package"]) == 0
    out = capsys.readouterr().out
    assert f"price and lifecycle drift against litellm {PINNED} package" in out
    assert "0 price(s) and 0 lifecycle date(s) differ" in out
