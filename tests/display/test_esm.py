"""The widgets' ES modules: assembled from readable parts, dispatched on ``_kind``, small, and valid.

``_esm`` concatenates whole source files and compacts them line by line; these tests check the
conditions that make that safe (no literal or block comment spans lines), that the result parses
(with node, when installed), that every widget's ``_kind`` has a view in the module it ships, and
the size budget (every model saves its module in a notebook's widget state; marimo's VS Code
extension inlines widget JavaScript as base64, marimo-team/marimo#8522).
"""

import re
import shutil
import subprocess

import pytest

from sorakit.display import _esm
from sorakit.display._anyform import RequestForm
from sorakit.display._card import JobCard, JobCards
from sorakit.display._grid import TileGrid
from sorakit.display._player import VideoPlayer

MAX_MODULE_BYTES = 24_000
"""Per shipped module (player 11.3 KB, card 14.8 KB, form 23.8 KB, browser 17.4 KB + 4.2 KB CSS, arena
12.9 KB on 2026-12-07: the form carries the cards' code for the jobs it lists; the browser's grid library,
DataTables from the itables wheel, 618.6 KB, is sent by the kernel to a view, not shipped)."""

PARTS = sorted({p for parts in _esm.MODULES.values() for p in parts})


@pytest.mark.parametrize("part", PARTS)
def test_sources_are_indented_and_no_literal_spans_lines(part):
    text = _esm.source(part)
    lines = text.splitlines()
    assert any(ln.startswith("  ") for ln in lines), f"{part} has no indentation"
    for n, ln in enumerate(lines, 1):
        code = re.sub(r"\\.", "", ln)  # escaped quotes do not open or close anything
        assert code.count("`") % 2 == 0, f"{part}:{n}: a template literal spans lines"
        code = re.sub(r'"[^"]*"|'"'[^']*'|`[^`]*`", "", code)  # what is left outside the literals
        assert "/*" not in code, f"{part}:{n}: write comments as // lines (the compaction is line based)"
    assert ("export default" in text) == (part == "main.js")  # one export, in the entry point


@pytest.mark.parametrize("name", sorted(_esm.MODULES))
def test_each_module_is_one_es_module_with_its_views(name):
    code = _esm.esm(name)
    assert code.count("export default") == 1 and code.rstrip().endswith("export default { render };")
    assert "\n//" not in code and not code.startswith("//") and "\n " not in code  # compacted
    assert len(code.encode()) <= MAX_MODULE_BYTES
    assert "model.get(\"_kind\")" in code


def test_every_widget_kind_has_a_view_in_the_module_it_ships():
    from sorakit.display._arena import Arena
    from sorakit.display._browser import LedgerBrowser

    for cls, kind in ((VideoPlayer, "player"), (TileGrid, "grid"), (JobCards, "card"), (JobCard, "card"),
                      (RequestForm, "form"), (LedgerBrowser, "browser"), (Arena, "arena")):
        trait = cls.class_traits()["_kind"]
        assert trait.default_value == kind and trait.metadata.get("sync")
        assert f"VIEWS.{kind} = " in cls.class_traits()["_esm"].default_value
    assert "renderForm" not in _esm.esm("player")  # a player does not carry the form's code
    assert "renderCards" not in _esm.esm("player")  # nor a card's
    assert "renderForm" not in _esm.esm("card")  # a card does not carry the form's code
    assert "renderArena" not in _esm.esm("player")  # the arena's buttons ship only with the arena
    assert "renderGrid" in _esm.esm("arena")  # it draws the pair with the grid's code, not a copy
    assert "makeCards" in _esm.esm("form")  # the form lists its jobs with the cards' code, not a copy


def test_dropping_a_trailing_comment_needs_a_line_without_quotes_or_slashes():
    assert _esm._without_comment("let a = 1; // one") == "let a = 1;"
    assert _esm._without_comment('s = "http://x"; // kept') == 's = "http://x"; // kept'
    assert _esm._without_comment("x = a / b; // kept") == "x = a / b; // kept"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("name", sorted(_esm.MODULES))
def test_each_shipped_module_parses(name, tmp_path):
    path = tmp_path / f"{name}.mjs"
    path.write_text(_esm.esm(name))
    out = subprocess.run(["node", "--check", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
