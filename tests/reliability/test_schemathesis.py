"""Schemathesis against the served OpenAPI document (``/api/openapi.json``): every operation, with
valid and invalid inputs, authenticated as the application's admin M2M client. No answer may be a
5xx, and every answer must match what the document says about it (status code, content type, body
schema). Failures are fixed in the server or in the document, never excluded here.

The document is read once at collection from a throwaway application, so that each operation is a
test of its own (split across xdist workers); the requests go to a dedicated application built by
the module fixture, so the fuzzed data never meets the other tests' data. Generation is seeded and
bounded, so CI sees the same cases every run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import HookContext
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tenantry.bootstrap import bootstrap
from tenantry.web.api.applications import POLICY_PATHS
from tenantry.web.app import create_app
from tests.e2e.test_identity_providers_api import oidc_body
from tests.support import Api, build_api, test_settings

# CI runs 25 a operation; set TENANTRY_SCHEMATHESIS_EXAMPLES for a deeper run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("TENANTRY_SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def served_document() -> dict[str, Any]:
    """The OpenAPI document exactly as the application serves it."""
    from fastapi.testclient import TestClient

    with tempfile.TemporaryDirectory() as data_dir:
        services = bootstrap(test_settings(Path(data_dir)))
        try:
            response = TestClient(create_app(services, background=False)).get("/api/openapi.json")
        finally:
            services.close()
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


schema = schemathesis.openapi.from_dict(served_document())

# Ids of real resources of the application under test, filled by the ``target`` fixture: random
# path parameters only ever reach the 404 branch, so half the generated cases aim at these.
KNOWN: dict[str, list[str]] = {"policy": sorted(POLICY_PATHS)}


@schema.hook
def flatmap_path_parameters(
    _: HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    names = [name for name in path_parameters or {} if KNOWN.get(name)]
    if not path_parameters or not names:
        return st.just(path_parameters)
    aimed = st.fixed_dictionaries({name: st.sampled_from(KNOWN[name]) for name in names})
    return st.one_of(st.just(path_parameters), aimed.map(lambda real: {**path_parameters, **real}))


class Target:
    """The application the fuzzer talks to, with ids of real resources to aim path parameters at."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.session = ASGIClient(api.client.app, base_url=f"https://{api.vanity}")
        self.headers = api.auth()
        tenants = [api.create_tenant()["id"] for _ in range(3)]
        users = [api.create_user(tenant)["id"] for tenant in tenants]
        role = api.call("POST", f"/tenants/{tenants[0]}/roles", json={"name": "fuzzed", "displayName": "Fuzzed"})
        assert role.status_code == 201, role.text
        # A spare client: the fuzzer may delete it, while the admin client making the calls stays.
        spare, _ = api.create_m2m_client(tenants[0])
        provider = api.call("POST", "/identity-providers", json=oidc_body(tenants[0]))
        assert provider.status_code in (200, 201), provider.text
        KNOWN.update(
            application_id=[api.application_id],
            tenant_id=tenants,
            user_id=users,
            role_id=[role.json()["id"]],
            client_id=[spare],
            provider_id=[provider.json()["id"]],
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A dedicated application per database (PostgreSQL refuses what SQLite stores, e.g. NUL)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    api = build_api(tmp_path_factory.mktemp("schemathesis"), url)
    with api.client:
        yield Target(api)
    api.services.close()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation_answers_per_its_schema(case: schemathesis.Case, target: Target) -> None:
    response = case.call(session=target.session, headers=target.headers)
    case.validate_response(response, checks=CHECKS)
