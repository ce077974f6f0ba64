"""Cost estimates before submission: one line per request, unknown prices shown as unknown."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

from .._types import VideoRequest
from ._catalog import Catalog
from ._plan import Plan, plan

__all__ = ["CostLine", "Estimate", "estimate"]


@dataclass(frozen=True)
class CostLine:
    """The cost of one request: rate × seconds × variations."""

    prompt: str
    model: str
    provider: str
    size: str
    seconds: float
    audio: bool
    variations: int
    rate: Optional[float]
    """USD per second; None when the catalog has no price for this output."""
    subtotal: Optional[float]
    """USD; None when the rate is unknown."""
    as_of: Optional[dt.date]
    source: Optional[str]
    per_token: bool = False
    """True when the provider bills output video tokens (Gemini Omni): ``rate`` is then an estimate,
    ``video_tokens_per_second`` × ``usd_per_video_token``; the billed cost comes from the usage
    the provider reports."""
    catalogued: bool = True
    """False for a provider model id the catalog does not list (its price is unknown)."""

    @classmethod
    def of(cls, p: Plan) -> "CostLine":
        return cls(
            prompt=p.prompt, model=p.model.name, provider=p.offer.provider, size=p.size,
            seconds=p.seconds, audio=p.audio, variations=p.variations, rate=p.rate,
            subtotal=p.estimated_cost, as_of=p.price.as_of if p.price else None,
            source=p.price.source if p.price else None, per_token=bool(p.price and p.price.per_token),
            catalogued=p.catalogued,
        )

    @property
    def rate_text(self) -> str:
        """``$0.1/s``, ``~$0.0695/s`` (estimated from a per-token price) or ``unknown``."""
        if self.rate is None:
            return ("unknown" if self.catalogued else "unknown (not in catalog)") + (" (per token)" if self.per_token else "")
        return f"~${self.rate:.4g}/s" if self.per_token else f"${self.rate:g}/s"


@dataclass(frozen=True)
class Estimate:
    """The estimated cost of a batch. ``total`` sums the known lines; ``unknown`` counts the others."""

    lines: tuple[CostLine, ...]

    @property
    def total(self) -> float:
        return round(sum(l.subtotal for l in self.lines if l.subtotal is not None), 6)

    @property
    def unknown(self) -> int:
        """How many lines have no known price."""
        return sum(1 for l in self.lines if l.subtotal is None)

    @property
    def complete(self) -> bool:
        return self.unknown == 0

    @property
    def seconds(self) -> float:
        """Seconds of video the batch produces (all variations)."""
        return sum(l.seconds * l.variations for l in self.lines)

    @property
    def df(self):
        import pandas as pd

        cols = ["prompt", "model", "provider", "size", "seconds", "audio", "variations",
                "rate", "subtotal", "as_of", "source", "per_token", "catalogued"]
        return pd.DataFrame([{c: getattr(l, c) for c in cols} for l in self.lines], columns=cols)

    def summary(self) -> str:
        """One line: total and what is unknown."""
        text = f"${self.total:.2f} for {len(self.lines)} request(s), {self.seconds:g} s of video"
        if self.unknown:
            text += f"; {self.unknown} line(s) with unknown price not included"
        if any(l.per_token and l.subtotal is not None for l in self.lines):
            text += "; per-token prices estimated from tokens per second"
        return text

    def __str__(self) -> str:
        head = f"{'model':<20} {'provider':<9} {'size':>9} {'sec':>4} {'var':>3} {'rate':>9} {'subtotal':>9}"
        rows = [head]
        for l in self.lines:
            rate = l.rate_text
            sub = "unknown" if l.subtotal is None else ("~" if l.per_token else "") + f"${l.subtotal:.2f}"
            rows.append(f"{l.model:<20} {l.provider:<9} {l.size:>9} {l.seconds:>4g} {l.variations:>3} {rate:>9} {sub:>9}")
        rows.append("total: " + self.summary())
        return "\n".join(rows)

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                l.prompt[:60], l.model, l.provider, l.size, f"{l.seconds:g}", l.variations,
                l.rate_text,
                "unknown" if l.subtotal is None else ("~" if l.per_token else "") + f"${l.subtotal:.2f}")) + "</tr>"
            for l in self.lines
        )
        head = "".join(f"<th>{h}</th>" for h in ("prompt", "model", "provider", "size", "seconds",
                                                  "variations", "rate", "subtotal"))
        return (f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"
                f"<p><b>Total:</b> {html.escape(self.summary())}</p>")


def estimate(
    requests: Union[VideoRequest, Plan, Iterable[Union[VideoRequest, Plan]]],
    catalog: Catalog | None = None,
    *,
    emulated: bool = False,
    today: dt.date | None = None,
) -> Estimate:
    """Estimate one request or a batch. Invalid requests raise `ValidationError` (nothing is sent)."""
    items: Sequence = [requests] if isinstance(requests, (VideoRequest, Plan)) else list(requests)
    plans = [i if isinstance(i, Plan) else plan(i, catalog, emulated=emulated, today=today) for i in items]
    return Estimate(tuple(CostLine.of(p) for p in plans))
