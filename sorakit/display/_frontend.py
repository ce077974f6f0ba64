"""Front-end quirks, all in one place: which notebook front-end the kernel serves and what it needs.

The widgets are anywidgets (whose front end ships inside the ``anywidget`` wheel as a prebuilt
JupyterLab / Notebook 7 extension; VS Code, Colab and marimo load it themselves; the ledger browser
is still ipywidgets 8), so every front-end that runs ipywidgets 8 shows them. What differs:

================  ==========================================  ==============================================
front-end         quirk                                       what sorakit does
================  ==========================================  ==============================================
JupyterLab 4,     widget state is *not* saved into the .ipynb  every widget's mimebundle also carries a small
Notebook 7        by default ("Save widget state" is off)     ``text/html`` fallback (poster + caption) that
                                                              GitHub, nbviewer and HTML exports show
VS Code           the webview plays H.264 but not AAC audio   keep H.264; say "plays silently in VS Code"
                  no ``--jp-*`` CSS variables                 CSS falls back to ``--vscode-*``, then fixed
Colab             third-party widget manager must be enabled  ``enable_custom_widget_manager()`` once
                  no ``--jp-*`` CSS variables                 CSS fallbacks (same as VS Code)
everywhere        ``IPython.display.Video(path)`` only works   videos stream over the widget comm in binary
                  where the server serves that path            chunks read from the cached file, on play
marimo            renders anywidgets, not ipywidgets           ``mo.ui.anywidget(...)`` around the form, a
                                                              job card, a player or a gallery: the same
                                                              widgets as in Jupyter
================  ==========================================  ==============================================

Detection runs in the kernel, so it is a best guess from the environment: VS Code starts kernels
with ``VSCODE_PID``/``VSCODE_CWD`` set; Colab kernels have ``google.colab`` importable. Override it
with ``SORAKIT_FRONTEND=vscode|colab|jupyter`` when the guess is wrong.
"""

from __future__ import annotations

import os
import sys
from typing import Literal, Mapping, Any

__all__ = [
    "Frontend",
    "frontend",
    "prepare",
    "plays_aac",
    "audio_note",
    "in_marimo",
    "video_format",
]

Frontend = Literal["jupyter", "vscode", "colab"]

_prepared = False


def frontend() -> Frontend:
    """Best guess of the notebook front-end this kernel serves."""
    forced = os.environ.get("SORAKIT_FRONTEND", "").strip().lower()
    if forced in ("jupyter", "vscode", "colab"):
        return forced  # type: ignore[return-value]
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if os.environ.get("VSCODE_PID") or os.environ.get("VSCODE_CWD") or \
            os.environ.get("VSCODE_IPC_HOOK_CLI") or os.environ.get("TERM_PROGRAM") == "vscode":
        return "vscode"
    return "jupyter"


def in_marimo() -> bool:
    """True when this code runs inside a marimo notebook or app (``marimo.running_in_notebook()``).

    marimo is only asked when it is already imported (a marimo kernel imports it before any cell
    runs), so importing sorakit never imports marimo.
    """
    mo = sys.modules.get("marimo")
    if mo is None:
        return False
    try:
        return bool(mo.running_in_notebook())
    except Exception:  # an old or partial marimo: not a marimo notebook as far as we can tell
        return False


def prepare() -> None:
    """Apply the front-end's one-time workaround before the first widget is shown (idempotent)."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    if frontend() == "colab":
        try:  # Colab renders ipywidgets 8 through its custom widget manager
            from google.colab import output  # type: ignore[import-not-found]

            output.enable_custom_widget_manager()
        except Exception:  # pragma: no cover - only inside Colab
            pass


def plays_aac() -> bool:
    """False where the player decodes H.264 video but not AAC audio (VS Code's webview)."""
    return frontend() != "vscode"


def audio_note(row: Mapping[str, Any]) -> str:
    """A short note when this front-end will play the video without its sound, else ''."""
    if row.get("audio") is True and not plays_aac():
        return "plays silently in VS Code (its player has no AAC audio)"
    return ""


def video_format(path: str | os.PathLike[str]) -> str:
    """The ipywidgets ``Video.format`` for a file (the blob's ``video/<format>`` type)."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    return {"mov": "quicktime", "m4v": "mp4", "": "mp4"}.get(ext, ext)
