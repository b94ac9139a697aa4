"""Account enumeration: the public forms that take an email (signup, sign-in, tenant discovery,
forgot password) and the matching workflow APIs answer a registered and an unregistered email
alike: same status, same page or body once the echoed email and per-request tokens are masked,
and no mail to anyone else. Only the owner of a registered address can tell: the mail goes to
that address. tests/e2e/test_oidc_security.py has the wrong-password case of the login form.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tenantry.adapters.sql import tables as t
from tests.e2e.oidc_helpers import PASSWORD, World, authorize_params, browser_for, csrf_from, login, make_world, pkce
from tests.support import Api, build_api, rand_email

MASKS = [
    (re.compile(r'name="csrf_token" value="[^"]+"'), 'name="csrf_token" value="CSRF"'),
    (re.compile(r'name="code_id" value="[^"]+"'), 'name="code_id" value="CODE_ID"'),
    (re.compile(r'name="req" value="[^"]+"'), 'name="req" value="REQ"'),
    (re.compile(r"req=[\w.-]+"), "req=REQ"),
    (re.compile(r'"ticket":"[a-z2-7]+"'), '"ticket":"TICKET"'),
]


def masked(response: httpx.Response, email: str) -> str:
    text = response.text.replace(email, "EMAIL")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


def outbox(api: Api) -> list[tuple[str, str]]:
    with api.services.database.transaction(write=False) as conn:
        return [(row.id, row.recipient) for row in conn.execute(sa.select(t.outbox.c.id, t.outbox.c.recipient))]


@dataclass
class Answer:
    status: int
    body: str
    mail_to_others: int
    location: str | None


def answer(api: Api, email: str, submit: Callable[[str], httpx.Response]) -> Answer:
    before = set(outbox(api))
    response = submit(email)
    sent = [recipient for item in outbox(api) if item not in before for recipient in [item[1]]]
    others = sum(1 for recipient in sent if recipient.lower() != email.lower())
    location = response.headers.get("location")
    return Answer(response.status_code, masked(response, email), others, location and location.replace(email, "EMAIL"))


@dataclass
class Site:
    api: Api
    world: World  # a tenant with signup enabled and a registered, active user


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    api = build_api(tmp_path_factory.mktemp("enumeration"))
    with api.client:
        world = make_world(api)
        assert api.call("PATCH", f"/tenants/{world.tenant['id']}", json={"signupEnabled": True}).status_code == 200
        yield Site(api, world)
    api.services.close()


def hosted_form(site: Site, path: str, host: str, **fields: str) -> Callable[[str], httpx.Response]:
    def submit(email: str) -> httpx.Response:
        with browser_for(site.api) as browser:
            page = browser.get(f"https://{host}{path}")
            assert page.status_code == 200, page.text[:300]
            data = {"csrf_token": csrf_from(page.text), **{k: v.replace("{email}", email) for k, v in fields.items()}}
            return browser.post(f"https://{host}{path}", data=data, follow_redirects=False)

    return submit


def forms(site: Site) -> dict[str, Callable[[str], httpx.Response]]:
    tenant_host, vanity = site.world.tenant_host, site.api.vanity
    api = site.api

    def sign_in(email: str) -> httpx.Response:
        _, challenge = pkce()
        with browser_for(api) as browser:
            return login(site.world, browser, authorize_params(site.world, challenge), identifier=email, password="no")

    def api_call(path: str, body: dict[str, Any]) -> Callable[[str], httpx.Response]:
        def submit(email: str) -> httpx.Response:
            return api.call("POST", path, json={k: v.replace("{email}", email) for k, v in body.items()})

        return submit

    return {
        "signup page": hosted_form(site, "/signup", tenant_host, email="{email}", password="a fine long passphrase"),
        "sign-in page": sign_in,
        "discovery page": hosted_form(site, "/login", vanity, action="email", email="{email}"),
        "forgot-password page": hosted_form(site, "/forgot-password", tenant_host, email="{email}"),
        "forgot-password API": api_call(
            "/forgot-password/request-reset", {"tenantId": site.world.tenant["id"], "email": "{email}"}
        ),
        "discovery API": api_call(
            "/tenant-discovery/send-tenants-email", {"applicationId": site.api.application_id, "email": "{email}"}
        ),
    }


# The answer each form gives both (so that "alike" is not two identical refusals of something else).
FORMS = {
    "signup page": 200,  # "We sent you an email"
    "sign-in page": 401,  # "Invalid email, username or password"
    "discovery page": 200,
    "forgot-password page": 200,
    "forgot-password API": 204,
    "discovery API": 204,
}


@pytest.mark.parametrize(("form", "status"), FORMS.items())
def test_registered_and_unknown_emails_answer_alike(site: Site, form: str, status: int) -> None:
    submit = forms(site)[form]
    registered = site.api.create_user(site.world.tenant["id"], status="ACTIVE", password=PASSWORD)["email"]
    known = answer(site.api, registered, submit)
    unknown = answer(site.api, rand_email(), submit)
    assert known.status == status, known.body[:500]
    assert (known.status, known.location, known.mail_to_others) == (
        unknown.status,
        unknown.location,
        unknown.mail_to_others,
    )
    assert known.body == unknown.body
    assert known.mail_to_others == 0


def test_the_owner_of_a_registered_address_is_the_one_who_hears(site: Site) -> None:
    """The other side of answering alike: the forgot-password mail does go to a registered user."""
    registered = site.api.create_user(site.world.tenant["id"], status="ACTIVE", password=PASSWORD)["email"]
    hosted_form(site, "/forgot-password", site.world.tenant_host, email="{email}")(registered)
    assert registered in [recipient for _, recipient in outbox(site.api)]
