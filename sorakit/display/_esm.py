"""The anywidgets' ES modules and style sheets, assembled from the readable sources in this folder.

One module, in parts, concatenated as whole files (nothing in JavaScript is parsed here):

- ``stage.js``: what every view shares: ``VIEWS`` (kind -> render function), the element helper,
  the transport probe (binary buffers or base64 chunks) and the stage that streams a video.
- ``player.js``: the lone player (kind ``"player"``) and the tile grid (``"grid"``: Gallery,
  CompareGrid).
- ``card.js``: job cards (``"card"``: JobCard, JobCards; the form lists its jobs with them).
- ``form.js``: the request form (``"form"``: RequestForm), after ``card.js``.
- ``browser.js``: the ledger browser (``"browser"``: LedgerBrowser; its grid library, DataTables
  from the itables wheel, is fetched from the kernel by the view, not shipped in the module).
- ``arena.js``: the blind arena (``"arena"``: Arena), after ``player.js`` whose grid it draws.
- ``main.js``: ``render({model, el})``, which calls ``VIEWS[model.get("_kind")]``, and the export.

A widget class ships the parts it renders (``MODULES``): a player or a grid carries neither the
form's code nor a card's, a card not the form's. Every model saves a copy of its module in a
notebook's widget state (a card per job means a card model per job), so what ships is compacted line by line: blank lines, lines that are only a
``//`` comment, indentation, and a trailing ``// comment`` after code that has no quote, backtick or
slash are dropped. That is safe because no string, template literal or ``/* */`` comment in the
sources spans lines (``tests/display/test_esm.py`` checks it, and that each module parses with
node when node is installed). The style sheets have their newlines and indentation dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

__all__ = ["MODULES", "SHEETS", "esm", "css", "source"]

MODULES: dict[str, tuple[str, ...]] = {
    "player": ("stage.js", "player.js", "main.js"),
    "card": ("stage.js", "card.js", "main.js"),
    "form": ("stage.js", "card.js", "form.js", "main.js"),
    "browser": ("stage.js", "browser.js", "main.js"),
    "arena": ("stage.js", "player.js", "arena.js", "main.js"),
}
"""Module name -> its parts in order. ``"player"`` serves the kinds ``player`` and ``grid``."""

SHEETS: dict[str, tuple[str, ...]] = {
    "player": ("player.css",),
    "card": ("player.css", "card.css"),
    "form": ("player.css", "card.css", "form.css"),
    "browser": ("player.css", "browser.css"),
    "arena": ("player.css", "arena.css"),
}


def source(name: str) -> str:
    """A file of this folder as written."""
    return resources.files("sorakit.display").joinpath(name).read_text("utf-8")


def _without_comment(line: str) -> str:
    """``line`` without a trailing ``// comment`` when nothing before the ``//`` could open a string,
    template or regex literal (no quote, backtick or slash): then the ``//`` surely starts a comment."""
    i = line.find("//")
    if i > 0 and not any(c in line[:i] for c in "\"'`/"):
        return line[:i].rstrip()
    return line


def _compact_js(text: str) -> str:
    lines = (_without_comment(ln.strip()) for ln in text.splitlines())
    return "\n".join(ln for ln in lines if ln and not ln.startswith("//"))


@lru_cache(maxsize=None)
def esm(name: str) -> str:
    """The ES module ``name`` ("player", "card" or "form") as shipped: its parts compacted, in order."""
    return "\n".join(_compact_js(source(part)) for part in MODULES[name]) + "\n"


@lru_cache(maxsize=None)
def css(name: str) -> str:
    return "".join(re.sub(r"\s*\n\s*", "", source(part)) for part in SHEETS[name])
