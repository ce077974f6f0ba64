"""The HTTP transport of a Runtime's client: httpx's own, with a cheaper answer to one question.

httpcore's connection pool asks every idle connection, on every request it places and every
response it closes, whether it has expired: ``stream.get_extra_info("is_readable")``. On asyncio
httpcore's stream is anyio's, and anyio answers ``extra(raw_socket)`` by building a dict of every
socket attribute (a ``getpeername`` system call included) each time: in bench/cpu.py (1,000 jobs,
32 connections) that question cost more CPU than the JSON, the ledger and the posters together.

`_Stream` wraps httpcore's stream and keeps the socket it was opened on, so the question is one
``poll(0)`` of that socket (httpcore's own `is_socket_readable`, the same answer as before).
Everything else (reads, writes, TLS, timeouts, error mapping, the pool's rules) is httpcore's and
httpx's, unchanged. Should a future httpx no longer build its pool where this expects it, the
transport is left as httpx made it (correct, only slower).

The pool also scans all its connections once per *queued* request each time it places one: with
a hundred jobs' requests waiting inside it, that scan was the largest single item of the client's
CPU. `_Gated` lets no more requests into the pool than it has connections (the same limit: a
request waits in an `asyncio.Semaphore` instead, in the same order), each holding its place until
its response is closed, so the pool's queue stays short.
"""

from __future__ import annotations

import asyncio
import typing

import httpcore
import httpx
from httpcore._utils import is_socket_readable

__all__ = ["http_transport"]


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's network stream, with the socket it runs on kept (see the module text)."""

    __slots__ = ("_inner", "_sock")

    def __init__(self, inner: httpcore.AsyncNetworkStream):
        self._inner = inner
        self._sock = inner.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: typing.Optional[float] = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: typing.Optional[float] = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: typing.Any, server_hostname: typing.Optional[str] = None,
                        timeout: typing.Optional[float] = None) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "is_readable":
            return is_socket_readable(self._sock)
        if info == "socket":
            return self._sock
        return self._inner.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend; its TCP streams come back wrapped in `_Stream`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend):
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: typing.Optional[float] = None,
                          local_address: typing.Optional[str] = None,
                          socket_options: typing.Optional[typing.Iterable[typing.Any]] = None
                          ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options))

    async def connect_unix_socket(self, path: str, timeout: typing.Optional[float] = None,
                                  socket_options: typing.Optional[typing.Iterable[typing.Any]] = None
                                  ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Released(httpx.AsyncByteStream):
    """A response body that gives its place in the gate back once, when closed."""

    def __init__(self, inner: typing.Any, release: typing.Callable[[], None]):
        self._inner = inner
        self._release: typing.Optional[typing.Callable[[], None]] = release

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class _Gated(httpx.AsyncBaseTransport):
    """At most ``places`` requests inside ``inner`` at once (see the module text)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, places: int):
        self._inner = inner
        self._gate = asyncio.Semaphore(places)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self._gate.acquire()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._gate.release()
            raise
        response.stream = _Released(response.stream, self._gate.release)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def http_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """``httpx.AsyncHTTPTransport(limits=limits)`` (what ``httpx.AsyncClient(limits=...)`` builds:
    certificates verified, environment honoured), its pool's streams wrapped in `_Stream`, and
    gated to its ``max_connections`` (`_Gated`). Make it on the event loop that will use it."""
    transport = httpx.AsyncHTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    if type(pool) is httpcore.AsyncConnectionPool and hasattr(pool, "_network_backend"):
        pool._network_backend = _Backend(pool._network_backend)
    if limits.max_connections is None:
        return transport
    return _Gated(transport, limits.max_connections)
