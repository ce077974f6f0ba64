"""The request form as ONE anywidget: what ``studio.form()`` shows in every front end (JupyterLab,
Notebook 7, VS Code, Colab, marimo).

Prompt, model and provider, the sizes, durations, variations, seed, audio, negative prompt and
first-frame image that offer allows, a remix of an earlier job, the live estimate and remaining
budget, field errors, Submit, and the submitted jobs below as job cards (progress, usual latency,
Cancel, how it ended and, once done, the video) — in a single widget model.

Division of labour: every choice, default and error comes from Python (``_request``; errors are
the `sorakit.ValidationError` the catalog or Studio raises) and reaches the page as synced state;
``form.js`` only renders it and reports what the user did. The user's entries are one synced
dict, ``value``; Python normalises it (a model change picks a provider that serves it, a size that
offer has...) and writes it back. Submit and the image are custom messages. The jobs below are the
cards of ``_card.JobCards`` (which this class extends): the same cards ``show_job`` displays, so
the module is ``stage.js``, ``card.js`` and ``form.js`` (see ``_esm``).

Updates from the engine's thread: the job list's traits change there, as a card's do. That reaches
JupyterLab, and it reaches marimo 0.25 too: its comm keeps the session it was opened in and sends
from any thread through it (``marimo._plugins.ui._impl.comm.MarimoComm.__init__``). Measured with
``marimo run`` and Chromium, with the polls switched off (``poll_ms`` 10**8): the page showed
the job pending at 0.2 s, submitted at 0.7 s and completed at 1.6 s, as with polls on. A marimo
whose comm does not keep its session (that comment says a plain background thread has no marimo
runtime context) would drop those sends, so the cards keep a second path: while any of their jobs
runs the page asks for their state with a ``poll`` message every ``poll_ms`` (``JobCards``).
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import warnings
from typing import Any, Optional

import traitlets

from . import _request as rq
from ._base import as_jobs, is_emulated
from ._card import POLL_MS, JobCards
from ._esm import css, esm
from ._format import esc, short_id
from ._grid import Tile

__all__ = ["RequestForm", "form", "StudioForm", "form_esm", "form_css", "POLL_MS"]

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""The largest first-frame image a view may send (the providers take far less)."""

def form_esm() -> str:
    """The form's ES module: ``stage.js`` (its stage streams a finished job's video), ``card.js``
    (the job cards), ``form.js`` and ``main.js``, assembled by ``_esm`` (shared, not copied)."""
    return esm("form")


def form_css() -> str:
    return css("form")


def _pairs(options: list[tuple[str, Any]]) -> list[list[Any]]:
    return [[label, value] for label, value in options]


class RequestForm(JobCards):
    """Ask a Studio for a video; the jobs it starts are listed (and play) below it.

    Drive it from Python as the page does: ``form.set(prompt=..., model=..., seed="7")`` then
    ``form.submit()``; ``form.cancel(0)`` cancels the first job it started.
    """

    _esm = traitlets.Unicode(form_esm()).tag(sync=True)
    _css = traitlets.Unicode(form_css()).tag(sync=True)
    _kind = traitlets.Unicode("form").tag(sync=True)
    value = traitlets.Dict().tag(sync=True)
    """The user's entries: prompt, model, provider, size, seconds, variations, seed (text: blank is
    random), audio, negative_prompt, remix_from (a job id, '' for a new video)."""
    models = traitlets.List().tag(sync=True)
    """``[[label, model], ...]``: the models this Studio can submit (served, or on the emulator)."""
    providers = traitlets.List().tag(sync=True)
    """``[[label, provider], ...]``: where the chosen model can be submitted."""
    choices = traitlets.Dict().tag(sync=True)
    """What the chosen offer allows (``_request.offer_choices``)."""
    remixes = traitlets.List().tag(sync=True)
    """``[[label, job_id], ...]`` after ``["— no, a new video", ""]``."""
    errors = traitlets.Dict().tag(sync=True)
    """``{field: message}``: the `ValidationError` of that field, as a user reads it."""
    message = traitlets.Dict().tag(sync=True)
    """``{"kind": "ok" | "warn" | "error", "text": ...}`` under the Submit button (``{}``: none)."""
    notice = traitlets.Dict().tag(sync=True)
    """``{"kind", "text"}`` about the chosen offer (e.g. served only by the emulator now)."""
    counter = traitlets.Unicode("").tag(sync=True)
    over = traitlets.Bool(False).tag(sync=True)
    cost = traitlets.Unicode("").tag(sync=True)
    """The estimate and remaining budget (HTML, ``_request.cost_html``)."""
    can_submit = traitlets.Bool(True).tag(sync=True)
    image_info = traitlets.Unicode("").tag(sync=True)
    emulated = traitlets.Bool(False).tag(sync=True)

    def __init__(self, studio: Any, *, model: Optional[str] = None, provider: Optional[str] = None):
        super().__init__(studio=studio, on_new_job=lambda job: self.submitted.append(job))
        from ..catalog import split_model

        self.newest_first = True
        self.today = rq.today()
        self.last_plan: Any = None
        self.submitted: list[Any] = []
        self._image: Optional[bytes] = None
        self._image_name = "image"
        self._attempted = False
        self._syncing = False
        self._refresh_lock = threading.Lock()
        self.add_class("sk-request-form")
        self.emulated = all(is_emulated(studio, p) for p in self.catalog.providers)
        self.models = _pairs([(label, name) for label, name in rq.model_options(self.catalog, self.today)
                              if self._providers_of(name)])
        model, provider = split_model(model, provider, self.catalog.providers)  # "veo-3-fast@runware" names both
        model = rq.model_value(self.catalog, model, provider)
        if rq.open_model(self.catalog, model):  # a provider's id the catalog does not list
            self.add_model(model)
        names = [m for _l, m in self.models]
        if model not in names:
            default = self.catalog.default_model
            served = [m for m in names if rq.model_served(self.catalog, m, self.today)]
            model = default if default in names else (served or names or [None])[0]
        self.remixes = _pairs(rq.remix_sources(studio, self.catalog))
        self.set(prompt="", model=model, provider=provider or "", size=None, seconds=None, variations=1,
                 seed="", audio=None, negative_prompt="", remix_from=rq.NEW)
        self._on_image()

    # -- the user's entries -------------------------------------------------------------------------
    def add_model(self, value: str) -> None:
        """Offer an uncatalogued ``"id@provider"`` in the model list (the open catalog)."""
        if value not in [m for _l, m in self.models]:
            self.models = self.models + _pairs([rq.open_option(self.catalog, value)])

    def _providers_of(self, model: str) -> list[tuple[str, str]]:
        return [(label, p) for label, p in rq.provider_options(self.catalog, model, self.today)
                if rq.usable(self.catalog, self.studio, model, p, self.today)]

    @property
    def offer(self) -> Any:
        """The catalog offer of the chosen model at the chosen provider."""
        return rq.offer_of(self.catalog, self.value.get("model"), self.value.get("provider"))

    def set(self, **entries: Any) -> dict:
        """Change entries as the user would (``prompt=``, ``model=``, ``seed="7"``...); returns the
        normalised ``value``."""
        self.value = {**self.value, **entries}
        return dict(self.value)

    @traitlets.observe("value")
    def _on_value(self, change: dict) -> None:
        if self._syncing:
            return
        self._normalise(change.get("old") or {}, dict(change.get("new") or {}))

    def _normalise(self, old: dict, v: dict) -> None:
        """Keep ``value`` to what the catalog allows for the chosen offer, then re-check and re-price."""
        if v.get("remix_from") not in [j for _l, j in self.remixes]:
            v["remix_from"] = rq.NEW
        if v["remix_from"]:
            row = self.studio.ledger.get(v["remix_from"])
            v["model"], v["provider"] = rq.model_value(self.catalog, row["model"], row["provider"]), row["provider"]
            if rq.open_model(self.catalog, v["model"]):
                self.add_model(v["model"])
        names = [m for _l, m in self.models]
        if v.get("model") not in names:
            v["model"] = old.get("model") if old.get("model") in names else names[0]
        providers = self._providers_of(v["model"])
        if v["remix_from"] and v["provider"] not in [p for _l, p in providers]:
            providers = rq.provider_options(self.catalog, v["model"], self.today)
        values = [p for _l, p in providers]
        if v.get("provider") not in values:
            v["provider"] = old.get("provider") if old.get("provider") in values else values[0]
        o = rq.offer_of(self.catalog, v["model"], v["provider"])
        c = rq.offer_choices(o)
        if v.get("size") not in o.sizes:
            v["size"] = c["default_size"]
        try:
            seconds = float(v.get("seconds"))
        except (TypeError, ValueError):
            seconds = None
        v["seconds"] = seconds if seconds in [s for _l, s in c["seconds"]] else c["default_seconds"]
        try:
            variations = int(v.get("variations") or 1)
        except (TypeError, ValueError):
            variations = 1
        v["variations"] = min(max(1, variations), c["max_variations"])
        v["seed"] = str(v.get("seed") or "") if c["seed"] else ""
        offer_changed = (old.get("model"), old.get("provider")) != (v["model"], v["provider"])
        if c["audio"] == "optional":
            v["audio"] = c["default_audio"] if offer_changed or v.get("audio") is None else bool(v["audio"])
        else:
            v["audio"] = c["audio"] == "always"
        for key in ("prompt", "negative_prompt"):
            v[key] = str(v.get(key) or "")
        kind, text, ok = rq.model_notice(self.catalog, self.studio, v["model"], o, self.today)
        self._syncing = True
        try:
            self.providers = _pairs(providers)
            self.choices = c
            self.notice = {"kind": kind, "text": text} if text else {}
            self.can_submit = ok
            self.value = v
        finally:
            self._syncing = False
        self._update()

    def set_image(self, data: Optional[bytes], name: str = "image") -> None:
        """The first frame (image-to-video), as the page's file picker sends it; None removes it."""
        self._image = bytes(data) if data else None
        self._image_name = name
        self._on_image()
        self._update()

    def _on_image(self) -> None:
        data = self._image
        if not data:
            self.image_info = "optional: the video starts from this picture"
            return
        try:
            from PIL import Image

            with Image.open(io.BytesIO(data)) as im:
                dims = f"{im.width}×{im.height}"
        except Exception:
            dims = "not an image Pillow can read"
        self.image_info = f"{self._image_name} · {dims} · {len(data) / 1024:.0f} KB"

    # -- request, estimate, validation ---------------------------------------------------------------
    def request_fields(self) -> dict[str, Any]:
        """The keyword arguments the form would pass to ``studio.submit`` (after the prompt)."""
        v = self.value
        return rq.request_fields(self.studio, self.offer, model=v["model"], provider=v["provider"],
                                 remix_from=v["remix_from"], size=v["size"], seconds=v["seconds"],
                                 variations=v["variations"], seed=v["seed"], audio=v["audio"],
                                 negative_prompt=v["negative_prompt"], image=self._image)

    def _error(self, exc: BaseException, errors: dict) -> None:
        field = rq.error_field(exc)
        if field is not None and (field != "prompt" or self.value["prompt"].strip() or self._attempted):
            errors[field] = rq.readable(exc)
        elif field is None:
            self.message = {"kind": "error", "text": rq.readable(exc)}

    def _update(self) -> None:
        """Recount, revalidate and re-estimate after any change (never raises)."""
        v = self.value
        self.counter, self.over = rq.counter_text(self.catalog, v["provider"], v["prompt"])
        if self.message.get("kind") != "ok":
            self.message = {}
        errors: dict[str, str] = {}
        try:
            self.last_plan = rq.check(self.studio, self.catalog, v["prompt"], self.request_fields(), self.today,
                                      attempted=self._attempted)
        except Exception as exc:
            self.last_plan = None
            self._error(exc, errors)
        self.errors = errors
        self.cost = rq.cost_html(self.last_plan, self.studio)

    # -- actions ---------------------------------------------------------------------------------------
    def submit(self) -> Any:
        """Validate and submit (returns at once). Errors show in the form; returns the Job(s) or None."""
        self._attempted = True
        self.message = {}
        self._update()
        if not self.value["prompt"].strip():
            self.errors = {**self.errors, "prompt": rq.blank_prompt_text(self.catalog, self.value["provider"])}
            return None
        if self.last_plan is None or not self.can_submit:
            if not self.errors and not self.message:
                self.message = {"kind": "error", "text": "This request cannot be sent as it is."}
            return None
        try:
            result = rq.send(self.studio, self.value["prompt"], self.request_fields(), self.value["remix_from"])
        except Exception as exc:  # shown next to its field or in the message area
            errors = dict(self.errors)
            self._error(exc, errors)
            self.errors = errors
            return None
        jobs = as_jobs(result)
        self.submitted.extend(jobs)
        tiles = self.add_jobs(jobs)
        ids = ", ".join(short_id(getattr(j, "id", "")) for j in jobs)
        self._started = {t.job_id for t in tiles if not t.terminal}
        self.message = {"kind": "ok", "text": f"Started {ids}; it runs in the background — keep working, "
                                              f"it is listed below and updates itself."}
        return result

    def _tile_changed(self, tile: Tile, final: bool) -> None:
        super()._tile_changed(tile, final)
        started = getattr(self, "_started", None)
        if final and started is not None and tile.job_id in started:
            started.discard(tile.job_id)  # "Started …; it runs in the background" is past once all are done
            if not started and str((self.message or {}).get("text", "")).startswith("Started"):
                self.message = {}
        if final:  # a finished job: remixable now, and the budget moved
            threading.Thread(target=self._after_job, name="sorakit-form-refresh", daemon=True).start()

    def _after_job(self) -> None:
        with self._refresh_lock:
            self.remixes = _pairs(rq.remix_sources(self.studio, self.catalog))
            self._update()

    # -- messages from the page -------------------------------------------------------------------------
    def _on_front_end(self, widget: Any, content: Any, buffers: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "submit":
            if isinstance(content.get("value"), dict):
                self.value = {**self.value, **content["value"]}
            self.submit()
        elif kind == "image":
            self._image_from_page(content)
        else:
            super()._on_front_end(widget, content, buffers)

    def _image_from_page(self, content: dict) -> None:
        if content.get("clear"):
            return self.set_image(None)
        text = str(content.get("data") or "")
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.message = {"kind": "error", "text": "The image did not arrive whole; choose it again."}
            return None
        if len(data) > MAX_IMAGE_BYTES:
            self.message = {"kind": "error", "text": f"The image is {len(data) / 1e6:.1f} MB; the form takes "
                                                     f"up to {MAX_IMAGE_BYTES / 1e6:.0f} MB."}
            return None
        return self.set_image(data, esc(str(content.get("name") or "image")))

    def _poll_extra(self) -> dict:
        """A poll's answer also carries the remix list and the estimate (both move when a job ends)."""
        return {"remixes": self.remixes, "cost": self.cost}

    # -- static fallback ------------------------------------------------------------------------------
    def _static_html(self) -> str:
        return rq.STATIC_HTML

    def _static_text(self) -> str:
        return rq.STATIC_TEXT


def form(studio: Any, *, ui: str = "auto", **kwargs: Any) -> RequestForm:
    """A form to ask the Studio for a video; submitted jobs show live below it as job cards.

    The same anywidget in JupyterLab, Notebook 7, VS Code, Colab and marimo
    (``mo.ui.anywidget(form(studio))``).

    Args:
        studio: the Studio to submit to.
        ui: ``"auto"`` or ``"anywidget"``. ``"ipywidgets"`` (the retired ipywidgets form) still
            works, with a DeprecationWarning, and gives the same `RequestForm`.
        model, provider: the model (``"veo-3-fast@runware"`` names both) the form opens on.
    """
    if ui not in ("auto", "ipywidgets", "anywidget"):
        from .._exceptions import ValidationError

        raise ValidationError("ui", ui, ["auto", "anywidget"])
    if ui == "ipywidgets":
        warnings.warn("form(ui='ipywidgets') is retired: the form is one anywidget everywhere now "
                      "(RequestForm); drop the ui argument", DeprecationWarning, stacklevel=2)
    return RequestForm(studio, **kwargs)


def StudioForm(studio: Any, **kwargs: Any) -> RequestForm:  # noqa: N802 - the retired class's name
    """Deprecated: the ipywidgets form is retired; this returns the `RequestForm` (``form(studio)``)."""
    warnings.warn("StudioForm is retired: use studio.form() (a RequestForm, the same anywidget in every "
                  "front end)", DeprecationWarning, stacklevel=2)
    return RequestForm(studio, **kwargs)
