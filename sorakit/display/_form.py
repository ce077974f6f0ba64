"""The request form: prompt, model and provider, the sizes and durations that pair allows, seed,
variations, negative prompt and first-frame image where supported, remix of an earlier job, a live
cost estimate and the remaining budget. Submit returns at once; each job's card appears below.
"""

from __future__ import annotations

from typing import Any, Optional

import ipywidgets as widgets

from ..catalog import split_model
from . import _frontend, _request as rq
from ._base import StaticFallback, as_jobs, catalog_of, html, is_emulated, style_widget, with_class
from ._card import JobCard
from ._format import esc, short_id

__all__ = ["StudioForm", "form"]

_NEW = rq.NEW  # remix-from value meaning "a new video"
size_label = rq.size_label


def _field(label: str, widget: widgets.Widget, error: widgets.HTML, *extra: widgets.Widget,
           width: Optional[str] = None) -> widgets.VBox:
    box = widgets.VBox([html(f'<span class="sk-label">{esc(label)}</span>'), widget, *extra, error],
                       layout=widgets.Layout(width=width) if width else widgets.Layout())
    return with_class(box, "sk-field")  # type: ignore[return-value]


_HOTKEY_ESM = """
export default { render({ model, el }) {
  // Ctrl/Cmd+Enter anywhere in the form submits it (captured on the form, before the text field's
  // own handler and before the notebook's "run cell")
  let root = null, tries = 0;
  const onKey = (e) => {
    if (e.key !== "Enter" || !(e.ctrlKey || e.metaKey)) return;
    e.preventDefault(); e.stopPropagation();
    model.send({ type: "submit" });
  };
  const attach = () => {
    root = el.closest(".sk-form");
    if (root) root.addEventListener("keydown", onKey, true);
    else if (tries++ < 50) setTimeout(attach, 100);
  };
  attach();
  return () => { if (root) root.removeEventListener("keydown", onKey, true); };
} };
"""


def _hotkey(on_submit: Any) -> widgets.Widget:
    """An invisible anywidget that turns Ctrl/Cmd+Enter inside the form into ``on_submit()``."""
    import anywidget

    class SubmitKey(anywidget.AnyWidget):
        _esm = _HOTKEY_ESM

    key = SubmitKey(layout=widgets.Layout(width="0px", height="0px", overflow="hidden", margin="0"))
    key.on_msg(lambda _w, content, _b: on_submit() if isinstance(content, dict)
               and content.get("type") == "submit" else None)
    return key


class StudioForm(StaticFallback, widgets.VBox):
    """Ask a Studio for a video. Cards of submitted jobs collect in ``jobs`` below the form."""

    FIELDS = rq.FIELDS

    def __init__(self, studio: Any, *, model: Optional[str] = None, provider: Optional[str] = None):
        self.studio = studio
        self.catalog = catalog_of(studio)
        self.today = rq.today()
        self.errors: dict[str, widgets.HTML] = {f: html("", "sk-field-error") for f in self.FIELDS}
        self._attempted = False
        self._syncing = False
        self.last_plan = None
        self.submitted: list[Any] = []

        # -- widgets ------------------------------------------------------------------------
        self.prompt = widgets.Textarea(placeholder="Describe the shot: subject, action, camera, light, style…",
                                       rows=3, continuous_update=True, layout=widgets.Layout(width="100%"))
        self.counter = html("", "sk-counter")
        self.model = widgets.Dropdown(options=self._model_options(), layout=widgets.Layout(width="260px"))
        self.provider = widgets.Dropdown(options=[], layout=widgets.Layout(width="330px"))
        self.model_note = html("")
        self.size = widgets.Dropdown(options=[], layout=widgets.Layout(width="215px"))
        self.seconds = widgets.ToggleButtons(options=[], style={"button_width": "auto"})
        self.variations = widgets.BoundedIntText(value=1, min=1, max=1, layout=widgets.Layout(width="64px"))
        self.seed = widgets.Text(placeholder="random", layout=widgets.Layout(width="110px"))
        self.audio = widgets.Checkbox(value=True, description="with audio", indent=False,
                                      layout=widgets.Layout(width="auto"))
        self.audio_note = html("", "sk-hint")
        self.negative_prompt = widgets.Textarea(placeholder="What to avoid (optional)", rows=1,
                                                layout=widgets.Layout(width="100%"))
        # ipywidgets' FileUpload appends "(count)" to its label ("Choose image (0)"): sk-upload's
        # CSS draws the label instead (style.css); the chosen file is named beside it (image_info)
        self.image = with_class(widgets.FileUpload(accept="image/*", multiple=False, description="Choose image",
                                                   tooltip="Choose image", layout=widgets.Layout(width="auto")),
                                "sk-upload")
        self.image_clear = with_class(widgets.Button(description="remove", tooltip="Remove the image"),
                                      "sk-small", "sk-link")
        self.image_info = html("", "sk-hint")
        self.remix_from = widgets.Dropdown(options=[("— no, a new video", _NEW)],
                                           layout=widgets.Layout(width="100%"))
        self.cost = html("", "sk-cost")
        self.submit_button = with_class(widgets.Button(description="Generate", button_style="primary",
                                                       icon="play", tooltip="Submit (returns at once) · Ctrl+Enter, ⌘+Enter on a Mac"),
                                        "sk-submit")
        self.message = html("", "sk-message")
        self.jobs = with_class(widgets.VBox([]), "sk-jobs")

        # -- layout -------------------------------------------------------------------------
        emu_all = all(is_emulated(studio, p) for p in self.catalog.providers)
        badge = ('<span class="sk-chip sk-chip-emu" title="requests go to the built-in emulator">'
                 'emulator · no spend</span>') if emu_all else ""
        title = html(f'<div class="sk-head"><span class="sk-form-title">New video</span>{badge}</div>')
        prompt_box = _field("Prompt", self.prompt, self.errors["prompt"], self.counter)
        self.neg_box = _field("Negative prompt", self.negative_prompt, self.errors["negative_prompt"])
        self.image_box = _field("First frame (image-to-video)",
                                with_class(widgets.HBox([self.image, self.image_clear, self.image_info]), "sk-inline"),
                                self.errors["input_image"])
        self.remix_box = _field("Remix an earlier video", self.remix_from, self.errors["source_video_id"])
        row1 = with_class(widgets.HBox([
            _field("Model", self.model, self.errors["model"]),
            _field("Provider", self.provider, self.errors["provider"]),
        ]), "sk-row")
        self.audio_box = with_class(widgets.VBox([self.audio, self.audio_note]), "sk-audio")
        # size, duration, variations, seed and audio share one error line under their row, so a
        # message never widens a field and reflows the row
        row_error = html("", "sk-field-error")
        for name in ("size", "seconds", "variations", "seed", "audio"):
            self.errors[name] = row_error
        no_error = html("")
        self.settings = with_class(widgets.HBox([
            _field("Size", self.size, no_error),
            _field("Duration", self.seconds, no_error),
            _field("Variations", self.variations, no_error),
            _field("Seed", self.seed, no_error),
            self.audio_box,
        ]), "sk-row")
        self.audio_err = row_error
        self.submit_key = _hotkey(self.submit)
        actions = with_class(widgets.HBox([self.submit_button, self.submit_key]), "sk-inline")
        panel = with_class(widgets.VBox([title, prompt_box, row1, self.model_note, self.settings, self.audio_err,
                                         self.neg_box, self.image_box, self.remix_box, self.cost, actions,
                                         self.message]), "sk-card", "sk-form")
        super().__init__(children=[style_widget(), panel, self.jobs])
        self.add_class("sk-root")

        # -- behaviour ----------------------------------------------------------------------
        self.model.observe(self._on_model, "value")
        self.provider.observe(self._on_provider, "value")
        self.remix_from.observe(self._on_remix_from, "value")
        for w in (self.size, self.seconds, self.variations, self.seed, self.audio, self.negative_prompt, self.image):
            w.observe(lambda _c: self._update(), "value")
        self.prompt.observe(lambda _c: self._update(), "value")
        self.image_clear.on_click(lambda _b: setattr(self.image, "value", ()))
        self.image.observe(self._on_image, "value")
        self._on_image()
        self.submit_button.on_click(lambda _b: self.submit())

        model, provider = split_model(model, provider, self.catalog.providers)  # "veo-3-fast@runware" names both
        model = model if model is not None else self.catalog.default_model
        value = rq.model_value(self.catalog, model, provider)
        if rq.open_model(self.catalog, value):  # a provider's id the catalog does not list
            self.add_model(value)
            self.model.value = value
        elif model is not None and model in self.catalog.models:
            self.model.value = model
        else:
            live = [v for _l, v in self.model.options if self._model_served(v)]
            self.model.value = live[0] if live else self.model.options[0][1]
        self._on_model()
        if provider is not None and provider in [v for _l, v in self.provider.options]:
            self.provider.value = provider
        self.refresh_remix_sources()
        self._update()

    # -- catalog-driven options -----------------------------------------------------------------
    def _model_served(self, name: str) -> bool:
        return rq.model_served(self.catalog, name, self.today)

    def _model_options(self) -> list[tuple[str, str]]:
        return rq.model_options(self.catalog, self.today)

    def add_model(self, value: str) -> None:
        """Offer an uncatalogued ``"id@provider"`` in the model list (the open catalog)."""
        if value not in [v for _l, v in self.model.options]:
            self.model.options = list(self.model.options) + [rq.open_option(self.catalog, value)]

    @property
    def offer(self):
        """The catalog offer for the chosen model and provider (None before a choice)."""
        return rq.offer_of(self.catalog, self.model.value, self.provider.value)

    def _provider_options(self, model_name: str) -> list[tuple[str, str]]:
        return rq.provider_options(self.catalog, model_name, self.today)

    def _on_model(self, _change: Any = None) -> None:
        opts = self._provider_options(self.model.value)
        current = self.provider.value
        self._syncing = True
        try:
            self.provider.options = opts
            values = [v for _l, v in opts]
            usable = [v for v in values if self._usable(self.model.value, v)]
            self.provider.value = current if current in usable else (usable or values)[0]
        finally:
            self._syncing = False
        self._on_provider()

    def _usable(self, model: str, provider: str) -> bool:
        return rq.usable(self.catalog, self.studio, model, provider, self.today)

    def _on_provider(self, _change: Any = None) -> None:
        if self._syncing:
            return
        o = self.offer
        if o is None:
            return
        c = rq.offer_choices(o)
        self._syncing = True
        try:
            keep_size, keep_seconds = self.size.value, self.seconds.value
            self.size.options = c["sizes"]
            self.size.value = keep_size if keep_size in o.sizes else c["default_size"]
            self.seconds.options = c["seconds"]
            self.seconds.value = keep_seconds if keep_seconds in o.seconds else c["default_seconds"]
            self.variations.max = c["max_variations"]
            self.variations.value = min(self.variations.value, self.variations.max)
            self.variations.disabled = c["max_variations"] <= 1
            self.seed.disabled = not c["seed"]
            self.seed.placeholder = "random" if c["seed"] else "not taken here"
            if not c["seed"]:
                self.seed.value = ""
            self.audio.layout.display = "" if c["audio"] == "optional" else "none"
            if c["audio"] == "optional":
                self.audio.value = c["default_audio"]
            self.audio_note.value = c["audio_note"]
            self.neg_box.layout.display = "" if c["negative_prompt"] else "none"
            self.image_box.layout.display = "" if c["image"] else "none"
        finally:
            self._syncing = False
        self._model_notice()
        self._update()

    def _model_notice(self) -> None:
        kind, text, ok = rq.model_notice(self.catalog, self.studio, self.model.value, self.offer, self.today)
        self.model_note.value = (f'<div class="sk-msg sk-msg-{kind}">{esc(text)}</div>' if text else "")
        self.submit_button.disabled = not ok

    # -- remix source -------------------------------------------------------------------------
    def refresh_remix_sources(self) -> None:
        """Re-read the ledger for completed jobs that can be remixed."""
        opts = rq.remix_sources(self.studio, self.catalog)
        current = self.remix_from.value
        self.remix_from.options = opts
        self.remix_from.value = current if current in [v for _l, v in opts] else _NEW
        self.remix_box.layout.display = "" if len(opts) > 1 else "none"

    def _job_done(self, row: dict) -> None:
        """Engine thread: a job of this form finished; re-read remix sources off that thread, and
        drop the "Started …; it runs in the background" line once every job it names is done."""
        import threading

        started = getattr(self, "_started", None)
        if started is not None:
            started.discard(str(row.get("job_id")))
            if not started and self.message.value.startswith('<div class="sk-msg sk-msg-ok">Started'):
                self.message.value = ""

        threading.Thread(target=self.refresh_remix_sources, name="sorakit-form-refresh", daemon=True).start()

    def _on_remix_from(self, change: Any = None) -> None:
        src = self.remix_from.value
        remixing = bool(src)
        if remixing:
            row = self.studio.ledger.get(src)
            value = rq.model_value(self.catalog, row["model"], row["provider"])
            if rq.open_model(self.catalog, value):
                self.add_model(value)
            self._syncing = True
            try:
                self.model.value = value
                self.provider.options = self._provider_options(value)
                self.provider.value = row["provider"]
            finally:
                self._syncing = False
            self._on_provider()
        self.model.disabled = self.provider.disabled = remixing
        self.settings.layout.display = "none" if remixing else ""
        self.image_box.layout.display = "none" if remixing or not self.offer or \
            "image-to-video" not in self.offer.capabilities else ""
        self.submit_button.description = "Remix" if remixing else "Generate"
        self._update()

    def _on_image(self, _change: Any = None) -> None:
        data = self._image_bytes()
        self.image_clear.layout.display = "" if data else "none"
        if not data:
            self.image_info.value = "optional: the video starts from this picture"
            return
        name = self.image.value[0].get("name", "image") if isinstance(self.image.value, (tuple, list)) else "image"
        try:
            import io

            from PIL import Image

            with Image.open(io.BytesIO(data)) as im:
                dims = f"{im.width}×{im.height}"
        except Exception:
            dims = "not an image Pillow can read"
        self.image_info.value = esc(f"{name} · {dims} · {len(data) / 1024:.0f} KB")

    # -- request, estimate, validation --------------------------------------------------------
    def _image_bytes(self) -> Optional[bytes]:
        value = self.image.value
        if not value:
            return None
        first = value[0] if isinstance(value, (tuple, list)) else next(iter(value.values()))  # ipywidgets 7 dicts
        return bytes(first["content"])

    def request_fields(self) -> dict[str, Any]:
        """The keyword arguments the form would pass to ``studio.submit`` (after the prompt)."""
        return rq.request_fields(self.studio, self.offer, model=self.model.value, provider=self.provider.value,
                                 remix_from=self.remix_from.value, size=self.size.value,
                                 seconds=self.seconds.value, variations=self.variations.value,
                                 seed=self.seed.value, audio=self.audio.value,
                                 negative_prompt=self.negative_prompt.value, image=self._image_bytes())

    def _clear_errors(self) -> None:
        for e in self.errors.values():
            e.value = ""

    def _show_error(self, exc: BaseException) -> None:
        field = rq.error_field(exc)
        if field is not None and (field != "prompt" or self.prompt.value.strip() or self._attempted):
            self.errors[field].value = esc(rq.readable(exc))
            return
        if field == "prompt":
            return
        self.message.value = f'<div class="sk-msg sk-msg-error">{esc(rq.readable(exc))}</div>'

    def _update(self) -> None:
        """Recount, revalidate and re-estimate after any change (never raises)."""
        if self._syncing:
            return
        text, over = rq.counter_text(self.catalog, self.provider.value, self.prompt.value)
        self.counter.value = f'<div class="sk-counter{" sk-over" if over else ""}">{esc(text)}</div>'
        self._clear_errors()
        if not self.message.value.startswith('<div class="sk-msg sk-msg-ok'):
            self.message.value = ""
        try:
            p = rq.check(self.studio, self.catalog, self.prompt.value, self.request_fields(), self.today,
                         attempted=self._attempted)
        except Exception as exc:
            self.last_plan = None
            self._show_error(exc)
            self.cost.value = rq.cost_html(None, self.studio)
            return
        self.last_plan = p
        self.cost.value = rq.cost_html(p, self.studio)

    # -- submit -------------------------------------------------------------------------------
    def submit(self) -> Any:
        """Validate and submit (returns at once). Errors show in the form; returns the Job(s) or None."""
        self._attempted = True
        self._update()
        self.message.value = ""
        if not self.prompt.value.strip():
            self.errors["prompt"].value = esc(rq.blank_prompt_text(self.catalog, self.provider.value))
            return None
        if self.last_plan is None:  # the catalog already refused it: the message is on screen
            if not any(e.value for e in self.errors.values()) and not self.message.value:
                self.message.value = '<div class="sk-msg sk-msg-error">This request cannot be sent as it is.</div>'
            return None
        try:
            result = rq.send(self.studio, self.prompt.value, self.request_fields(), self.remix_from.value)
        except Exception as exc:  # shown next to its field or in the message area
            self._show_error(exc)
            return None
        jobs = as_jobs(result)
        self.submitted.extend(jobs)
        cards = tuple(JobCard(j, studio=self.studio, on_new_job=self.submitted.append,
                              on_terminal=self._job_done) for j in jobs)
        self.jobs.children = cards + tuple(self.jobs.children)
        ids = ", ".join(short_id(getattr(j, "id", "")) for j in jobs)
        self._started = {str(getattr(j, "id", "")) for j in jobs if not getattr(j, "done", False)}
        self.message.value = (f'<div class="sk-msg sk-msg-ok">Started {esc(ids)}; '
                              f'it runs in the background — keep working, its card below updates itself.</div>')
        return result

    # -- static fallback ----------------------------------------------------------------------
    def _static_html(self) -> str:
        return rq.STATIC_HTML

    def _static_text(self) -> str:
        return rq.STATIC_TEXT


def form(studio: Any, *, ui: str = "auto", **kwargs: Any) -> Any:
    """A form to ask the Studio for a video; submitted jobs show live below it.

    Args:
        studio: the Studio to submit to.
        ui: ``"auto"`` (default): the ipywidgets `StudioForm` in Jupyter, VS Code and Colab; the
            anywidget `RequestForm` in marimo (``mo.ui.anywidget(form(studio))``), which renders
            anywidgets only. ``"ipywidgets"`` or ``"anywidget"`` ask for one of them anywhere.
        model, provider: the model (``"veo-3-fast@runware"`` names both) the form opens on.
    """
    if ui not in ("auto", "ipywidgets", "anywidget"):
        from .._exceptions import ValidationError

        raise ValidationError("ui", ui, ["auto", "ipywidgets", "anywidget"])
    if ui == "anywidget" or (ui == "auto" and _frontend.in_marimo()):
        from ._anyform import RequestForm

        return RequestForm(studio, **kwargs)
    return StudioForm(studio, **kwargs)
