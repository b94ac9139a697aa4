"""The invitation statements every acceptance runs, prebuilt at the driver level: an invitation
read back by its code's hash (only in its application), and the conditional transition that
decides a race between two acceptances — it moves only from the status given, bumps the version,
records the completing user when given, and reports whether it moved. Both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tenantry.bootstrap import Services
from tenantry.core.ids import new_id
from tenantry.core.invitations.model import Invitation, InvitationKind, InvitationStatus, InvitationType
from tenantry.core.model import EntityMetadata
from tests.contract.test_repositories import _add, _app, _tenant, _user
from tests.support import rand, rand_email

PENDING = InvitationStatus.PENDING_INVITE_ACCEPTANCE


def test_read_by_code_and_moved_on_only_from_the_status_given(services: Services) -> None:
    app_id, other_app = _app(services), _app(services)
    tenant = _tenant(services, app_id)
    now = datetime.now(UTC).replace(microsecond=0)
    invitation = Invitation(
        id=new_id(),
        application_id=app_id,
        tenant_id=tenant.id,
        kind=InvitationKind.NEW_USER,
        invitation_type=InvitationType.EMAIL,
        email=rand_email(),
        user_id=None,
        roles_to_assign=["r1"],
        language=None,
        invited_by=None,
        status=PENDING,
        expires_at=now + timedelta(days=7),
        metadata=EntityMetadata.new(now),
    )
    code_hash = rand("code-hash")
    with services.core.uow(app_id, write=True) as uow:
        uow.invitations.add(invitation, code_hash)
        uow.commit()
    with services.core.uow(app_id) as uow:
        assert uow.invitations.get_by_code_hash(code_hash) == invitation
        assert uow.invitations.get_by_code_hash(rand("other")) is None
    with services.core.uow(other_app) as uow:
        assert uow.invitations.get_by_code_hash(code_hash) is None
        assert not uow.invitations.transition(invitation.id, PENDING.value, "COMPLETED", now)

    user = _user(services, app_id, tenant.id, invitation.email or "")
    _add(services, app_id, user)
    later = now + timedelta(minutes=1)
    with services.core.uow(app_id, write=True) as uow:
        assert not uow.invitations.transition(invitation.id, "COMPLETED", "COMPLETED", later)  # not from there
        assert uow.invitations.transition(invitation.id, PENDING.value, "COMPLETED", later)
        assert not uow.invitations.transition(invitation.id, PENDING.value, "COMPLETED", later)  # the race's loser
        assert uow.invitations.transition(invitation.id, "COMPLETED", "COMPLETED", later, user.id)
        uow.commit()
    with services.core.uow(app_id) as uow:
        moved = uow.invitations.get(invitation.id)
    assert moved is not None
    assert (moved.status, moved.completed_user_id) == (InvitationStatus.COMPLETED, user.id)
    assert (moved.metadata.version, moved.metadata.last_modified_time) == (invitation.metadata.version + 2, later)
