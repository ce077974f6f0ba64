"""Front-end detection and its workarounds (VS Code has no AAC; Colab needs its widget manager)."""

import sys
import types

import pytest

from sorakit.display import _frontend


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SORAKIT_FRONTEND", "VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI", "TERM_PROGRAM",
                 "COLAB_RELEASE_TAG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def test_plain_jupyter_by_default():
    assert _frontend.frontend() == "jupyter"
    assert _frontend.plays_aac()
    assert _frontend.audio_note({"audio": True}) == ""


def test_vscode_is_detected_and_warns_about_silent_audio(monkeypatch):
    monkeypatch.setenv("VSCODE_PID", "1234")
    assert _frontend.frontend() == "vscode"
    assert not _frontend.plays_aac()
    assert "silently" in _frontend.audio_note({"audio": True})
    assert _frontend.audio_note({"audio": False}) == ""  # nothing to lose


def test_colab_enables_its_custom_widget_manager(monkeypatch):
    calls = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(_frontend, "_prepared", False)
    assert _frontend.frontend() == "colab"
    _frontend.prepare()
    _frontend.prepare()
    assert calls == [1]


def test_override_by_environment(monkeypatch):
    monkeypatch.setenv("VSCODE_PID", "1")
    monkeypatch.setenv("SORAKIT_FRONTEND", "jupyter")
    assert _frontend.frontend() == "jupyter"


def test_video_format_and_the_card_sheet():
    assert _frontend.video_format("a/b.mp4") == "mp4"
    assert _frontend.video_format("a/b.webm") == "webm"
    assert _frontend.video_format("a/b.mov") == "quicktime"
    from sorakit.display._esm import css as sheet

    card = sheet("card")  # the card's own sheet (an anywidget's _css): Lab and VS Code themes too
    assert ".sk-card" in card and "--jp-" in card and "--vscode-" in card


def test_vscode_player_shows_the_note(monkeypatch, fake):
    from sorakit.display import job_card

    monkeypatch.setenv("VSCODE_PID", "1")
    job = fake.submit("a fox", model="veo-3", provider="gemini")  # always with audio
    fake.advance(job, status="completed")
    card = job_card(job)
    assert "silently in VS Code" in card.shown["note"]
