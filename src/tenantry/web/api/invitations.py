"""New-user and existing-user invitation APIs (Wristband API reference §6.3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tenantry.adapters.sql.listing import INVITATION_LISTING
from tenantry.core.access import Principal, require
from tenantry.core.applications.model import Application
from tenantry.core.auth.sessions import issue_handoff
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, Violation
from tenantry.core.invitations import service as invitations
from tenantry.core.invitations.model import Invitation, InvitationKind, InvitationType
from tenantry.core.users.model import PROFILE_FIELDS
from tenantry.web.api.listing import ListParams, envelope, list_params
from tenantry.web.api.representations import iso, metadata_json
from tenantry.web.api.schemas import (
    AcceptExistingUserInviteBody,
    AcceptNewUserInviteBody,
    CancelExistingUserInviteBody,
    CancelNewUserInviteBody,
    InviteCodeBody,
    InviteExistingUserBody,
    InviteNewUserBody,
)
from tenantry.web.deps import ApplicationDep, CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["invitations"])
InvitationList = Annotated[ListParams, Depends(list_params(INVITATION_LISTING.attributes))]


def invitation_json(invitation: Invitation, now: Any = None) -> dict[str, Any]:
    status = invitation.status_at(now) if now is not None else invitation.status
    doc: dict[str, Any] = {
        "id": invitation.id,
        "tenantId": invitation.tenant_id,
        "applicationId": invitation.application_id,
        "email": invitation.email,
        "status": status.value,
        "expirationTime": iso(invitation.expires_at),
        "metadata": metadata_json(invitation.metadata),
    }
    if invitation.kind is InvitationKind.NEW_USER:
        doc.update(
            invitationType=invitation.invitation_type.value,
            rolesToAssign=invitation.roles_to_assign,
            language=invitation.language,
        )
    else:
        doc["userId"] = invitation.user_id
    return doc


def _code(body: InviteCodeBody | AcceptNewUserInviteBody) -> str:
    codes = [c for c in (body.emailAuthCode, body.inviteCode) if c]
    if len(codes) != 1:
        raise ConstraintViolations(
            {"emailAuthCode": [Violation("required_one_of", {"fields": "emailAuthCode,inviteCode"})]},
            "Send exactly one of emailAuthCode and inviteCode",
        )
    return codes[0]


def _session_link(core: CoreContext, application: Application, accepted: invitations.Accepted) -> dict[str, Any]:
    out: dict[str, Any] = {
        "userId": accepted.user.id,
        "tenantId": accepted.tenant.id,
        "status": accepted.user.status.value,
    }
    if accepted.signed_in:
        with core.uow(application.id, write=True) as uow:
            code = issue_handoff(uow, core, accepted.tenant, accepted.user, "")
            uow.commit()
        host = application.tenant_host(accepted.tenant.domain_name)
        out.update(authSessionCode=code, authSessionUrl=f"https://{host}/api/v1/auth-sessions/create?code={code}")
    return out


@router.post("/new-user-invitation/invite-user")
def invite_new_user(body: InviteNewUserBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    invited = invitations.invite_new_user(
        core,
        actor,
        invitations.InviteNewUser(
            tenant_id=body.tenantId,
            email=body.email,
            invitation_type=InvitationType(body.invitationType),
            roles_to_assign=body.rolesToAssign,
            language=body.language,
        ),
    )
    doc: dict[str, Any] = {"newUserInvitationRequest": invitation_json(invited.invitation)}
    if invited.invite_url is not None:
        doc["inviteUrl"] = invited.invite_url
    return doc


@router.post("/new-user-invitation/cancel-invite")
def cancel_new_user_invite(body: CancelNewUserInviteBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    canceled = invitations.cancel_invitation(core, actor, body.newUserInvitationRequestId, InvitationKind.NEW_USER)
    return {"newUserInvitationRequest": invitation_json(canceled)}


def _require_workflow(actor: Principal, permission: str, tenant_id: str) -> None:
    require(actor, permission, tenant_id=tenant_id)


@router.post("/new-user-invitation/introspect-invite")
def introspect_new_user_invite(
    body: InviteCodeBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    opened = invitations.open_invitation(core, application, _code(body), InvitationKind.NEW_USER)
    _require_workflow(actor, "new-user-invitation-workflow:execute", opened.tenant.id)
    return {"newUserInvitationRequest": invitation_json(opened.invitation)}


@router.post("/new-user-invitation/accept-invite")
def accept_new_user_invite(
    body: AcceptNewUserInviteBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    code = _code(body)
    opened = invitations.open_invitation(core, application, code, InvitationKind.NEW_USER)
    _require_workflow(actor, "new-user-invitation-workflow:execute", opened.tenant.id)
    sent = body.model_dump(exclude_unset=True)
    form = invitations.AcceptForm(
        password=body.password, email=body.email, profile={k: v for k, v in sent.items() if k in PROFILE_FIELDS}
    )
    return _session_link(core, application, invitations.accept_new_user_invite(core, application, opened, form))


@router.get("/tenants/{tenant_id}/new-user-invitation-requests")
def tenant_new_user_invitations(
    tenant_id: str, params: InvitationList, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    page = invitations.list_invitations(
        core, actor, InvitationKind.NEW_USER, params.spec, tenant_id=tenant_id, application_id=application.id
    )
    now = core.clock.now()
    return envelope(page, params, lambda i: invitation_json(i, now))


@router.get("/applications/{application_id}/new-user-invitation-requests")
def application_new_user_invitations(
    application_id: str, params: InvitationList, core: CoreDep, actor: PrincipalDep
) -> dict[str, Any]:
    page = invitations.list_invitations(
        core, actor, InvitationKind.NEW_USER, params.spec, tenant_id=None, application_id=application_id
    )
    now = core.clock.now()
    return envelope(page, params, lambda i: invitation_json(i, now))


@router.post("/existing-user-invitation/invite-user")
def invite_existing_user(body: InviteExistingUserBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    return {
        "existingUserInvitationRequest": invitation_json(invitations.invite_existing_user(core, actor, body.userId))
    }


@router.post("/existing-user-invitation/cancel-invite")
def cancel_existing_user_invite(
    body: CancelExistingUserInviteBody, core: CoreDep, actor: PrincipalDep
) -> dict[str, Any]:
    canceled = invitations.cancel_invitation(
        core, actor, body.existingUserInvitationRequestId, InvitationKind.EXISTING_USER
    )
    return {"existingUserInvitationRequest": invitation_json(canceled)}


@router.post("/existing-user-invitation/introspect-invite")
def introspect_existing_user_invite(
    body: InviteCodeBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    opened = invitations.open_invitation(core, application, _code(body), InvitationKind.EXISTING_USER)
    _require_workflow(actor, "existing-user-invitation-workflow:execute", opened.tenant.id)
    return {"existingUserInvitationRequest": invitation_json(opened.invitation)}


@router.post("/existing-user-invitation/accept-invite")
def accept_existing_user_invite(
    body: AcceptExistingUserInviteBody, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    opened = invitations.open_invitation(core, application, body.emailAuthCode, InvitationKind.EXISTING_USER)
    _require_workflow(actor, "existing-user-invitation-workflow:execute", opened.tenant.id)
    accepted = invitations.accept_existing_user_invite(core, application, opened, body.password)
    return _session_link(core, application, accepted)


@router.get("/tenants/{tenant_id}/existing-user-invitation-requests")
def tenant_existing_user_invitations(
    tenant_id: str, params: InvitationList, core: CoreDep, actor: PrincipalDep, application: ApplicationDep
) -> dict[str, Any]:
    page = invitations.list_invitations(
        core, actor, InvitationKind.EXISTING_USER, params.spec, tenant_id=tenant_id, application_id=application.id
    )
    now = core.clock.now()
    return envelope(page, params, lambda i: invitation_json(i, now))


@router.get("/applications/{application_id}/existing-user-invitation-requests")
def application_existing_user_invitations(
    application_id: str, params: InvitationList, core: CoreDep, actor: PrincipalDep
) -> dict[str, Any]:
    page = invitations.list_invitations(
        core, actor, InvitationKind.EXISTING_USER, params.spec, tenant_id=None, application_id=application_id
    )
    now = core.clock.now()
    return envelope(page, params, lambda i: invitation_json(i, now))
