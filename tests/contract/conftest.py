"""The contract suite's services: one fresh database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantry.bootstrap import Services, bootstrap
from tests.support import test_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_url")
    built = bootstrap(test_settings(tmp_path, url))
    yield built
    built.close()
