"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request ids + access log + metrics,
and the request body size limit."""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.core.audit.model import Origin, current_origin
from tenantry.core.ids import new_id

log = structlog.get_logger("tenantry.http")
REQUESTS = Counter("tenantry_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "tenantry_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Labelled metric children, looked up once per (method, route[, status]).
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._latencies: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else new_id()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        client = scope.get("client")
        agent = headers.get(b"user-agent", b"").decode("latin-1")[:300] or None
        origin_token = current_origin.set(Origin(client[0] if client else None, agent))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = scope["method"]
            counter = self._counters.get((method, path, status))
            if counter is None:
                counter = self._counters[(method, path, status)] = REQUESTS.labels(method, path, str(status))
            latency = self._latencies.get((method, path))
            if latency is None:
                latency = self._latencies[(method, path)] = LATENCY.labels(method, path)
            counter.inc()
            latency.observe(elapsed)
            if status >= 500 or log.is_enabled_for(10):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            current_origin.reset(origin_token)


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` with a 413 in the API's error format, whether the
    client announced the length or streams the body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = False
        for name, value in scope.get("headers") or []:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await _too_large(send, self.max_bytes)
                    return
                announced = True
        if announced:
            # The HTTP server delivers no more than the announced length: nothing left to guard.
            await self.app(scope, receive, send)
            return
        received = 0
        refused = False

        async def guarded_receive() -> Message:
            # Past the limit, answer 413 ourselves and tell the app the client went away; the
            # app's own (error) response is then dropped by ``guarded_send``.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await _too_large(send, self.max_bytes)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, guarded_receive, guarded_send)


async def _too_large(send: Send, limit: int) -> None:
    body: dict[str, Any] = {
        "type": "base_error",
        "code": "payload_too_large",
        "message": f"The request body exceeds {limit} bytes",
        "ticket": new_id(),
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
