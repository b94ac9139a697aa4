"""The login page's "Continue with …" buttons come from a per-node cache: every change made on
this node (create, update, disable, delete, an application's provider, the override toggle) shows
at once; a change made on another node shows within the cache's time; and a button still shown
for a provider that another node disabled leads to a refusal, not to a sign-in."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tenantry.bootstrap import bootstrap
from tenantry.core.access import Principal
from tenantry.core.identity_providers.service import update_identity_provider
from tenantry.core.sso.login_providers import LOGIN_PROVIDERS_SECONDS, LoginProviderCache
from tests.e2e.oidc_helpers import World, make_world
from tests.e2e.test_identity_providers_api import create, oidc_body
from tests.support import Api, another_application, rand


def buttons(browser: TestClient, world: World) -> set[str]:
    page = browser.get(world.tenant_url("/login"))
    assert page.status_code == 200, page.text
    return {
        line.split("Continue with ", 1)[1].split("<", 1)[0].strip()
        for line in page.text.splitlines()
        if "Continue with " in line
    }


def patch(api: Api, provider_id: str, **fields: Any) -> None:
    response = api.call("PATCH", f"/identity-providers/{provider_id}", json=fields)
    assert response.status_code == 200, response.text


def test_changes_made_on_this_node_show_at_once(any_api: Api) -> None:
    any_api = another_application(any_api)
    world = make_world(any_api)
    browser = any_api.client
    assert buttons(browser, world) == set()

    own = create(any_api, oidc_body(world.tenant["id"], displayName="Own SSO"))
    assert buttons(browser, world) == {"Own SSO"}
    patch(any_api, own["id"], displayName="Renamed SSO")
    assert buttons(browser, world) == {"Renamed SSO"}
    patch(any_api, own["id"], status="DISABLED")
    assert buttons(browser, world) == set()
    patch(any_api, own["id"], status="ENABLED")

    app_owned = create(
        any_api,
        oidc_body(any_api.application_id, ownerType="APPLICATION", name=rand("appidp"), displayName="Company SSO"),
    )
    try:
        assert buttons(browser, world) == {"Renamed SSO", "Company SSO"}
        # With the tenant's override on, its own OIDC provider replaces the application's.
        toggle = {"ownerType": "TENANT", "ownerId": world.tenant["id"], "status": "ENABLED"}
        response = any_api.call("POST", "/identity-provider-override-toggles", params={"upsert": "true"}, json=toggle)
        assert response.status_code in (200, 201), response.text
        assert buttons(browser, world) == {"Renamed SSO"}
    finally:
        assert any_api.call("DELETE", f"/identity-providers/{app_owned['id']}").status_code == 204
    assert any_api.call("DELETE", f"/identity-providers/{own['id']}").status_code == 204
    assert buttons(browser, world) == set()


def test_another_nodes_change_shows_within_the_cache_time_and_cannot_start_a_sign_in(
    any_api: Api, monkeypatch: Any
) -> None:
    any_api = another_application(any_api)
    world = make_world(any_api)
    now = [1_000.0]
    monkeypatch.setattr(
        any_api.services, "login_providers", LoginProviderCache(any_api.services.core, clock=lambda: now[0])
    )
    provider = create(any_api, oidc_body(world.tenant["id"], displayName="Corporate SSO"))
    browser = any_api.client
    assert buttons(browser, world) == {"Corporate SSO"}

    other_node = bootstrap(any_api.services.settings, migrate=False)
    try:
        update_identity_provider(
            other_node.core, Principal.operator(any_api.application_id), provider["id"], {"status": "DISABLED"}
        )
    finally:
        other_node.close()
    assert buttons(browser, world) == {"Corporate SSO"}  # this node has not heard of it yet
    start = browser.get(world.tenant_url(f"/sso/{provider['id']}/start"), follow_redirects=False)
    assert start.status_code == 404 and "not available" in start.text

    now[0] += LOGIN_PROVIDERS_SECONDS
    assert buttons(browser, world) == set()
