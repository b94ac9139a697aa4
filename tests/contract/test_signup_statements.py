"""The statements every signup and invitation runs, prebuilt at the driver level (``direct.py``):
an email code stored and read back field for field (by id and by hash, only in its application),
consumed once, a user's live codes of one kind invalidated and no others, an outbox message stored
with its bodies, a role found by name in any case and only in its application, one role assigned
once however often it is assigned. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tenantry.adapters.sql import tables as t
from tenantry.bootstrap import Services
from tenantry.core.auth.model import EmailCode
from tenantry.core.ids import new_id
from tenantry.core.mail.model import EmailKind, EmailMessage, OutboxFilter, RenderedEmail
from tests.contract.test_repositories import _add, _app, _tenant, _user
from tests.contract.test_roles_of_users import _role
from tests.support import rand, rand_email


def _code(app_id: str, tenant_id: str, user_id: str, kind: str, now: datetime) -> EmailCode:
    return EmailCode(
        id=new_id(),
        application_id=app_id,
        tenant_id=tenant_id,
        user_id=user_id,
        kind=kind,
        code_hash=rand("hash"),
        otp_hash=rand("otp"),
        email=rand_email(),
        data={"client_id": "c1", "note": "ü"},
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )


def test_email_codes_are_stored_and_invalidated_by_user_and_kind(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    user, other = (_user(services, app_id, tenant.id, rand_email()) for _ in range(2))
    for each in (user, other):
        _add(services, app_id, each)
    now = datetime.now(UTC).replace(microsecond=0)
    first, second = (_code(app_id, tenant.id, user.id, "activation", now) for _ in range(2))
    reset = _code(app_id, tenant.id, user.id, "reset", now)
    others = _code(app_id, tenant.id, other.id, "activation", now)
    with services.core.uow(app_id, write=True) as uow:
        for code in (first, second, reset, others):
            uow.email_codes.add(code)
        uow.commit()
    with services.core.uow(app_id) as uow:
        assert uow.email_codes.get(first.id) == first
        assert uow.email_codes.get_by_code_hash(reset.code_hash) == reset
        assert uow.email_codes.get_by_code_hash(rand("unknown")) is None
    with services.core.uow(_app(services)) as uow:  # another application sees none of them
        assert uow.email_codes.get(first.id) is None and uow.email_codes.get_by_code_hash(first.code_hash) is None
    with services.core.uow(app_id, write=True) as uow:
        assert uow.email_codes.consume(reset.id, now) and not uow.email_codes.consume(reset.id, now)  # once
        uow.commit()
    later = now + timedelta(minutes=5)
    with services.core.uow(app_id, write=True) as uow:
        uow.email_codes.invalidate_for_user(user.id, "activation", later)
        uow.commit()
    with services.core.uow(app_id) as uow:
        used = {c.id: uow.email_codes.get(c.id).used_at for c in (first, second, reset, others)}  # type: ignore[union-attr]
    assert used == {first.id: later, second.id: later, reset.id: now, others.id: None}  # reset: consumed before


def test_an_outbox_message_is_stored_with_its_bodies(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    now = datetime.now(UTC).replace(microsecond=0)
    message = EmailMessage(
        id=new_id(),
        kind=EmailKind.USER_ACTIVATION,
        recipient=rand_email(),
        rendered=RenderedEmail("Activate ✓", "Text body", "<p>HTML body</p>"),
        created_at=now,
        application_id=app_id,
        tenant_id=tenant.id,
    )
    with services.core.uow(app_id, write=True) as uow:
        uow.outbox.add(message)
        uow.commit()
    with services.core.uow(app_id) as uow:
        listed = uow.outbox.page(OutboxFilter(recipient_prefix=message.recipient), 1, 10).items
    assert [(e.id, e.kind, e.subject, e.status, e.attempts, e.tenant_id) for e in listed] == [
        (message.id, "user_activation", "Activate ✓", "PENDING", 0, tenant.id)
    ]
    assert listed[0].created_at == listed[0].next_attempt_at == now and listed[0].sent_at is None
    with services.database.write_engine.connect() as conn:
        bodies = conn.execute(
            select(t.outbox.c.text_body, t.outbox.c.html_body).where(t.outbox.c.id == message.id)
        ).one()
    assert tuple(bodies) == ("Text body", "<p>HTML body</p>")


def test_roles_by_name_and_one_role_assigned_once(services: Services) -> None:
    app_id, other_app = _app(services), _app(services)
    tenant = _tenant(services, app_id)
    role = _role(services, app_id, tenant.id, rand("Default-Role"))
    user = _user(services, app_id, tenant.id, rand_email())
    _add(services, app_id, user)
    with services.core.uow(app_id, write=True) as uow:
        found = uow.roles.get_by_name(role.name.upper())
        for _ in range(2):
            uow.roles.assign(user.id, tenant.id, [role.id])
        uow.roles.assign(user.id, tenant.id, [])  # nothing to assign: nothing changes
        uow.commit()
    with services.core.uow(other_app) as uow:
        assert uow.roles.get_by_name(role.name) is None
    with services.core.uow(app_id) as uow:
        assert uow.roles.get_by_name(rand("missing")) is None
        assert [r.id for r in uow.roles.roles_of_users([user.id])[user.id]] == [role.id]
    assert found is not None and found.id == role.id and found.grants == role.grants
