"""Notebook UI: a request form, live job cards, a player, galleries, comparisons, a ledger browser.

One widget family: the form, the job cards, the player, the gallery, the compare grid and the
ledger browser are anywidgets (anywidget is itself an ipywidgets ``DOMWidget``; its front end comes with ``pip install
anywidget``), so the same widgets render in JupyterLab, Notebook 7, VS Code, Colab and marimo
(``mo.ui.anywidget(...)``); front-end quirks live in ``_frontend``. Their ES module is assembled by
``_esm`` from readable parts shipped in the package (``stage.js``: the shared stage and transport;
``player.js``: player and tile grid; ``card.js``: job cards; ``form.js``: the request form;
``browser.js``: the ledger's data grid, DataTables from the itables wheel, its rows paged from the
kernel), and
``render`` dispatches on the model's ``_kind``; a widget ships only the parts it renders. The
form and the cards share their logic with nothing else (``_request``, ``_text``): Python computes
every choice, error and word, the page renders it. Videos stream from the cached file over the
widget's comm only when played, in binary chunks (base64 text where a front end drops binary
buffers) that never enter the synced state: saved notebooks keep small posters (the widgets' WebP
posters and a ``text/html`` fallback that GitHub, nbviewer and HTML exports show), never the video
itself unless ``embed=True``. ``gallery(...).to_html(path)`` / ``compare(...).to_html(path)``
write a shareable report.

```python
studio.form()                     # ask for a video; job cards follow each job below the form
mo.ui.anywidget(studio.form())    # the same form in marimo
job                               # a Job as a cell's last line shows its live card
studio.gallery(columns=4)         # completed videos as a grid of posters with captions
studio.compare(prompts=[...], models=["veo-3-fast", "kling-3-standard@runware"])
b = studio.browse()               # the ledger as a grid: filter, sort, total, rate, tag, play a row
studio.gallery(b.selected)        # ... the rows selected in it, as a DataFrame
```
"""

from ._arena import Arena, arena
from ._browser import LedgerBrowser, browse
from ._card import JobCard, JobCards, job_card, show_job, show_progress
from ._compare import CompareGrid, compare
from ._anyform import RequestForm, StudioForm, form
from ._gallery import Gallery, gallery, show_batch
from ._player import VideoPlayer, player


class _Hooks:
    """What the engine calls to show jobs (`sorakit.engine._hooks.DisplayHooks`)."""

    show_job = staticmethod(show_job)
    show_batch = staticmethod(show_batch)
    show_progress = staticmethod(show_progress)
    job_card = staticmethod(job_card)
    form = staticmethod(form)
    gallery = staticmethod(gallery)
    compare = staticmethod(compare)
    browse = staticmethod(browse)
    arena = staticmethod(arena)


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
    "arena",
    "player",
    "job_card",
    "RequestForm",
    "JobCard",
    "JobCards",
    "VideoPlayer",
    "Gallery",
    "CompareGrid",
    "LedgerBrowser",
    "Arena",
]
