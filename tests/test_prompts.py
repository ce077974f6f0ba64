"""Prompt variations from parts: every combination, traceable to the part that changed."""

import pytest

from sorakit import ValidationError
from sorakit.prompts import compose, prompt_grid


def test_compose_orders_parts_and_labels_the_rest():
    text = compose("a red fox", "trotting", "through fresh snow", style="35mm film",
                   camera="low tracking shot", lighting="golden hour.")
    assert text == ("A red fox trotting through fresh snow. Style: 35mm film. "
                    "Camera: low tracking shot. Lighting: golden hour.")


def test_compose_needs_a_subject():
    with pytest.raises(ValidationError) as e:
        compose("  ")
    assert e.value.field == "subject"


def test_grid_is_the_product_of_alternatives():
    grid = prompt_grid(subject="a red fox", action=["trotting", "leaping"],
                       camera=["low tracking shot", "aerial view", "close-up"])
    assert len(grid) == 6
    assert grid.prompt.is_unique
    assert set(grid.columns) == {"subject", "action", "camera", "prompt", "varies"}
    assert grid.varies.iloc[0] == "action, camera"
    row = grid[(grid.action == "leaping") & (grid.camera == "close-up")].iloc[0]
    assert row.prompt == "A red fox leaping. Camera: close-up."
