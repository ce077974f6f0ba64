"""``pip install sorakit`` without the ``emulator`` extra: no uvicorn, no websockets.

Each check runs in a fresh interpreter where ``import uvicorn`` and ``import websockets`` fail
(``sys.modules[name] = None`` makes Python raise ImportError for them), as on a machine where only
the core requirements are installed: ``import sorakit`` works, ``Studio()`` still renders a video
on its in-process emulator, and what needs a server says which extra to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

HIDE = "import sys\nfor _name in ('uvicorn', 'websockets'):\n    sys.modules[_name] = None\n"
HINT = "pip install 'sorakit[emulator]'"


def _run(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "HOME": str(tmp_path)}
    env.pop("SORAKIT_TIME_SCALE", None)
    return subprocess.run([sys.executable, "-c", HIDE + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=240, cwd=tmp_path, env=env)


def test_studio_generates_on_the_embedded_emulator_without_uvicorn(tmp_path):
    done = _run(f"""
        import sorakit
        from sorakit import Studio
        from sorakit.engine import Policy
        assert sys.modules.get('uvicorn') is None and sys.modules.get('websockets') is None
        with Studio({str(tmp_path / 'ledger.db')!r}, media_dir={str(tmp_path / 'media')!r}, emulate=True,
                    time_scale=0.01, policy=Policy(poll_initial=0.05, poll_max=0.2)) as studio:
            job = studio.generate('a fox without a server', model='sora-2', progress=False)
            print(job.status, job.file_path.stat().st_size > 1000)
        """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1].split() == ["completed", "True"], done.stdout


def test_emulator_server_and_cli_name_the_extra_without_uvicorn(tmp_path):
    done = _run("""
        from sorakit.emulator import Emulator, EmulatorServer
        try:
            EmulatorServer(Emulator())
        except ModuleNotFoundError as exc:
            print('server:', exc)
        from sorakit.cli import main
        print('status:', main(['emulator', '--port', '0']))
        """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    server = next(line for line in done.stdout.splitlines() if line.startswith("server:"))
    assert "uvicorn" in server and HINT in server
    assert "status: 1" in done.stdout
    assert HINT in done.stderr and "uvicorn" in done.stderr
    assert "base_url" not in done.stdout  # no URL printed that nothing would answer
