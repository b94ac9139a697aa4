"""Email templates (every kind, branding, escaping), SMTP URL parsing, MIME building and the log
transport. No network, no database."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from typing import Any

import pytest

from tenantry.adapters.mail.memory import LogTransport
from tenantry.adapters.mail.render import TemplateContextError, TemplateRenderer, duration
from tenantry.adapters.mail.smtp import SmtpConfig, SmtpTransport, parse_smtp_url
from tenantry.adapters.mail.transport import DeliveryError
from tenantry.core.mail.model import EmailContext, EmailKind, EmailMessage, RenderedEmail

HOSTILE = '<script>alert("x")</script>'
LINK = "https://acme.example.test/activate?token=abc&x=1"

VALUES: dict[EmailKind, dict[str, Any]] = {
    EmailKind.USER_ACTIVATION: {"action_url": LINK, "expires_minutes": 30, "user_name": HOSTILE, "code": "482913"},
    EmailKind.EMAIL_VERIFICATION: {"action_url": LINK, "expires_minutes": 1440},
    EmailKind.TENANT_DISCOVERY: {
        "tenants": [
            {"display_name": HOSTILE, "login_url": "https://one.example.test/login"},
            {"display_name": "Globex", "login_url": "https://two.example.test/login"},
        ]
    },
    EmailKind.FORGOT_PASSWORD: {"action_url": LINK, "expires_minutes": 60},
    EmailKind.NEW_USER_INVITATION: {"action_url": LINK, "expires_minutes": 10080, "inviter": HOSTILE},
    EmailKind.EXISTING_USER_INVITATION: {"action_url": LINK, "expires_minutes": 4320, "user_name": HOSTILE},
}


@pytest.fixture(scope="module")
def renderer() -> TemplateRenderer:
    return TemplateRenderer()


def test_every_kind_has_values_here() -> None:
    assert set(VALUES) == set(EmailKind)


@pytest.mark.parametrize("kind", list(EmailKind))
def test_every_kind_renders_with_branding_and_escaping(renderer: TemplateRenderer, kind: EmailKind) -> None:
    context = EmailContext(
        application_name="Invotastic",
        tenant_name="Acme <b>Inc</b>",
        tenant_logo_url="https://cdn.example.test/acme.png",
        values=VALUES[kind],
    )
    email = renderer.render(kind, context)
    assert email.subject and "\n" not in email.subject and "\r" not in email.subject
    assert "Acme <b>Inc</b>" in email.text
    # HTML: branding present, every hostile value escaped, never raw.
    assert "<script>" not in email.html and "<b>Inc</b>" not in email.html
    assert "Acme &lt;b&gt;Inc&lt;/b&gt;" in email.html
    assert '<img src="https://cdn.example.test/acme.png"' in email.html
    assert "Invotastic" in email.html
    assert email.html.lstrip().startswith("<!DOCTYPE html>") and 'name="viewport"' in email.html
    if kind is EmailKind.TENANT_DISCOVERY:
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in email.html
        assert 'href="https://one.example.test/login"' in email.html
        assert "https://two.example.test/login" in email.text and HOSTILE in email.text
    else:
        assert LINK in email.text
        assert 'href="https://acme.example.test/activate?token=abc&amp;x=1"' in email.html
        assert duration(VALUES[kind]["expires_minutes"]) in email.text
    if HOSTILE in VALUES[kind].values():
        assert HOSTILE in email.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in email.html


def test_application_branding_without_tenant(renderer: TemplateRenderer) -> None:
    email = renderer.render(
        EmailKind.FORGOT_PASSWORD, EmailContext(application_name="Invotastic", values=VALUES[EmailKind.FORGOT_PASSWORD])
    )
    assert email.subject == "Reset your Invotastic password"
    assert "<img" not in email.html and "Invotastic" in email.html


def test_optional_values_may_be_left_out(renderer: TemplateRenderer) -> None:
    activation = {k: v for k, v in VALUES[EmailKind.USER_ACTIVATION].items() if k != "code"}
    email = renderer.render(EmailKind.USER_ACTIVATION, EmailContext("App", values=activation))
    assert "code" not in email.text
    invitation = {k: v for k, v in VALUES[EmailKind.NEW_USER_INVITATION].items() if k != "inviter"}
    email = renderer.render(EmailKind.NEW_USER_INVITATION, EmailContext("App", values=invitation))
    assert email.subject == "You are invited to App"
    assert "7 days" in email.text


def test_activation_code_is_shown(renderer: TemplateRenderer) -> None:
    email = renderer.render(EmailKind.USER_ACTIVATION, EmailContext("App", values=VALUES[EmailKind.USER_ACTIVATION]))
    assert "482913" in email.text and "482913" in email.html


def test_discovery_without_tenants_says_so(renderer: TemplateRenderer) -> None:
    email = renderer.render(EmailKind.TENANT_DISCOVERY, EmailContext("App", values={"tenants": []}))
    assert "could not find an account" in email.text


def test_line_breaks_in_names_cannot_reach_the_subject(renderer: TemplateRenderer) -> None:
    context = EmailContext("App\r\nBcc: evil@x.y", values=VALUES[EmailKind.FORGOT_PASSWORD])
    email = renderer.render(EmailKind.FORGOT_PASSWORD, context)
    assert email.subject == "Reset your App Bcc: evil@x.y password"


@pytest.mark.parametrize(
    ("kind", "values", "complaint"),
    [
        (EmailKind.FORGOT_PASSWORD, {"expires_minutes": 5}, "missing action_url"),
        (EmailKind.FORGOT_PASSWORD, {"action_url": LINK, "expires_minutes": 5, "extra": 1}, "unexpected extra"),
        (EmailKind.FORGOT_PASSWORD, {"action_url": "javascript:alert(1)", "expires_minutes": 5}, "http(s) URL"),
        (EmailKind.TENANT_DISCOVERY, {"tenants": [{"display_name": "A", "login_url": "/relative"}]}, "http(s) URL"),
        (EmailKind.USER_ACTIVATION, {"action_url": LINK, "expires_minutes": 5}, "missing user_name"),
    ],
)
def test_wrong_values_are_refused(
    renderer: TemplateRenderer, kind: EmailKind, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(TemplateContextError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        renderer.render(kind, EmailContext("App", values=values))


def test_non_web_logo_is_dropped(renderer: TemplateRenderer) -> None:
    context = EmailContext("App", "T", "javascript:alert(1)", values=VALUES[EmailKind.FORGOT_PASSWORD])
    assert "javascript:" not in renderer.render(EmailKind.FORGOT_PASSWORD, context).html


@pytest.mark.parametrize(
    ("minutes", "text"), [(1, "1 minute"), (90, "90 minutes"), (60, "1 hour"), (180, "3 hours"), (2880, "2 days")]
)
def test_duration(minutes: int, text: str) -> None:
    assert duration(minutes) == text


# --- TENANTRY_SMTP_URL -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.test", SmtpConfig("mail.example.test", 25)),
        (
            "smtp://user:pass@mail.example.test:587?starttls=true",
            SmtpConfig("mail.example.test", 587, starttls=True, username="user", password="pass"),
        ),
        ("smtps://mail.example.test", SmtpConfig("mail.example.test", 465, implicit_tls=True)),
        (
            "smtps://ap%40ex.test:p%3Ass%2Fw%40rd@mail.example.test:2465?timeout=3.5",
            SmtpConfig(
                "mail.example.test", 2465, implicit_tls=True, username="ap@ex.test", password="p:ss/w@rd", timeout=3.5
            ),
        ),
        ("SMTP://[::1]:2525?starttls=false", SmtpConfig("::1", 2525)),
    ],
)
def test_smtp_url_parsing(url: str, expected: SmtpConfig) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("http://mail.example.test", "scheme"),
        ("smtp://", "host"),
        ("smtp://mail.example.test:99999", "port"),
        ("smtp://mail.example.test?starttls=maybe", "starttls"),
        ("smtps://mail.example.test?starttls=true", "already uses TLS"),
        ("smtp://mail.example.test?tls=1", "unknown option"),
        ("smtp://mail.example.test?timeout=0", "timeout"),
        ("smtp://mail.example.test/path", "path"),
    ],
)
def test_bad_smtp_urls_are_refused(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_smtp_url(url)


def test_errors_and_repr_hide_the_password() -> None:
    with pytest.raises(ValueError) as raised:
        parse_smtp_url("smtp://user:s3cret-value@mail.example.test?starttls=bogus")
    assert "s3cret" not in str(raised.value)
    assert "s3cret" not in repr(parse_smtp_url("smtp://user:s3cret-value@mail.example.test"))


# --- MIME building ---------------------------------------------------------------------------


def _message(recipient: str = "alice@example.test", subject: str = "Hello") -> EmailMessage:
    return EmailMessage(
        id="m" * 26,
        kind=EmailKind.FORGOT_PASSWORD,
        recipient=recipient,
        rendered=RenderedEmail(subject=subject, text=f"Open {LINK}\n", html=f'<p><a href="{LINK}">Open</a></p>'),
        created_at=datetime.now(UTC),
    )


def test_mime_message_is_multipart_alternative_with_stable_message_id() -> None:
    transport = SmtpTransport(SmtpConfig("127.0.0.1", 25), "Acme <no-reply@acme.example.test>")
    mime = message_from_bytes(transport.build(_message()).as_bytes(), policy=policy.default)
    assert mime.get_content_type() == "multipart/alternative"
    assert mime["From"] == "Acme <no-reply@acme.example.test>"
    assert mime["To"] == "alice@example.test"
    assert mime["Message-ID"] == f"<{'m' * 26}@acme.example.test>"
    assert LINK in mime.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "<a href" in mime.get_body(("html",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("recipient", "subject"),
    [
        ("a@b.co\r\nBcc: evil@x.y", "Hello"),
        ("a@b.co\nBcc: evil@x.y", "Hello"),
        ("a@b.co, evil@x.y", "Hello"),
        ("Alice <a@b.co>", "Hello"),
        ("a@b.co", "Hello\r\nBcc: evil@x.y"),
        ("a@b.co", "Hello\rX-Injected: 1"),
    ],
)
def test_header_injection_is_a_permanent_failure(recipient: str, subject: str) -> None:
    transport = SmtpTransport(SmtpConfig("127.0.0.1", 25), "no-reply@acme.example.test")
    with pytest.raises(DeliveryError) as raised:
        transport.build(_message(recipient, subject))
    assert raised.value.permanent


def test_mail_from_must_be_an_address() -> None:
    with pytest.raises(ValueError):
        SmtpTransport(SmtpConfig("127.0.0.1", 25), "nobody")


# --- log transport ---------------------------------------------------------------------------


def test_log_transport_keeps_the_newest_messages() -> None:
    transport = LogTransport(capacity=3)
    for n in range(5):
        transport.send(_message(recipient=f"u{n}@example.test"))
    kept = transport.messages()
    assert [m.recipient for m in kept] == ["u4@example.test", "u3@example.test", "u2@example.test"]
    assert kept[0].links == [LINK]
