"""Tenant isolation matrix: every management-API endpoint, enumerated from the application's own
routes (so a new endpoint is covered, or this test fails until the table below says how to call
it), called with tenant B's full powers on tenant A's resources: an M2M client with the
``tenant-admin`` role (TENANT boundary on B) and a user access token of B's tenant administrator.

Every call is refused (403/404 in the base error shape) or, for application-wide listings,
answers with B's own data only; and after every call tenant A reads exactly as before, with no
email sent to A's people. Hosted-page sessions are bound to their tenant's host (see the end).

tests/e2e/test_isolation.py holds the hand-picked cases and the permission (403) rules; this is
the exhaustive sweep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute, iter_route_contexts

from tenantry.adapters.sql import tables as t
from tenantry.core.auth.model import token_hash
from tests.e2e._helpers import assert_denied, create_role
from tests.e2e.oidc_helpers import (
    PASSWORD,
    authorize_params,
    browser_for,
    callback_query,
    exchange,
    login,
    make_world,
    pkce,
)
from tests.e2e.test_identity_providers_api import oidc_body
from tests.e2e.test_user_tokens import user_token
from tests.support import Api, build_api, rand, rand_email

# Routes under /api/v1 that are not the management API: the OAuth/OIDC endpoints (their own
# client authentication, tested in tests/e2e/test_oidc_security.py), the hosted-page session
# hand-off, and the SDK configuration, which is public by design.
NOT_MANAGEMENT = {
    ("POST", "/api/v1/oauth2/token"),
    ("POST", "/api/v1/oauth2/revoke"),
    ("GET", "/api/v1/oauth2/userinfo"),
    ("GET", "/api/v1/oauth2/authorize"),
    ("GET", "/api/v1/oauth2/jwks"),
    ("GET", "/api/v1/logout"),
    ("GET", "/api/v1/auth-sessions/create"),
    ("GET", "/api/v1/clients/{client_id}/sdk-configuration"),
}

REFUSED, OWN_ONLY = "refused", "own-only"


@dataclass(frozen=True)
class Call:
    """How to aim an endpoint at tenant A: a JSON body (``{name}`` placeholders are A's ids),
    query parameters, and what B's token must get."""

    body: Any = None
    params: dict[str, str] | None = None
    expect: str = REFUSED


# Path parameters are filled from the same ids; see Victim.ids.
CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/users"): Call({"tenantId": "{tenant_id}", "identityProviderName": "wristband", "email": "{new_email}"}),
    ("GET", "/users/{user_id}"): Call(),
    ("PATCH", "/users/{user_id}"): Call({"givenName": "Owned"}),
    ("DELETE", "/users/{user_id}"): Call(),
    ("GET", "/tenants/{tenant_id}/users"): Call(),
    ("GET", "/applications/{application_id}/users"): Call(params={"count": "1000"}, expect=OWN_ONLY),
    ("POST", "/tenants"): Call({"domainName": "{new_domain}", "displayName": "Intruder"}),
    ("GET", "/tenants/{tenant_id}"): Call(),
    ("PATCH", "/tenants/{tenant_id}"): Call({"displayName": "Owned"}),
    ("DELETE", "/tenants/{tenant_id}"): Call(),
    ("GET", "/applications/{application_id}/tenants"): Call(params={"count": "1000"}, expect=OWN_ONLY),
    ("GET", "/tenants/{tenant_id}/roles"): Call(),
    ("POST", "/tenants/{tenant_id}/roles"): Call({"name": "{new_role}", "displayName": "Intruder"}),
    ("DELETE", "/roles/{role_id}"): Call(),
    ("POST", "/users/{user_id}/assign-roles"): Call({"roleIds": ["{role_id}"]}),
    ("POST", "/users/{user_id}/unassign-roles"): Call({"roleIds": ["{role_id}"]}),
    ("PUT", "/users/{user_id}/roles"): Call({"roleIds": []}),
    ("GET", "/users/{user_id}/roles"): Call(),
    ("POST", "/users/resolve-assigned-roles"): Call({"userIds": ["{user_id}"]}, expect=OWN_ONLY),
    ("POST", "/clients"): Call({"name": "{new_role}", "type": "MACHINE_TO_MACHINE", "tenantId": "{tenant_id}"}),
    ("GET", "/clients/{client_id}"): Call(),
    ("DELETE", "/clients/{client_id}"): Call(),
    ("GET", "/applications/{application_id}/clients"): Call(),
    ("POST", "/new-user-invitation/invite-user"): Call({"tenantId": "{tenant_id}", "email": "{new_email}"}),
    ("POST", "/new-user-invitation/cancel-invite"): Call({"newUserInvitationRequestId": "{invitation_id}"}),
    ("POST", "/new-user-invitation/introspect-invite"): Call({"emailAuthCode": "{invitation_code}"}),
    ("POST", "/new-user-invitation/accept-invite"): Call({"emailAuthCode": "{invitation_code}", "password": PASSWORD}),
    ("GET", "/tenants/{tenant_id}/new-user-invitation-requests"): Call(),
    ("GET", "/applications/{application_id}/new-user-invitation-requests"): Call(
        params={"count": "1000"}, expect=OWN_ONLY
    ),
    ("POST", "/existing-user-invitation/invite-user"): Call({"userId": "{user_id}"}),
    ("POST", "/existing-user-invitation/cancel-invite"): Call(
        {"existingUserInvitationRequestId": "{existing_invitation_id}"}
    ),
    ("POST", "/existing-user-invitation/introspect-invite"): Call({"emailAuthCode": "{existing_invitation_code}"}),
    ("POST", "/existing-user-invitation/accept-invite"): Call(
        {"emailAuthCode": "{existing_invitation_code}", "password": PASSWORD}
    ),
    ("GET", "/tenants/{tenant_id}/existing-user-invitation-requests"): Call(),
    ("GET", "/applications/{application_id}/existing-user-invitation-requests"): Call(
        params={"count": "1000"}, expect=OWN_ONLY
    ),
    ("GET", "/audit-events"): Call(params={"count": "1000"}, expect=OWN_ONLY),
    ("POST", "/identity-providers"): Call("{provider_body}"),
    ("POST", "/identity-providers/{provider_id}/directory-token"): Call({"tenantId": "{tenant_id}"}),
    ("GET", "/identity-providers/{provider_id}/directory-token"): Call(params={"tenantId": "{tenant_id}"}),
    ("DELETE", "/identity-providers/{provider_id}/directory-token"): Call(params={"tenantId": "{tenant_id}"}),
    ("GET", "/identity-providers/{provider_id}"): Call(),
    ("PATCH", "/identity-providers/{provider_id}"): Call({"displayName": "Owned"}),
    ("DELETE", "/identity-providers/{provider_id}"): Call(),
    ("GET", "/tenants/{tenant_id}/identity-providers"): Call(),
    ("GET", "/applications/{application_id}/identity-providers"): Call(params={"count": "1000"}, expect=OWN_ONLY),
    ("POST", "/tenants/{tenant_id}/identity-providers/resolve-overrides"): Call(params={"types": "OIDC"}),
    ("POST", "/tenants/{tenant_id}/identity-providers/resolve-redirect-urls"): Call(
        {"identityProviderTypes": ["OIDC"]}
    ),
    ("POST", "/tenants/{tenant_id}/identity-providers/test-connection"): Call({"identityProviderId": "{provider_id}"}),
    ("POST", "/identity-provider-override-toggles"): Call(
        {"ownerType": "TENANT", "ownerId": "{tenant_id}", "status": "ENABLED"}
    ),
    ("GET", "/applications/{application_id}"): Call(),
    ("PATCH", "/applications/{application_id}"): Call({"displayName": "Owned"}),
    ("GET", "/applications/{application_id}/{policy}"): Call(),
    ("PUT", "/applications/{application_id}/{policy}"): Call({"minLength": 30}),
    ("PUT", "/tenants/{tenant_id}/{policy}"): Call({"minLength": 30}),
    ("POST", "/tenants/{tenant_id}/{policy}/resolve-overrides"): Call(),
    ("POST", "/external-idp-login/verify-user"): Call(
        {"tenantId": "{tenant_id}", "identityProviderName": "{provider_name}", "externalId": "ext-1"}
    ),
    ("POST", "/external-idp-login/provision-user"): Call(
        {
            "tenantId": "{tenant_id}",
            "identityProviderName": "{provider_name}",
            "externalId": "ext-1",
            "email": "{new_email}",
        }
    ),
    ("POST", "/signup/provision-user"): Call({"tenantId": "{tenant_id}", "email": "{new_email}", "password": PASSWORD}),
    ("POST", "/user-activation/request-user-activation"): Call({"userId": "{pending_user_id}"}),
    ("POST", "/user-activation/introspect-email-auth-code"): Call({"emailAuthCode": "{activation_code}"}),
    ("POST", "/user-activation/activate-user"): Call({"emailAuthCode": "{activation_code}"}),
    ("POST", "/email-verification/request-email-verification"): Call({"userId": "{user_id}"}),
    ("POST", "/email-verification/verify-email"): Call({"emailAuthCode": "{verification_code}"}),
    ("POST", "/tenant-discovery/fetch-tenants"): Call({"applicationId": "{application_id}", "email": "{user_email}"}),
    ("POST", "/tenant-discovery/send-tenants-email"): Call(
        {"applicationId": "{application_id}", "email": "{user_email}"}
    ),
    ("POST", "/forgot-password/request-reset"): Call({"tenantId": "{tenant_id}", "email": "{user_email}"}),
    ("POST", "/forgot-password/reset-password"): Call(
        {"emailAuthCode": "{reset_code}", "newPassword": "an intruder's new passphrase"}
    ),
    ("POST", "/change-password"): Call(
        {"userId": "{user_id}", "currentPassword": PASSWORD, "newPassword": "an intruder's new passphrase"}
    ),
    ("DELETE", "/users/{user_id}/auth-sessions"): Call(),
    ("POST", "/users/{user_id}/refresh-tokens/revoke"): Call(),
    ("POST", "/refresh-tokens/{refresh_token_id}/revoke"): Call(),
}


def management_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path below /api/v1) of every management-API route the application serves."""
    found = []
    for route in iter_route_contexts(api.client.app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.path.startswith("/api/v1/"):
            continue
        for method in sorted(route.methods or ()):
            if (method, route.path) not in NOT_MANAGEMENT:
                found.append((method, route.path.removeprefix("/api/v1")))
    return found


@dataclass
class Victim:
    """Tenant A and everything in it that B's tokens aim at."""

    api: Api
    ids: dict[str, Any]

    def snapshot(self) -> dict[str, Any]:
        """Everything the admin can read about tenant A, and the mail A's people were sent."""
        api, ids = self.api, self.ids

        def read(path: str, **params: str) -> Any:
            response = api.call("GET", path, params=params)
            assert response.status_code == 200, f"{path}: {response.text}"
            return response.json()

        with api.services.database.transaction(write=False) as conn:
            mail = conn.execute(
                sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.tenant_id == ids["tenant_id"])
            ).scalar_one()
            directory_tokens = conn.execute(
                sa.select(t.directory_tokens.c.token_hash).where(t.directory_tokens.c.tenant_id == ids["tenant_id"])
            ).all()
            live_tokens = conn.execute(
                sa.select(sa.func.count())
                .select_from(t.refresh_tokens)
                .where((t.refresh_tokens.c.user_id == ids["user_id"]) & t.refresh_tokens.c.revoked_at.is_(None))
            ).scalar_one()
        tenant = f"/tenants/{ids['tenant_id']}"
        return {
            "tenant": read(tenant),
            "users": read(f"{tenant}/users", count="1000"),
            "roles": read(f"{tenant}/roles", count="1000"),
            "user_roles": read(f"/users/{ids['user_id']}/roles"),
            "invitations": read(f"{tenant}/new-user-invitation-requests", count="1000"),
            "existing_invitations": read(f"{tenant}/existing-user-invitation-requests", count="1000"),
            "providers": read(f"{tenant}/identity-providers", count="1000"),
            "client": read(f"/clients/{ids['client_id']}"),
            "application": read(f"/applications/{ids['application_id']}"),
            "policy": read(f"/applications/{ids['application_id']}/{ids['policy']}"),
            "apps_clients": read(f"/applications/{ids['application_id']}/clients", count="1000"),
            "all_tenants": read(f"/applications/{ids['application_id']}/tenants", count="1000")["totalResults"],
            "mail": mail,
            "live_refresh_tokens": live_tokens,
            "directory_tokens": directory_tokens,
        }

    def secrets(self) -> list[str]:
        """Strings of A's that must never show up in an answer to B, unless B sent them."""
        keys = ("tenant_domain", "tenant_id", "user_email", "user_id", "pending_email", "provider_name", "client_id")
        return [self.ids[k] for k in keys]


def _outbox_code(api: Api, recipient: str) -> str:
    from tests.e2e.test_signup import last_email
    from tests.e2e.test_workflow_apis import code_in

    return code_in(last_email(api, recipient))


def build_victim(api: Api) -> Victim:
    world = make_world(api)  # tenant A, an active user with a password, a BACKEND_SERVER client
    tenant, user = world.tenant, world.user
    assert api.call("PATCH", f"/tenants/{tenant['id']}", json={"signupEnabled": True}).status_code == 200
    role = create_role(api, tenant["id"], ["user:read"])
    assert api.call("POST", f"/users/{user['id']}/assign-roles", json={"roleIds": [role["id"]]}).status_code == 200
    client_id, _ = api.create_m2m_client(tenant["id"])
    invited = rand_email()
    invitation = api.call("POST", "/new-user-invitation/invite-user", json={"tenantId": tenant["id"], "email": invited})
    assert invitation.status_code == 200, invitation.text
    existing_user = api.create_user(tenant["id"])  # PROVISIONED: invitable
    existing = api.call("POST", "/existing-user-invitation/invite-user", json={"userId": existing_user["id"]})
    assert existing.status_code == 200, existing.text
    pending = api.call(
        "POST", "/signup/provision-user", json={"tenantId": tenant["id"], "email": rand_email(), "password": PASSWORD}
    )
    assert pending.status_code == 201, pending.text
    pending_user = pending.json()["user"]
    provider = api.call("POST", "/identity-providers", json=oidc_body(tenant["id"]))
    assert provider.status_code in (200, 201), provider.text
    directory = api.call(
        "POST", f"/identity-providers/{provider.json()['id']}/directory-token", json={"tenantId": tenant["id"]}
    )
    assert directory.status_code == 201, directory.text
    verified = api.create_user(tenant["id"], status="ACTIVE")
    asked = api.call("POST", "/email-verification/request-email-verification", json={"userId": verified["id"]})
    assert asked.status_code == 204, asked.text
    forgetful = api.create_user(tenant["id"], status="ACTIVE", password=PASSWORD)
    reset = api.call(
        "POST", "/forgot-password/request-reset", json={"tenantId": tenant["id"], "email": forgetful["email"]}
    )
    assert reset.status_code == 204, reset.text
    verifier, challenge = pkce()
    with browser_for(api) as browser:
        code = callback_query(login(world, browser, authorize_params(world, challenge)))["code"]
    refresh_token = exchange(world, code, verifier).json()["refresh_token"]
    with api.services.database.transaction(write=False) as conn:
        refresh_token_id = conn.execute(
            sa.select(t.refresh_tokens.c.id).where(t.refresh_tokens.c.token_hash == token_hash(refresh_token))
        ).scalar_one()
    policy = "password-policies"
    ids = {
        "application_id": api.application_id,
        "tenant_id": tenant["id"],
        "tenant_domain": tenant["domainName"],
        "user_id": user["id"],
        "user_email": user["email"],
        "role_id": role["id"],
        "client_id": client_id,
        "invitation_id": invitation.json()["newUserInvitationRequest"]["id"],
        "invitation_code": _outbox_code(api, invited),
        "existing_invitation_id": existing.json()["existingUserInvitationRequest"]["id"],
        "existing_invitation_code": _outbox_code(api, existing_user["email"]),
        "pending_user_id": pending_user["id"],
        "pending_email": pending_user["email"],
        "activation_code": _outbox_code(api, pending_user["email"]),
        "verification_code": _outbox_code(api, verified["email"]),
        "reset_code": _outbox_code(api, forgetful["email"]),
        "provider_id": provider.json()["id"],
        "provider_name": provider.json()["name"],
        "provider_body": oidc_body(tenant["id"]),
        "refresh_token_id": refresh_token_id,
        "policy": policy,
    }
    return Victim(api, ids)


def fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("{") and value.endswith("}") and value[1:-1] in ids:
        return ids[value[1:-1]]  # a whole value (e.g. a body) may be replaced, not just formatted
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


@dataclass
class Matrix:
    victim: Victim
    tokens: dict[str, str]  # attacker name -> access token with full powers on tenant B
    attacker_tenant: dict[str, Any]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    api = build_api(tmp_path_factory.mktemp("isolation"), url)
    with api.client:
        victim = build_victim(api)
        user_access_token, tenant_b, _ = user_token(api, "tenant-admin")
        client_token = api.token_for(*api.create_m2m_client(tenant_b["id"], ["tenant-admin"]))
        yield Matrix(victim, {"m2m-tenant-admin": client_token, "user-tenant-admin": user_access_token}, tenant_b)
    api.services.close()


@pytest.fixture(scope="module")
def routes(matrix: Matrix) -> list[tuple[str, str]]:
    return management_routes(matrix.victim.api)


def test_every_management_route_is_in_the_matrix(routes: list[tuple[str, str]]) -> None:
    missing = sorted(set(routes) - set(CALLS))
    assert not missing, f"add these endpoints to CALLS in {__name__}: {missing}"
    stale = sorted(set(CALLS) - set(routes))
    assert not stale, f"no longer served, remove from CALLS: {stale}"
    assert len(routes) > 60


def test_the_attackers_tokens_work_on_their_own_tenant(matrix: Matrix) -> None:
    """The refusals below are boundaries, not broken tokens."""
    api, b = matrix.victim.api, matrix.attacker_tenant
    for token in matrix.tokens.values():
        assert api.call("GET", f"/tenants/{b['id']}", token=token).status_code == 200
        assert api.call("GET", f"/tenants/{b['id']}/users", token=token).status_code == 200
        created = api.call(
            "POST",
            "/users",
            token=token,
            json={"tenantId": b["id"], "identityProviderName": "wristband", "email": rand_email()},
        )
        assert created.status_code == 201, created.text


ATTACKERS = ["m2m-tenant-admin", "user-tenant-admin"]


@pytest.mark.parametrize("attacker", ATTACKERS)
@pytest.mark.parametrize(("method", "path"), sorted(CALLS), ids=[f"{m} {p}" for m, p in sorted(CALLS)])
def test_tenant_b_cannot_reach_tenant_a(matrix: Matrix, attacker: str, method: str, path: str) -> None:
    victim, call = matrix.victim, CALLS[(method, path)]
    ids = {**victim.ids, "new_email": rand_email(), "new_domain": rand("tn"), "new_role": rand("r")}
    before = victim.snapshot()
    kwargs: dict[str, Any] = {"params": fill(call.params, ids) if call.params else None}
    if call.body is not None:
        kwargs["json"] = fill(call.body, ids)
    elif method in ("POST", "PUT", "PATCH"):
        kwargs["json"] = {}
    url = fill(path, ids)
    response = victim.api.call(method, url, token=matrix.tokens[attacker], **kwargs)
    sent = f"{url} {kwargs}"
    if call.expect == REFUSED:
        assert_denied(response)
    else:
        assert response.status_code == 200, response.text
    leaked = [secret for secret in victim.secrets() if secret in response.text and secret not in sent]
    assert not leaked, f"{leaked} leaked: {response.text[:500]}"
    assert victim.snapshot() == before


# ------------------------------------------------------------------------ hosted-page sessions


def test_a_session_cookie_of_one_tenant_host_is_not_accepted_on_another(matrix: Matrix) -> None:
    """Signed in on tenant A's host, the same browser (cookie and all, sent to B's host) must
    still be asked to sign in on B: authorize with prompt=none answers login_required."""
    api = matrix.victim.api
    world_a, world_b = make_world(api), make_world(api)
    _, challenge = pkce()
    with browser_for(api) as browser:
        signed_in = login(world_a, browser, authorize_params(world_a, challenge))
        assert signed_in.status_code == 302, signed_in.text
        cookie = signed_in.cookies.get("tenantry_session")
        assert cookie
        # The session works on its own host ...
        again = browser.get(
            world_a.tenant_url("/api/v1/oauth2/authorize"),
            params=authorize_params(world_a, challenge, prompt="none"),
            follow_redirects=False,
        )
        assert "code" in callback_query(again)
        # ... and not on another tenant's, even when the cookie is replayed there explicitly.
        on_b = browser.get(
            world_b.tenant_url("/api/v1/oauth2/authorize"),
            params=authorize_params(world_b, challenge, prompt="none"),
            headers={"Cookie": f"tenantry_session={cookie}"},
            follow_redirects=False,
        )
        assert callback_query(on_b).get("error") == "login_required", on_b.headers.get("location")
