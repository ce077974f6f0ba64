"""``pip wheel .`` builds a pure-Python wheel: sorakit installs wherever pandas does, no compiler.

The wheel is built offline from this checkout (``--no-build-isolation``: the setuptools of the test
environment, no download), into a temporary folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPILED = (".c", ".h", ".so", ".pyd", ".dylib", ".dll")


@pytest.mark.slow
def test_pip_wheel_is_pure_python(tmp_path):
    source = tmp_path / "src"  # a copy: building never writes into the checkout (build/, egg-info)
    shutil.copytree(
        REPO, source,
        ignore=shutil.ignore_patterns(".venv", ".git", "out", "tests", "notebooks", "__pycache__", "*.egg-info", "*.db*"),
    )
    out = tmp_path / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = list(out.glob("sorakit-*.whl"))
    assert len(wheels) == 1, [p.name for p in out.iterdir()]
    assert wheels[0].name.endswith("-py3-none-any.whl"), wheels[0].name
    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        tag = next(n for n in names if n.endswith(".dist-info/WHEEL"))
        meta = wheel.read(tag).decode()
        metadata = wheel.read(tag.replace("/WHEEL", "/METADATA")).decode()
    assert "Root-Is-Purelib: true" in meta and "Tag: py3-none-any" in meta
    assert not [n for n in names if n.endswith(COMPILED)]
    assert "sorakit/ledger/_ledger.py" in names and "sorakit/catalog/" in "".join(names)
    # a plain `pip install sorakit` brings no notebook-only package and no HTTP server (Studio runs
    # the emulator in-process); `sorakit[lab]` and `sorakit[emulator]` do
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    core = {_name(r) for r in requires if "extra ==" not in r}
    lab = {_name(r) for r in requires if "extra == \"lab\"" in r}
    emulator = {_name(r) for r in requires if "extra == \"emulator\"" in r}
    assert {"pandas", "sqlalchemy", "httpx", "pyarrow", "starlette"} <= core
    assert not core & {"matplotlib", "jupyterlab", "notebook", "nbconvert", "nbclient", "ipykernel", "psycopg"}
    assert not core & {"uvicorn", "websockets"}, core
    assert "matplotlib" in lab
    assert {"uvicorn", "websockets"} <= emulator


def _name(requirement: str) -> str:
    import re

    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
