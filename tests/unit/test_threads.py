"""``run_in_thread``: the call runs in a worker thread, in a copy of the caller's context."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from tenantry.web.threads import run_in_thread
from tests.support import PeakConcurrency

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


def _seen(suffix: str, *, upper: bool = False) -> tuple[str, int]:
    value = REQUEST_ID.get() + suffix
    REQUEST_ID.set("changed in the thread")
    return (value.upper() if upper else value), threading.get_ident()


def test_runs_off_the_loop_thread_with_the_callers_context() -> None:
    async def main() -> None:
        REQUEST_ID.set("req-1")
        value, ident = await run_in_thread(_seen, "/x", upper=True)
        assert value == "REQ-1/X"
        assert ident != threading.get_ident()
        assert REQUEST_ID.get() == "req-1"  # what the thread set stayed in its copy

    asyncio.run(main())


def test_errors_reach_the_caller() -> None:
    def fail() -> None:
        raise LookupError("gone")

    with pytest.raises(LookupError, match="gone"):
        asyncio.run(run_in_thread(fail))


def test_the_pool_runs_at_most_its_configured_threads_at_once() -> None:
    from tenantry.web import threads

    working = PeakConcurrency()
    release = threading.Event()

    def work() -> None:
        with working.running():
            release.wait(5)

    async def main() -> None:
        calls = [asyncio.ensure_future(run_in_thread(work)) for _ in range(5)]
        while True:  # until the pool is full: the others wait for a free thread
            await asyncio.sleep(0.01)
            if working.now >= 2:
                break
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(*calls)

    threads.configure(2)
    try:
        asyncio.run(main())
    finally:
        threads.configure(threads.DEFAULT_THREADS)
    assert working.peak == 2
