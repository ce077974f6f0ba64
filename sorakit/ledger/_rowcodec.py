"""A job's request and its ledger row, both ways: the one place that maps a catalog `Plan` to the
row written before the job is sent, and a row back to the `Plan` a resume or retry sends again.

```
Plan ──row_from_plan──▶ row (dict of ledger columns; one per variation)
row  ──plan_from_row──▶ Plan (planned again through the catalog, dates not checked)
```
What a row keeps of its request, and where:

* the request's own fields in their columns: provider, model, prompt, negative_prompt, ``seed``
  (the seed *asked for*; None when the provider chose), size, seconds, audio, variations,
  action, source_video_id, input_image_sha256 (the image's bytes are in the media cache), tags;
* ``provider_model``: the id sent to the provider. For a model the catalog does not list (a
  provider's own id, the open catalog) ``model`` and ``provider_model`` are both that id and
  ``extra.uncatalogued`` is true; a rebuilt plan sends the same id again;
* ``extra``: ``client_ref`` and ``owner`` (who created the job), ``input_image_url`` (an image
  given as a URL), ``source_video_sha256`` (a source video sent inline), ``price`` (the catalog's
  price when the job was planned);
* ``emulated``: whether the emulator runs the job; the rebuilt plan says the same.

The seed the provider *used* is written on completion to ``provider_seed`` by the engine (each
variation may differ); `seed_used` is the one to pass to get the same video again.

A rebuilt plan is planned with ``check_dates=False``: the job was accepted when it was sent, so a
model retired since must not stop it resuming. Ledgers written before ``provider_seed`` existed
kept the requested seed in ``extra.request_seed`` (``seed`` was overwritten on completion); opening
one migrates it (`sorakit.ledger.Ledger`), and `plan_from_row` still honours the key in a row an
older sorakit wrote after the migration.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, Callable, Mapping, Optional

from .._exceptions import SorakitError
from .._types import VideoRequest
from ..catalog import Catalog, Plan, plan as make_plan
from ._codec import split_tags

__all__ = ["row_from_plan", "plan_from_row", "seed_used", "Fetch"]

Fetch = Callable[[str, str], bytes]
"""``fetch(sha256, what) -> bytes``: a cached file's bytes; ``what`` is ``"input image"`` or
``"source video"``."""


def row_from_plan(plan: Plan, *, job_id: str, client_ref: str, owner: str, batch_id: Optional[str] = None,
                  variation_index: int = 0, provider_model: Optional[str] = None,
                  provider_job_id: Optional[str] = None) -> dict:
    """The ledger row of one variation of ``plan``, written before anything is sent (status
    ``pending``). ``provider_model`` is the id the provider is sent (default: the offer's id);
    ``provider_job_id`` is set when the client names the task (an idempotent create)."""
    p = plan
    est = p.estimated_cost
    extra: dict[str, Any] = {"client_ref": client_ref, "owner": owner}
    if p.input_image_url:
        extra["input_image_url"] = p.input_image_url
    if p.source_video_sha256:  # found again in the media cache on resume
        extra["source_video_sha256"] = p.source_video_sha256
    if p.price is not None:
        extra["price"] = {"usd_per_second": p.price.usd_per_second, "as_of": str(p.price.as_of),
                          "source": p.price.source}
        if p.price.per_token:  # billed by the output video tokens the provider reports
            extra["price"].update(usd_per_video_token=p.price.usd_per_video_token,
                                  video_tokens_per_second=p.price.video_tokens_per_second)
    if not p.catalogued:  # the provider's own id, sent as is: model = provider_model = that id
        extra["uncatalogued"] = True
    return dict(
        job_id=job_id, batch_id=batch_id, provider=p.provider.name, model=p.model.name,
        provider_model=provider_model or p.provider_model, provider_job_id=provider_job_id,
        variation_index=variation_index, status="pending", progress=0, action=p.action, prompt=p.prompt,
        negative_prompt=p.negative_prompt, seed=p.seed, provider_seed=None, size=p.size, width=p.width,
        height=p.height, seconds=p.seconds, fps=p.fps, audio=p.audio, variations=p.variations,
        input_image_sha256=p.input_image_sha256, source_video_id=p.source_video_id,
        estimated_cost=None if est is None else round(est / p.variations, 6), currency="USD",
        emulated=p.emulated, attempts=0, tags=list(p.request.tags) or None, extra=extra,
    )


def plan_from_row(row: Mapping[str, Any], catalog: Catalog, today: Optional[dt.date] = None, *,
                  fetch: Optional[Fetch] = None,
                  wants_source_file: Optional[Callable[[Plan], bool]] = None) -> Plan:
    """The `Plan` a ledger row was written from, planned again through ``catalog``.

    ``today`` (default: the row's ``created_at`` date) is the catalog's "today"; retirement and
    shut-down dates are not checked (``check_dates=False``) and ``emulated`` is the row's. A model
    the catalog does not list (or no longer lists under that name) is planned from the id that was
    sent (``provider_model``) through the open catalog, or the offer that now has that id.
    ``fetch`` reads the input image (``input_image_sha256``) and, when ``wants_source_file(plan)``
    is true, the source video (``extra.source_video_sha256``) from the media cache; a row that
    needs one and no ``fetch`` raises `SorakitError`.
    """
    extra = row.get("extra") or {}
    if isinstance(extra, str):  # a Ledger.df cell: the JSON text
        extra = json.loads(extra)
    job_id = row.get("job_id")

    def read(sha: str, what: str) -> bytes:
        if fetch is None:
            raise SorakitError(f"job {job_id}: its {what} ({sha[:12]}…) is needed to send it again "
                               f"and no media cache was given to read it from")
        return fetch(sha, what)

    sha = row.get("input_image_sha256")
    image = read(sha, "input image") if sha else None
    model = row.get("model")
    if model not in catalog.models and row.get("provider_model"):
        # a model id the catalog lacks (or no longer lists under that name): the id that was
        # sent, planned again through the open catalog (or the offer that now has that id)
        model = row["provider_model"]
    # a row written by a sorakit older than the provider_seed column kept the requested seed here
    seed = extra["request_seed"] if "request_seed" in extra else _int_or_none(row.get("seed"))
    req = VideoRequest(
        prompt=row.get("prompt") or "", model=model, provider=row.get("provider"),
        size=row.get("size"), seconds=row.get("seconds"), seed=seed,
        variations=int(row.get("variations") or 1), negative_prompt=row.get("negative_prompt"),
        audio=row.get("audio"), input_image=image if image is not None else extra.get("input_image_url"),
        source_video_id=row.get("source_video_id"), action=row.get("action") or "generate",
        tags=tuple(split_tags(row.get("tags"))),
    )
    if today is None:
        created = row.get("created_at")
        today = created.date() if isinstance(created, dt.datetime) else None
    p = make_plan(req, catalog, emulated=_flag(row.get("emulated")), today=today, check_dates=False)
    video_sha = extra.get("source_video_sha256")
    if video_sha and wants_source_file is not None and wants_source_file(p):
        p = dataclasses.replace(p, source_video_sha256=video_sha, source_video=read(video_sha, "source video"))
    return p


def seed_used(row: Mapping[str, Any]) -> Optional[int]:
    """The seed that made this row's video, to pass to get the same video again: the one the
    provider reported (``provider_seed``), else the one asked for (``seed``); None when neither
    is known (the provider chose and did not say)."""
    for name in ("provider_seed", "seed"):
        value = _int_or_none(row.get(name))
        if value is not None:
            return value
    return None


def _flag(value: Any) -> bool:
    """A boolean cell as ``bool`` (empty, NA included, is False)."""
    try:
        return value is not None and bool(value)
    except TypeError:  # pandas.NA
        return False


def _int_or_none(value: Any) -> Optional[int]:
    """An integer cell as ``int`` (``Ledger.df`` gives numpy / pandas integers, NA for empty)."""
    if value is None:
        return None
    try:
        if value != value:  # NaN
            return None
        return int(value)
    except (TypeError, ValueError):  # pandas.NA compares to NA, which has no truth value
        return None
