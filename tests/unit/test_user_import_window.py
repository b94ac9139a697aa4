"""The import reads its file a few lines ahead of its workers, whatever the file's size."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from tenantry.user_import import LineResult, Outcome, _bounded


def test_results_come_in_order_and_reading_stays_within_the_window() -> None:
    read = 0
    most_ahead = 0
    done = 0
    lock = threading.Lock()

    def lines() -> Iterator[tuple[int, str]]:
        nonlocal read
        for number in range(1, 1001):
            read += 1
            yield number, f"line {number}"

    def work(item: tuple[int, str]) -> LineResult:
        nonlocal done, most_ahead
        with lock:
            most_ahead = max(most_ahead, read - done)
            done += 1
        return LineResult(item[0], Outcome.CREATED, item[1])

    with ThreadPoolExecutor(4) as pool:
        results = list(_bounded(pool, work, lines(), window=8))
    assert [r.line for r in results] == list(range(1, 1001))
    assert [r.detail for r in results[:2]] == ["line 1", "line 2"]
    assert most_ahead <= 9
