"""One HTTP/1.1 connection over asyncio: the wire half of `transport` (which pools these and
says why they exist). A `Conn` is an `asyncio.Protocol` whose bytes wait in a buffer until the
request's task asks for them (one future and, with a timeout, one timer per wait); `request_head`,
`write_request`, `read_head` and `response` speak HTTP/1.1 over it; `Body` streams a response's
body from it and hands the connection back (kept or not) through a callback when closed.
"""

from __future__ import annotations

import asyncio
import re
import select
import typing

import httpx

__all__ = ["Body", "Conn", "Key", "expire", "read_head", "request_head", "response", "why", "write_request"]

_MAX_HEAD = 64 * 1024              # status line + headers; trailers likewise; one chunk-size line
_HIGH = 1 << 20                    # stop reading the socket while this much waits unread
_STATUS = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: ([^\r\n\x00]*))?")
_FIELD = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\x00]*?)[ \t]*")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,16}")
_LENGTH, _CHUNKED, _EOF, _NONE = range(4)
Key = typing.Tuple[str, str, int]
"""An origin: scheme, host, port."""


class _Lost(Exception):
    """A reused connection ended before any byte of the answer (a resend may be due)."""


class Conn(asyncio.Protocol):
    """One TCP (or TLS) connection: bytes in a buffer, a waiter woken by the event loop."""

    transport: typing.Any = None
    sock: typing.Any = None
    eof = False               # the server will send no more
    dead = False              # never to be used again
    error: typing.Optional[BaseException] = None      # why it ended, if not a clean close
    busy = True               # carrying a request (bytes at idle make it unusable)
    idle_since = 0.0
    _waiter: typing.Optional[asyncio.Future] = None
    _drain: typing.Optional[asyncio.Future] = None
    _blocked = _stopped = False     # our writes wait (pause_writing); we stopped reading (too much unread)

    def __init__(self, key: Key):
        self.key, self.buf = key, bytearray()

    def connection_made(self, transport: typing.Any) -> None:
        self.transport, self.sock = transport, transport.get_extra_info("socket")

    def data_received(self, data: bytes) -> None:
        if not self.busy:         # at idle: garbage or the start of a close
            return self.close()
        self.buf += data
        if len(self.buf) > _HIGH and not self._stopped:
            self._stopped = True
            self.transport.pause_reading()
        self._wake(self._waiter)

    def eof_received(self) -> bool:
        self.eof = self.dead = True
        self._wake(self._waiter)
        return False

    def connection_lost(self, exc: typing.Optional[BaseException]) -> None:
        self.eof = self.dead = True
        self.error = exc
        self._wake(self._waiter)
        self._wake(self._drain)

    def pause_writing(self) -> None:
        self._blocked = True

    def resume_writing(self) -> None:
        self._blocked = False
        self._wake(self._drain)

    @staticmethod
    def _wake(fut: typing.Optional[asyncio.Future]) -> None:
        if fut is not None and not fut.done():
            fut.set_result(True)

    def close(self) -> None:
        self.dead = True
        if self.transport is not None:
            self.transport.abort()

    def readable(self) -> bool:
        """Bytes or EOF waiting on an idle socket that the loop has not seen yet (httpcore's check)."""
        if self.sock is None or not hasattr(select, "poll"):
            return False
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(0))

    async def _wait(self, which: str, timeout: typing.Optional[float]) -> bool:
        """Until woken (True) or ``timeout`` seconds pass (False): one timer, no task."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        setattr(self, which, fut)
        timer = None if timeout is None else loop.call_later(timeout, expire, fut)
        try:
            return await fut
        finally:
            setattr(self, which, None)
            if timer is not None:
                timer.cancel()

    async def more(self, timeout: typing.Optional[float]) -> None:
        """Wait for bytes beyond those buffered; raise if the connection ended first."""
        if self.eof:
            if self.error is not None:
                raise httpx.ReadError(why(self.error))
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        if self._stopped:
            self._stopped = False
            self.transport.resume_reading()
        if not await self._wait("_waiter", timeout):
            raise httpx.ReadTimeout("timed out reading the response")

    async def write(self, data: bytes, timeout: typing.Optional[float]) -> None:
        if self.dead or self.transport.is_closing():
            raise httpx.WriteError(f"the connection is closed ({self.error or 'by the server'})")
        self.transport.write(data)
        if self._blocked and not await self._wait("_drain", timeout):
            raise httpx.WriteTimeout("timed out writing the request")
        if self.error is not None:
            raise httpx.WriteError(why(self.error))

    async def line(self, timeout: typing.Optional[float], what: str) -> bytes:
        """One CRLF-terminated line (a chunk-size line, a trailer), without its CRLF."""
        buf, start = self.buf, 0
        while (end := buf.find(b"\r\n", start)) < 0:
            if len(buf) > _MAX_HEAD:
                raise httpx.RemoteProtocolError(f"{what} line over 64 KiB")
            start = max(0, len(buf) - 1)
            await self.more(timeout)
        out = bytes(buf[:end])
        del buf[:end + 2]
        return out

    async def chunk_size(self, timeout: typing.Optional[float]) -> int:
        line = await self.line(timeout, "chunk size")
        digits = line.split(b";", 1)[0].strip(b" \t")     # chunk extensions ignored
        if not _HEX.fullmatch(digits):
            raise httpx.RemoteProtocolError(f"malformed chunk size line {line[:80]!r}")
        return int(digits, 16)

    async def piece(self, most: int, timeout: typing.Optional[float]) -> bytes:
        """Up to ``most`` bytes of a body (at least one), waiting for them if none are buffered."""
        while not self.buf:
            await self.more(timeout)
        out = bytes(self.buf[:most])
        del self.buf[:most]
        return out


def expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(False)


def why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class Body(httpx.AsyncByteStream):
    """A response body read from its connection as the caller iterates; closing it (read whole
    or not) gives the connection back (or closes it) and frees the request's place."""

    def __init__(self, conn: Conn, mode: int, length: int, timeout: typing.Optional[float], keep: bool,
                 release: typing.Callable[[Conn, bool], None]):
        self._conn, self._mode, self._left, self._timeout = conn, mode, length, timeout
        self._keep, self._release = keep, release

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        conn, timeout, left = self._conn, self._timeout, self._left
        if conn is None:
            return
        buf = conn.buf
        try:
            if self._mode == _LENGTH:
                while left:
                    chunk = await conn.piece(left, timeout)
                    left -= len(chunk)
                    if not left:          # all read: the connection goes back even if not asked again
                        self._finish(True)
                    yield chunk
            elif self._mode == _CHUNKED:
                while left := await conn.chunk_size(timeout):
                    while left:
                        chunk = await conn.piece(left, timeout)
                        left -= len(chunk)
                        yield chunk
                    if await conn.line(timeout, "chunk end"):
                        raise httpx.RemoteProtocolError("chunk data longer than its size")
                trailers = 0              # read and dropped, as httpcore does
                while trailer := await conn.line(timeout, "trailer"):
                    if (trailers := trailers + len(trailer)) > _MAX_HEAD:
                        raise httpx.RemoteProtocolError("trailers over 64 KiB")
            elif self._mode == _EOF:
                while buf or not conn.eof:
                    if buf:
                        chunk = bytes(buf)
                        buf.clear()
                        yield chunk
                    else:
                        await conn.more(timeout)
                if conn.error is not None:
                    raise httpx.ReadError(why(conn.error))
        except BaseException:
            self._finish(False)
            raise
        self._finish(True)

    def _finish(self, whole: bool) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._release(conn, whole and self._keep)

    async def aclose(self) -> None:
        self._finish(False)


async def write_request(conn: Conn, request: httpx.Request, head: bytes, body: typing.Optional[bytes], chunked: bool,
                 timeout: typing.Optional[float], reused: bool) -> bool:
    """Send the request; True if the server answered (and closed) before taking all the body."""
    try:
        if body is not None:
            await conn.write(head + body if len(body) < 65536 else head, timeout)
            if len(body) >= 65536:
                await conn.write(body, timeout)
            return False
        await conn.write(head, timeout)
        async for part in request.stream:   # type: ignore[union-attr]
            if part:
                await conn.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part, timeout)
        if chunked:
            await conn.write(b"0\r\n\r\n", timeout)
        return False
    except httpx.WriteError as exc:
        if conn.buf:              # an answer came: read it (the connection is not reused)
            return True
        if reused:
            raise _Lost() from exc
        raise


async def read_head(conn: Conn, timeout: typing.Optional[float], reused: bool) -> typing.List[bytes]:
    """The status line and header lines of the final answer (interim 1xx answers skipped)."""
    got = False
    while True:
        buf, start = conn.buf, 0
        while (end := buf.find(b"\r\n\r\n", start)) < 0:
            if len(buf) > _MAX_HEAD:
                raise httpx.RemoteProtocolError("response status line and headers over 64 KiB")
            if conn.eof and not buf and not got:
                if reused:
                    raise _Lost()
                if conn.error is not None:
                    raise httpx.ReadError(why(conn.error))
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            start = max(0, len(buf) - 3)
            await conn.more(timeout)
        if end > _MAX_HEAD:
            raise httpx.RemoteProtocolError("response status line and headers over 64 KiB")
        got, lines = True, bytes(buf[:end]).split(b"\r\n")
        del buf[:end + 4]
        if not lines[0][9:10] == b"1" or lines[0][9:12] == b"101":
            return lines          # (a malformed status line is told in `response`)


def response(conn: Conn, request: httpx.Request, lines: typing.List[bytes], keep: bool,
             timeout: typing.Optional[float], release: typing.Callable[[Conn, bool], None]) -> httpx.Response:
    """The answer whose head is ``lines``, its body to be read from ``conn`` (`Body`)."""
    status = _STATUS.fullmatch(lines[0])
    if status is None:
        raise httpx.RemoteProtocolError(f"malformed status line {lines[0][:100]!r}")
    code, headers, length, te = int(status.group(2)), [], None, None
    if code == 101:
        raise httpx.RemoteProtocolError("unexpected 101 Switching Protocols (no upgrade was asked)")
    keep = keep and status.group(1) == b"1"
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None:
            raise httpx.RemoteProtocolError(f"malformed header line {line[:100]!r}")
        name, value = field.groups()
        headers.append((name, value))
        low = name.lower()
        if low == b"content-length":
            for v in value.split(b","):
                v = v.strip(b" \t")
                if not v.isdigit() or (length is not None and int(v) != length):
                    raise httpx.RemoteProtocolError(f"bad Content-Length {value[:40]!r}")
                length = int(v)
        elif low == b"transfer-encoding":
            te = value.lower()
        elif low == b"connection" and b"close" in value.lower():
            keep = False
    if request.method == "HEAD" or code in (204, 304):
        mode = _NONE
    elif te is not None:
        if te.rsplit(b",", 1)[-1].strip(b" \t") != b"chunked":
            raise httpx.RemoteProtocolError(f"unsupported Transfer-Encoding {te[:40]!r}")
        mode = _CHUNKED
    elif length is not None:
        mode = _LENGTH
    else:
        mode, keep = _EOF, False
    return httpx.Response(code, headers=headers, stream=Body(conn, mode, length or 0, timeout, keep, release),
                          extensions={"http_version": b"HTTP/1." + status.group(1),
                                      "reason_phrase": status.group(3) or b""})


def request_head(request: httpx.Request) -> typing.Tuple[bytes, bool, bool]:
    """The request line and headers as sent, whether they ask to close, whether the body is chunked."""
    parts = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    close = chunked = False
    for name, value in request.headers.raw:
        parts.append(b"%s: %s\r\n" % (name, value))
        low = name.lower()
        if low == b"connection":
            close = close or b"close" in value.lower()
        elif low == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
    parts.append(b"\r\n")
    head = b"".join(parts)
    if head.count(b"\n") != len(parts) or head.count(b"\r") != len(parts) or b"\x00" in head:
        raise httpx.LocalProtocolError("a request header or the target holds CR, LF or NUL")
    return head, close, chunked
