"""Workflow APIs for self-hosted enterprise-SSO pages (``external-idp-login-workflow:execute``):
verify that an external IdP's user exists and is active, or provision / re-sync them as a JIT
login would. The paths are Wristband's (``verify-user``) and the inferred counterpart
(``provision-user``, documented in docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from tenantry.core.sso.mapping import PROFILE_FIELDS
from tenantry.core.sso.model import ExternalIdentity
from tenantry.core.sso.service import provision_external_user, verify_external_user
from tenantry.web.api.representations import user_json
from tenantry.web.api.schemas import Body
from tenantry.web.deps import CoreDep, PrincipalDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, prefix="/external-idp-login", tags=["workflows"])


class ExternalUserBody(Body):
    tenantId: str = Field(max_length=64)
    identityProviderName: str = Field(max_length=100)
    externalId: str = Field(min_length=1, max_length=200)


class ProvisionExternalUserBody(ExternalUserBody):
    email: str
    emailVerified: bool = False
    givenName: str | None = None
    familyName: str | None = None
    fullName: str | None = None
    phoneNumber: str | None = None
    birthdate: str | None = None
    groups: list[str] = Field(default_factory=list, max_length=200)


@router.post("/verify-user")
def verify_user(body: ExternalUserBody, core: CoreDep, actor: PrincipalDep) -> dict[str, Any]:
    user = verify_external_user(core, actor, body.tenantId, body.identityProviderName, body.externalId)
    return {"user": user_json(user)}


@router.post("/provision-user", response_model=None)
def provision_user(
    body: ProvisionExternalUserBody, core: CoreDep, actor: PrincipalDep, response: Response
) -> dict[str, Any]:
    profile = {name: getattr(body, name) for name in PROFILE_FIELDS if getattr(body, name) is not None}
    identity = ExternalIdentity(
        external_id=body.externalId,
        email=body.email,
        email_verified=body.emailVerified,
        profile=profile,
        groups=tuple(body.groups),
    )
    user, created = provision_external_user(core, actor, body.tenantId, body.identityProviderName, identity)
    response.status_code = 201 if created else 200
    return {"user": user_json(user), "created": created}
