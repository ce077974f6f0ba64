"""Property: `plan` accepts exactly the requests the catalog allows.

The oracle below reads the catalog data directly, written as the rules are stated in the docs
(PROTOCOLS.md), independent of how `plan` is structured. Hypothesis draws requests that mix valid
and invalid values in every field; a request must be accepted iff the oracle says it is valid.
"""

import datetime as dt

from hypothesis import given, settings, strategies as st

from sorakit import ValidationError, VideoRequest
from sorakit.catalog import load_catalog, plan

CAT = load_catalog()
ALL_SIZES = sorted({s for o in CAT.offers() for s in o.sizes}) + ["1x1", "1280x721", "big"]
ALL_SECONDS = sorted({s for o in CAT.offers() for s in o.seconds})
DATES = [dt.date(2026, 9, 23), dt.date(2026, 9, 24), dt.date(2026, 11, 22)]


def open_oracle(r: VideoRequest) -> bool:
    """The open catalog: a model id the catalog lacks, named with a known provider, is sent with
    only what can be checked without the catalog (prompt length, size syntax, seconds > 0,
    variations up to what the provider's protocol carries, seed range)."""
    if r.provider not in CAT.providers:
        return False
    lo, hi = CAT.providers[r.provider].prompt_chars
    if not lo <= len(r.prompt.strip()) <= hi:
        return False
    if r.size is not None:
        w, x, h = str(r.size).partition("x")
        if not (x and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
            return False
    if r.seconds is not None:
        try:
            if not float(r.seconds) > 0:
                return False
        except (TypeError, ValueError):
            return False
    if not 1 <= r.variations <= max(o.max_variations for o in CAT.offers(provider=r.provider)):
        return False
    return r.seed is None or 0 <= r.seed < 2**32


def oracle(r: VideoRequest, emulated: bool, today: dt.date) -> bool:
    if r.model not in CAT.models:
        return r.provider is not None and open_oracle(r)
    model = CAT.models[r.model]
    if r.provider is None:
        offers = [o for o in model.offers if emulated or o.served_until is None or today < o.served_until]
        if not offers:
            return False
        offer = offers[0]
    else:
        offer = model.offer(r.provider)
        if offer is None:
            return False
        if not emulated and offer.served_until is not None and today >= offer.served_until:
            return False
    lo, hi = CAT.providers[offer.provider].prompt_chars
    if not lo <= len(r.prompt.strip()) <= hi:
        return False
    size = r.size if r.size is not None else offer.default_size
    if size not in offer.sizes:
        return False
    if r.seconds is None:
        seconds = offer.default_seconds
    else:
        try:
            seconds = float(r.seconds)
        except (TypeError, ValueError):
            return False
    if seconds not in offer.seconds:
        return False
    if not 1 <= r.variations <= offer.max_variations:
        return False
    if r.seed is not None and ("seed" not in offer.capabilities or not 0 <= r.seed < 2**32):
        return False
    if r.negative_prompt and r.negative_prompt.strip() and "negative-prompt" not in offer.capabilities:
        return False
    if r.audio is True and offer.audio == "never":
        return False
    if r.audio is False and offer.audio == "always":
        return False
    return True


OFFERS = CAT.offers()
VALID_SEEN: list = []


@st.composite
def requests(draw):
    """Mostly-valid requests built from a real offer, with a few fields perturbed at random."""
    offer = draw(st.sampled_from(OFFERS))
    lo, hi = CAT.providers[offer.provider].prompt_chars
    wild = draw(st.sets(st.sampled_from(["prompt", "model", "provider", "size", "seconds", "seed",
                                         "variations", "negative_prompt", "audio"]), max_size=2))

    def pick(name, good, bad):
        return draw(bad if name in wild else good)

    return VideoRequest(
        prompt=pick("prompt", st.integers(lo, min(hi, 300)).map(lambda n: "p" * n),
                    st.one_of(st.text(max_size=3), st.sampled_from(["p" * (hi + 1), "p" * hi, "p" * lo, " " * 5]))),
        model=pick("model", st.just(offer.model), st.sampled_from(sorted(CAT.models) + ["sora-3", "veo"])),
        provider=pick("provider", st.sampled_from([offer.provider, None]),
                      st.sampled_from([None, *sorted(CAT.providers), "fal"])),
        size=pick("size", st.one_of(st.none(), st.sampled_from(offer.sizes)), st.sampled_from(ALL_SIZES)),
        seconds=pick("seconds", st.one_of(st.none(), st.sampled_from(offer.seconds),
                                          st.sampled_from(offer.seconds).map(lambda s: f"{s:g}")),
                     st.sampled_from(ALL_SECONDS + [0, 3, 11, 7.5, "11", "x"])),
        seed=pick("seed", st.one_of(st.none(), st.integers(0, 2**32 - 1)) if "seed" in offer.capabilities else st.none(),
                  st.one_of(st.integers(-5, 2**32 + 5), st.just(2**32 - 1), st.just(0))),
        variations=pick("variations", st.integers(1, offer.max_variations), st.integers(0, 5)),
        negative_prompt=pick("negative_prompt",
                             st.sampled_from([None, "blur"] if "negative-prompt" in offer.capabilities else [None, ""]),
                             st.sampled_from([None, "", "blur", "  "])),
        audio=pick("audio", st.sampled_from([None] + {"always": [True], "never": [False], "optional": [True, False]}[offer.audio]),
                   st.one_of(st.none(), st.booleans())),
    )


@settings(max_examples=1500, deadline=None)
@given(r=requests(), emulated=st.booleans(), today=st.sampled_from(DATES))
def test_plan_accepts_exactly_the_valid_requests(r, emulated, today):
    expected = oracle(r, emulated, today)
    try:
        p = plan(r, emulated=emulated, today=today)
    except ValidationError as e:
        assert not expected, f"valid request refused: {e}"
        assert e.field in str(e)
        return
    assert expected, f"invalid request accepted: {r}"
    VALID_SEEN.append(1)
    if not p.catalogued:  # an id the catalog lacks: sent as asked, price unknown (never 0)
        assert p.model.name == r.model and p.estimated_cost is None
        return
    assert p.size in p.offer.sizes and p.seconds in p.offer.seconds
    # a per-token rule (Gemini Omni) without tokens per second is known but has no estimate
    assert (p.estimated_cost is None) == (p.price is None or p.price.usd_per_second is None)
    if p.estimated_cost is not None:
        assert p.estimated_cost > 0


def test_the_property_draws_enough_valid_requests():
    """Guard against a vacuous property: a good share of drawn requests must be valid."""
    assert len(VALID_SEEN) > 300, len(VALID_SEEN)
