"""Bad input to a public call reads as one message, not a traceback through sorakit (issue 25 item 3).

A batch mixing a seed with a model that takes none used to show a 54-line IPython traceback
through ``_studio`` / ``_launch`` / ``catalog._plan``; the message itself was good.
"""

from __future__ import annotations

import traceback

import pytest

from sorakit import BudgetExceeded, ValidationError

MODELS = ["seedance-1-pro@runware", "kling-3-standard@runware"]


def sorakit_frames(exc: BaseException) -> list[str]:
    return [f.filename for f in traceback.extract_tb(exc.__traceback__) if "/sorakit/" in f.filename]


def test_a_batch_with_a_combination_that_cannot_run_raises_one_short_validation_error(studio):
    with pytest.raises(ValidationError) as err:
        studio.batch(["a fox", "a heron"], models=MODELS, seeds=[1, 2], wait=False)
    exc = err.value
    assert (exc.field, exc.value) == ("seed", 1)
    assert "kling-3-standard" in str(exc) and "skip_invalid=True" in str(exc)
    assert len(sorakit_frames(exc)) <= 1                 # only the public boundary, hidden from IPython
    assert exc.__cause__ is None and exc.__suppress_context__
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    assert "_launch.py" not in text and "_plan.py" not in text
    assert studio.ledger.df.empty                        # nothing written, nothing sent


def test_ipython_shows_the_users_line_and_the_message(studio):
    from IPython.core.ultratb import FormattedTB

    try:
        studio.batch(["a fox"], models=MODELS, seeds=[1], wait=False)
    except ValidationError as exc:
        err = exc
    kw = {"theme_name": "nocolor"} if "theme_name" in FormattedTB.__init__.__code__.co_varnames \
        else {"color_scheme": "NoColor"}
    text = FormattedTB(mode="Context", **kw).text(type(err), err, err.__traceback__)   # Jupyter's default
    assert "ValidationError" in text and "allowed: None (the provider picks)" in text
    assert "_launch" not in text and "_plan" not in text
    assert len(text.strip().splitlines()) < 20, text


def test_generate_estimate_and_budget_errors_are_short_too(make_studio):
    studio = make_studio(budget=0.01)
    for call in (lambda: studio.generate("x", model="kling-3-standard@runware", seed=3, wait=False),
                 lambda: studio.estimate(["x"], models=MODELS, seeds=[1]),
                 lambda: studio.submit("x", model="seedance-1-pro@runware", seconds=10)):
        with pytest.raises((ValidationError, BudgetExceeded)) as err:
            call()
        assert len(sorakit_frames(err.value)) <= 1, traceback.format_exception(err.value)


def test_skip_invalid_runs_the_rest_and_says_what_was_left_out(studio):
    batch = studio.batch(["a fox", "a heron"], models=MODELS, seeds=[1, 2], wait=False, skip_invalid=True)
    assert len(batch) == 4 and len(batch.rejected) == 4
    assert all(r.error.field == "seed" for r in batch.rejected)
