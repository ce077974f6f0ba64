"""Running the emulator over real HTTP: `EmulatorServer` in a thread and ``sorakit emulator`` as a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sorakit.emulator import Emulator, EmulatorConfig, EmulatorServer, free_port


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_emulator_server_starts_serves_and_stops(emulator_media_dir):
    emu = Emulator(EmulatorConfig(time_scale=0.01, render_eagerly=False), media_dir=emulator_media_dir)
    server = EmulatorServer(emu)
    with server:
        assert server.host == "127.0.0.1" and server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        assert server.url("openai") == server.base_url + "/openai/v1"
        index = httpx.get(server.base_url + "/").json()
        assert {s["base_url"] for s in index["surfaces"]} >= {server.url("openai"), server.url("runware")}
        # the same answers as in-process: one app, two ways in
        created = httpx.post(server.url("openai") + "/videos", json={"prompt": "both ways"}).json()
        with httpx.Client(transport=emu.sync_transport(), base_url="http://x") as local:
            assert local.get(f"/openai/v1/videos/{created['id']}").json()["prompt"] == "both ways"
        assert _port_open(server.port)
    assert not _port_open(server.port)
    emu.close()


def test_owned_emulator_is_closed_with_the_server():
    with EmulatorServer() as server:
        assert httpx.get(server.base_url + "/").status_code == 200
        emu = server.emulator
    assert emu._closed


def test_cli_serves_and_stops(tmp_path):
    port = free_port()
    exe = Path(sys.executable).with_name("sorakit")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sorakit.cli"]
    cmd += ["emulator", "--port", str(port), "--time-scale", "0.01", "--require-key", "sk-cli",
            "--media-dir", str(tmp_path / "media"), "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=Path(__file__).parents[2], env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                index = httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the CLI emulator did not come up"
                time.sleep(0.2)
        assert index.json()["requires_key"] is True and index.json()["time_scale"] == 0.01
        base = f"http://127.0.0.1:{port}/openai/v1"
        assert httpx.post(base + "/videos", json={"prompt": "cli"}).status_code == 401
        r = httpx.post(base + "/videos", json={"prompt": "cli"}, headers={"Authorization": "Bearer sk-cli"})
        assert r.status_code == 200 and r.headers["x-request-id"].startswith("req_")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - diagnostics only
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert f"base_url = http://127.0.0.1:{port}/openai/v1" in out
    assert f"base_url = http://127.0.0.1:{port}/runware/v1" in out
    assert not _port_open(port)


def test_cli_help_lists_the_emulator_command():
    from sorakit.cli import build_parser, main

    assert "emulator" in build_parser().format_help()
    with pytest.raises(SystemExit):
        main(["emulator", "--port", "not-a-number"])
    assert main([]) == 2
