"""``/dev/mailbox``: what the log transport delivered, in local mode only, to loopback clients only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tenantry.bootstrap import Services, bootstrap
from tenantry.core.ids import new_id
from tenantry.core.mail.model import EmailContext, EmailKind, EmailMessage
from tenantry.web.app import create_app
from tests.support import rand_email, test_settings

LOOPBACK = ("127.0.0.1", 50123)


def _services(tmp_path: Path, **overrides: Any) -> Services:
    settings = test_settings(tmp_path).model_copy(update=overrides)
    return bootstrap(settings)


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Services]:
    services = _services(tmp_path, env="local")
    yield services
    services.close()


def _send(services: Services, recipient: str) -> str:
    message_id = new_id()
    rendered = services.mail_renderer.render(
        EmailKind.USER_ACTIVATION,
        EmailContext(
            application_name="Acme",
            tenant_name="<script>alert(1)</script>",
            values={
                "action_url": f"https://acme.localhost:8443/activate?code={message_id}&x=1",
                "expires_minutes": 30,
                "user_name": "Ada",
            },
        ),
    )
    with services.core.uow("", write=True) as uow:
        uow.outbox.add(
            EmailMessage(
                id=message_id,
                kind=EmailKind.USER_ACTIVATION,
                recipient=recipient,
                rendered=rendered,
                created_at=datetime.now(UTC),
            )
        )
        uow.commit()
    assert services.outbox_dispatcher.run_once() == 1
    return message_id


def test_mailbox_lists_delivered_messages_with_clickable_links(local: Services) -> None:
    recipient = rand_email()
    message_id = _send(local, recipient)
    client = TestClient(create_app(local, background=False), client=LOOPBACK)

    page = client.get("/dev/mailbox")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert recipient in page.text
    assert "Activate your &lt;script&gt;alert(1)&lt;/script&gt; account" in page.text
    assert "<script>alert(1)</script>" not in page.text
    link = f"https://acme.localhost:8443/activate?code={message_id}&amp;x=1"
    assert f'<a href="{link}"' in page.text

    found = client.get("/dev/mailbox.json", params={"to": recipient.upper()}).json()["messages"]
    assert [m["id"] for m in found] == [message_id]
    assert found[0]["links"] == [f"https://acme.localhost:8443/activate?code={message_id}&x=1"]
    assert found[0]["subject"] == "Activate your <script>alert(1)</script> account"
    assert client.get("/dev/mailbox.json", params={"to": "nobody@example.com"}).json() == {"messages": []}


def test_mailbox_refuses_clients_that_are_not_on_loopback(local: Services) -> None:
    _send(local, rand_email())
    client = TestClient(create_app(local, background=False), client=("203.0.113.9", 40000))
    assert client.get("/dev/mailbox").status_code == 404
    assert client.get("/dev/mailbox.json").status_code == 404


@pytest.mark.parametrize(
    "overrides", [{"env": "test"}, {"env": "production"}, {"env": "local", "smtp_url": "smtp://127.0.0.1:1"}]
)
def test_mailbox_is_absent_outside_local_mode_or_with_smtp(tmp_path: Path, overrides: dict[str, Any]) -> None:
    services = _services(tmp_path, **overrides)
    try:
        client = TestClient(create_app(services, background=False), client=LOOPBACK)
        assert client.get("/dev/mailbox").status_code == 404
        assert client.get("/dev/mailbox.json").status_code == 404
        assert not any(getattr(r, "path", "").startswith("/dev") for r in client.app.routes)  # type: ignore[attr-defined]
    finally:
        services.close()
