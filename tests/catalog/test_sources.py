"""The catalog's facts against their sources: the runware-sdk schemas, field-level provenance, overlays."""

import datetime as dt
import typing

import pytest

from sorakit.catalog import CatalogError, load_catalog, resolution_tier, parse_size, stale_notice
from sorakit.catalog._catalog import OFFER_FACTS
from support.catalog import WAN_OVERLAY

CAT = load_catalog(overlays=())
task_map = pytest.importorskip("runware.types.task_map", reason="runware-sdk (test extra) reads the pinned schemas")


def _schemas() -> dict[str, dict]:
    """AIR id -> annotations of its ``videoInference`` params TypedDict, from the installed package."""
    out = {}
    for obj in vars(task_map).values():
        if not (isinstance(obj, type) and obj.__name__.endswith("Params") and "model" in getattr(obj, "__annotations__", {})):
            continue
        hints = typing.get_type_hints(obj, vars(task_map), include_extras=True)
        model_args = typing.get_args(hints["model"])
        task = typing.get_args(hints.get("taskType"))
        if len(model_args) == 1 and task == ("videoInference",):
            out[model_args[0]] = hints
    return out


SCHEMAS = _schemas()


def _literal(hint):
    """The values of a (NotRequired-wrapped) Literal, or None for any other type."""
    while typing.get_origin(hint) in (typing.NotRequired, typing.Required):
        hint = typing.get_args(hint)[0]
    return typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None


def test_the_pinned_schemas_are_the_ones_the_catalog_cites():
    assert task_map.SCHEMAS_VERSION == "20261012233936"
    assert "20261012233936" in CAT.sources["runware-sdk"].title


RUNWARE = [o for o in CAT.offers(provider="runware")]


@pytest.mark.parametrize("offer", [o for o in RUNWARE if o.id in SCHEMAS], ids=lambda o: o.id)
def test_runware_field_support_matches_the_schema(offer):
    hints = SCHEMAS[offer.id]
    assert ("seed" in hints) == ("seed" in offer.capabilities), "seed"
    assert ("negativePrompt" in hints) == ("negative-prompt" in offer.capabilities), "negativePrompt"
    durations = _literal(hints.get("duration"))
    if durations is not None:
        assert set(offer.seconds) == {float(d) for d in durations}, "duration"
    fps = _literal(hints.get("fps"))
    if fps is not None:
        assert offer.fps in fps, "fps"
    tiers = _literal(hints.get("resolution"))
    if tiers is not None:
        # MiniMax H3 names its tiers by their short side: 768p is a 720p-class size, 1440p a 4k-class one
        allowed = {{"768p": "720p", "1440p": "4k"}.get(t.lower(), t.lower()) for t in tiers}
        assert {resolution_tier(*parse_size(s)) for s in offer.sizes} <= allowed, "sizes"
    for fact in ("id", "capabilities"):
        assert fact in offer.unconfirmed or offer.source_of(fact), fact


@pytest.mark.parametrize("offer", [o for o in RUNWARE if o.id not in SCHEMAS], ids=lambda o: o.id)
def test_runware_offers_missing_from_the_schemas_do_not_claim_them(offer):
    """openai:3@1/@2 (retired) and google:3@0/@1 are not in the pinned schemas: their field support
    cannot be derived, so it must be flagged unconfirmed and never cited to the SDK."""
    assert "capabilities" in offer.unconfirmed
    assert all(s.key != "runware-sdk" for f in OFFER_FACTS for s in offer.source_of(f))


def test_every_shipped_fact_has_a_dated_source_or_is_unconfirmed():
    for o in CAT.offers():
        for fact in OFFER_FACTS:
            if fact == "prices":
                assert all(r.source and isinstance(r.as_of, dt.date) for r in o.prices)
                continue
            if getattr(o, fact) in (None, ()):
                continue
            srcs = o.source_of(fact)
            assert srcs or fact in o.unconfirmed, (o.model, o.provider, fact)
            assert all(isinstance(s.as_of, dt.date) and s.title for s in srcs)
    facts = CAT.facts
    assert {"model", "provider", "fact", "value", "source", "as_of", "unconfirmed"} <= set(facts.columns)


def test_google_developer_api_veo_is_shut_down_with_dates_and_replacement():
    for model, day in (("veo-3", dt.date(2026, 6, 30)), ("veo-3-fast", dt.date(2026, 6, 30)),
                       ("veo-3.1", dt.date(2026, 10, 22)), ("veo-3.1-fast", dt.date(2026, 10, 22))):
        o = CAT.model(model).offer("gemini")
        assert o.served_until == day and o.replacement == "gemini-omni-1.2-flash"
        assert {s.key for s in o.source_of("served_until")} & {"gemini-deprecations"}
    assert "shut down 2026-10-22" in CAT.shutdown_text("veo-3.1", "gemini")
    assert "gemini-omni-1.2-flash (at gemini)" in CAT.shutdown_text("veo-3.1", "gemini")
    assert CAT.model("veo-3.1").offer("vertex").id == "veo-3.1-generate-001"
    assert CAT.model("gemini-omni-flash").offer("runware").id == "google:gemini@omni-flash-1.1"
    assert CAT.providers["runcrate"].base_url == "https://api.runcrate.ai/v1"


def test_a_shipped_fact_without_source_is_refused(tmp_path, monkeypatch):
    from sorakit.catalog import _catalog

    text = (_catalog.resources.files("sorakit.catalog").joinpath("models.toml").read_text("utf-8")
            .replace('sources = { id = "runware-sdk", fps = "runware-sdk", capabilities = "runware-sdk", '
                     'seconds = "runcrate-video-docs" }', ''))
    with pytest.raises(CatalogError, match=r'models\."hailuo-02"\.offers\[runware\]\] field \'id\': has no source'):
        _catalog._parse(_catalog.tomllib.loads(text), "models.toml")


def test_stale_notice_uses_the_given_day():
    assert stale_notice(CAT, CAT.as_of + dt.timedelta(days=30)) is None
    text = stale_notice(CAT, CAT.as_of + dt.timedelta(days=31))
    assert "31 days ago" in text and "sorakit models --update" in text and "\n" not in text


# ------------------------------------------------------------------ overlays
def write(tmp_path, text, name="team.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_overlay_adds_a_model_corrects_a_price_and_marks_a_shutdown(tmp_path):
    path = write(tmp_path, """
as_of = 2026-12-01

[models."kling-3-standard"]
[[models."kling-3-standard".offers]]
provider = "runware"
prices = [{ usd_per_second = 0.09, as_of = 2026-12-01, source = "our invoice 2026-11" }]

[models."veo-3.1"]
[[models."veo-3.1".offers]]
provider = "runware"
served_until = 2026-12-01
replacement = "gemini-omni-flash"

""" + WAN_OVERLAY)
    cat = load_catalog(overlays=[path])
    kling = cat.model("kling-3-standard").offer("runware")
    assert kling.price(1280, 720, False).usd_per_second == 0.09
    assert kling.sizes == CAT.model("kling-3-standard").offer("runware").sizes  # the rest stays shipped
    veo = cat.model("veo-3.1").offer("runware")
    assert veo.served_until == dt.date(2026, 12, 1)
    assert veo.source_of("served_until")[0].title == f"user overlay {path.resolve()}"
    assert cat.model("wan-2.5").offer("runware").seconds == (5.0, 10.0)
    assert cat.as_of == CAT.as_of  # the staleness notice reads the shipped date


def test_overlay_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, '[models."hailuo-02"]\ntitle = "Hailuo 02 (ours)"\n')
    monkeypatch.setenv("SORAKIT_CATALOG", str(path))
    assert load_catalog().model("hailuo-02").title == "Hailuo 02 (ours)"
    monkeypatch.delenv("SORAKIT_CATALOG")
    assert load_catalog().model("hailuo-02").title == "Hailuo 02"


@pytest.mark.parametrize("body,table,field", [
    ('[[models."veo-3.1".offers]]\nprovider = "runware"\nseconds = [4, "six"]\n',
     'models."veo-3.1".offers[runware]', "seconds"),
    ('[[models."veo-3.1".offers]]\nprovider = "runware"\nprices = [{ usd_per_second = 0, as_of = 2026-12-01, source = "x" }]\n',
     'models."veo-3.1".offers[runware]', "prices[0].usd_per_second"),
    ('[[models."veo-3.1".offers]]\nprovider = "runwar"\nid = "x"\nsizes = ["1280x720"]\nseconds = [4]\n',
     'models."veo-3.1".offers[runwar]', "provider"),
    ('[[models."veo-3.1".offers]]\nprovider = "runware"\nsecconds = [4]\n',
     'models."veo-3.1".offers[runware]', "secconds"),
    ('[models."veo-3.1"]\nstatus = "gone"\n', 'models."veo-3.1"', "status"),
    ('[[models."gemini-omni-flash".offers]]\nprovider = "gemini"\nprices = [{ usd_per_video_token = 1.2e-05, video_tokens_per_second = 0, as_of = 2026-12-01, source = "x" }]\n',
     'models."gemini-omni-flash".offers[gemini]', "prices[0].video_tokens_per_second"),
    ('[[models."gemini-omni-flash".offers]]\nprovider = "gemini"\nprices = [{ usd_per_video_token = -1, as_of = 2026-12-01, source = "x" }]\n',
     'models."gemini-omni-flash".offers[gemini]', "prices[0].usd_per_video_token"),
    ('[[models."gemini-omni-flash".offers]]\nprovider = "gemini"\nprices = [{ usd_per_video_token = 1.2e-05, video_tokens_per_second = 5792, usd_per_second = 0.1, as_of = 2026-12-01, source = "x" }]\n',
     'models."gemini-omni-flash".offers[gemini]', "prices[0].usd_per_second"),
    ('[[models."gemini-omni-flash".offers]]\nprovider = "gemini"\nprices = [{ usd_per_token = 1.2e-05, as_of = 2026-12-01, source = "x" }]\n',
     'models."gemini-omni-flash".offers[gemini]', "prices[0].usd_per_token"),
    ('[[models."veo-3.1".offers]]\nprovider = "runware"\nreplacement = "veo-9"\n',
     'models."veo-3.1".offers[runware]', "replacement"),
])
def test_overlay_errors_name_file_table_and_field(tmp_path, body, table, field):
    path = write(tmp_path, body)
    with pytest.raises(CatalogError) as info:
        load_catalog(overlays=[path])
    e = info.value
    assert (e.file, e.table, e.field) == (str(path.resolve()), table, field)
    assert str(path.resolve()) in str(e) and table in str(e) and repr(field) in str(e)


def test_overlay_that_is_not_toml(tmp_path):
    path = write(tmp_path, "[models\n")
    with pytest.raises(CatalogError, match="is not valid TOML"):
        load_catalog(overlays=[path])


def test_the_readme_overlay_example_works(tmp_path):
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    example = re.search(r"```toml\n# team-catalog.toml\n(.*?)```", readme, re.S).group(1)
    cat = load_catalog(overlays=[write(tmp_path, example, "team-catalog.toml")])
    assert cat.model("kling-3-standard").offer("runware").price(1280, 720, True).usd_per_second == 0.09
    assert cat.model("veo-3").offer("runware").served_until == dt.date(2026, 12, 31)
    assert cat.model("wan-2.5").offer("runware").price(1280, 720, False).source == "Runware model page"


def test_a_per_token_price_rule_estimates_per_second_and_is_marked(tmp_path):
    """``usd_per_video_token`` × ``video_tokens_per_second`` (Gemini Omni bills output video tokens):
    the rule's per-second rate is the product, and the estimate says it is estimated."""
    from sorakit import VideoRequest
    from sorakit.catalog import estimate, plan

    path = write(tmp_path, """
[[models."gemini-omni-1.2-flash".offers]]
provider = "gemini"
prices = [{ usd_per_video_token = 1.75e-05, video_tokens_per_second = 5792, resolution = "720p", as_of = 2026-12-06, source = "a per-token rate" }]
""")
    cat = load_catalog(overlays=[path])
    rule = cat.model("gemini-omni-1.2-flash").offer("gemini").price(1280, 720, True)
    assert rule.per_token and rule.usd_per_video_token == 1.75e-05 and rule.video_tokens_per_second == 5792
    assert rule.usd_per_second == pytest.approx(5792 * 1.75e-05)
    assert rule.describe() == "$1.75e-05/video token (~$0.1014/s at 5792 tokens/s) 720p"
    p = plan(VideoRequest("a fox", model="gemini-omni-1.2-flash@gemini", seconds=6), cat)
    assert p.estimated_cost == pytest.approx(6 * 5792 * 1.75e-05)
    est = estimate(p)
    assert est.lines[0].per_token and est.lines[0].rate_text == "~$0.1014/s"
    assert "estimated from tokens per second" in est.summary() and "~$0.61" in str(est)
    assert "video token" in cat.df.set_index(["model", "provider"]).loc[("gemini-omni-1.2-flash", "gemini"), "price"]


def test_an_open_offer_borrows_the_closest_catalogued_defaults_and_knows_no_price():
    o = CAT.open_offer("gemini", "gemini-omni-9.9-flash")
    omni = {(x.default_size, x.default_seconds, x.fps) for x in CAT.offers(provider="gemini") if x.id.startswith("gemini-")}
    assert (o.model, o.id, o.provider, o.catalogued) == ("gemini-omni-9.9-flash",) * 2 + ("gemini", False)
    assert (o.default_size, o.default_seconds, o.fps) in omni  # an Omni offer's, not a Veo one's
    assert o.prices == () and o.price(1280, 720, True) is None and set(o.unconfirmed) >= {"prices", "sizes"}
    bare = CAT.open_offer("relay", "acme-video-9")
    assert bare.catalogued is False and bare.max_variations >= 1
    with pytest.raises(KeyError):
        CAT.open_offer("fal", "x")


def test_a_per_token_rule_without_tokens_per_second_bills_but_does_not_estimate(tmp_path):
    """LiteLLM-style data gives the per-token rate alone: the estimate is unknown (never 0), the
    rule still prices the reported tokens."""
    from sorakit import VideoRequest
    from sorakit.catalog import estimate, plan

    path = write(tmp_path, """
[[models."gemini-omni-1.2-flash".offers]]
provider = "gemini"
prices = [{ usd_per_video_token = 1.2e-05, as_of = 2026-12-06, source = "a per-token rate" }]
""")
    cat = load_catalog(overlays=[path])
    p = plan(VideoRequest("a fox", model="gemini-omni-1.2-flash@gemini", seconds=6), cat)
    assert p.price.per_token and p.price.usd_per_video_token == 1.2e-05 and p.price.usd_per_second is None
    assert p.estimated_cost is None and p.rate is None
    line = estimate(p).lines[0]
    assert line.rate_text == "unknown (per token)" and estimate(p).unknown == 1
    assert p.price.describe() == "$1.2e-05/video token (per second: unknown)"
