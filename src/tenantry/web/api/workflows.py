"""The workflow APIs that self-hosted signup, activation, verification, tenant discovery and
password pages call with a client-credentials token (``/api/v1/...``), plus the user session and
refresh-token revocation endpoints. ``POST /users/{userId}/refresh-tokens/revoke`` is also
served without the ``/api/v1`` prefix, as Wristband documents it."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Response

from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import PROFILE_FIELDS
from tenantry.core.workflows import service as workflows
from tenantry.web.api.representations import iso, user_json
from tenantry.web.api.schemas import (
    ActivateUserBody,
    ChangePasswordBody,
    EmailAuthCodeBody,
    ProvisionUserBody,
    RequestPasswordResetBody,
    ResetPasswordBody,
    TenantDiscoveryBody,
    UserIdBody,
)
from tenantry.web.deps import ApplicationDep, CoreDep, PrincipalDep, ServicesDep
from tenantry.web.pages.login import tenant_login_url
from tenantry.web.pages.signup import landing_url
from tenantry.web.routing import OneHopRoute

api = APIRouter(route_class=OneHopRoute, tags=["workflows"])
# Signup is self-service: an externalId is for administrators (``user:manage-external-id``).
SIGNUP_PROFILE_FIELDS = frozenset(PROFILE_FIELDS) - {"externalId"}


def _landing_for(services: Services, application: Application) -> workflows.LandingFor:
    """The hosted pages' landing: the signup policy's redirect URL, else the client's login URL,
    else the tenant's login page."""

    def landing(tenant: Tenant, client_id: str | None) -> str:
        fallback = f"https://{application.tenant_host(tenant.domain_name)}/login"
        return landing_url(services, application, tenant, client_id) or fallback

    return landing


def _session_json(application: Application, session: workflows.SessionStart) -> dict[str, Any]:
    host = application.tenant_host(session.tenant.domain_name)
    return {
        "authSessionCode": session.code,
        "authSessionUrl": f"https://{host}/api/v1/auth-sessions/create?{urlencode({'code': session.code})}",
    }


def _no_content() -> Response:
    return Response(status_code=204)


@api.post("/signup/provision-user", status_code=201)
def provision_user(
    body: ProvisionUserBody, services: ServicesDep, application: ApplicationDep, actor: PrincipalDep
) -> dict[str, Any]:
    sent = body.model_dump(exclude_unset=True)
    done = workflows.provision_user(
        services.core,
        actor,
        application,
        workflows.ProvisionUser(
            email=body.email,
            password=body.password,
            profile={k: v for k, v in sent.items() if k in SIGNUP_PROFILE_FIELDS},
            application_id=body.applicationId,
            tenant_id=body.tenantId,
            tenant_name=body.tenantName,
            tenant_display_name=body.tenantDisplayName,
            client_id=body.clientId,
        ),
        _landing_for(services, application),
    )
    doc = {
        "user": user_json(done.signup.user),
        "tenantId": done.signup.tenant.id,
        "verification": done.signup.verification.value,
        "emailAuthCodeSent": done.email_sent,
    }
    if done.session is not None:
        doc.update(_session_json(application, done.session))
    return doc


@api.post("/user-activation/request-user-activation", status_code=204)
def request_user_activation(
    body: UserIdBody, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.request_user_activation(core, actor, application, body.userId)
    return _no_content()


@api.post("/user-activation/introspect-email-auth-code")
def introspect_email_auth_code(
    body: EmailAuthCodeBody, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> dict[str, Any]:
    owner = workflows.introspect_activation_code(core, actor, application, body.emailAuthCode)
    return {
        "userId": owner.user.id,
        "tenantId": owner.tenant.id,
        "email": owner.user.email,
        "expirationTime": iso(owner.code.expires_at),
        "type": "USER_ACTIVATION",
    }


@api.post("/user-activation/activate-user")
def activate_user(
    body: ActivateUserBody, services: ServicesDep, application: ApplicationDep, actor: PrincipalDep
) -> dict[str, Any]:
    session = workflows.activate_user(
        services.core,
        actor,
        application,
        workflows.ActivateUser(email_auth_code=body.emailAuthCode, user_id=body.userId, code=body.code),
        _landing_for(services, application),
    )
    return {"userId": session.user.id, "tenantId": session.tenant.id, **_session_json(application, session)}


@api.post("/email-verification/request-email-verification", status_code=204)
def request_email_verification(
    body: UserIdBody, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.request_email_verification(core, actor, application, body.userId)
    return _no_content()


@api.post("/email-verification/verify-email")
def verify_email(
    body: EmailAuthCodeBody, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> dict[str, Any]:
    user = workflows.verify_email(core, actor, application, body.emailAuthCode)
    return {"userId": user.id, "emailVerified": user.email_verified}


@api.post("/tenant-discovery/fetch-tenants")
def fetch_tenants(
    body: TenantDiscoveryBody, services: ServicesDep, application: ApplicationDep, actor: PrincipalDep
) -> dict[str, Any]:
    tenants = workflows.fetch_tenants(services.core, actor, application, body.applicationId, body.email)
    return {
        "items": [
            {
                "tenantId": tenant.id,
                "tenantVanityDomain": application.tenant_host(tenant.domain_name),
                "tenantDomainName": tenant.domain_name,
                "tenantDisplayName": tenant.display_name,
                "tenantLoginUrl": tenant_login_url(services, application, tenant, body.clientId),
                "tenantLogoUrl": tenant.logo_url,
            }
            for tenant in tenants
        ]
    }


@api.post("/tenant-discovery/send-tenants-email", status_code=204)
def send_tenants_email(
    body: TenantDiscoveryBody, services: ServicesDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.send_tenants_email(
        services.core,
        actor,
        application,
        body.applicationId,
        body.email,
        lambda tenant: tenant_login_url(services, application, tenant, body.clientId),
    )
    return _no_content()


@api.post("/forgot-password/request-reset", status_code=204)
def request_password_reset(
    body: RequestPasswordResetBody, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.request_password_reset(core, actor, application, body.tenantId, body.email.strip())
    return _no_content()


@api.post("/forgot-password/reset-password", status_code=204)
def reset_password(
    body: ResetPasswordBody, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.reset_password(core, actor, application, body.emailAuthCode, body.newPassword)
    return _no_content()


@api.post("/change-password", status_code=204)
def change_password(
    body: ChangePasswordBody, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.change_password(
        core,
        actor,
        application,
        workflows.ChangePassword(body.userId, body.currentPassword, body.newPassword),
    )
    return _no_content()


@api.delete("/users/{user_id}/auth-sessions", status_code=204)
def delete_auth_sessions(user_id: str, core: CoreDep, application: ApplicationDep, actor: PrincipalDep) -> Response:
    workflows.delete_auth_sessions(core, actor, application, user_id)
    return _no_content()


@api.post("/users/{user_id}/refresh-tokens/revoke", status_code=204)
def revoke_user_refresh_tokens(
    user_id: str, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.revoke_user_refresh_tokens(core, actor, application, user_id)
    return _no_content()


@api.post("/refresh-tokens/{refresh_token_id}/revoke", status_code=204)
def revoke_refresh_token(
    refresh_token_id: str, core: CoreDep, application: ApplicationDep, actor: PrincipalDep
) -> Response:
    workflows.revoke_refresh_token(core, actor, application, refresh_token_id)
    return _no_content()


router = APIRouter(route_class=OneHopRoute)
router.include_router(api, prefix="/api/v1")
router.add_api_route(
    "/users/{user_id}/refresh-tokens/revoke",
    revoke_user_refresh_tokens,
    methods=["POST"],
    status_code=204,
    include_in_schema=False,
)
