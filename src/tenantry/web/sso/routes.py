"""``/sso/{provider_id}/…`` on tenant hosts: sign-in through a tenant's external OIDC or SAML 2.0
identity provider.

``start`` records the pending request (state, nonce and PKCE verifier, or the AuthnRequest id)
bound to this browser by the ``tenantry_sso`` cookie and sends the browser to the IdP; ``callback``
(OIDC) and ``acs`` (SAML HTTP-POST) take the request back exactly once, validate the IdP's answer
in :mod:`tenantry.protocols`, and hand the identity to the core, which provisions or re-syncs the
user. The session then starts and the flow continues as after a password login."""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tenantry.bootstrap import Services
from tenantry.core.applications.model import Application
from tenantry.core.errors import InvalidState, NotFound, TenantryError
from tenantry.core.identity_providers.model import IdentityProvider, ProtocolType
from tenantry.core.identity_providers.settings import provider_oidc_settings, provider_saml_settings
from tenantry.core.identity_providers.urls import sso_urls
from tenantry.core.invitations.service import InvitationUnusable
from tenantry.core.sso.mapping import UnusableIdentity, identity_from
from tenantry.core.sso.model import ExternalIdentity, SsoRequest
from tenantry.core.sso.service import (
    Assertion,
    SsoRefused,
    provider_for_sign_in,
    record_request,
    sign_in_external,
    take_request,
)
from tenantry.core.tenants.model import Tenant
from tenantry.protocols import saml
from tenantry.protocols.oidc.relying_party import OidcError, pkce_pair
from tenantry.protocols.saml.model import SamlError
from tenantry.web.deps import ServicesDep, TenantTargetDep
from tenantry.web.oauth.flow import NO_STORE, decode_req
from tenantry.web.pages.login import continue_signed_in, read_form
from tenantry.web.pages.rendering import error_page
from tenantry.web.pages.signup import landing_url
from tenantry.web.routing import OneHopRoute
from tenantry.web.sso.saml_config import saml_parties
from tenantry.web.threads import run_in_thread

router = APIRouter(route_class=OneHopRoute, tags=["enterprise sso"], include_in_schema=False)
BROWSER_COOKIE = "tenantry_sso"
MAX_SAML_FORM_BYTES = 512 * 1024
SIGN_IN_AGAIN = "Go back to the application and sign in again."


def _browser_id(request: Request) -> tuple[str, bool]:
    current = request.cookies.get(BROWSER_COOKIE)
    if current and 20 <= len(current) <= 100:
        return current, False
    return secrets.token_urlsafe(32), True


def _refusal(request: Request, title: str, message: str, status: int = 400) -> Response:
    response = error_page(request, title, message, status)
    response.headers.update(NO_STORE)
    return response


def _provider(services: Services, tenant: Tenant, provider_id: str) -> IdentityProvider | None:
    try:
        return provider_for_sign_in(services.core, tenant, provider_id)
    except NotFound:
        return None


@router.get("/sso/{provider_id}/start", response_model=None)
async def start(request: Request, provider_id: str, services: ServicesDep, target: TenantTargetDep) -> Response:
    tenant = target.tenant
    provider = await run_in_thread(_provider, services, tenant, provider_id)
    if provider is None:
        return _refusal(request, "Unknown sign-in method", "This identity provider is not available here.", 404)
    query = request.query_params
    req = query.get("req")
    if req is not None and decode_req(services.keys, tenant, req) is None:
        return _refusal(request, "This sign-in link has expired", SIGN_IN_AGAIN)
    context: dict[str, Any] = {key: query[key][:2000] for key in ("req", "client_id", "invitation") if query.get(key)}
    login_hint = (query.get("login_hint") or "")[:200] or None
    browser_id, new_browser = _browser_id(request)
    state = secrets.token_urlsafe(32)
    urls = sso_urls(target.application, tenant, provider)
    try:
        if provider.protocol_type is ProtocolType.SAML2:
            sp, idp = saml_parties(provider_saml_settings(provider), urls, services.saml_sp)
            location, request_id = saml.build_authn_request(sp, idp, relay_state=state)
            await run_in_thread(
                record_request,
                services.core,
                tenant,
                provider,
                state=state,
                browser_id=browser_id,
                saml_request_id=request_id,
                context=context,
            )
        else:
            settings = provider_oidc_settings(provider)
            endpoints = await services.oidc.discover(settings.issuer)
            verifier, challenge = pkce_pair()
            nonce = secrets.token_urlsafe(24)
            await run_in_thread(
                record_request,
                services.core,
                tenant,
                provider,
                state=state,
                browser_id=browser_id,
                nonce=nonce,
                code_verifier=verifier,
                context=context,
            )
            location = services.oidc.authorization_url(
                endpoints,
                client_id=settings.client_id,
                redirect_uri=urls.redirect_url,
                scopes=settings.scopes,
                state=state,
                nonce=nonce,
                code_challenge=challenge,
                login_hint=login_hint,
            )
    except (OidcError, SamlError) as error:
        return _refusal(request, "The identity provider cannot be reached", f"{error.reason}. Try again later.", 502)
    except TenantryError:
        return _refusal(request, "This identity provider is not configured correctly", "Ask your administrator.")
    response = RedirectResponse(location, 302, headers=NO_STORE)
    if new_browser:
        # SameSite=None: the SAML response comes back as a cross-site POST from the IdP.
        response.set_cookie(
            BROWSER_COOKIE, browser_id, max_age=3600, httponly=True, secure=True, samesite="none", path="/sso"
        )
    return response


@router.get("/sso/{provider_id}/callback", response_model=None)
async def oidc_callback(request: Request, provider_id: str, services: ServicesDep, target: TenantTargetDep) -> Response:
    tenant = target.tenant
    provider = await run_in_thread(_provider, services, tenant, provider_id)
    if provider is None or provider.protocol_type is not ProtocolType.OIDC:
        return _refusal(request, "Unknown sign-in method", "This identity provider is not available here.", 404)
    query = request.query_params
    try:
        pending = await run_in_thread(
            take_request, services.core, tenant, provider, query.get("state"), request.cookies.get(BROWSER_COOKIE)
        )
    except SsoRefused as error:
        return _refusal(request, "The sign-in could not be completed", error.message)
    if query.get("error"):
        return _refusal(
            request,
            "Your identity provider did not sign you in",
            f"It answered: {query['error'][:100]}. {SIGN_IN_AGAIN}",
        )
    settings = provider_oidc_settings(provider)
    urls = sso_urls(target.application, tenant, provider)
    try:
        endpoints = await services.oidc.discover(settings.issuer)
        tokens = await services.oidc.exchange_code(
            endpoints,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            code=query.get("code") or "",
            redirect_uri=urls.redirect_url,
            code_verifier=pending.code_verifier or "",
        )
        id_token = tokens.get("id_token")
        access_token = tokens.get("access_token")
        if not isinstance(id_token, str):
            raise OidcError("the token response has no id_token")
        claims = await services.oidc.validate_id_token(
            endpoints,
            id_token,
            client_id=settings.client_id,
            nonce=pending.nonce or "",
            access_token=access_token if isinstance(access_token, str) else None,
        )
        if endpoints.userinfo_endpoint and isinstance(access_token, str):
            extra = await services.oidc.userinfo(endpoints, access_token, expected_sub=str(claims["sub"]))
            claims = {**extra, **claims}
        identity = identity_from(claims, settings.claim_mapping, subject=str(claims.get("sub") or ""))
    except OidcError as error:
        return _refusal(request, "The sign-in could not be completed", f"{error.reason}. {SIGN_IN_AGAIN}")
    except UnusableIdentity as error:
        return _refusal(request, "The sign-in could not be completed", str(error))
    return await _finish(request, services, target.application, tenant, provider, identity, pending, None, target)


@router.post("/sso/{provider_id}/acs", response_model=None)
async def saml_acs(request: Request, provider_id: str, services: ServicesDep, target: TenantTargetDep) -> Response:
    tenant = target.tenant
    provider = await run_in_thread(_provider, services, tenant, provider_id)
    if provider is None or provider.protocol_type is not ProtocolType.SAML2:
        return _refusal(request, "Unknown sign-in method", "This identity provider is not available here.", 404)
    form = await read_form(request, max_bytes=MAX_SAML_FORM_BYTES)
    settings = provider_saml_settings(provider)
    pending: SsoRequest | None = None
    relay_state = form.get("RelayState")
    if relay_state or not settings.allow_idp_initiated_sso:
        try:
            pending = await run_in_thread(
                take_request, services.core, tenant, provider, relay_state, request.cookies.get(BROWSER_COOKIE)
            )
        except SsoRefused as error:
            if not settings.allow_idp_initiated_sso:
                return _refusal(request, "The sign-in could not be completed", error.message)
    sp, idp = saml_parties(settings, sso_urls(target.application, tenant, provider), services.saml_sp)
    try:
        assertion = await run_in_thread(
            partial(
                saml.validate_response,
                sp,
                idp,
                form.get("SAMLResponse") or "",
                expected_request_id=pending.saml_request_id if pending else None,
            )
        )
        identity = identity_from(assertion.attributes, settings.attribute_mapping, subject=assertion.name_id)
    except SamlError as error:
        return _refusal(request, "The sign-in could not be completed", f"{error.reason}. {SIGN_IN_AGAIN}")
    except UnusableIdentity as error:
        return _refusal(request, "The sign-in could not be completed", str(error))
    replay_key = Assertion(assertion.assertion_id, assertion.not_on_or_after)
    return await _finish(request, services, target.application, tenant, provider, identity, pending, replay_key, target)


async def _finish(
    request: Request,
    services: Services,
    application: Application,
    tenant: Tenant,
    provider: IdentityProvider,
    identity: ExternalIdentity,
    pending: SsoRequest | None,
    assertion: Assertion | None,
    target: Any,
) -> Response:
    context = {k: v for k, v in (pending.context if pending else {}).items() if isinstance(v, str)}
    invitation = context.get("invitation")
    try:
        user = await run_in_thread(
            sign_in_external,
            services.core,
            application,
            tenant,
            provider,
            identity,
            assertion=assertion,
            invitation_code=invitation,
        )
    except NotFound:
        return _refusal(
            request,
            "No account for you here",
            f"{provider.display_name} signed you in, but {tenant.display_name} has no active account for you. "
            "Ask your administrator to invite you.",
            403,
        )
    except InvitationUnusable as error:
        return _refusal(request, "This invitation cannot be used", error.message, 403)
    except InvalidState as error:
        return _refusal(request, "Your account cannot sign in", error.message, 403)
    except SsoRefused as error:
        return _refusal(request, "The sign-in could not be completed", error.message, 403)
    req = context.get("req")
    params = decode_req(services.keys, tenant, req) if req else None
    if req and params is None:
        return _refusal(request, "This sign-in link has expired", SIGN_IN_AGAIN)
    client_id = context.get("client_id")
    landing = None
    if params is None and not client_id:
        landing = await run_in_thread(landing_url, services, application, tenant, None)
    return await run_in_thread(
        continue_signed_in,
        request,
        services,
        application,
        tenant,
        user,
        params,
        client_id,
        target.custom_domain,
        landing,
    )


@router.get("/sso/{provider_id}/metadata", response_model=None)
async def sp_metadata(request: Request, provider_id: str, services: ServicesDep, target: TenantTargetDep) -> Response:
    """The SP metadata the tenant's IT admin gives their IdP (entity id, ACS URL, signing cert)."""
    provider = await run_in_thread(_provider, services, target.tenant, provider_id)
    if provider is None or provider.protocol_type is not ProtocolType.SAML2:
        return _refusal(request, "Unknown sign-in method", "This identity provider is not available here.", 404)
    urls = sso_urls(target.application, target.tenant, provider)
    sp, _ = saml_parties(provider_saml_settings(provider), urls, services.saml_sp)
    return Response(saml.sp_metadata_xml(sp), media_type="application/samlmetadata+xml")
