"""Build prompt variations from parts, the structure video-model prompting guides recommend.

A video prompt reads best as: subject, action, setting, then style, camera and lighting.
`prompt_grid` takes each part as one value or a list of alternatives and returns every
combination as a DataFrame (one column per part plus the composed ``prompt``), so a sweep is
traceable back to the part that changed.

>>> grid = prompt_grid(subject="a red fox", action=["trotting", "leaping"],
...                    setting="through fresh snow", camera=["low tracking shot", "aerial view"])
>>> len(grid), grid.prompt[0]
(4, 'A red fox trotting through fresh snow. Camera: low tracking shot.')
"""

from __future__ import annotations

import itertools
from typing import Iterable, Union

__all__ = ["PARTS", "compose", "prompt_grid"]

PARTS = ("subject", "action", "setting", "style", "camera", "lighting")
"""The parts in the order they are written."""

_LABELS = {"style": "Style", "camera": "Camera", "lighting": "Lighting"}

Part = Union[str, Iterable[str], None]


def compose(subject: str, action: str | None = None, setting: str | None = None,
            style: str | None = None, camera: str | None = None, lighting: str | None = None) -> str:
    """One prompt: ``"<Subject> <action> <setting>. Style: ... Camera: ... Lighting: ..."``."""
    if not subject or not str(subject).strip():
        from ._exceptions import ValidationError

        raise ValidationError("subject", subject, "a non-empty description of what the video shows")
    scene = " ".join(str(p).strip() for p in (subject, action, setting) if p and str(p).strip())
    scene = scene[0].upper() + scene[1:]
    sentences = [scene.rstrip(".") + "."]
    for name, value in (("style", style), ("camera", camera), ("lighting", lighting)):
        if value and str(value).strip():
            sentences.append(f"{_LABELS[name]}: {str(value).strip().rstrip('.')}.")
    return " ".join(sentences)


def _options(value: Part) -> list:
    if value is None:
        return [None]
    if isinstance(value, str):
        return [value]
    options = list(value)
    return options or [None]


def prompt_grid(subject: Part, action: Part = None, setting: Part = None, style: Part = None,
                camera: Part = None, lighting: Part = None):
    """Every combination of the given alternatives, as a DataFrame with a ``prompt`` column."""
    import pandas as pd

    parts = dict(subject=subject, action=action, setting=setting, style=style, camera=camera,
                 lighting=lighting)
    names = list(PARTS)
    rows = []
    for combo in itertools.product(*(_options(parts[n]) for n in names)):
        values = dict(zip(names, combo))
        rows.append({**values, "prompt": compose(**values)})
    df = pd.DataFrame(rows)
    varying = [n for n in names if df[n].nunique(dropna=False) > 1]
    df = df.drop(columns=[n for n in names if df[n].isna().all()])
    df["varies"] = ", ".join(varying)
    return df
