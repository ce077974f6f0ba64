"""Notebook UI: a request form, live job cards, a player, galleries, comparisons, a ledger browser.

The form, cards and ledger browser are standard ipywidgets; the player, gallery and compare grid
are anywidgets (one ES module assembled from ``stage.js`` and ``player.js`` by ``_esm``, shipped
in the package, whose ``render`` dispatches on the model's ``_kind``; anywidget's front end comes
with ``pip install anywidget``), so they work in JupyterLab, Notebook 7, VS Code, Colab and marimo
(``mo.ui.anywidget(...)``); front-end quirks live in ``_frontend``. In marimo, which renders only
anywidgets, ``form(studio)`` returns `RequestForm`, the same form as one anywidget (``form.js``
after ``stage.js``); ``form(studio, ui="anywidget")`` asks for it anywhere. Both forms share
their logic (``_request``). Videos stream from the cached
file over the widget's comm only when played, in binary chunks (base64 text where a front end
drops binary buffers) that never enter the synced state:
saved notebooks keep small posters (the widgets' WebP posters and a ``text/html`` fallback that
GitHub, nbviewer and HTML exports show), never the video itself unless ``embed=True``.
``gallery(...).to_html(path)`` / ``compare(...).to_html(path)`` write a shareable report.

```python
studio.form()                     # ask for a video; cards follow each job below the form
mo.ui.anywidget(form(studio))     # the same in marimo (form() returns the anywidget form there)
job                               # a Job as a cell's last line shows its live card
studio.gallery(columns=4)         # completed videos as a grid of posters with captions
studio.compare(prompts=[...], models=["veo-3-fast", "kling-3-standard@runware"])
studio.browse()                   # filter, sort and total the ledger; pick a row to watch it
```
"""

from ._browser import LedgerBrowser, browse
from ._card import JobCard, job_card, show_job, show_progress
from ._compare import CompareGrid, compare
from ._anyform import RequestForm
from ._form import StudioForm, form
from ._gallery import Gallery, gallery, show_batch
from ._player import VideoPlayer, player


class _Hooks:
    """What the engine calls to show jobs (`sorakit.engine._hooks.DisplayHooks`)."""

    show_job = staticmethod(show_job)
    show_batch = staticmethod(show_batch)
    show_progress = staticmethod(show_progress)
    form = staticmethod(form)
    gallery = staticmethod(gallery)
    compare = staticmethod(compare)
    browse = staticmethod(browse)


def _register() -> None:
    from ..engine._hooks import register_display

    register_display(_Hooks())


_register()

__all__ = [
    "form",
    "show_job",
    "show_progress",
    "show_batch",
    "gallery",
    "compare",
    "browse",
    "player",
    "job_card",
    "StudioForm",
    "RequestForm",
    "JobCard",
    "VideoPlayer",
    "Gallery",
    "CompareGrid",
    "LedgerBrowser",
]
