"""Drive the authorization-code flow through the TestClient the way a browser and an SDK do."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi.testclient import TestClient

from tests.support import Api, rand, rand_email

PASSWORD = "correct horse battery staple"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class World:
    api: Api
    tenant: dict[str, Any]
    user: dict[str, Any]
    client_id: str
    client_secret: str
    redirect_uri: str

    @property
    def tenant_host(self) -> str:
        return f"{self.tenant['domainName']}-{self.api.vanity}"

    def tenant_url(self, path: str) -> str:
        return f"https://{self.tenant_host}{path}"

    def basic(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@contextmanager
def browser_for(api: Api) -> Iterator[TestClient]:
    """A separate cookie jar on the same app. Not entered as a context manager: that would run
    the app's lifespan again and stop its background workers when it ends."""
    browser = TestClient(api.client.app, base_url=str(api.client.base_url))
    try:
        yield browser
    finally:
        browser.close()


def make_world(api: Api, *, redirect_uri: str = "https://app.test/callback", scopes_roles: bool = False) -> World:
    tenant = api.create_tenant()
    user = api.create_user(tenant["id"], status="ACTIVE", password=PASSWORD, givenName="Ada", emailVerified=True)
    response = api.call(
        "POST",
        "/clients",
        json={
            "name": rand("web"),
            "type": "BACKEND_SERVER",
            "redirectUris": [redirect_uri],
            "loginUrl": "https://app.test/login",
        },
    )
    assert response.status_code == 201, response.text
    doc = response.json()
    return World(api, tenant, user, doc["id"], doc["clientSecret"], redirect_uri)


def authorize_params(world: World, challenge: str, **extra: str) -> dict[str, str]:
    return {
        "client_id": world.client_id,
        "redirect_uri": world.redirect_uri,
        "response_type": "code",
        "state": secrets.token_urlsafe(24),
        "scope": "openid offline_access email profile roles",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": secrets.token_urlsafe(24),
        **extra,
    }


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(
    world: World,
    client: httpx.Client | Any,
    params: dict[str, str],
    identifier: str | None = None,
    password: str = PASSWORD,
) -> httpx.Response:
    """authorize → login page → submit; returns the response to the form post."""
    first = client.get(world.tenant_url("/api/v1/oauth2/authorize?" + urlencode(params)), follow_redirects=False)
    assert first.status_code == 302, first.text
    assert first.headers["location"].startswith("/login?req="), first.headers["location"]
    form_page = client.get(world.tenant_url(first.headers["location"]))
    assert form_page.status_code == 200
    req = parse_qs(urlsplit(first.headers["location"]).query)["req"][0]
    return client.post(
        world.tenant_url("/login"),
        data={
            "csrf_token": csrf_from(form_page.text),
            "req": req,
            "identifier": identifier or world.user["email"],
            "password": password,
        },
        follow_redirects=False,
    )


def callback_query(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


def exchange(world: World, code: str, verifier: str, redirect_uri: str | None = None) -> httpx.Response:
    return world.api.client.post(
        "/api/v1/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or world.redirect_uri,
            "code_verifier": verifier,
        },
        headers=world.basic(),
    )


__all__ = [
    "PASSWORD",
    "World",
    "authorize_params",
    "callback_query",
    "exchange",
    "login",
    "make_world",
    "pkce",
    "rand_email",
]
