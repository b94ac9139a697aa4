"""Open redirects: every place that sends a browser elsewhere keeps it on an origin the
application registered. Logout's ``redirect_url``, authorize's ``redirect_uri`` (tricky spellings
beyond tests/e2e/test_oidc_security.py's), the tenant placeholder of redirect and login URLs, the
signed ``req`` of the login page, and the discovery form's ``client_id``.

A Location is judged the way a browser reads it: backslashes are slashes, and a relative path
stays on the server that sent it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.e2e.oidc_helpers import (
    PASSWORD,
    World,
    authorize_params,
    browser_for,
    csrf_from,
    make_world,
    pkce,
)
from tests.support import Api, build_api, rand

HOSTILE_URLS = [
    "https://evil.test/",
    "//evil.test/",
    "///evil.test/",
    "https:evil.test",
    "https://app.test.evil.test/",
    "https://app.test@evil.test/",
    "https://evil.test\\@app.test/",
    "https://app.test\\@evil.test/",
    "/\\evil.test/",
    "https://evil.test#https://app.test/",
    " https://evil.test/",
    "javascript:alert(document.domain)//https://app.test/",
    "data:text/html,<script>alert(1)</script>",
    "http://app.test/",  # the registered origin is https
    "https://app.test:8443/",
    "https://evil.test%2f@app.test/",
    "https://app.test%00.evil.test/",
    "https://\uff41\uff50\uff50.test/",  # fullwidth letters: not the registered host
]


def browser_origin(location: str, sender: str) -> str:
    """scheme://host[:port] a browser would go to for ``location`` sent by ``sender``."""
    normalized = location.strip().replace("\\", "/")
    parts = urlsplit(normalized)
    if not parts.scheme and not normalized.startswith("//"):
        return sender  # a path on the same server
    scheme = parts.scheme or "https"
    return f"{scheme}://{parts.netloc.rpartition('@')[2].lower()}"


@dataclass
class Site:
    api: Api
    world: World  # its client registered https://app.test/callback and login URL https://app.test/login

    @property
    def allowed(self) -> set[str]:
        return {"https://app.test", f"https://{self.api.vanity}", f"https://{self.world.tenant_host}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    api = build_api(tmp_path_factory.mktemp("redirects"))
    with api.client:
        yield Site(api, make_world(api))
    api.services.close()


def stays_home(site: Site, response: httpx.Response) -> None:
    location = response.headers.get("location")
    if location is None:
        return
    sender = f"https://{urlsplit(str(response.url)).netloc}"
    assert browser_origin(location, sender) in site.allowed, f"redirected to {location!r}"
    assert len(response.headers.get_list("location")) == 1


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_logout_never_redirects_off_the_registered_origins(site: Site, url: str) -> None:
    with browser_for(site.api) as browser:
        for params in (
            {"client_id": site.world.client_id, "redirect_url": url},
            {"redirect_url": url},
            {"client_id": "unknown", "redirect_url": url},
            {"client_id": site.world.client_id, "redirect_url": url, "state": "s\r\nSet-Cookie: owned=1"},
        ):
            response = browser.get(site.world.tenant_url("/api/v1/logout"), params=params, follow_redirects=False)
            assert response.status_code == 302, response.text
            stays_home(site, response)
            assert "owned" not in response.cookies


def test_logout_follows_a_registered_origin(site: Site) -> None:
    with browser_for(site.api) as browser:
        response = browser.get(
            site.world.tenant_url("/api/v1/logout"),
            params={"client_id": site.world.client_id, "redirect_url": "https://app.test/signed-out"},
            follow_redirects=False,
        )
    assert response.headers["location"] == "https://app.test/signed-out"


TRICKY_REDIRECT_URIS = [
    "https://app.test/callback/../evil",
    "https://app.test/callback#x",
    "https://app.test/callback%2F..%2Fevil",
    "https://app.test@evil.test/callback",
    "https://evil.test\\@app.test/callback",
    "//evil.test/callback",
    "https://app.test:443/callback",
    "https://app.test/Callback",
    "http://app.test/callback",
    "https://app.test/callback\x00",
    " https://app.test/callback",
    "https://app.test/callback https://evil.test/",
]


@pytest.mark.parametrize("redirect_uri", TRICKY_REDIRECT_URIS)
def test_authorize_refuses_near_misses_of_the_registered_redirect_uri(site: Site, redirect_uri: str) -> None:
    _, challenge = pkce()
    params = authorize_params(site.world, challenge, redirect_uri=redirect_uri)
    with browser_for(site.api) as browser:
        response = browser.get(site.world.tenant_url("/api/v1/oauth2/authorize?" + urlencode(params)))
    assert response.status_code == 400 and "location" not in response.headers, response.headers.get("location")


def test_a_tenant_placeholder_redirect_uri_only_ever_means_this_tenant(site: Site) -> None:
    api = site.api
    template = "https://{tenant_domain}.app.test/callback"
    made = api.call(
        "POST", "/clients", json={"name": rand("web"), "type": "BACKEND_SERVER", "redirectUris": [template]}
    )
    assert made.status_code == 201, made.text
    client_id = made.json()["id"]
    other = api.create_tenant()
    _, challenge = pkce()
    with browser_for(api) as browser:
        for requested, ok in (
            (f"https://{site.world.tenant['domainName']}.app.test/callback", True),
            (f"https://{other['domainName']}.app.test/callback", False),  # another tenant's
            ("https://evil.test/x.app.test/callback", False),
        ):
            params = authorize_params(site.world, challenge, client_id=client_id, redirect_uri=requested)
            response = browser.get(
                site.world.tenant_url("/api/v1/oauth2/authorize?" + urlencode(params)), follow_redirects=False
            )
            assert (response.status_code == 302) is ok, (requested, response.status_code)
            if ok:
                assert response.headers["location"].startswith("/login?")


@pytest.mark.parametrize("domain", ["evil.test/x", "a@evil.test", "evil.test#", "x?y", "a:b", "A B", "..", "a\\b"])
def test_tenant_domains_cannot_carry_url_syntax_into_placeholders(site: Site, domain: str) -> None:
    """The placeholder's value is a tenant's domain name: it must be a plain label."""
    response = site.api.call("POST", "/tenants", json={"domainName": domain, "displayName": "x"})
    assert response.status_code == 400, response.text


def test_a_tampered_login_request_cannot_choose_where_the_code_goes(site: Site) -> None:
    """The login page carries the authorize request sealed (``req``); an edited one is refused
    and never turned into a redirect, even with the right password."""
    world = site.world
    _, challenge = pkce()
    with browser_for(site.api) as browser:
        first = browser.get(
            world.tenant_url("/api/v1/oauth2/authorize?" + urlencode(authorize_params(world, challenge))),
            follow_redirects=False,
        )
        req = parse_qs(urlsplit(first.headers["location"]).query)["req"][0]
        page = browser.get(world.tenant_url("/login"), params={"req": req})
        assert page.status_code == 200
        flipped = req[:-5] + ("A" if req[-5] != "A" else "B") + req[-4:]
        forged = base64.urlsafe_b64encode(b'{"p":{"redirect_uri":"https://evil.test/"}}').decode().rstrip("=")
        for bad in (flipped, forged, req + "x", ""):
            response = browser.post(
                world.tenant_url("/login"),
                data={
                    "csrf_token": csrf_from(page.text),
                    "req": bad,
                    "identifier": world.user["email"],
                    "password": PASSWORD,
                },
                follow_redirects=False,
            )
            stays_home(site, response)
            assert "evil.test" not in response.headers.get("location", "")


def test_discovery_redirect_ignores_an_unknown_client_id(site: Site) -> None:
    with browser_for(site.api) as browser:
        page = browser.get("/login")
        response = browser.post(
            "/login",
            data={
                "csrf_token": csrf_from(page.text),
                "tenant_domain": site.world.tenant["domainName"],
                "client_id": "https://evil.test/",
            },
            follow_redirects=False,
        )
    assert response.status_code == 302
    stays_home(site, response)
