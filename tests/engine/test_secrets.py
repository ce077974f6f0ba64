"""A planted fake key must never leave the request headers: not in the ledger, a repr, a log line
or an exception message."""

from __future__ import annotations

import logging
import pickle

import pytest

from engine._helpers import assert_complete, fast_policy
from sorakit import JobFailed
from sorakit.engine import Secret, Studio

KEY = "test-PLANTED-7f3a9c1e5b2d4f60"
WRONG = "test-PLANTED-WRONG-0c1d2e3f4a5b"


def _all_text(tmp_path) -> bytes:
    blob = b""
    for path in tmp_path.rglob("*"):
        if path.is_file():
            blob += path.read_bytes()
    return blob


def test_planted_key_is_used_but_never_recorded(tmp_path, emulator, emulator_server, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    emulator.config.require_key = KEY
    # one provider live through an environment variable (against the loopback emulator), one emulated
    monkeypatch.setenv("RUNWARE_API_KEY", KEY)
    studio = Studio(tmp_path / "ledger.db", media_dir=tmp_path / "media", emulate={"openai"},
                    keys={"openai": KEY}, base_urls={"runware": emulator_server.url("runware")},
                    emulator=emulator_server.base_url, policy=fast_policy(), max_wait=60)
    texts = []
    try:
        assert studio.providers["runware"] == "live" and studio.providers["openai"] == "emulated"
        job = studio.generate("a planted key fox", model="sora-2", progress=False)
        live = studio.generate("a planted key heron", model="kling-3-standard", provider="runware",
                               progress=False)
        assert_complete(job.row) and assert_complete(live.row)
        assert live.row["emulated"] is False and job.row["emulated"] is True
        texts += [repr(studio), str(studio), repr(job), repr(live), repr(studio._engine), str(job.row),
                  str(live.row), repr(studio._setups), repr(list(studio._engine.runtimes.values())),
                  repr([rt.provider for rt in studio._engine.runtimes.values()]), studio.ledger.df.to_csv()]
        wrong = Studio(tmp_path / "ledger.db", media_dir=tmp_path / "media", emulate=True,
                       keys={"openai": WRONG}, emulator=emulator_server.base_url, policy=fast_policy(),
                       resume=False)
        try:
            with pytest.raises(JobFailed) as e:
                wrong.generate("the wrong key", model="sora-2", progress=False)
            row = wrong.ledger.get(e.value.job_id)
            assert row["status"] == "failed" and row["error_code"] == "invalid_api_key"
            texts += [str(e.value), repr(e.value), str(row), repr(wrong)]
        finally:
            wrong.close()
    finally:
        studio.close()
    texts.append(caplog.text)
    assert emulator.counters["openai"]["auth_failures"] == 1           # the wrong key was really sent
    for text in texts:
        assert KEY not in text and WRONG not in text
        assert "PLANTED" not in text
    blob = _all_text(tmp_path)                                          # ledger (+ WAL), media, everything
    assert KEY.encode() not in blob and WRONG.encode() not in blob and b"PLANTED" not in blob


def test_secret_hides_itself():
    s = Secret(KEY)
    assert KEY not in repr(s) and KEY not in str(s) and KEY not in f"{s}" and s.reveal() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(s)
