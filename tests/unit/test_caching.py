"""The per-node cache behind the client, principal, host and login-provider caches."""

from __future__ import annotations

from tenantry.core.caching import ExpiringCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_is_fresh_for_its_seconds_then_missed() -> None:
    clock = Clock()
    cache: ExpiringCache[str, int] = ExpiringCache(3.0, clock=clock)
    cache.put("a", 1)
    clock.now += 2.9
    assert cache.get("a") == (1,)
    clock.now += 0.1
    assert cache.get("a") is None
    assert cache.get("never") is None


def test_a_stored_none_is_a_hit() -> None:
    cache: ExpiringCache[str, int | None] = ExpiringCache(3.0, clock=Clock())
    cache.put("missing", None)
    assert cache.get("missing") == (None,)


def test_get_or_load_loads_once_while_fresh_and_again_after() -> None:
    clock = Clock()
    cache: ExpiringCache[str, int] = ExpiringCache(3.0, clock=clock)
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert cache.get_or_load("k", load) == 1
    assert cache.get_or_load("k", load) == 1
    clock.now += 3.0
    assert cache.get_or_load("k", load) == 2
    assert len(loads) == 2


def test_past_the_limit_every_entry_is_dropped() -> None:
    cache: ExpiringCache[int, int] = ExpiringCache(3.0, limit=3, clock=Clock())
    for key in range(3):
        cache.put(key, key)
    cache.put(3, 3)
    assert [cache.get(key) for key in range(4)] == [None, None, None, (3,)]


def test_forget_where_drops_the_matching_keys_only() -> None:
    cache: ExpiringCache[tuple[str, str], int] = ExpiringCache(3.0, clock=Clock())
    cache.put(("app1", "c1"), 1)
    cache.put(("app2", "c1"), 2)
    cache.put(("app1", "c2"), 3)
    cache.forget_where(lambda key: key[1] == "c1")
    assert cache.get(("app1", "c1")) is None and cache.get(("app2", "c1")) is None
    assert cache.get(("app1", "c2")) == (3,)
    cache.clear()
    assert cache.get(("app1", "c2")) is None


def test_a_value_loaded_across_a_forget_is_not_kept() -> None:
    """A load that began before a change and ended after the change cleared the cache read the
    old state: keeping it would serve the old state on the very node that made the change."""
    cache: ExpiringCache[str, str] = ExpiringCache(3.0, clock=Clock())

    def load_during_a_change() -> str:
        cache.clear()  # the change commits, and forgets, while this load is under way
        return "read before the change"

    assert cache.get_or_load("k", load_during_a_change) == "read before the change"
    assert cache.get("k") is None
    assert cache.get_or_load("k", lambda: "read after") == "read after"
    assert cache.get("k") == ("read after",)

    generation = cache.generation
    cache.forget_where(lambda key: False)
    cache.put("k", "stale", generation=generation)
    assert cache.get("k") == ("read after",)
