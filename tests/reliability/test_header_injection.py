"""Header injection through the values that end up in an email's headers: the recipient's
address and the names in the subject (tenant and application display names). Hypothesis mixes
CR, LF, NUL, vertical tab, form feed, NEL and the Unicode line/paragraph separators, encoded-word
and URL-encoded line breaks, and a ``Bcc:`` line into them, through the management API and the
hosted signup form.

Each input is either refused (a 4xx, nothing queued) or harmless: every message it queued, built
by the SMTP transport exactly as it would be sent and parsed back from its bytes, has the fixed
set of headers, once each, one recipient, and no line break in any header value. The transport
may also refuse a message outright (a permanent DeliveryError), which is harmless too.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantry.adapters.mail.smtp import SmtpTransport, parse_smtp_url
from tenantry.adapters.mail.transport import DeliveryError
from tenantry.adapters.sql import tables as t
from tenantry.core.mail.model import EmailKind, EmailMessage, RenderedEmail
from tests.e2e._helpers import safe
from tests.e2e.oidc_helpers import browser_for, csrf_from
from tests.support import Api, build_api, rand

HEADERS = {"from", "to", "subject", "date", "message-id", "auto-submitted", "mime-version", "content-type"}
BREAKS = ["\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x85", "\u2028", "\u2029", "\t", "%0d%0a", "=?utf-8?q?=0D=0A?="]
FRAGMENTS = [*BREAKS, "Bcc: victim@evil.test", "a", "x", ".", " ", ",", ";", "<", ">", '"', ":", "@"]
hostile = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=6).map("".join)
addresses = st.one_of(
    st.builds(lambda a, b: f"u{a}{b}@example.com", hostile, st.just("")),
    st.builds(lambda a: f"user@example.com{a}", hostile),
    st.builds(lambda a: f"user@exa{a}mple.com", hostile),
    st.builds(lambda a: f'"{a}"@example.com', hostile),
    st.builds(lambda a: f"Name{a} <user@example.com>", hostile),
)
names = st.builds(lambda a, b: f"Acme{a}Corp{b}", hostile, hostile)
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TRANSPORT = SmtpTransport(parse_smtp_url("smtp://localhost:25"), "Tenantry <noreply@tenantry.test>")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    built = build_api(tmp_path_factory.mktemp("headers"))
    with built.client:
        yield safe(built)
    built.services.close()


def queued(api: Api) -> dict[str, Any]:
    with api.services.database.transaction(write=False) as conn:
        return {row.id: row for row in conn.execute(sa.select(t.outbox))}


def assert_harmless(before: dict[str, Any], api: Api) -> None:
    for message_id, row in queued(api).items():
        if message_id in before:
            continue
        message = EmailMessage(
            id=row.id,
            kind=EmailKind(row.kind),
            recipient=row.recipient,
            rendered=RenderedEmail(subject=row.subject, text=row.text_body, html=row.html_body),
            created_at=row.created_at,
        )
        try:
            mime = TRANSPORT.build(message)
        except DeliveryError as error:
            assert error.permanent, error  # refused for good, never sent
            continue
        for parsed in (mime, email.message_from_bytes(mime.as_bytes(), policy=email.policy.SMTP)):
            names = [name.lower() for name in parsed]
            assert sorted(names) == sorted(HEADERS), f"headers {names} for {row.recipient!r} / {row.subject!r}"
            for name in parsed:
                value = str(parsed[name])
                assert not any(c in value for c in "\r\n\x00\u2028\u2029\x85"), (name, value)
            recipients = email.utils.getaddresses([str(parsed["To"])])
            assert len(recipients) == 1 and "evil.test" not in str(parsed["To"]), parsed["To"]


def answered(response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"


@given(address=addresses)
@FUZZ
def test_invitation_recipient(api: Api, address: str) -> None:
    tenant = api.create_tenant()
    before = queued(api)
    answered(api.call("POST", "/new-user-invitation/invite-user", json={"tenantId": tenant["id"], "email": address}))
    answered(
        api.call(
            "POST", "/users", json={"tenantId": tenant["id"], "identityProviderName": "wristband", "email": address}
        )
    )
    assert_harmless(before, api)


@given(display_name=names)
@FUZZ
def test_tenant_name_in_the_subject(api: Api, display_name: str) -> None:
    before = queued(api)
    created = api.call("POST", "/tenants", json={"domainName": rand("tn"), "displayName": display_name})
    answered(created)
    if created.status_code == 201:
        invited = api.call(
            "POST",
            "/new-user-invitation/invite-user",
            json={"tenantId": created.json()["id"], "email": f"{rand('u')}@example.com"},
        )
        answered(invited)
    assert_harmless(before, api)


@given(display_name=names)
@FUZZ
def test_application_name_in_the_subject(api: Api, display_name: str) -> None:
    before = queued(api)
    answered(api.call("PATCH", f"/applications/{api.application_id}", json={"displayName": display_name}))
    tenant = api.create_tenant()
    answered(
        api.call(
            "POST",
            "/tenant-discovery/send-tenants-email",
            json={"applicationId": api.application_id, "email": "x@example.com"},
        )
    )
    answered(
        api.call(
            "POST",
            "/new-user-invitation/invite-user",
            json={"tenantId": tenant["id"], "email": f"{rand('u')}@example.com"},
        )
    )
    assert_harmless(before, api)


@given(address=addresses, given_name=names)
@FUZZ
def test_signup_form(api: Api, address: str, given_name: str) -> None:
    tenant = api.create_tenant(signupEnabled=True)
    host = f"https://{tenant['domainName']}-{api.vanity}"
    before = queued(api)
    with browser_for(api) as browser:
        page = browser.get(f"{host}/signup")
        response = browser.post(
            f"{host}/signup",
            data={
                "csrf_token": csrf_from(page.text),
                "email": address,
                "password": "a fine long passphrase",
                "givenName": given_name,
            },
            follow_redirects=False,
        )
    answered(response)
    assert_harmless(before, api)
