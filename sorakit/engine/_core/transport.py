"""The HTTP transport of a Runtime's client: HTTP/1.1 over asyncio, under httpx's own Client.

Why: per request, httpx's default transport (httpcore's pool on anyio streams, h11) cost 1.56-2.19 ms
of CPU against the emulator (small JSON answers, 32 at a time), the earlier wrapper that cheapened
httpcore's expiry check and gated its queue 1.63-2.06 ms, a bare `asyncio.Protocol` sketch under the
same ``httpx.AsyncClient`` 0.44-0.48 ms, and this transport 0.54-0.63 ms against 1.80-2.19 ms for
httpx's default beside it (bench/transport.py, 2026-12-07); an engine job makes ~4.3-4.8 requests
(bench/cpu.py: 19.1 -> 12.9 ms CPU per job, its engine loop 14.5 -> 7.4). httpx keeps all above the
wire: Request/Response, redirects, event hooks, auth, cookies, error types; environment proxies are
mounted beside it (`proxy_mounts`), as httpx mounts them when it builds its own transport.

What httpcore's pool did for us, it does: keep-alive per origin (scheme, host, port), the most
recently used idle connection first; at most ``max_connections`` requests in flight (the rest wait
for a place in FIFO order, each held until its response is closed) and ``max_keepalive_connections``
idle; an idle connection the server closed or wrote to, or idle over ``keepalive_expiry``, is dropped.
TLS from ``httpx.create_ssl_context()`` (verified; SSL_CERT_FILE/SSL_CERT_DIR), ALPN http/1.1.
Timeouts from the request's ``timeout`` extension (a timer per wait, no task per read) raise httpx's
Connect/Read/Write/PoolTimeout; failed connects ConnectError, resets ReadError/WriteError, EOF
mid-message or malformed messages RemoteProtocolError (head at most 64 KiB). Bodies out: bytes or
streamed (Content-Length, or chunked as httpx's headers say) with write flow control. Bodies in: by
Content-Length, chunked (trailers dropped) or EOF (then not reused); none for HEAD/204/304; interim
1xx skipped. They stream from the socket (reading pauses while 1 MiB waits); the connection is
pooled again only once its body was read to the end; closed early, failed or cancelled, it is
closed and the place freed. A reused connection found closed before any byte of the answer: a
GET/HEAD/OPTIONS is sent once more on a new one, anything else raises (a create is reconciled, never
resent). Other schemes or request extensions (``http2``...) go to ``httpx.AsyncHTTPTransport``.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import ssl
import time
import typing

import httpx

from .http11 import Conn, Key, _Lost, expire, read_head, request_head, response, why, write_request

__all__ = ["Client", "http_transport", "proxy_mounts"]

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
_KNOWN = frozenset({"timeout", "trace", "sni_hostname"})      # request extensions it serves


class _Pool(httpx.AsyncBaseTransport):
    """Keep-alive connections per origin and the places requests wait for (see the module text)."""

    def __init__(self, limits: httpx.Limits):
        self._limits, self._places, self._free = limits, limits.max_connections, limits.max_connections
        self._keep, self._expiry = limits.max_keepalive_connections, limits.keepalive_expiry
        self._queue: typing.Deque[asyncio.Future] = collections.deque()   # waiting for a place
        self._idle: typing.Dict[Key, typing.List[Conn]] = {}            # oldest first
        self._nidle = 0
        self._open: typing.Set[Conn] = set()
        self._tls: typing.Optional[ssl.SSLContext] = None
        self._other: typing.Optional[httpx.AsyncHTTPTransport] = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https") or not _KNOWN.issuperset(request.extensions):
            if self._other is None:
                self._other = httpx.AsyncHTTPTransport(limits=self._limits)
            return await self._other.handle_async_request(request)
        if self._closed:
            raise RuntimeError("the transport is closed")
        timeout = request.extensions.get("timeout") or {}
        await self._take(timeout.get("pool"))
        try:
            return await self._send(request, timeout)
        except BaseException:
            self._give()
            raise

    async def _take(self, timeout: typing.Optional[float]) -> None:
        """A place: at once while one is free (then no one waits), else after those waiting before."""
        if self._free is None or self._free > 0:
            self._free = None if self._free is None else self._free - 1
            return
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._queue.append(fut)
        timer = None if timeout is None else loop.call_later(timeout, expire, fut)
        try:
            if not await fut:
                raise httpx.PoolTimeout("timed out waiting for a connection from the pool")
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled() and fut.result():
                self._give()      # handed a place as it was cancelled: pass it on
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def _give(self) -> None:
        while self._queue:
            fut = self._queue.popleft()
            if not fut.done():
                return fut.set_result(True)
        if self._free is not None:
            self._free += 1

    def _expired(self, conn: Conn, now: float) -> bool:
        return conn.dead or (self._expiry is not None and now - conn.idle_since > self._expiry)

    def _checkout(self, key: Key) -> typing.Optional[Conn]:
        """The most recently used idle connection to ``key`` still fit for a request, if any."""
        stack, now = self._idle.get(key), time.monotonic()
        while stack:
            conn = stack.pop()
            self._nidle -= 1
            if not (self._expired(conn, now) or conn.readable()):
                conn.busy = True
                return conn
            self._drop(conn)
        return None

    def _checkin(self, conn: Conn, keep: bool) -> None:
        if not keep or conn.dead or conn.buf or self._closed or (self._keep is not None and self._nidle >= self._keep):
            return self._drop(conn)
        conn.busy, conn.idle_since = False, time.monotonic()
        self._idle.setdefault(conn.key, []).append(conn)
        self._nidle += 1

    def _release(self, conn: Conn, keep: bool) -> None:
        """A response closed: its connection back (if ``keep``) and its place to the next request."""
        self._checkin(conn, keep)
        self._give()

    def _drop(self, conn: Conn) -> None:
        conn.close()
        self._open.discard(conn)

    def _make_room(self) -> None:
        """Before a new connection: drop expired idle ones, then the oldest idle one if
        ``max_connections`` are open (idle ones to other origins count)."""
        now, oldest = time.monotonic(), None
        for stack in self._idle.values():
            while stack and self._expired(stack[0], now):
                self._nidle -= 1
                self._drop(stack.pop(0))
            if stack and (oldest is None or stack[0].idle_since < oldest[0].idle_since):
                oldest = stack
        if oldest is not None and self._places is not None and len(self._open) >= self._places:
            self._nidle -= 1
            self._drop(oldest.pop(0))

    async def _connect(self, key: Key, request: httpx.Request, timeout: typing.Optional[float]) -> Conn:
        self._make_room()
        scheme, host, port = key
        if scheme == "https" and self._tls is None:
            self._tls = httpx.create_ssl_context()     # verified; SSL_CERT_FILE / SSL_CERT_DIR honoured
            self._tls.set_alpn_protocols(["http/1.1"])
        tls = self._tls if scheme == "https" else None
        conn = Conn(key)
        opening = asyncio.get_running_loop().create_connection(
            lambda: conn, host, port, ssl=tls,
            server_hostname=None if tls is None else request.extensions.get("sni_hostname") or host)
        try:
            await (opening if timeout is None else asyncio.wait_for(opening, timeout))
        except asyncio.TimeoutError:
            conn.close()
            raise httpx.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            conn.close()
            raise httpx.ConnectError(why(exc)) from exc
        except BaseException:     # cancelled while connecting: nothing half-open is left behind
            conn.close()
            raise
        self._open.add(conn)
        return conn

    async def _send(self, request: httpx.Request, timeout: typing.Mapping[str, typing.Optional[float]]
                    ) -> httpx.Response:
        url = request.url
        key = (url.scheme, url.raw_host.decode("ascii"), url.port or (443 if url.scheme == "https" else 80))
        head, close, chunked = request_head(request)
        body = request.read() if isinstance(request.stream, httpx.ByteStream) else None
        again, fresh = request.method in _IDEMPOTENT and body is not None, False
        while True:
            conn = None if fresh else self._checkout(key)
            reused = conn is not None
            if conn is None:
                conn = await self._connect(key, request, timeout.get("connect"))
            try:
                cut = await write_request(conn, request, head, body, chunked, timeout.get("write"), reused)
                lines = await read_head(conn, timeout.get("read"), reused)
            except _Lost:
                self._drop(conn)
                if again:         # once, on a new connection
                    again = fresh = True
                    continue
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.") from None
            except BaseException:
                self._drop(conn)
                raise
            try:
                return response(conn, request, lines, not (close or cut), timeout.get("read"), self._release)
            except BaseException:
                self._drop(conn)
                raise

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()
        self._nidle = 0
        if self._other is not None:
            await self._other.aclose()


def http_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """The transport a Runtime's client sends through (see the module text); make it on the event
    loop that will use it. Pair it with `proxy_mounts` to honour proxies set in the environment."""
    return _Pool(limits)


def proxy_mounts(limits: httpx.Limits) -> typing.Dict[str, typing.Optional[httpx.AsyncBaseTransport]]:
    """The environment's proxies (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) as ``mounts`` for
    ``httpx.AsyncClient``: what httpx mounts by itself only when it builds its own transport."""
    try:
        from httpx._utils import get_environment_proxies
    except ImportError:   # pragma: no cover - a future httpx; then no environment proxies
        return {}
    return {pattern: None if url is None else httpx.AsyncHTTPTransport(proxy=url, limits=limits)
            for pattern, url in get_environment_proxies().items()}


# ----------------------------------------------------------------------------- the client above it
_httpx_log = logging.getLogger("httpx")
_LEAN = all(callable(getattr(httpx.AsyncClient, name, None))
            for name in ("_set_timeout", "_transport_for_url", "_build_redirect_request"))
"""Whether httpx still has the three steps `Client.send` reuses (else it is httpx's own send)."""


class _Timed(httpx.AsyncByteStream):
    """A response body that sets ``response.elapsed`` when closed (as httpx's client does)."""

    def __init__(self, stream: typing.Any, response: httpx.Response, start: float):
        self._stream, self._response, self._start = stream, response, start

    def __aiter__(self) -> typing.AsyncIterator[bytes]:
        return self._stream.__aiter__()

    async def aclose(self) -> None:
        self._response.elapsed = datetime.timedelta(seconds=time.perf_counter() - self._start)
        await self._stream.aclose()


class Client(httpx.AsyncClient):
    """``httpx.AsyncClient`` whose `send` takes the short way for the engine's requests.

    The engine's requests are built by the providers (``httpx.Request``), carry their key themselves
    and are sent by a client with no ``auth`` and no response hooks; for those, `send` does what
    httpx's does — the client's timeout when the request has none, the request hooks on every hop
    (the provider's key guard), the mounted transport (proxies), redirects up to ``max_redirects``
    built by httpx itself, ``elapsed``, the ``httpx`` INFO log line, ``RequestError.request`` —
    without the layers it does not need: the auth flow's generators and a cookie jar filled from
    every answer (a request built outside the client never carries the jar's cookies, so it is only
    filled when an answer sets one). 0.59 -> 0.47 ms CPU per request, 32 at a time against the
    emulator (2026-12-07). Anything else (``auth=``, response hooks, an httpx without those steps)
    goes through httpx's own `send`.
    """

    async def send(self, request: httpx.Request, *, stream: bool = False,
                   auth: typing.Any = httpx.USE_CLIENT_DEFAULT,
                   follow_redirects: typing.Any = httpx.USE_CLIENT_DEFAULT) -> httpx.Response:
        if (not _LEAN or auth is not httpx.USE_CLIENT_DEFAULT or self.auth is not None or self.is_closed
                or self.event_hooks["response"]):
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        follow = self.follow_redirects if follow_redirects is httpx.USE_CLIENT_DEFAULT else follow_redirects
        self._set_timeout(request)
        history: typing.List[httpx.Response] = []
        while True:
            if len(history) > self.max_redirects:
                raise httpx.TooManyRedirects("Exceeded maximum allowed redirects.", request=request)
            for hook in self.event_hooks["request"]:
                await hook(request)
            response = await self._send_one(request)
            try:
                response.history = list(history)
                if not response.has_redirect_location:
                    break
                request = self._build_redirect_request(request, response)
                history = history + [response]
                if not follow:
                    response.next_request = request
                    break
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        try:
            if not stream:
                await response.aread()
            return response
        except BaseException:
            await response.aclose()
            raise

    async def _send_one(self, request: httpx.Request) -> httpx.Response:
        start = time.perf_counter()
        try:
            response = await self._transport_for_url(request.url).handle_async_request(request)
        except httpx.RequestError as exc:
            exc.request = request
            raise
        response.request = request
        response.stream = _Timed(response.stream, response, start)
        if "set-cookie" in response.headers:
            self.cookies.extract_cookies(response)
        response.default_encoding = getattr(self, "_default_encoding", "utf-8")
        _httpx_log.info('HTTP Request: %s %s "%s %d %s"', request.method, request.url, response.http_version,
                        response.status_code, response.reason_phrase)
        return response
