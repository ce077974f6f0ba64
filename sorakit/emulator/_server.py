"""Serving the emulator over real HTTP with uvicorn: `EmulatorServer` (background thread, for tests
and notebooks) and `serve` (foreground, for ``sorakit emulator``).

Both bind 127.0.0.1 unless told otherwise and use an h11 protocol that lets the ``reset`` fault
abort the socket, so a client sees a genuine dropped connection.

uvicorn (and ``websockets``, which uvicorn needs to serve Runware's WebSocket route) come with the
``emulator`` extra, not with ``pip install sorakit``: ``Studio()`` runs the emulator in-process over
httpx's ASGI transport and never needs a server. So uvicorn is imported here only when a server is
made; without it, `EmulatorServer` and `serve` raise `ModuleNotFoundError` saying
``pip install 'sorakit[emulator]'``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Optional

from ._app import Emulator

if TYPE_CHECKING:
    import uvicorn

__all__ = ["EmulatorServer", "serve", "free_port", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'sorakit[emulator]'"


def _uvicorn():
    """The uvicorn module, or `ModuleNotFoundError` saying which extra brings it."""
    try:
        import uvicorn
    except ImportError as exc:
        raise ModuleNotFoundError(
            f"serving the sorakit emulator over HTTP needs uvicorn, which is not installed: "
            f"{INSTALL_HINT}  (Studio() needs no server: it runs the emulator in-process)",
            name="uvicorn") from exc
    return uvicorn


@lru_cache(maxsize=None)
def _droppable_h11() -> type:
    """uvicorn's h11 protocol, plus ``scope["extensions"]["sorakit.drop_connection"]``: a callable
    that aborts this connection (used by the ``reset`` and ``truncate_download`` faults).
    Made on first use, so that importing this module does not import uvicorn."""
    _uvicorn()
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class _DroppableH11(H11Protocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            inner = self.app
            protocol = self

            async def app(scope, receive, send):
                if scope.get("type") == "http":
                    scope["extensions"] = {**(scope.get("extensions") or {}),
                                           "sorakit.drop_connection": protocol._sorakit_drop}
                return await inner(scope, receive, send)

            self.app = app

        def _sorakit_drop(self) -> None:
            transport = getattr(self, "transport", None)
            if transport is not None and not transport.is_closing():
                transport.abort()

    return _DroppableH11


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _config(emulator: Emulator, host: str, port: int, log_level: str) -> "uvicorn.Config":
    return _uvicorn().Config(
        emulator.app,
        host=host,
        port=port,
        http=_droppable_h11(),
        ws="websockets-sansio",  # Runware's WebSocket protocol (the official SDKs' default transport)
        lifespan="off",
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,
    )


class EmulatorServer:
    """Run an `Emulator` behind uvicorn in a background thread (a context manager).

    Args:
        emulator: the emulator to serve (default: a fresh one with default settings).
        host: interface to bind; keep the default (loopback) unless you mean to expose it.
        port: 0 picks a free port; see `base_url` / `port` once started.
        log_level: uvicorn's log level.

    Raises:
        ModuleNotFoundError: uvicorn is not installed (``pip install 'sorakit[emulator]'``).

    ```python
    with EmulatorServer(Emulator(EmulatorConfig(time_scale=0.02))) as server:
        client = openai.OpenAI(base_url=server.base_url + "/openai/v1", api_key="x")
    ```
    """

    def __init__(self, emulator: Optional[Emulator] = None, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning") -> None:
        _uvicorn()  # fail here, before anything is made, when the `emulator` extra is missing
        self.emulator = emulator if emulator is not None else Emulator()
        self._own_emulator = emulator is None
        self.host = host
        self.port = port
        self.log_level = log_level
        self._server: Optional[uvicorn.Server] = None
        self._thread: Optional[threading.Thread] = None
        self._socket: Optional[socket.socket] = None
        self._error: Optional[BaseException] = None

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def url(self, provider: str) -> str:
        """Base URL of one provider surface, e.g. ``url("openai")`` -> ``http://127.0.0.1:PORT/openai/v1``."""
        return self.base_url + self.emulator.surfaces[provider].prefix

    def start(self, timeout: float = 10.0) -> "EmulatorServer":
        """Bind, start serving in a daemon thread and wait until it accepts connections."""
        if self._thread is not None:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._socket = sock
        server = _uvicorn().Server(_config(self.emulator, self.host, self.port, self.log_level))
        self._server = server

        def run() -> None:
            try:
                asyncio.run(server.serve(sockets=[sock]))
            except BaseException as exc:  # pragma: no cover - reported by start()
                self._error = exc

        self._thread = threading.Thread(target=run, name=f"sorakit-emulator:{self.port}", daemon=True)
        self._thread.start()
        waited = 0.0
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the emulator server did not start: {self._error!r}")
            if waited >= timeout:
                self.stop()
                raise TimeoutError(f"the emulator server did not start within {timeout} s")
            threading.Event().wait(0.01)
            waited += 0.01
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread (closes the emulator if this server created it)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        if self._own_emulator:
            self.emulator.close()

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._thread is not None else "stopped"
        return f"EmulatorServer({self.base_url}, {state})"


def serve(emulator: Emulator, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve in the foreground until interrupted (Ctrl-C / SIGTERM).

    Raises `ModuleNotFoundError` when uvicorn is not installed (``pip install 'sorakit[emulator]'``)."""
    _uvicorn().Server(_config(emulator, host, port, log_level)).run()
