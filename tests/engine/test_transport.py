"""The Runtime's HTTP transport (`sorakit.engine._core.transport` over `http11`): HTTP/1.1 on asyncio
under httpx's own Client. Every test talks to a real server on 127.0.0.1: a tiny asyncio server
scripted byte by byte for the edge cases, a TLS one with a trustme certificate, and the emulator
over uvicorn."""

from __future__ import annotations

import asyncio
import hashlib
import io
import socket
import ssl

import httpx
import pytest
import trustme
from PIL import Image

from sorakit.emulator import EmulatorServer
from sorakit.engine._core.transport import Client, http_transport, proxy_mounts

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)


class Wire:
    """An asyncio server on 127.0.0.1 running ``script(reader, writer, wire)`` per connection;
    counts connections and the requests `read_request` saw."""

    def __init__(self, script):
        self.script, self.connections, self.requests, self.closed = script, 0, [], 0

    async def __aenter__(self) -> "Wire":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=getattr(self, "tls", None))
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"{'https://localhost' if getattr(self, 'tls', None) else 'http://127.0.0.1'}:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.script(reader, writer, self)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed += 1
            writer.close()

    async def read_request(self, reader: asyncio.StreamReader) -> tuple[bytes, dict, bytes]:
        """One request: (request line, lower-cased headers, body decoded from its framing)."""
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = dict((k.strip().lower(), v.strip()) for k, _, v in (h.partition(":") for h in head[1:] if h))
        body = b""
        if headers.get("transfer-encoding") == "chunked":
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                body += await reader.readexactly(size)
                assert await reader.readexactly(2) == b"\r\n"
            assert await reader.readuntil(b"\r\n") == b"\r\n"
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        self.requests.append((head[0], headers, body))
        return head[0].encode(), headers, body


def ok(body: bytes = b"hello", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def keep_alive(reader, writer, wire, answer=ok):
    while True:
        await wire.read_request(reader)
        writer.write(answer())
        await writer.drain()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_keep_alive_places_and_pool_limits():
    async def main():
        async def slow(reader, writer, wire):
            while True:
                await wire.read_request(reader)
                await asyncio.sleep(0.01)
                writer.write(ok(b"x" * 200_000))
                await writer.drain()
        async with Wire(slow) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            pool = client._transport

            async def plain():
                r = await client.get(wire.url + "/a")
                assert r.status_code == 200 and len(r.content) == 200_000 and r.http_version == "HTTP/1.1"

            async def streamed(read: bool):
                async with client.stream("GET", wire.url + "/b") as r:
                    if read:
                        assert len(await r.aread()) == 200_000
                    # else closed unread (a download that gave up): its connection closes, the place comes back

            await asyncio.gather(*[plain() for _ in range(30)], *[streamed(i % 2 == 0) for i in range(30)])
            assert pool._free == 4 and not pool._queue           # every place given back
            assert len(wire.requests) == 60
            assert len(pool._open) <= 4 and pool._nidle <= 2     # max_connections, max_keepalive_connections
            before = wire.connections
            for _ in range(5):                                   # one at a time: one connection, reused
                await plain()
            assert wire.connections - before <= 1
            with pytest.raises(httpx.ConnectError):              # a failure gives its place back too
                await client.get(f"http://127.0.0.1:{_free_port()}/")
            assert pool._free == 4
    run(main())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chunked_with_extensions_and_trailers_then_reuse():
    async def main():
        async def chunked(reader, writer, wire):
            while True:
                await wire.read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
                             b"5;name=value\r\nhello\r\n1\r\n \r\n"
                             b"A\r\n0123456789\r\n0\r\nX-Sum: abc\r\n\r\n")
                await writer.drain()
        async with Wire(chunked) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            for _ in range(3):
                assert (await client.get(wire.url)).content == b"hello 0123456789"
            assert wire.connections == 1
    run(main())


def test_eof_delimited_body_and_connection_close_are_not_reused():
    async def main():
        async def eof(reader, writer, wire):
            await wire.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
            await writer.drain()

        async def close(reader, writer, wire):
            while True:
                await wire.read_request(reader)
                writer.write(ok(b"bye", b"Connection: close\r\n"))
                await writer.drain()
        async with httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            async with Wire(eof) as wire:
                assert [(await client.get(wire.url)).content for _ in range(2)] == [b"until the end"] * 2
                assert wire.connections == 2
            async with Wire(close) as wire:
                assert [(await client.get(wire.url)).text for _ in range(2)] == ["bye"] * 2
                assert wire.connections == 2
            async with Wire(keep_alive) as wire:                 # the client asking to close
                for _ in range(2):
                    await client.get(wire.url, headers={"Connection": "close"})
                assert wire.connections == 2 and client._transport._nidle == 0
    run(main())


def test_no_body_for_head_204_304_and_interim_1xx_skipped():
    async def main():
        async def script(reader, writer, wire):
            while True:
                line, _, _ = await wire.read_request(reader)
                if line.startswith(b"HEAD"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n")
                elif b"/204" in line:
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                elif b"/304" in line:
                    writer.write(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + ok())
                await writer.drain()
        async with Wire(script) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            head = await client.head(wire.url)
            assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "50"
            assert (await client.get(wire.url + "/204")).status_code == 204
            assert (await client.get(wire.url + "/304")).status_code == 304
            final = await client.get(wire.url + "/x")
            assert final.status_code == 200 and final.content == b"hello" and final.reason_phrase == "OK"
            assert wire.connections == 1
            async with client.stream("GET", wire.url + "/x") as r:   # its last byte read, then closed:
                assert await r.aiter_raw().__anext__() == b"hello"
            assert client._transport._nidle == 1 and wire.connections == 1   # kept
    run(main())


@pytest.mark.parametrize("answer, error", [
    (b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n", "malformed status line"),
    (b"ICY 200 OK\r\n\r\n", "malformed status line"),
    (b"HTTP/1.1 200 OK\r\nBad Header\r\n\r\n", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n", "over 64 KiB"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed chunk size"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "peer closed connection"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
    (b"", "Server disconnected without sending a response"),
])
def test_malformed_or_cut_answers_are_remote_protocol_errors(answer, error):
    async def main():
        async def script(reader, writer, wire):
            await wire.read_request(reader)
            writer.write(answer)
            await writer.drain()
        async with Wire(script) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            with pytest.raises(httpx.RemoteProtocolError, match=error):
                await client.get(wire.url)
            assert client._transport._free == 4 and not client._transport._open
    run(main())


def test_timeouts_and_unreachable_port():
    async def main():
        async def stall(reader, writer, wire):
            await wire.read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome")
            await writer.drain()
            await asyncio.sleep(10)
        async with Wire(stall) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(wire.url, timeout=httpx.Timeout(5, read=0.2))
            async with client.stream("GET", wire.url, timeout=httpx.Timeout(5, read=0.2)) as r:   # mid-body
                with pytest.raises(httpx.ReadTimeout):
                    await r.aread()
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{_free_port()}/")
            assert client._transport._free == 4 and not client._transport._open
            # every place taken by open streams: the next request waits, then times out in the pool
            one = httpx.Limits(max_connections=1)
            async with httpx.AsyncClient(transport=http_transport(one)) as single:
                async with single.stream("GET", wire.url, timeout=5):
                    with pytest.raises(httpx.PoolTimeout):
                        await single.get(wire.url, timeout=httpx.Timeout(5, pool=0.1))
                assert single._transport._free == 1
    run(main())


def test_a_stale_reused_connection_resends_a_get_once_but_never_a_post():
    """The server closes a kept-alive connection just as the next request goes out on it."""
    async def main():
        async def one_then_drop(reader, writer, wire):
            await wire.read_request(reader)
            writer.write(ok())
            await writer.drain()
            await wire.read_request(reader)                      # the second request: dropped unanswered
        async with Wire(one_then_drop) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            assert (await client.get(wire.url)).content == b"hello"
            assert (await client.get(wire.url)).content == b"hello"      # sent again on a new connection
            assert [r[0] for r in wire.requests] == ["GET / HTTP/1.1"] * 3 and wire.connections == 2
            wire.requests.clear()                                # (the resent GET was the new one's first)
            with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
                await client.post(wire.url, content=b"create me")
            assert [r[0] for r in wire.requests] == ["POST / HTTP/1.1"] and wire.connections == 2   # never twice
            assert client._transport._free == 4
    run(main())


def test_an_idle_connection_the_server_closed_or_wrote_to_is_never_used():
    async def main():
        async def answer_then_close(reader, writer, wire):
            await wire.read_request(reader)
            writer.write(ok())                                   # keep-alive by its headers, then closed
            await writer.drain()

        async def answer_then_garbage(reader, writer, wire):
            await wire.read_request(reader)
            writer.write(ok())
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"garbage")
            await reader.read()
        for script in (answer_then_close, answer_then_garbage):
            async with Wire(script) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
                for _ in range(3):
                    assert (await client.get(wire.url)).content == b"hello"
                    await asyncio.sleep(0.1)
                assert len(wire.requests) == 3 and wire.connections == 3   # no failed attempt, no resend
        # and one idle longer than keepalive_expiry
        expiring = httpx.Limits(max_connections=4, max_keepalive_connections=2, keepalive_expiry=0.1)
        async with Wire(keep_alive) as wire, httpx.AsyncClient(transport=http_transport(expiring)) as client:
            await client.get(wire.url)
            await client.get(wire.url)
            await asyncio.sleep(0.2)
            await client.get(wire.url)
            assert wire.connections == 2
    run(main())


def test_cancelled_mid_body_or_closed_early_the_connection_is_closed_and_the_place_freed():
    async def main():
        async def slow_body(reader, writer, wire):
            while True:
                await wire.read_request(reader)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"a" * 1000)
                await writer.drain()
                try:                                             # the client closing is seen as EOF here
                    if await asyncio.wait_for(reader.read(1), 0.3) == b"":
                        return
                except asyncio.TimeoutError:
                    pass
                writer.write(b"a" * 999_000)
                await writer.drain()
        async with Wire(slow_body) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            pool = client._transport
            task = asyncio.ensure_future(client.get(wire.url))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert pool._free == 4 and not pool._open and pool._nidle == 0
            async with client.stream("GET", wire.url) as r:
                first = await r.aiter_raw().__anext__()
                assert first and len(first) < 1_000_000
            assert pool._free == 4 and not pool._open and pool._nidle == 0
            await asyncio.sleep(0.05)
            assert wire.closed == 2                              # both connections ended at the server too
            async with client.stream("GET", wire.url) as r:      # streamed to the end: kept
                digest = hashlib.sha256()
                async for part in r.aiter_bytes():
                    digest.update(part)
            assert digest.hexdigest() == hashlib.sha256(b"a" * 1_000_000).hexdigest() and pool._nidle == 1
    run(main())


def test_request_bodies_bytes_streamed_chunked_and_large_with_flow_control():
    async def main():
        async def echo_digest(reader, writer, wire):
            while True:
                _, _, body = await wire.read_request(reader)
                await asyncio.sleep(0.01)
                writer.write(ok(hashlib.sha256(body).hexdigest().encode()))
                await writer.drain()

        async def parts():
            for i in range(5):
                await asyncio.sleep(0)
                yield b"part %d;" % i
        big = bytes(range(256)) * 40_000                        # 10 MB: the socket buffer fills, writes wait
        async with Wire(echo_digest) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            r = await client.post(wire.url, content=parts())
            assert r.text == hashlib.sha256(b"part 0;part 1;part 2;part 3;part 4;").hexdigest()
            assert wire.requests[-1][1]["transfer-encoding"] == "chunked"
            assert (await client.put(wire.url, content=big)).text == hashlib.sha256(big).hexdigest()
            r = await client.post(wire.url, files={"image": ("a.png", b"\x89PNG" * 1000, "image/png")})
            assert r.status_code == 200 and "content-length" in wire.requests[-1][1]   # multipart: streamed, sized
            assert wire.connections == 1
    run(main())


def test_redirects_pass_every_hop_through_the_event_hook():
    async def main():
        async def hops(reader, writer, wire):
            while True:
                line, _, _ = await wire.read_request(reader)
                if b" /start " in line:
                    writer.write(b"HTTP/1.1 302 Found\r\nLocation: /middle\r\nContent-Length: 0\r\n\r\n")
                elif b" /middle " in line:
                    writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /end?x=1\r\nContent-Length: 0\r\n\r\n")
                else:
                    writer.write(ok(b"arrived"))
                await writer.drain()
        seen = []

        async def hook(request: httpx.Request) -> None:
            seen.append(request.url.raw_path)
        async with Wire(hops) as wire, httpx.AsyncClient(transport=http_transport(LIMITS), follow_redirects=True,
                                                          event_hooks={"request": [hook]}) as client:
            r = await client.get(wire.url + "/start")
            assert r.content == b"arrived" and len(r.history) == 2
            assert seen == [b"/start", b"/middle", b"/end?x=1"] and wire.connections == 1
    run(main())


def test_tls_verified_against_ssl_cert_file(tmp_path, monkeypatch):
    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))

    async def main(trusted: bool):
        wire = Wire(keep_alive)
        wire.tls = server_ctx
        async with wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            if not trusted:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(wire.url)
                return
            for _ in range(3):
                r = await client.get(wire.url + "/secure")
                assert r.content == b"hello" and r.url.scheme == "https"
            assert wire.connections == 1
            (conn,) = client._transport._open
            assert conn.transport.get_extra_info("ssl_object").selected_alpn_protocol() in (None, "http/1.1")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    run(main(trusted=False))                                     # certifi's roots do not know this CA
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    run(main(trusted=True))


def test_environment_proxies_still_route_through_httpx(monkeypatch):
    """httpx mounts HTTP(S)_PROXY / ALL_PROXY only when it builds its own transport: the Runtime's
    client mounts them itself (`proxy_mounts`), and NO_PROXY still goes direct."""
    from sorakit.catalog import load_catalog
    from sorakit.engine._config import ProviderSetup
    from sorakit.engine._core.runtime import Runtime
    from sorakit.engine._policy import Policy
    info = load_catalog().providers["openai"]

    async def main():
        async def proxy(reader, writer, wire):
            line, _, _ = await wire.read_request(reader)
            writer.write(ok(b"via proxy: " + line))
            await writer.drain()
        async with Wire(proxy) as prox, Wire(keep_alive) as direct:
            for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
                        "all_proxy", "no_proxy"):
                monkeypatch.delenv(var, raising=False)
            monkeypatch.setenv("ALL_PROXY", prox.url)
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            rt = Runtime(ProviderSetup("openai", info, "live", "http://api.example.invalid/v1"), 4,
                         Policy(request_timeout=5, connect_timeout=5))
            try:
                r = await rt.client.get("http://api.example.invalid/v1/models")
                assert r.text == "via proxy: GET http://api.example.invalid/v1/models HTTP/1.1"
                assert (await rt.client.get(direct.url)).content == b"hello"          # NO_PROXY: direct
                assert len(direct.requests) == 1 and len(prox.requests) == 1
            finally:
                await rt.aclose()
            monkeypatch.delenv("ALL_PROXY")
            monkeypatch.setenv("HTTPS_PROXY", prox.url)
            assert set(proxy_mounts(LIMITS)) == {"https://", "all://127.0.0.1"}
    run(main())


def test_unknown_request_extensions_go_to_httpx_own_transport():
    async def main():
        async with Wire(keep_alive) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            request = client.build_request("GET", wire.url, extensions={"http2_please": True})
            r = await client.send(request)
            assert r.content == b"hello" and client._transport._other is not None
            assert not client._transport._open                   # not through the asyncio pool
    run(main())


def test_the_emulator_over_uvicorn(manual_emulator):
    """A create with an uploaded image (multipart), polls, and the video streamed and hashed as it
    arrives, against the emulator served by uvicorn."""
    png = io.BytesIO()
    Image.new("RGB", (720, 1280), (40, 120, 200)).save(png, "PNG")

    async def main(base: str):
        auth = {"Authorization": "Bearer sk-test"}
        async with httpx.AsyncClient(transport=http_transport(LIMITS), headers=auth, timeout=30) as client:
            assert (await client.get(base + "/videos/video_nope")).status_code == 404
            r = await client.post(base + "/videos", data={"prompt": "a lighthouse", "model": "sora-2", "seconds": "4",
                                                          "size": "720x1280"},
                                  files={"input_reference": ("ref.png", png.getvalue(), "image/png")})
            assert r.status_code == 200, r.text
            video = r.json()["id"]
            for _ in range(200):
                manual_emulator.test_clock.advance(5)
                state = (await client.get(f"{base}/videos/{video}")).json()
                if state["status"] in ("completed", "failed"):
                    break
            assert state["status"] == "completed", state
            whole = (await client.get(f"{base}/videos/{video}/content")).content
            digest, parts = hashlib.sha256(), 0
            async with client.stream("GET", f"{base}/videos/{video}/content") as r:
                async for part in r.aiter_bytes():
                    digest.update(part)
                    parts += 1
            assert whole[4:8] == b"ftyp" and digest.hexdigest() == hashlib.sha256(whole).hexdigest()
            assert client._transport._free == 4
    with EmulatorServer(manual_emulator, host="127.0.0.1", port=0) as server:
        run(main(server.url("openai")))


def test_a_header_carrying_a_line_break_is_refused_before_anything_is_sent():
    async def main():
        async with Wire(keep_alive) as wire, httpx.AsyncClient(transport=http_transport(LIMITS)) as client:
            with pytest.raises(httpx.LocalProtocolError, match="CR, LF or NUL"):
                await client.get(wire.url, headers={"X-Note": "a\r\nX-Injected: yes"})
            assert (await client.get(wire.url)).content == b"hello"
            assert len(wire.requests) == 1 and "x-injected" not in wire.requests[0][1]
            assert client._transport._free == 4
    run(main())


async def _scripted(reader, writer, wire):
    """Redirect chains, cookies and loops for `Client` against httpx's own client."""
    while True:
        line, _, _ = await wire.read_request(reader)
        path = line.split(b" ")[1]
        if path == b"/post-303":
            writer.write(b"HTTP/1.1 303 See Other\r\nLocation: /landed\r\nContent-Length: 0\r\n\r\n")
        elif path == b"/post-307":
            writer.write(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /landed\r\nContent-Length: 0\r\n\r\n")
        elif path == b"/loop":
            writer.write(b"HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n")
        elif path == b"/cookie":
            writer.write(ok(b"c", b"Set-Cookie: session=abc; Path=/\r\n"))
        else:
            writer.write(ok(line))
        await writer.drain()


@pytest.mark.parametrize("make", [httpx.AsyncClient, Client], ids=["httpx", "sorakit"])
def test_the_short_send_answers_as_httpx_send_does(make):
    """`Client.send` (the engine's) and httpx's own send agree: redirects (303 -> GET without the
    body, 307 keeps method and body), the redirect limit, follow_redirects=False, the cookie jar,
    ``elapsed`` and the request on a transport error; ``auth=`` takes httpx's own path."""
    async def main():
        hops = []

        async def hook(request):
            hops.append((request.method, request.url.path))
        async with Wire(_scripted) as wire, make(transport=http_transport(LIMITS), follow_redirects=True,
                                                 max_redirects=3, event_hooks={"request": [hook]}) as client:
            r = await client.send(httpx.Request("POST", wire.url + "/post-303", content=b"body"))
            assert r.content == b"GET /landed HTTP/1.1" and [h.status_code for h in r.history] == [303]
            assert wire.requests[-1][2] == b""
            r = await client.send(httpx.Request("POST", wire.url + "/post-307", content=b"body"))
            assert r.content == b"POST /landed HTTP/1.1" and wire.requests[-1][2] == b"body"
            assert hops == [("POST", "/post-303"), ("GET", "/landed"), ("POST", "/post-307"), ("POST", "/landed")]
            with pytest.raises(httpx.TooManyRedirects):
                await client.send(httpx.Request("GET", wire.url + "/loop"))
            r = await client.send(httpx.Request("GET", wire.url + "/loop"), follow_redirects=False)
            assert r.status_code == 302 and r.next_request.url.path == "/loop" and r.history == []
            assert r.elapsed.total_seconds() >= 0 and r.request.url.path == "/loop"
            assert not client.cookies
            await client.send(httpx.Request("GET", wire.url + "/cookie"))
            assert client.cookies.get("session") == "abc"                    # the jar as httpx fills it
            async with client.stream("GET", wire.url + "/streamed") as streamed:
                assert b"".join([c async for c in streamed.aiter_bytes()]) == b"GET /streamed HTTP/1.1"
            assert streamed.elapsed.total_seconds() >= 0
            r = await client.send(httpx.Request("GET", wire.url + "/auth"), auth=httpx.BasicAuth("u", "p"))
            assert wire.requests[-1][1]["authorization"].startswith("Basic ")
            port = wire.url.rsplit(":", 1)[1]
        request = httpx.Request("GET", f"http://127.0.0.1:{port}/gone")
        async with make(transport=http_transport(LIMITS)) as client:
            with pytest.raises(httpx.ConnectError) as e:
                await client.send(request)
            assert e.value.request is request
    run(main())


def test_the_engine_client_skips_httpx_auth_and_cookie_layers_unless_asked(monkeypatch):
    from sorakit.engine._core import transport

    assert transport._LEAN, "httpx no longer has the steps Client.send reuses: it falls back to httpx's send"

    async def layered(self, *a, **kw):
        raise AssertionError("httpx's auth layer was used")
    monkeypatch.setattr(httpx.AsyncClient, "_send_handling_auth", layered)
    extracted = []
    monkeypatch.setattr(httpx.Cookies, "extract_cookies", lambda self, response: extracted.append(response))

    async def main():
        async with Wire(_scripted) as wire, Client(transport=http_transport(LIMITS)) as client:
            assert (await client.send(httpx.Request("GET", wire.url + "/plain"))).status_code == 200
            assert extracted == []                                   # no Set-Cookie: the jar is not touched
            await client.send(httpx.Request("GET", wire.url + "/cookie"))
            assert len(extracted) == 1
            with pytest.raises(AssertionError, match="auth layer"):  # auth= goes through httpx's own send
                await client.send(httpx.Request("GET", wire.url + "/x"), auth=httpx.BasicAuth("u", "p"))
    run(main())
