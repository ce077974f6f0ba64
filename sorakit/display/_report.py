"""Shareable reports: one self-contained HTML file of a gallery or a comparison.

Posters are data URIs, captions are text and a cost table closes the page; with ``embed=True`` the
videos themselves are written in as ``data:video/mp4;base64,...`` (a warning above
``EMBED_WARN_BYTES``, since the file grows by 4/3 of the videos' size). Nothing is fetched when the
file is opened: no script, no external stylesheet, no font.
"""

from __future__ import annotations

import html as _html
import os
import warnings
from pathlib import Path
from typing import Any, Optional, Union

from ._format import clock, duration, esc, is_missing, model_at, money, size_text, truncate

__all__ = ["EMBED_WARN_BYTES", "write_report", "cost_table", "value_section"]

EMBED_WARN_BYTES = 25_000_000
"""Above this many bytes of embedded video, ``to_html(embed=True)`` warns (mail and chat limits)."""


def _cost(row: dict) -> Optional[float]:
    for key in ("billed_cost", "estimated_cost"):
        if not is_missing(row.get(key)):
            return float(row[key])
    return None


def cost_table(rows: list[dict]) -> str:
    """One line per video (model@provider, size, duration, estimated, billed, latency) and totals."""
    head = "".join(f"<th>{h}</th>" for h in ("#", "prompt", "model@provider", "size", "duration",
                                                "estimated", "billed", "latency", "status"))
    body = []
    for i, r in enumerate(rows, 1):
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            i, esc(truncate(r.get("prompt"), 60)), esc(model_at(r)),
            esc(size_text(r.get("size"), r.get("width"), r.get("height"))),
            esc(duration(r.get("seconds")) if not is_missing(r.get("seconds")) else ""),
            esc(money(r.get("estimated_cost"))), esc(money(r.get("billed_cost"))),
            esc(clock(r.get("latency_s")) if not is_missing(r.get("latency_s")) else ""),
            esc(r.get("status") or ""))) + "</tr>")
    est = [float(r["estimated_cost"]) for r in rows if not is_missing(r.get("estimated_cost"))]
    billed = [float(r["billed_cost"]) for r in rows if not is_missing(r.get("billed_cost"))]
    unknown = len(rows) - len(est)
    total = (f"<tr class='total'><td></td><td>total ({len(rows)} videos)</td><td></td><td></td><td></td>"
             f"<td>{esc(money(sum(est)) if est else 'unknown')}{f' + {unknown} unknown' if est and unknown else ''}</td>"
             f"<td>{esc(money(sum(billed)) if billed else '')}</td><td></td><td></td></tr>")
    return f"<table class='costs'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}{total}</tbody></table>"


def _studio_of(tiles: Any) -> Any:
    """The Studio behind a grid's tiles, if any (its votes feed the value section)."""
    for tile in tiles:
        studio = getattr(tile, "studio", None)
        if studio is not None and hasattr(studio, "ledger"):
            return studio
    return None


def value_section(rows: list[dict], studio: Any = None, usable: Any = None) -> str:
    """"Which model is worth it" for the report: dollars per usable second per model@provider with
    its bootstrap interval (a chart when matplotlib is installed, and the table), from the rows'
    ratings (and the Studio's blind votes, check columns). Empty when nothing was judged yet:
    no rating and no vote means no usable share worth printing."""
    import pandas as pd

    from ..engine._value import value_report

    done = [r for r in rows if r.get("status") == "completed"]
    votes = None
    if studio is not None:
        try:
            votes = studio.ledger.votes()
        except Exception:  # an old or closed ledger: the section still reads the ratings
            votes = None
    if votes is None:
        votes = pd.DataFrame(columns=["left_job_id", "right_job_id", "outcome"])
    rated = any(not is_missing(r.get("rating")) for r in done)
    if not done or (not rated and votes.empty):
        return ""
    frame = pd.DataFrame(done)
    frame["model@provider"] = [model_at(r) for r in done]
    if usable is None:
        usable = {"rating": 4} if rated else {"preferred": True}
    report = value_report(frame, votes, usable, key="model@provider", n_boot=1000)
    chart = ""
    try:
        import base64
        import io

        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from ..engine._value import plot_value

        ax = plot_value(report)
        buf = io.BytesIO()
        ax.figure.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(ax.figure)
        chart = (f"<img alt='dollars per usable second per model' style='max-width:720px' "
                 f"src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>")
    except ImportError:  # matplotlib is the `lab` extra: the table alone says it
        chart = ""
    head = "".join(f"<th>{h}</th>" for h in ("model@provider", "clips", "usable", "cost",
                                                "$ per usable second", f"{int(report.attrs['level'] * 100)} % interval"))
    body = []
    for name, r in report.iterrows():
        per = r["dollars_per_usable_second"]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            esc(name), r["clips"], f"{r['usable']} ({r['usable_share']:.0%})", esc(money(r["cost"])),
            esc(f"${per:.3f}" if per != float("inf") else "no usable clip"),
            esc(_interval(r["low"], r["high"])))) + "</tr>")
    sep = report.attrs.get("separation") or {}
    verdict = ""
    if sep:
        more = sep["more_clips_best"] + sep["more_clips_runner_up"] if sep["clips_per_model"] != float("inf") else None
        verdict = (f"<p class='sub'>{esc(sep['best'])} vs {esc(sep['runner_up'])}: "
                   + (f"about {more} more clips (≈ {esc(money(sep['more_dollars']))}) would tell their usable "
                      f"shares apart at 95 % ({esc(sep['method'])}, 80 % power)." if more is not None
                      else "their usable shares are equal so far; no number of clips would separate them.")
                   + "</p>")
    notes = "".join(f"<p class='sub'>{esc(n)}</p>" for n in report.attrs.get("notes", []))
    return (f"<h2 style='font-size:15px;margin-top:24px'>Cost per usable second</h2>"
            f"<p class='sub'>usable = {esc(report.attrs['usable'])}; cost billed, else estimated</p>{chart}"
            f"<table class='costs'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"{verdict}{notes}")


def _interval(low: float, high: float) -> str:
    if low != low:  # nan: fewer than two clips
        return ""
    top = "∞" if high == float("inf") else f"${high:.3f}"
    return f"${low:.3f} – {top}"


_STYLE = """body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2328;margin:24px;max-width:1400px}
h1{font-size:20px;margin:0 0 4px}.sub{color:#57606a;font-size:13px;margin:0 0 16px}
table{border-collapse:collapse}table.costs{margin-top:20px;font-size:12.5px}
table.costs th,table.costs td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
table.costs tr.total td{font-weight:600;border-top:2px solid #57606a}
video,img{max-width:100%;border-radius:6px}"""


def write_report(path: Union[str, os.PathLike], *, title: str, subtitle: str, body: str,
                 rows: list[dict], embed: bool, value: str = "") -> Path:
    """Write the HTML file and return its path; warns when embedded videos make it large."""
    out = Path(path)
    if out.suffix.lower() not in (".html", ".htm"):
        from .._exceptions import ValidationError

        raise ValidationError("path", str(path), "a file name ending in .html or .htm")
    if embed:
        from ._player import _local  # a store URL is fetched (once) to be embedded anyway

        videos = [_local(r) for r in rows]
        total = sum(os.path.getsize(v) for v in videos if v)
        if total * 4 // 3 > EMBED_WARN_BYTES:
            warnings.warn(f"to_html(embed=True) writes {total * 4 // 3 / 1e6:.1f} MB of video into {out.name} "
                          f"(more than {EMBED_WARN_BYTES / 1e6:.0f} MB: too big for most mail and chat); "
                          "embed=False keeps posters only", UserWarning, stacklevel=3)
    doc = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
           f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
           f"<title>{_html.escape(title)}</title><style>{_STYLE}</style></head><body>"
           f"<h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p>{body}"
           f"{value}<h2 style='font-size:15px;margin-top:24px'>Costs</h2>{cost_table(rows)}"
           f"<p class='sub' style='margin-top:16px'>made with sorakit · "
           f"{'videos embedded' if embed else 'posters only: the videos stay in the cache'}</p></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    return out
