"""Drive a real JupyterLab in headless Debian Chromium: start a private server, open a notebook,
run it, look at it. Used by the browser tests and by ``make_screenshots.py``.

Nothing of the user's leaks in: Jupyter config, data, runtime, settings, workspaces and IPython
dirs are temporary. The server binds 127.0.0.1 on a free port with a random token; Chromium runs
with background networking off, so nothing leaves loopback.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
"""Screenshots and printed figures of the browser tests (gitignored)."""
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook(cells: list[str]) -> dict:
    """A minimal nbformat-4 notebook of code cells."""
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                     "language_info": {"name": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


class Lab:
    """A private JupyterLab server rooted at ``root``."""

    def __init__(self, root: Path, *, save_widget_state: bool = False, pythonpath: tuple[str, ...] = (),
                 theme: str = "JupyterLab Light"):
        self.theme = theme
        self.root = Path(root)
        self.home = self.root.parent / (self.root.name + "-jupyter")
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.save_widget_state = save_widget_state
        self.pythonpath = (str(REPO), *pythonpath)
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.home / "lab.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, ui: str = "lab", workspace: Optional[str] = None) -> str:
        """The notebook's address in JupyterLab (``ui="lab"``) or Notebook 7 (``ui="notebook"``).
        ``workspace``: a JupyterLab workspace of that name (a new name: no tab of an earlier page restored)."""
        prefix = "notebooks" if ui != "lab" else f"lab/workspaces/{workspace}/tree" if workspace else "lab/tree"
        return f"{self.base}/{prefix}/{path}?token={self.token}"

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "JPY_"))}
        for name in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
            (self.home / name).mkdir(parents=True, exist_ok=True)
        env.update(
            JUPYTER_CONFIG_DIR=str(self.home / "config"),
            JUPYTER_DATA_DIR=str(self.home / "data"),
            JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.home / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
            IPYTHONDIR=str(self.home / "ipython"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONPATH=os.pathsep.join([*self.pythonpath, env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            PYTHONUNBUFFERED="1",
            SORAKIT_CLIP_CHECKS="1",  # the pages show the clip checks as a user sees them (tests/conftest.py: 0)
        )
        settings = self.home / "settings"
        (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True, exist_ok=True)
        (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        (settings / "@jupyterlab" / "apputils-extension" / "themes.jupyterlab-settings").write_text(
            json.dumps({"theme": self.theme}))
        (settings / "@jupyter-widgets" / "jupyterlab-manager").mkdir(parents=True, exist_ok=True)
        (settings / "@jupyter-widgets" / "jupyterlab-manager" / "plugin.jupyterlab-settings").write_text(
            json.dumps({"saveState": self.save_widget_state}))
        return env

    def start(self, timeout: float = 60) -> "Lab":
        self.root.mkdir(parents=True, exist_ok=True)
        env = self._env()
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--IdentityProvider.token={self.token}",
             *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
             "--ServerApp.terminals_enabled=False",
             "--ServerApp.ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
             f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
             "--JupyterNotebookApp.expose_app_in_browser=True",
             "--ServerApp.open_browser=False", "--LabApp.extension_manager=readonly"],
            cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                req = urllib.request.Request(f"{self.base}/api/status",
                                             headers={"Authorization": f"token {self.token}"})
                with urllib.request.urlopen(req, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer /api/status in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:  # ask nicely (shuts kernels down), then end the process group we started
            req = urllib.request.Request(f"{self.base}/api/shutdown", method="POST",
                                         headers={"Authorization": f"token {self.token}"})
            urllib.request.urlopen(req, timeout=5).close()
            self.proc.wait(timeout=10)
        except Exception:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator["object"]:
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
            page = context.new_page()
            yield page
        finally:
            browser.close()


def needs_browser() -> None:
    """Skip (locally) or fail (CI=true) unless Chromium, Playwright and JupyterLab are installed."""
    import importlib.util

    from conftest import require

    require(shutil.which("chromium") is not None,
            "Debian chromium is not installed (apt-get install -y chromium)")
    require(importlib.util.find_spec("playwright") is not None, "playwright (python) is not installed")
    require(importlib.util.find_spec("jupyterlab") is not None, "jupyterlab is not installed")


_workspaces = itertools.count(1)


def open_and_run(page, lab: Lab, name: str, timeout_ms: int = 90_000, ui: str = "lab",
                 before_run: Optional[str] = None, cells: Optional[list[str]] = None) -> None:
    """Open a notebook, wait for its kernel, run every cell and wait until the kernel is idle.
    ``cells``: write the notebook ``name`` of these code cells into the Lab's root first.
    ``before_run``: a JavaScript function evaluated in the page once the kernel is up (a hook).
    JupyterLab opens it in a workspace of its own: one server serves many tests, and no tab of an
    earlier test's notebook is restored beside it."""
    if cells is not None:
        (lab.root / name).parent.mkdir(parents=True, exist_ok=True)
        (lab.root / name).write_text(json.dumps(notebook(cells)))
    page.goto(lab.url(name, ui, workspace=f"w{os.getpid()}-{next(_workspaces)}"))
    # the notebook asked for, not a tab the Lab restored from an earlier page of the same server
    page.wait_for_function("(name) => window.jupyterapp && window.jupyterapp.shell && "
                           "window.jupyterapp.shell.currentWidget && "
                           "window.jupyterapp.shell.currentWidget.context && "
                           "window.jupyterapp.shell.currentWidget.context.path === name && "
                           "document.querySelector('.jp-NotebookPanel')", arg=name, timeout=timeout_ms)
    page.wait_for_function(
        """() => { const p = window.jupyterapp.shell.currentWidget;
                   return p && p.sessionContext && p.sessionContext.session &&
                          p.sessionContext.session.kernel &&
                          p.sessionContext.session.kernel.status === 'idle'; }""", timeout=timeout_ms)
    if before_run:
        page.evaluate(before_run)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    wait_idle(page, timeout_ms)


def wait_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until no cell is queued or running and the kernel is idle."""
    page.wait_for_function(
        """() => { const p = window.jupyterapp.shell.currentWidget;
                   if (!p || !p.content) return false;
                   const busy = [...document.querySelectorAll('.jp-InputPrompt')]
                       .some(e => e.textContent.includes('*'));
                   const k = p.sessionContext.session && p.sessionContext.session.kernel;
                   return !busy && k && k.status === 'idle'; }""", timeout=timeout_ms, polling=250)


def until(ok: Callable[[], Any], timeout: float = 30, every: float = 0.2) -> Any:
    """Call ``ok()`` every ``every`` s until it returns something true or ``timeout`` s passed;
    return its last answer (the caller asserts on it)."""
    deadline = time.monotonic() + timeout
    while True:
        got = ok()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def ledger(path: Path, sql: str, *, dicts: bool = False) -> list:
    """Rows of ``sql`` from a ledger file, read-only (the kernel's Studio holds it open); [] while
    the table is not there yet or the file is busy. ``dicts``: rows as dicts, else tuples."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        if dicts:
            con.row_factory = sqlite3.Row
        return [dict(r) if dicts else r for r in con.execute(sql).fetchall()]
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def wait_ledger(path: Path, sql: str, want: Any, timeout: float = 15, *, dicts: bool = False,
                what: Optional[str] = None) -> list:
    """Poll ``sql`` on the ledger file until its rows equal ``want`` (or, for a callable,
    ``want(rows)`` is true); the rows. AssertionError with the last rows after ``timeout`` s."""
    ok = want if callable(want) else (lambda rows: rows == want)
    last: list = []

    def ready() -> bool:
        nonlocal last
        last = ledger(path, sql, dicts=dicts)
        return bool(ok(last))

    if not until(ready, timeout):
        raise AssertionError(f"{sql}: {last!r}, expected {what or repr(want)}")
    return last


def save(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)


# A widget manager that loses binary buffers, simulated in JupyterLab: every comm message the kernel
# sends reaches the widgets without its buffers ("drop", as Colab's manager: "buffers not
# supported?", googlecolab/colab-cdn-widget-manager#33), or with each buffer turned into a plain
# object ("json", as the Colab VS Code extension parsed ArrayBuffers as JSON: googlecolab/colab-vscode#328).
# "late" passes the first two buffered messages (the views' pongs) and drops every later buffer: the
# probe said binary, the chunks come without bytes, the view switches to base64 and asks again.
# The hook wraps the deserializer the Lab's kernel connection calls for every websocket message
# (``serverSettings.serializer.deserialize``, @jupyterlab/services 4).
LOSE_BUFFERS = """(mode) => {
  const s = window.jupyterapp.serviceManager.serverSettings.serializer;
  const deserialize = s.deserialize.bind(s);
  window.skLost = 0;
  let spare = mode === 'late' ? 2 : 0;
  s.deserialize = (data, protocol) => {
    const msg = deserialize(data, protocol);
    if (msg.header && msg.header.msg_type === 'comm_msg' && msg.buffers && msg.buffers.length) {
      if (spare > 0) { spare -= 1; return msg; }
      window.skLost += msg.buffers.length;
      msg.buffers = mode === 'drop' ? [] : msg.buffers.map(() => ({}));
    }
    return msg;
  };
}"""


def lose_buffers(mode: str = "drop") -> str:
    """The hook for ``open_and_run(before_run=...)``: a widget manager that loses buffers (``mode``:
    "drop", "json" or "late", see ``LOSE_BUFFERS``); ``window.skLost`` counts the buffers lost."""
    if mode not in ("drop", "json", "late"):
        raise ValueError(f"mode={mode!r}: use 'drop', 'json' or 'late'")
    return f"() => ({LOSE_BUFFERS})({json.dumps(mode)})"
