"""``OneHopRoute``: the route class of every router, so that a sync endpoint costs one thread hop.

FastAPI runs a sync (``def``) endpoint in the thread pool, and then, because the endpoint's return
annotation (``dict[str, Any]`` here) makes a response model, it validates the returned value in
the thread pool *again*: two hand-offs between the event loop and a worker thread per request, the
second for a check that takes microseconds. Under load each hand-off costs far more than that
(GIL hand-over, wake-ups): it was the largest single item in the Create User profile.

``OneHopRoute`` wraps a sync endpoint in an ``async`` one that calls it in the thread pool
(``functools.wraps`` keeps its signature, so FastAPI sees the same parameters and the same
response model). FastAPI then treats the endpoint as a coroutine and validates the response on the
event loop. The endpoint's own code still runs in a worker thread, as before: it may block on the
database.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute

from tenantry.web.threads import run_in_thread


def in_thread_pool(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine function that runs it in the thread pool."""

    @functools.wraps(endpoint)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await run_in_thread(endpoint, *args, **kwargs)

    return call


class OneHopRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_thread_pool(endpoint)
        super().__init__(path, endpoint, **kwargs)
