"""What the fast paths share: a few hot requests answered in front of FastAPI's router.

A fast path takes a request only when everything it needs is at hand (the host's application and
the caller from memory, a body it can read); anything else goes on to the regular route with the
body replayed, so the regular route stays the reference and the fast path only saves FastAPI's
per-request routing, dependency solving and response rendering."""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

ErrorHandler = Callable[[Request, Any], Response | Awaitable[Response]]  # as Starlette keeps them


class Headers:
    """The few request headers a fast path reads, from one pass over the raw list."""

    __slots__ = ("authorization", "content_length", "content_type", "host")

    def __init__(self, scope: Scope) -> None:
        self.host = self.authorization = self.content_type = ""
        self.content_length = -1
        for name, value in scope["headers"]:
            if name == b"host":
                self.host = value.decode("latin-1")
            elif name == b"authorization":
                self.authorization = value.decode("latin-1")
            elif name == b"content-type":
                self.content_type = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                self.content_length = int(value)

    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    def body_within(self, limit: int) -> bool:
        return 0 < self.content_length <= limit


def posted_to(scope: Scope, path: str) -> Headers | None:
    """The request's headers when it is a POST to ``path``, else ``None`` (not ours)."""
    if scope["type"] != "http" or scope["path"] != path or scope["method"] != "POST":
        return None
    return Headers(scope)


async def read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a ``receive`` that hands the same messages to the regular route."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return b"".join(chunks), replay


def render_json(content: Any) -> bytes:
    """JSON exactly as FastAPI's ``JSONResponse`` renders it."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


async def send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    start = [(b"content-type", b"application/json"), *(headers or []), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


async def error_response(handlers: Mapping[Any, ErrorHandler], request: Request, error: Exception) -> Response:
    """The application's own answer to ``error``: its handler for the nearest class in the error's
    MRO, as Starlette picks it. Re-raises what no handler takes."""
    handler = next((handlers[cls] for cls in type(error).__mro__ if cls in handlers), None)
    if handler is None:
        raise error
    response = handler(request, error)
    return await response if inspect.isawaitable(response) else response
