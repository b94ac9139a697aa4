"""``GET /api/v1/oauth2/userinfo`` (OpenID Connect Core §5.3) with a user's access token."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tenantry.adapters.security.keys import InvalidToken
from tenantry.core.auth.grants import grant_revoked
from tenantry.core.errors import Unauthenticated
from tenantry.core.users.model import UserStatus
from tenantry.protocols.oidc.claims import scoped_claims
from tenantry.web.deps import ApplicationDep, ServicesDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["oauth2"])


@router.get("/api/v1/oauth2/userinfo")
def userinfo(request: Request, services: ServicesDep, application: ApplicationDep) -> JSONResponse:
    authorization = request.headers.get("authorization") or ""
    if authorization[:7].lower() != "bearer ":
        raise Unauthenticated("A Bearer access token is required")
    try:
        claims: dict[str, Any] = services.keys.verify(authorization[7:].strip())
    except InvalidToken as error:
        raise Unauthenticated("The access token is invalid") from error
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= time.time():
        raise Unauthenticated("The access token has expired")
    if claims.get("iss") != application.issuer or claims.get("app_id") != application.id:
        raise Unauthenticated("The access token was not issued for this application")
    subject, sid = claims.get("sub"), claims.get("sid")
    if not isinstance(subject, str) or not isinstance(sid, str) or claims.get("tnt_id") is None:
        raise Unauthenticated("userinfo needs a user's access token")
    with services.core.uow(application.id) as uow:
        user = uow.users.get(subject)
        roles = uow.roles.roles_of_users([subject]).get(subject, []) if user else []
    if user is None or user.status is not UserStatus.ACTIVE or grant_revoked(services.core, application.id, sid):
        raise Unauthenticated("The access token has been revoked")
    scope = str(claims.get("scope", "")).split()
    return JSONResponse(scoped_claims(user, scope, roles), headers={"Cache-Control": "no-store"})
