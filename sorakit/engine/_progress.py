"""Progress as text: one line that rewrites itself (a terminal, a notebook without widgets) or a
line every ten seconds (logs). Notebooks with `sorakit.display` get a live card instead
(see `_hooks`)."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional

__all__ = ["TextProgress", "in_kernel"]


def in_kernel() -> bool:
    """True inside a running IPython kernel (a notebook), where a ``\\r`` line rewrites itself."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class TextProgress:
    """A compact one-line progress display of ``ids``, read from the engine's live snapshot."""

    def __init__(self, engine: Any, ids: list[str], label: str, eta: Optional[Callable[[], str]] = None):
        self.engine, self.ids, self.label = engine, ids, label
        self.eta = eta
        """Text of the expected finish from history (re-read at most every 2 s)."""
        self._eta_text, self._eta_at = "", -1e9
        self.started = time.monotonic()
        self.last = ""
        self.last_at = 0.0
        self.tty = in_kernel() or getattr(sys.stdout, "isatty", lambda: False)()

    def line(self) -> str:
        snap = self.engine.snapshot(self.ids)
        elapsed = time.monotonic() - self.started
        if len(self.ids) == 1:
            s = snap.get(self.ids[0]) or {}
            pct = f" {s['progress']}%" if s.get("progress") not in (None, 0) and s.get("status") != "completed" else ""
            status = s.get("status", "pending")
            eta = self._eta_now() if status in ("pending", "submitted", "queued") or (
                status == "in_progress" and not pct) else ""
            return f"sorakit: {self.label} · {status}{pct} · {elapsed:.0f}s" + (f" · {eta}" if eta else "")
        counts: dict[str, int] = {}
        for s in snap.values():
            st = s.get("status", "pending")
            counts[st] = counts.get(st, 0) + 1
        done = counts.get("completed", 0)
        failed = counts.get("failed", 0) + counts.get("cancelled", 0)
        running = len(self.ids) - done - failed
        text = f"sorakit: {self.label} · {done}/{len(self.ids)} done"
        if running:
            text += f" · {running} running"
        if failed:
            text += f" · {failed} failed"
        text += f" · {elapsed:.0f}s"
        eta = self._eta_now() if running else ""
        return text + (f" · {eta}" if eta else "")

    def _eta_now(self) -> str:
        if self.eta is None:
            return ""
        now = time.monotonic()
        if now - self._eta_at >= 2.0:
            try:
                self._eta_text = self.eta()
            except Exception:  # history is a nicety: a ledger hiccup must not break the wait
                self._eta_text = ""
            self._eta_at = now
        return self._eta_text

    def tick(self) -> None:
        now = time.monotonic()
        text = self.line()
        if self.tty:
            if text != self.last and now - self.last_at >= 0.5:
                sys.stdout.write("\r" + text.ljust(len(self.last)))
                sys.stdout.flush()
                self.last, self.last_at = text, now
        elif now - self.last_at >= 10:  # logs: one line every 10 s
            print(text, flush=True)
            self.last, self.last_at = text, now

    def close(self) -> None:
        text = self.line()
        if self.tty:
            sys.stdout.write("\r" + text.ljust(len(self.last)) + "\n")
        else:
            sys.stdout.write(text + "\n")
        sys.stdout.flush()
