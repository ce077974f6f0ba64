"""The Runtime's HTTP transport (`sorakit.engine._core.transport`): httpx's own with a kept socket
and a gate of ``max_connections`` places; a place is given back however a request ends."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sorakit.engine._core.transport import _Stream, http_transport


async def _server(body: bytes):
    """A loopback HTTP/1.1 server answering every request with ``body`` (keep-alive)."""
    seen = {"requests": 0, "live": 0, "most": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["live"] += 1
        seen["most"] = max(seen["most"], seen["live"])
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    break
                seen["requests"] += 1
                await asyncio.sleep(0.01)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            seen["live"] -= 1
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen


def test_many_requests_share_few_connections_and_every_place_comes_back():
    async def main():
        server, url, seen = await _server(b"x" * 200_000)
        transport = http_transport(httpx.Limits(max_connections=4, max_keepalive_connections=2))
        async with server, httpx.AsyncClient(transport=transport) as client:
            async def plain():
                r = await client.get(url + "/a")
                assert r.status_code == 200 and len(r.content) == 200_000

            async def streamed(read: bool):
                async with client.stream("GET", url + "/b") as r:
                    if read:
                        assert len(await r.aread()) == 200_000
                    # else: closed unread (a download that gave up): the place comes back too

            await asyncio.gather(*[plain() for _ in range(30)], *[streamed(i % 2 == 0) for i in range(30)])
            assert transport._gate._value == 4                 # every place given back
            assert seen["requests"] == 60
            assert seen["most"] <= 4 + 1       # 4 at once (+1: a closed one's server side may lag a moment)
            pool = transport._inner._pool
            assert len(pool.connections) <= 4
            streams = [c._connection._network_stream for c in pool.connections if c._connection is not None]
            assert streams and all(isinstance(s, _Stream) for s in streams)
            assert all(s.get_extra_info("is_readable") is False for s in streams)   # idle, nothing to read
            # a request that fails gives its place back too
            with pytest.raises(httpx.ConnectError):
                await client.get("http://127.0.0.1:9/")
            assert transport._gate._value == 4

    asyncio.run(main())
