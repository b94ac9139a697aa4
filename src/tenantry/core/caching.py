"""A per-node cache of values read from the database, each kept a few seconds.

Several nodes serve one database, so nothing here is told of another node's writes: an entry is
trusted for ``seconds`` after it was read, which bounds how stale another node's view can be. The
node that made a change drops the entries it affects at once (``clear``, ``forget_where``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    """At most ``limit`` entries; past it, all are dropped (they are cheap to read again, and the
    bound matters more than which entries survive). Reads take no lock: a dictionary lookup is
    atomic, and writers replace entries, never change them. A value loaded while the cache was
    being cleared is not kept: it may have been read before the change that cleared it."""

    __slots__ = ("_clock", "_entries", "_generation", "_limit", "_lock", "_seconds")

    def __init__(self, seconds: float, *, limit: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._limit = limit
        self._clock = clock
        self._entries: dict[K, tuple[float, tuple[V]]] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def get(self, key: K) -> tuple[V] | None:
        """``(value,)`` while the entry is fresh, else ``None``. A stored ``None`` is a hit: ``(None,)``."""
        entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self._seconds:
            return None
        return entry[1]

    def put(self, key: K, value: V, *, generation: int | None = None) -> None:
        """Keep ``value``; with ``generation`` (``self.generation`` read before loading it), only if
        nothing was forgotten since."""
        with self._lock:
            if generation is not None and generation != self._generation:
                return
            if len(self._entries) >= self._limit:
                self._entries.clear()
            self._entries[key] = (self._clock(), (value,))

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The fresh value, else ``load()``'s, kept. Two threads missing at once both load."""
        hit = self.get(key)
        if hit is not None:
            return hit[0]
        generation = self._generation
        value = load()
        self.put(key, value, generation=generation)
        return value

    @property
    def generation(self) -> int:
        """How many times entries were forgotten: see ``put``."""
        return self._generation

    def forget_where(self, matches: Callable[[K], bool]) -> None:
        with self._lock:
            self._generation += 1
            self._entries = {key: entry for key, entry in self._entries.items() if not matches(key)}

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
