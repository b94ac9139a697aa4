"""The argon2 hasher's own pool: at most ``concurrency`` hashes at once, results unchanged."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tenantry.adapters.security.passwords import Argon2Hasher
from tests.support import PeakConcurrency


@pytest.mark.parametrize("concurrency", [1, 2])
def test_no_more_hashes_run_at_once_than_the_concurrency(concurrency: int) -> None:
    hasher = Argon2Hasher(memory_kib=1024, time_cost=1, parallelism=1, concurrency=concurrency)
    hashing = PeakConcurrency()
    real = hasher._argon2

    class Watched:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def hash(self, password: str) -> str:
            return slow_hash(password)

    def slow_hash(password: str) -> str:
        with hashing.running():
            time.sleep(0.02)
        return real.hash(password)

    hasher._argon2 = Watched()  # type: ignore[assignment]
    with ThreadPoolExecutor(8) as callers:
        hashes = list(callers.map(hasher.hash, [f"password-{i}" for i in range(8)]))
    assert hashing.peak == concurrency
    assert all(hasher.verify(h, f"password-{i}") for i, h in enumerate(hashes))
    assert not hasher.verify(hashes[0], "password-1")


def test_serve_divides_the_cpus_among_its_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from tenantry import cli

    captured: dict[str, str] = {}
    monkeypatch.delenv("TENANTRY_HASH_CONCURRENCY", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2, 3})
    migrations: list[list[str]] = []

    def migrate(command: list[str], check: bool) -> subprocess.CompletedProcess[bytes]:
        migrations.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(subprocess, "run", migrate)
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: captured.update(os.environ))

    def concurrency_with(workers: int) -> str:
        cli.serve(workers=workers)
        return captured["TENANTRY_HASH_CONCURRENCY"]

    assert concurrency_with(2) == "2"
    monkeypatch.delenv("TENANTRY_HASH_CONCURRENCY")
    assert concurrency_with(8) == "1"
    monkeypatch.setenv("TENANTRY_HASH_CONCURRENCY", "3")  # the operator's choice stands
    assert concurrency_with(2) == "3"
    # The schema is migrated in a child process, before any worker starts.
    assert migrations and all(m[-2:] == ["tenantry.cli", "migrate"] for m in migrations)


def test_the_common_password_list_knows_every_word_it_ships_and_nothing_else() -> None:
    import gzip
    import secrets

    from tenantry.adapters.security.passwords import COMMON_PASSWORDS, CommonPasswordList

    common = CommonPasswordList()
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        words = [word for line in lines if (word := line.strip())]
    assert len(words) > 25_000
    assert all(word in common for word in words)
    assert "PassWord" in common and "QWERTY" in common  # case-insensitive
    assert not any(secrets.token_urlsafe(12) in common for _ in range(1000))
    assert "correct horse battery staple tenantry" not in common
    assert 123456 not in common and None not in common
    assert "\udcff" not in common  # a lone surrogate is looked up, not an error
