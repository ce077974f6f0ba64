"""A planted key meets a hostile server (issue 11, defects 2-4): for every provider, the key goes
only below the configured base URL, whatever ids, URLs and redirects the server hands back.

Two servers on 127.0.0.1: the *hostile* one plays the provider at ``/api/v1`` and answers with
redirects (to the other port, out of the base path, through ``..`` and ``%2e%2e``); the *sink*
on another port stands for any other host. Every request is sent by the engine's own HTTP
client (`sorakit.engine.Runtime`), so its redirect handling is what is judged. Afterwards: the
key never reached the sink, nor any path outside ``/api/v1`` on the hostile server — and it did
reach ``/api/v1`` (the test can fail).
"""

from __future__ import annotations

import asyncio
import posixpath
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import httpx
import pytest

from sorakit import ValidationError
from sorakit._types import JobState, VideoRequest
from sorakit.catalog import load_catalog, plan as make_plan
from sorakit.engine import Policy, Runtime, Secret
from sorakit.engine._config import ProviderSetup

KEY = "test-PLANTED-hostile-5e1f"
PROVIDERS = ["openai", "runware", "runcrate", "relay", "gemini", "vertex"]
CAT = load_catalog()
BASE_PATH = "/api/v1"


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hits: list[tuple[str, str, dict]] = []
        self.redirect: str | None = None
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        server: _Recorder = self.server  # type: ignore[assignment]
        server.hits.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        if server.redirect and self.path.startswith(BASE_PATH) and "outside" not in self.path:
            self.send_response(307)
            self.send_header("Location", server.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer


@pytest.fixture
def servers():
    hostile, sink = _Recorder(), _Recorder()
    yield hostile, sink
    hostile.close()
    sink.close()


def _runtime(name: str, base_url: str) -> Runtime:
    info = CAT.providers[name]
    setup = ProviderSetup(name, info, "live", base_url, key=Secret(KEY))
    return Runtime(setup, 4, Policy(request_timeout=5, connect_timeout=5))


def _carries_key(headers: dict) -> bool:
    return any(KEY in v for v in headers.values())


def _inside_base(path: str) -> bool:
    p = posixpath.normpath(unquote(unquote(path.split("?", 1)[0])))
    return p == BASE_PATH or p.startswith(BASE_PATH + "/")


GOOD_ID = {"vertex": "projects/p/locations/us-central1/publishers/google/models/veo-3.1/operations/op1"}

HOSTILE_IDS = ["../../files", "..", ".", "%2e%2e", "a/../../b", "..%2f..%2ffiles", "..\\..\\files",
               "x/%2E%2E/%2e%2e/y", "%252e%252e", "\x00", ""]


def _plan(name: str, **kw):
    model = {"openai": "sora-2", "relay": "sora-2", "gemini": "veo-3-fast",
             "runware": "kling-3-standard", "runcrate": "kling-3-standard"}[name]
    offer = next((o for o in CAT.models[model].offers if o.provider == name), None)
    if offer is None:
        model = next(m for m in CAT.models.values() if any(o.provider == name for o in m.offers)).name
    return make_plan(VideoRequest(prompt="a hostile test", model=model, provider=name, **kw), CAT, emulated=True)


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_key_never_leaves_the_base_url(name, servers):
    hostile, sink = servers
    base = hostile.origin + BASE_PATH
    rt = _runtime(name, base)
    prov = rt.provider
    good = GOOD_ID.get(name, "job-1")
    other = sink.origin
    redirects = [
        other + "/stolen",                                   # another port (another origin)
        hostile.origin + "/outside/stolen",                  # same origin, out of the base path
        hostile.origin + BASE_PATH + "/../../outside/dots",  # out through ..
        hostile.origin + BASE_PATH + "/%2e%2e/%2e%2e/outside/encoded",
        "//127.0.0.1:%d/scheme-relative" % sink.server_address[1],
    ]
    hostile_urls = [other + "/video.mp4", base + "/../../outside.mp4", base + "/%2e%2e/%2e%2e/outside.mp4",
                    base + "/..%2f..%2foutside.mp4", "//127.0.0.1:%d/x.mp4" % sink.server_address[1],
                    other + BASE_PATH + "/files/x.mp4"]
    refused = 0

    async def scenario():
        nonlocal refused
        requests: list[httpx.Request] = []
        # 1. a normal keyed request (positive control), then the same answered with redirects
        requests.append(prov.build_poll(good))
        # 2. hostile ids a server (or a user) could hand us, into every path a protocol builds
        for bad in HOSTILE_IDS + [other + "/x"]:
            for build in (lambda: prov.build_poll(bad),
                          lambda: prov.build_download(JobState(bad, "completed", provider_video_id=bad,
                                                               video_url=bad or None))):
                try:
                    requests.append(build())
                except (ValidationError, ValueError):
                    refused += 1
        # 3. absolute result URLs elsewhere
        for url in hostile_urls:
            try:
                requests.append(prov.build_download(JobState(good, "completed", provider_video_id="v1",
                                                             video_url=url)))
            except (ValidationError, ValueError):
                refused += 1
        client = rt.client
        try:
            for req in requests:
                hostile.redirect = None
                await client.send(req)
            for target in redirects:
                hostile.redirect = target
                await client.send(prov.build_poll(good))
                if "thumbnail" in prov.variants or name in ("openai", "runcrate"):
                    await client.send(prov.build_download(JobState(good, "completed", provider_video_id="v1")))
        finally:
            await rt.aclose()

    asyncio.run(scenario())
    assert refused >= (2 if name == "runware" else 8)          # the hostile ids were refused (Runware: ids go in the body)
    keyed_inside = [h for h in hostile.hits if _carries_key(h[2]) and _inside_base(h[1])]
    assert keyed_inside, "the positive control never carried the key"
    assert len(sink.hits) >= 2                                  # the redirects (and URLs) were followed
    leaks = [h[:2] for h in sink.hits if _carries_key(h[2])]
    leaks += [h[:2] for h in hostile.hits if _carries_key(h[2]) and not _inside_base(h[1])]
    assert not leaks, leaks


def test_a_user_given_source_video_id_cannot_move_the_remix_path():
    """Defect 4: ``source_video_id="../../files"`` made the remix POST go to ``/openai/files/remix``."""
    prov = _runtime("openai", "http://127.0.0.1:9/openai/v1").provider
    with pytest.raises(ValidationError) as e:
        prov.build_create(_plan("openai", action="remix", source_video_id="../../files"), "ref")
    assert e.value.field == "source_video_id"
    ok = prov.build_create(_plan("openai", action="remix", source_video_id="video_123"), "ref")
    assert ok.url.path == "/openai/v1/videos/video_123/remix"


@pytest.mark.parametrize("url, allowed", [
    ("https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media", True),
    ("http://127.0.0.1:9/gemini/v1beta/files/abc:download?alt=media", True),
    ("http://127.0.0.1:9/gemini/v1beta/files/../../../x", False),         # defect 3
    ("http://127.0.0.1:9/gemini/v1beta/files/%2e%2e/%2e%2e/x", False),
    ("http://127.0.0.1:9/gemini/v1betax/files/a", False),
    ("http://127.0.0.1:10/gemini/v1beta/files/a", False),
    ("https://generativelanguage.googleapis.com.evil.test/v1beta/files/a", False),
    ("http://generativelanguage.googleapis.com/v1beta/files/a", False),   # not https
])
def test_where_the_gemini_key_may_go(url, allowed):
    prov = _runtime("gemini", "http://127.0.0.1:9/gemini/v1beta").provider
    assert prov.key_allowed_for(url) is allowed
    req = prov.build_download(JobState("op", "completed", video_url=url))
    assert ("x-goog-api-key" in req.headers) is allowed
