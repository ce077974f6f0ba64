"""Runware's WebSocket protocol, served at the same prefix as its REST API (``/runware/v1``).

The official SDKs' default transport (``runware-sdk`` ``transport/websocket.py``; the older
``runware`` package has no other) opens ``wss://ws-api.runware.ai/v1`` and speaks JSON frames:

```
client → [{"taskType": "authentication", "apiKey": K, "connectionSessionUUID"?: S}]
server ← {"data": [{"taskType": "authentication", "connectionSessionUUID": S}]}
         or {"errors": [{"code": "invalidApiKey", "message", "parameter": "apiKey", "taskType": "authentication"}]}
client → [{"taskType": "ping", "ping": true}]          server ← {"data": [{"taskType": "ping", "pong": true}]}
client → [task, ...]  (videoInference with deliveryMethod "async", getResponse ...)
server ← {"data": [...], "errors"?: [...]}   items carry their taskUUID; the SDK routes by it
```

Every task array after authentication is answered by the REST handler itself (an in-process
``POST`` with the session's key), so validation, moderation, costs, conflicts, rate limits and
error shapes are the REST surface's, item for item. Frames are logged in the emulator's request
log with method ``WS`` (the authentication frame's key masked).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from starlette.requests import Request
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from ._surface import parse_json
from ._store import LoggedRequest, RequestLog

__all__ = ["runware_websocket_route"]


def _frame(**body: Any) -> str:
    return json.dumps(body)


def runware_websocket_route(surface, path: str = "/") -> WebSocketRoute:
    """A `WebSocketRoute` speaking Runware's WebSocket protocol for ``surface`` (a RunwareSurface)."""

    async def endpoint(ws: WebSocket) -> None:
        await ws.accept()
        emu = surface.emu
        key: Optional[str] = None
        authed = False
        headers = RequestLog.headers_of(ws.scope)
        try:
            while True:
                text = await ws.receive_text()
                tasks, _ = parse_json(text, list)
                logged = text
                if isinstance(tasks, list):
                    logged = json.dumps([{**t, "apiKey": "***"} if isinstance(t, dict) and "apiKey" in t else t
                                         for t in tasks])
                emu.requests.add(LoggedRequest("WS", ws.scope["path"], "", headers, logged.encode()))
                if tasks is None or not tasks or not all(isinstance(t, dict) for t in tasks):
                    await ws.send_text(_frame(errors=[{"code": "invalidRequest",
                                                       "message": "A frame must be a JSON array of task objects."}]))
                    continue
                auth = [t for t in tasks if t.get("taskType") == "authentication"]
                rest = [t for t in tasks if t.get("taskType") not in ("authentication", "ping")]
                if auth:
                    given = auth[0].get("apiKey")
                    if not isinstance(given, str) or not surface.key_ok(given):
                        emu.counters.incr(surface.provider, "auth_failures")
                        await ws.send_text(_frame(errors=[{
                            "code": "invalidApiKey", "message": "Invalid API key. Get one at https://my.runware.ai/signup",
                            "parameter": "apiKey", "taskType": "authentication"}]))
                        continue
                    key, authed = given, True
                    session = auth[0].get("connectionSessionUUID")
                    if not isinstance(session, str) or not session:
                        session = emu.ids.uuid4("sessions")
                    await ws.send_text(_frame(data=[{"taskType": "authentication", "connectionSessionUUID": session}]))
                if any(t.get("taskType") == "ping" for t in tasks):
                    await ws.send_text(_frame(data=[{"taskType": "ping", "pong": True}]))
                if not rest:
                    continue
                if not authed:
                    await ws.send_text(_frame(errors=[
                        {"code": "unauthenticated", "message": "Authenticate first: send an authentication task "
                                                             "with your apiKey.", "taskType": t.get("taskType"),
                         **({"taskUUID": t["taskUUID"]} if isinstance(t.get("taskUUID"), str) else {})}
                        for t in rest]))
                    continue
                response = await surface._tasks(_rest_request(ws, key, json.dumps(rest).encode()))
                if not getattr(response, "body", None):  # an injected reset: drop the socket
                    await ws.close(code=1011)
                    return
                await ws.send_text(response.body.decode())
        except WebSocketDisconnect:
            return

    return WebSocketRoute(path, endpoint)


def _rest_request(ws: WebSocket, key: Optional[str], body: bytes) -> Request:
    """The REST request a frame stands for: same host and path, the session's key as a bearer."""
    scope = dict(ws.scope)
    headers = [(k, v) for k, v in scope.get("headers", []) if k.lower() not in (b"authorization", b"content-length")]
    if key:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    headers.append((b"content-type", b"application/json"))
    scope.update(type="http", method="POST", headers=headers, http_version="1.1",
                 scheme={"ws": "http", "wss": "https"}.get(scope.get("scheme", "ws"), "http"))
    sent = [False]

    async def receive():
        if sent[0]:
            return {"type": "http.disconnect"}
        sent[0] = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)
