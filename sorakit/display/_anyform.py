"""The request form as ONE anywidget: what ``studio.form()`` shows in marimo (and in Jupyter on request).

It offers what the ipywidgets ``StudioForm`` offers — prompt, model and provider, the sizes,
durations, variations, seed, audio, negative prompt and first-frame image that offer allows, a
remix of an earlier job, the live estimate and remaining budget, field errors, Submit, and the
submitted jobs below with their progress, usual latency, Cancel and, once done, the video — in a
single widget model, because marimo renders anywidgets but not ipywidgets.

Division of labour: every choice, default and error comes from Python (``_request``, the module
``StudioForm`` uses too; errors are the `sorakit.ValidationError` the catalog or Studio raises)
and reaches the page as synced state; ``form.js`` only renders it and reports what the user did.
The user's entries are one synced dict, ``value``; Python normalises it (a model change picks a
provider that serves it, a size that offer has...) and writes it back. Submit, Cancel, the image
and the job list's refresh are custom messages. A job is a tile of the underlying ``TileGrid``:
it follows its job from the engine's thread and plays its video by streaming it on play
(``Streamer``), so its ES module is ``stage.js`` (``makeStage``) with ``form.js`` (see ``_esm``).

Updates from the engine's thread: the job list's traits change there, as a card's do. That reaches
JupyterLab, and it reaches marimo 0.25 too: its comm keeps the session it was opened in and sends
from any thread through it (``marimo._plugins.ui._impl.comm.MarimoComm.__init__``). Measured with
``marimo run`` and Chromium, with the polls below switched off (``poll_ms`` 10**8): the page showed
the job pending at 0.2 s, submitted at 0.7 s and completed at 1.6 s, as with polls on. A marimo
whose comm does not keep its session (that comment says a plain background thread has no marimo
runtime context) would drop those sends, so the page keeps a second path: while any
of its jobs runs it asks for their state with a ``poll`` message every ``poll_ms`` and applies
the reply (custom messages are answered on the kernel's own thread everywhere; ``polls`` counts
them). A poll carries only the running jobs, so it costs nothing once they are done.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
from typing import Any, Optional

import traitlets

from . import _request as rq
from ._base import as_jobs, catalog_of, is_emulated, row_of
from ._esm import css, esm
from ._text import cancel_words, outcome_text, plain_reason, progress_text, stopped_waiting, usual_text
from ._format import duration, esc, is_missing, model_at, short_id, size_text
from ._grid import Tile, TileGrid
from ._rows import Item

__all__ = ["RequestForm", "form_esm", "form_css", "POLL_MS"]

POLL_MS = 1000
"""How often (ms) a view asks for its running jobs' state while any is running."""

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""The largest first-frame image a view may send (the providers take far less)."""

def form_esm() -> str:
    """The form's ES module: ``stage.js`` (its stage streams a finished job's video), ``form.js``
    and ``main.js``, assembled by ``_esm`` (the stage is shared with the player, not copied)."""
    return esm("form")


def form_css() -> str:
    return css("form")


def _pairs(options: list[tuple[str, Any]]) -> list[list[Any]]:
    return [[label, value] for label, value in options]


class RequestForm(TileGrid):
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
    poll_ms = traitlets.Int(POLL_MS).tag(sync=True)

    def __init__(self, studio: Any, *, model: Optional[str] = None, provider: Optional[str] = None):
        super().__init__()
        from ..catalog import split_model

        self.studio = studio
        self.catalog = catalog_of(studio)
        self.today = rq.today()
        self.last_plan: Any = None
        self.submitted: list[Any] = []
        self.polls = 0
        """Poll messages answered (the page's second path for live updates)."""
        self._image: Optional[bytes] = None
        self._image_name = "image"
        self._attempted = False
        self._syncing = False
        self._said: dict[str, tuple[str, str]] = {}  # job id -> what its Cancel did
        self._cancel_words: dict[str, tuple[Any, tuple[str, str]]] = {}  # job id -> (provider job id, words)
        self._usual: dict[str, str] = {}
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
        for job in jobs:
            self._usual[str(getattr(job, "id", ""))] = usual_text(job)
        tiles = self._make_tiles([Item(row_of(job), job, self.studio)
                                  for job in jobs], lambda _r: "", poster_width=640, poster_bytes=40_000)
        self.push()
        for t in tiles:
            t._listen()
        ids = ", ".join(short_id(getattr(j, "id", "")) for j in jobs)
        self._started = {t.job_id for t in tiles if not t.terminal}
        self.message = {"kind": "ok", "text": f"Started {ids}; it runs in the background — keep working, "
                                              f"it is listed below and updates itself."}
        return result

    def cancel(self, which: Any) -> Any:
        """Cancel a listed job (its index, its id or the Job) through ``job.cancel()``; the list says
        what happened (the `CancelResult`'s reason). Returns the `CancelResult`, None if it failed."""
        tile = self._tile(which)
        if tile is None:
            return None
        result = None
        try:
            job = tile.job if tile.job is not None else self.studio.job(tile.job_id)
            result = job.cancel()
        except Exception as exc:
            self._said[tile.job_id] = ("error", rq.readable(exc))
        fresh = tile._fresh_row()
        if fresh:
            tile._apply(fresh)
        if result is not None:
            if outcome_text(tile.row):  # the job's own box says it: no second one
                self._said.pop(tile.job_id, None)
            else:
                self._said[tile.job_id] = ("ok" if result.cancelled else "warn",
                                           ("Cancelled: " if result.cancelled else "Not cancelled: ")
                                           + plain_reason(result.reason))
        self.push()
        return result

    def _tile(self, which: Any) -> Optional[Tile]:
        if isinstance(which, int) and not isinstance(which, bool):
            return self.tile_list[which] if 0 <= which < len(self.tile_list) else None
        key = str(getattr(which, "id", which))
        return next((t for t in self.tile_list if t.job_id == key), None)

    # -- the job list --------------------------------------------------------------------------------
    def _tile_data(self, tile: Tile) -> dict:
        r = tile.row
        status = str(r.get("status") or "pending")
        data = tile.data()
        p = r.get("progress")
        kind, said = self._said.get(tile.job_id, ("", ""))
        running = not tile.terminal and status != "completed" and not stopped_waiting(r)
        ended = outcome_text(r)  # plain text: the page sets it as textContent
        label, tip = self._words(tile)
        data.update(
            id=tile.job_id, short=short_id(tile.job_id), title=model_at(r), status=status,
            specs=" · ".join(x for x in (size_text(r.get("size"), r.get("width"), r.get("height")),
                                         duration(r.get("seconds")) if not is_missing(r.get("seconds")) else "",
                                         str(r.get("action")) if r.get("action") not in (None, "generate") else "")
                             if x),
            prompt=str(r.get("prompt") or ""), active=running,
            progress=None if is_missing(p) else max(0, min(100, int(p))),
            text=progress_text(r, usual=self._usual.get(tile.job_id, "")) if running else "",
            cancellable=running and status != "downloading" and r.get("error_code") != "not_cancelled",
            cancel_label=label, cancel_tip=tip,
            shown_status="not_cancelled" if stopped_waiting(r) else status,
            said={"kind": kind, "text": said} if said else {},
            cancelled=ended if status != "failed" else "",
            failed=ended if status == "failed" else "", caption="")
        return data

    def _words(self, tile: Tile) -> tuple[str, str]:
        """The Cancel button's words for this job (chosen again once it is sent)."""
        pjid = tile.row.get("provider_job_id")
        known = self._cancel_words.get(tile.job_id)
        if known is None or known[0] != pjid:
            try:
                job = tile.job if tile.job is not None else self.studio.job(tile.job_id)
            except Exception:  # a row the Studio cannot load: plain words
                job = None
            known = self._cancel_words[tile.job_id] = (pjid, cancel_words(job))
        return known[1]

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
        elif kind == "cancel":
            self.cancel(content.get("tile"))
        elif kind == "image":
            self._image_from_page(content)
        elif kind == "poll":
            self._answer_poll(content)
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

    def _answer_poll(self, content: dict) -> None:
        """The page's running jobs (``tiles``: their indexes) as they are now, with the remix list
        and the estimate (both move when a job finishes)."""
        self.polls += 1
        asked = [i for i in content.get("tiles") or () if isinstance(i, int) and 0 <= i < len(self.tile_list)]
        self.send({"type": "jobs", "view": str(content.get("view", "")),
                   "tiles": {str(i): self._tile_data(self.tile_list[i]) for i in asked},
                   "remixes": self.remixes, "cost": self.cost})

    # -- static fallback ------------------------------------------------------------------------------
    def _static_html(self) -> str:
        return rq.STATIC_HTML

    def _static_text(self) -> str:
        return rq.STATIC_TEXT
