"""The request form: prompt, model and provider, the sizes and durations that pair allows, seed,
variations, negative prompt and first-frame image where supported, remix of an earlier job, a live
cost estimate and the remaining budget. Submit returns at once; each job's card appears below.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import ipywidgets as widgets

from .._exceptions import ValidationError
from .._types import VideoRequest
from ..catalog import SEED_MAX, plan, split_model
from ._base import (StaticFallback, as_jobs, catalog_of, error_text, html, is_emulated,
                    style_widget, with_class)
from ._card import JobCard
from ._format import duration, esc, model_at, money, short_id, truncate

__all__ = ["StudioForm", "form"]

_NEW = ""  # remix-from value meaning "a new video"


def _today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def size_label(size: str) -> str:
    w, _, h = size.partition("x")
    try:
        wi, hi = int(w), int(h)
    except ValueError:
        return size
    shape = "landscape" if wi > hi else "portrait" if hi > wi else "square"
    return f"{wi}×{hi}  {shape}"


def _field(label: str, widget: widgets.Widget, error: widgets.HTML, *extra: widgets.Widget,
           width: Optional[str] = None) -> widgets.VBox:
    box = widgets.VBox([html(f'<span class="sk-label">{esc(label)}</span>'), widget, *extra, error],
                       layout=widgets.Layout(width=width) if width else widgets.Layout())
    return with_class(box, "sk-field")  # type: ignore[return-value]


class StudioForm(StaticFallback, widgets.VBox):
    """Ask a Studio for a video. Cards of submitted jobs collect in ``jobs`` below the form."""

    FIELDS = ("prompt", "model", "provider", "size", "seconds", "variations", "seed", "audio",
              "negative_prompt", "input_image", "source_video_id")

    def __init__(self, studio: Any, *, model: Optional[str] = None, provider: Optional[str] = None):
        self.studio = studio
        self.catalog = catalog_of(studio)
        self.today = _today()
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
        self.size = widgets.Dropdown(options=[], layout=widgets.Layout(width="170px"))
        self.seconds = widgets.ToggleButtons(options=[], style={"button_width": "auto"})
        self.variations = widgets.BoundedIntText(value=1, min=1, max=1, layout=widgets.Layout(width="64px"))
        self.seed = widgets.Text(placeholder="random", layout=widgets.Layout(width="110px"))
        self.audio = widgets.Checkbox(value=True, description="with audio", indent=False,
                                      layout=widgets.Layout(width="auto"))
        self.audio_note = html("", "sk-hint")
        self.negative_prompt = widgets.Textarea(placeholder="What to avoid (optional)", rows=1,
                                                layout=widgets.Layout(width="100%"))
        self.image = widgets.FileUpload(accept="image/*", multiple=False, description="Choose image",
                                        layout=widgets.Layout(width="auto"))
        self.image_clear = with_class(widgets.Button(description="remove", tooltip="Remove the image"),
                                      "sk-small", "sk-link")
        self.image_info = html("", "sk-hint")
        self.remix_from = widgets.Dropdown(options=[("— no, a new video", _NEW)],
                                           layout=widgets.Layout(width="100%"))
        self.cost = html("", "sk-cost")
        self.submit_button = with_class(widgets.Button(description="Generate", button_style="primary",
                                                       icon="play", tooltip="Submit (returns at once)"),
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
        actions = with_class(widgets.HBox([self.submit_button]), "sk-inline")
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

        model, provider = split_model(model, provider)  # "veo-3-fast@runware" names both
        model = model if model is not None else self.catalog.default_model
        if model is not None and model in self.catalog.models:
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
        return any(o.serves_on(self.today) for o in self.catalog.models[name].offers)

    def _model_options(self) -> list[tuple[str, str]]:
        opts = []
        for m in self.catalog:
            label = m.title
            if not any(o.serves_on(self.today) for o in m.offers):
                ended = m.shut_down or max((o.served_until for o in m.offers if o.served_until), default=None)
                label += f" — shut down {ended}" if ended else " — shut down"
            opts.append((label, m.name))
        return opts

    @property
    def offer(self):
        """The catalog offer for the chosen model and provider (None before a choice)."""
        try:
            return self.catalog.models[self.model.value].offer(self.provider.value)
        except (KeyError, AttributeError):
            return None

    def _provider_options(self, model_name: str) -> list[tuple[str, str]]:
        out = []
        for o in self.catalog.models[model_name].offers:
            info = self.catalog.providers[o.provider]
            label = info.title
            if not o.serves_on(self.today):
                label += f" — stopped {o.served_until}"
            out.append((label, o.provider))
        return out

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
        offer = self.catalog.models[model].offer(provider)
        return offer is not None and (offer.serves_on(self.today) or is_emulated(self.studio, provider))

    def _on_provider(self, _change: Any = None) -> None:
        if self._syncing:
            return
        o = self.offer
        if o is None:
            return
        self._syncing = True
        try:
            keep_size, keep_seconds = self.size.value, self.seconds.value
            self.size.options = [(size_label(s), s) for s in o.sizes]
            self.size.value = keep_size if keep_size in o.sizes else o.default_size
            self.seconds.options = [(duration(s), float(s)) for s in o.seconds]
            self.seconds.value = keep_seconds if keep_seconds in o.seconds else float(o.default_seconds)
            self.variations.max = max(1, o.max_variations)
            self.variations.value = min(self.variations.value, self.variations.max)
            self.variations.disabled = o.max_variations <= 1
            seed_ok = "seed" in o.capabilities
            self.seed.disabled = not seed_ok
            self.seed.placeholder = "random" if seed_ok else "not taken here"
            if not seed_ok:
                self.seed.value = ""
            if o.audio == "optional":
                self.audio.layout.display = ""
                self.audio.value = bool(o.default_audio)
                self.audio_note.value = ""
            else:
                self.audio.layout.display = "none"
                self.audio_note.value = "always with audio" if o.audio == "always" else "silent (no audio track)"
            self.neg_box.layout.display = "" if "negative-prompt" in o.capabilities else "none"
            self.image_box.layout.display = "" if "image-to-video" in o.capabilities else "none"
        finally:
            self._syncing = False
        self._model_notice()
        self._update()

    def _model_notice(self) -> None:
        m = self.catalog.models[self.model.value]
        o = self.offer
        if o is None or o.serves_on(self.today):
            self.model_note.value = ""
            self.submit_button.disabled = False
            return
        info = self.catalog.providers[o.provider]
        if is_emulated(self.studio, o.provider):
            self.model_note.value = (f'<div class="sk-msg sk-msg-warn">{esc(info.title)} stopped serving '
                                     f'{esc(m.title)} on {esc(o.served_until)}; the emulator still serves it, '
                                     f'so this request runs on the emulator.</div>')
            self.submit_button.disabled = False
        else:
            self.model_note.value = (f'<div class="sk-msg sk-msg-error">{esc(info.title)} stopped serving '
                                     f'{esc(m.title)} on {esc(o.served_until)}: it cannot be submitted there. '
                                     f'Pick another model, or use <code>Studio(emulate=True)</code> '
                                     f'(the emulator still serves it).</div>')
            self.submit_button.disabled = True

    # -- remix source -------------------------------------------------------------------------
    def refresh_remix_sources(self) -> None:
        """Re-read the ledger for completed jobs that can be remixed."""
        opts: list[tuple[str, str]] = [("— no, a new video", _NEW)]
        try:
            rows = self.studio.ledger.rows(status="completed")
        except Exception:
            rows = []
        for r in reversed(rows[-200:]):
            try:
                offer = self.catalog.models[r["model"]].offer(r["provider"])
            except (KeyError, TypeError):
                continue
            if offer is None or "remix" not in offer.capabilities:
                continue
            opts.append((f"{short_id(r['job_id'])} · {model_at(r)} · {truncate(r.get('prompt'), 48)}", r["job_id"]))
        current = self.remix_from.value
        self.remix_from.options = opts
        self.remix_from.value = current if current in [v for _l, v in opts] else _NEW
        self.remix_box.layout.display = "" if len(opts) > 1 else "none"

    def _job_done(self, _row: dict) -> None:
        """Engine thread: a job of this form finished; re-read remix sources off that thread."""
        import threading

        threading.Thread(target=self.refresh_remix_sources, name="sorakit-form-refresh", daemon=True).start()

    def _on_remix_from(self, change: Any = None) -> None:
        src = self.remix_from.value
        remixing = bool(src)
        if remixing:
            row = self.studio.ledger.get(src)
            self._syncing = True
            try:
                self.model.value = row["model"]
                self.provider.options = self._provider_options(row["model"])
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

    def _seed_value(self) -> Optional[int]:
        text = self.seed.value.strip()
        if not text:
            return None
        try:
            seed = int(text)
        except ValueError:
            raise ValidationError("seed", text, f"blank (random) or an integer from 0 to {SEED_MAX}") from None
        if not 0 <= seed <= SEED_MAX:
            raise ValidationError("seed", seed, f"blank (random) or an integer from 0 to {SEED_MAX}")
        return seed

    def request_fields(self) -> dict[str, Any]:
        """The keyword arguments the form would pass to ``studio.submit`` (after the prompt)."""
        o = self.offer
        fields: dict[str, Any] = {"model": self.model.value, "provider": self.provider.value}
        if self.remix_from.value:
            row = self.studio.ledger.get(self.remix_from.value)
            fields.update(action="remix", source_video_id=self._video_id(row))
            return fields
        fields.update(size=self.size.value, seconds=self.seconds.value, variations=int(self.variations.value))
        seed = self._seed_value()
        if seed is not None:
            fields["seed"] = seed
        if o is not None and o.audio == "optional":
            fields["audio"] = bool(self.audio.value)
        if o is not None and "negative-prompt" in o.capabilities and self.negative_prompt.value.strip():
            fields["negative_prompt"] = self.negative_prompt.value.strip()
        image = self._image_bytes()
        if image is not None and o is not None and "image-to-video" in o.capabilities:
            fields["input_image"] = image
        return fields

    def _video_id(self, row: dict) -> Optional[str]:
        try:
            vid = getattr(self.studio.job(row["job_id"]), "video_id", None)
        except Exception:
            vid = None
        return vid or row.get("provider_job_id")

    def _clear_errors(self) -> None:
        for e in self.errors.values():
            e.value = ""

    def _show_error(self, exc: BaseException) -> None:
        if isinstance(exc, ValidationError):
            field = exc.field if exc.field in self.errors else None
            if field == "action":
                field = "source_video_id"
            if field is not None and (field != "prompt" or self.prompt.value.strip() or self._attempted):
                self.errors[field].value = esc(self._readable(exc))
                return
            if field == "prompt":
                return
        self.message.value = f'<div class="sk-msg sk-msg-error">{esc(self._readable(exc))}</div>'

    @staticmethod
    def _readable(exc: BaseException) -> str:
        return error_text(exc)

    def _update(self) -> None:
        """Recount, revalidate and re-estimate after any change (never raises)."""
        if self._syncing:
            return
        info = self.catalog.providers.get(self.provider.value) if self.provider.value else None
        lo, hi = info.prompt_chars if info else (1, 32000)
        n = len(self.prompt.value.strip())
        over = n > hi or (0 < n < lo)
        self.counter.value = f'<div class="sk-counter{" sk-over" if over else ""}">{n:,} / {hi:,} characters</div>'
        self._clear_errors()
        if not self.message.value.startswith('<div class="sk-msg sk-msg-ok'):
            self.message.value = ""
        try:
            fields = self.request_fields()
            prompt = self.prompt.value if self.prompt.value.strip() else "x" * max(lo, 1)
            p = plan(VideoRequest(prompt=prompt, **fields), self.catalog,
                     emulated=is_emulated(self.studio, self.provider.value), today=self.today)
            if not self.prompt.value.strip() and self._attempted:
                raise ValidationError("prompt", self.prompt.value, f"{lo} to {hi} characters at {info.name if info else ''}",
                                      "write a prompt first")
        except Exception as exc:
            self.last_plan = None
            self._show_error(exc)
            self.cost.value = self._cost_html(None)
            return
        self.last_plan = p
        self.cost.value = self._cost_html(p)

    def _budget(self) -> tuple[Optional[float], float, Optional[float]]:
        b = getattr(self.studio, "budget", None)
        if b is None:
            return None, 0.0, None
        if callable(getattr(b, "status", None)):
            b = b.status()
        cap = getattr(b, "cap", None)
        spent = getattr(b, "spent", 0.0) or 0.0
        remaining = getattr(b, "remaining", None)
        if callable(remaining):
            remaining = remaining()
        if remaining is None and cap is not None:
            remaining = cap - spent
        return cap, float(spent), remaining

    def _cost_html(self, p: Any) -> str:
        if p is None:
            est = "<b>—</b> <span class='sk-faint'>(fix the request to see its cost)</span>"
            amount = None
        elif p.estimated_cost is None:
            est = (f"<b>unknown</b> <span class='sk-faint'>— the catalog has no price for {esc(p.model.name)} at "
                   f"{esc(p.offer.provider)} (not counted as $0)</span>")
            amount = None
        else:
            amount = p.estimated_cost
            breakdown = f"{p.seconds:g} s × {money(p.rate)}/s" + (f" × {p.variations}" if p.variations > 1 else "")
            est = (f"<b>{esc(money(amount))}</b> <span class='sk-faint'>{esc(breakdown)}"
                   f" · price as of {esc(p.price.as_of)}</span>")
        if p is not None and p.emulated:
            est += " <span class='sk-faint'>· emulated: nothing is charged</span>"
        cap, spent, remaining = self._budget()
        if cap is None:
            budget = f"no cap · {esc(money(spent))} committed this session"
        else:
            budget = f"<b>{esc(money(remaining))}</b> of {esc(money(cap))} left"
            if amount is not None and remaining is not None and amount > remaining + 1e-9:
                budget += " <span style='color:#c4242f'>· this request would exceed the budget</span>"
        return (f'<div style="display:flex;flex-direction:column;gap:3px"><span>Estimated {est}</span>'
                f"<span class='sk-muted'>Budget: {budget}</span></div>")

    # -- submit -------------------------------------------------------------------------------
    def submit(self) -> Any:
        """Validate and submit (returns at once). Errors show in the form; returns the Job(s) or None."""
        self._attempted = True
        self._update()
        self.message.value = ""
        if not self.prompt.value.strip():
            info = self.catalog.providers.get(self.provider.value)
            self.errors["prompt"].value = esc(f"Write a prompt first ({info.prompt_chars[0]} to "
                                              f"{info.prompt_chars[1]:,} characters at {info.title}).")
            return None
        if self.last_plan is None:  # the catalog already refused it: the message is on screen
            if not any(e.value for e in self.errors.values()) and not self.message.value:
                self.message.value = '<div class="sk-msg sk-msg-error">This request cannot be sent as it is.</div>'
            return None
        try:
            fields = self.request_fields()
            prompt = self.prompt.value
            if fields.get("action") == "remix":
                result = self._remix(prompt)
            else:
                result = self.studio.submit(prompt, **fields)
        except Exception as exc:  # shown next to its field or in the message area
            self._show_error(exc)
            return None
        jobs = as_jobs(result)
        self.submitted.extend(jobs)
        cards = tuple(JobCard(j, studio=self.studio, on_new_job=self.submitted.append,
                              on_terminal=self._job_done) for j in jobs)
        self.jobs.children = cards + tuple(self.jobs.children)
        ids = ", ".join(short_id(getattr(j, "id", "")) for j in jobs)
        self.message.value = (f'<div class="sk-msg sk-msg-ok">Started {esc(ids)}; '
                              f'it runs in the background — keep working, its card below updates itself.</div>')
        return result

    def _remix(self, prompt: str) -> Any:
        """A remix through the Studio's own ``remix`` (it keeps the source's model and provider)."""
        return self.studio.remix(self.remix_from.value, prompt, wait=False, progress=False)

    # -- static fallback ----------------------------------------------------------------------
    def _static_html(self) -> str:
        return ("<div style='font:12px sans-serif;color:#57606a;border:1px dashed #ccc;border-radius:6px;"
                "padding:8px 12px;display:inline-block'>sorakit request form — run the notebook to use it; "
                "every job it started is in the ledger (<code>studio.browse()</code>).</div>")

    def _static_text(self) -> str:
        return "<sorakit form: run the notebook to use it>"


def form(studio: Any, **kwargs: Any) -> StudioForm:
    """A form to ask the Studio for a video; submitted jobs show as live cards below it."""
    return StudioForm(studio, **kwargs)
