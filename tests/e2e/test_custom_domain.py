"""A tenant's own custom domain serves its hosted login, and callbacks name it."""

from __future__ import annotations

from tests.e2e.oidc_helpers import (
    PASSWORD,
    authorize_params,
    browser_for,
    callback_query,
    csrf_from,
    exchange,
    login,
    make_world,
    pkce,
)
from tests.support import Api, rand


def test_login_on_a_tenant_custom_domain(any_api: Api) -> None:
    world = make_world(any_api)
    domain = f"login.{rand('c')}.example.com"
    patched = any_api.call("PATCH", f"/tenants/{world.tenant['id']}", json={"customDomain": domain})
    assert patched.status_code == 200 and patched.json()["customDomain"] == domain
    verifier, challenge = pkce()
    with browser_for(any_api) as browser:
        first = browser.get(
            f"https://{domain}/api/v1/oauth2/authorize",
            params=authorize_params(world, challenge),
            follow_redirects=False,
        )
        assert first.status_code == 302 and first.headers["location"].startswith("/login?req=")
        page = browser.get(f"https://{domain}{first.headers['location']}")
        assert page.status_code == 200
        req = first.headers["location"].split("req=", 1)[1]
        posted = browser.post(
            f"https://{domain}/login",
            data={
                "csrf_token": csrf_from(page.text),
                "req": req,
                "identifier": world.user["email"],
                "password": PASSWORD,
            },
            follow_redirects=False,
        )
    query = callback_query(posted)
    assert query["tenant_custom_domain"] == domain and query["tenant_name"] == world.tenant["domainName"]
    assert exchange(world, query["code"], verifier).status_code == 200


def test_custom_domains_are_unique_and_validated(api: Api) -> None:
    domain = f"auth.{rand('u')}.example.org"
    first = api.create_tenant(customDomain=domain)
    assert first["customDomain"] == domain
    taken = api.call("POST", "/tenants", json={"domainName": rand("tn"), "displayName": "x", "customDomain": domain})
    assert taken.status_code == 400 and taken.json()["violations"]["customDomain"][0]["code"] == "not_unique"
    for bad in ("not a domain", "UPPER.example.com", "single", "a" * 300 + ".com"):
        response = api.call(
            "POST", "/tenants", json={"domainName": rand("tn"), "displayName": "x", "customDomain": bad}
        )
        assert response.status_code == 400, bad


def test_callbacks_without_custom_domain_do_not_carry_it(api: Api) -> None:
    world = make_world(api)
    _, challenge = pkce()
    with browser_for(api) as browser:
        query = callback_query(login(world, browser, authorize_params(world, challenge)))
    assert "tenant_custom_domain" not in query
