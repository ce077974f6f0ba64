"""One exception tree: every public exception sorakit defines is a SorakitError, exported from
`sorakit`, and drawn in `sorakit._exceptions`' docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import sorakit
from sorakit import _exceptions

# The emulator's injected network faults stand in for the OS's ConnectionResetError on purpose.
SIMULATED_OS_ERRORS = {"EmulatedReset"}


def _public_exceptions() -> dict[str, type]:
    found: dict[str, type] = {}
    for mod in pkgutil.walk_packages(sorakit.__path__, "sorakit."):
        module = importlib.import_module(mod.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__.startswith("sorakit")
                    and not name.startswith("_") and name not in SIMULATED_OS_ERRORS):
                found[name] = obj
    return found


def test_every_public_exception_is_in_the_one_tree():
    found = _public_exceptions()
    assert {"LedgerError", "JobNotFound", "IncompleteDownload", "CatalogError", "ModelUnavailable",
            "ValidationError", "BudgetExceeded"} <= set(found)
    tree = _exceptions.__doc__.split("```")[1]
    for name, cls in found.items():
        assert issubclass(cls, sorakit.SorakitError), name
        assert getattr(sorakit, name) is cls, f"sorakit.{name} is not exported"
        assert name in sorakit.__all__, name
        assert f"── {name} " in tree or tree.startswith(f"\n{name}\n"), f"{name} is not drawn in sorakit._exceptions' tree"


def test_the_tree_is_drawn_as_the_classes_are_built():
    """Each drawn class sits under its real parent (indentation in the drawing = inheritance)."""
    lines = [l for l in _exceptions.__doc__.split("```")[1].splitlines() if "── " in l]
    stack: list[tuple[int, type]] = [(-1, sorakit.SorakitError)]
    for line in lines:
        depth = line.index("── ")
        cls = getattr(sorakit, line[depth + 3:].split()[0])
        while stack[-1][0] >= depth:
            stack.pop()
        assert cls.__bases__[0] is stack[-1][1], (cls, stack[-1][1])
        stack.append((depth, cls))


def test_the_old_homes_still_work():
    from sorakit.catalog import CatalogError
    from sorakit.ledger import JobNotFound, LedgerError
    from sorakit.media import IncompleteDownload

    assert (CatalogError, JobNotFound, LedgerError, IncompleteDownload) == (
        sorakit.CatalogError, sorakit.JobNotFound, sorakit.LedgerError, sorakit.IncompleteDownload)
    assert issubclass(sorakit.JobNotFound, KeyError) and issubclass(sorakit.CatalogError, ValueError)
