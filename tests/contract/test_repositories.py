"""The repository contract, run on SQLite and PostgreSQL: constraints, scoping, concurrency."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from tenantry.bootstrap import Services
from tenantry.core.access import TenantScope
from tenantry.core.applications.service import initialize_application
from tenantry.core.errors import ConstraintViolations
from tenantry.core.identity_providers.model import (
    BUILT_IN_NAME,
    IdentityProvider,
    IdentityProviderStatus,
    IdentityProviderType,
)
from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata
from tenantry.core.ports import ListSpec
from tenantry.core.roles.model import OwnerType
from tenantry.core.tenants.model import Tenant, TenantStatus, TenantType
from tenantry.core.users.model import User, UserStatus, new_user
from tests.support import rand, rand_email

ALL = TenantScope(all_tenants=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _app(services: Services) -> str:
    return initialize_application(services.core, f"{rand('app')}.test", custom_domain=False).application.id


def _tenant(
    services: Services, app_id: str, domain: str | None = None, type_: TenantType = TenantType.STANDARD
) -> Tenant:
    tenant = Tenant(
        id=new_id(),
        application_id=app_id,
        domain_name=domain or rand("tn"),
        display_name="T",
        description=None,
        logo_url=None,
        signup_enabled=False,
        type=type_,
        status=TenantStatus.ACTIVE,
        public_metadata={"a": [1, {"b": None}]},
        restricted_metadata={},
        metadata=EntityMetadata.new(_now()),
    )
    with services.core.uow(app_id, write=True) as uow:
        uow.tenants.add(tenant)
        uow.commit()
    return tenant


def _okta_provider(
    services: Services, app_id: str, owner_type: OwnerType, owner_id: str, name: str, *, domains: tuple[str, ...] = ()
) -> IdentityProvider:
    """A stored, enabled Okta (OIDC) provider of ``owner_id``."""
    provider = IdentityProvider(
        id=new_id(),
        application_id=app_id,
        owner_type=owner_type,
        owner_id=owner_id,
        type=IdentityProviderType.OKTA,
        name=name,
        display_name=name,
        status=IdentityProviderStatus.ENABLED,
        jit_provisioning_enabled=True,
        metadata=EntityMetadata.new(datetime.now(UTC)),
        protocol={"type": "OIDC", "issuer": "https://idp.example.com", "clientId": "c", "clientSecret": "s"},
        email_domains=domains,
    )
    with services.core.uow(app_id, write=True) as uow:
        uow.identity_providers.add(provider)
        uow.commit()
    return provider


def _user(
    services: Services,
    app_id: str,
    tenant_id: str,
    email: str,
    provider: IdentityProvider | None = None,
    **profile: str,
) -> User:
    """A new PROVISIONED user (not stored), of the tenant's built-in provider unless ``provider``."""
    if provider is None:
        with services.core.uow(app_id) as uow:
            provider = uow.identity_providers.get_by_name(BUILT_IN_NAME, tenant_id)
    assert provider is not None
    return new_user(
        application_id=app_id,
        tenant_id=tenant_id,
        provider=provider,
        email=email,
        email_verified=False,
        status=UserStatus.PROVISIONED,
        profile=dict(profile),
        now=_now(),
    )


def _add(services: Services, app_id: str, user: User) -> None:
    with services.core.uow(app_id, write=True) as uow:
        uow.users.add(user)
        uow.commit()


def test_user_round_trip(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    user = _user(services, app_id, tenant.id, rand_email(), givenName="Ada", timeZone="Europe/Paris", username="ada")
    _add(services, app_id, user)
    with services.core.uow(app_id) as uow:
        loaded = uow.users.get(user.id)
    assert loaded is not None
    assert loaded.profile == {"givenName": "Ada", "timeZone": "Europe/Paris", "username": "ada"}
    assert loaded.metadata.creation_time == user.metadata.creation_time
    assert loaded.identity_provider_name == BUILT_IN_NAME


def test_email_unique_per_tenant_and_provider_case_insensitively(services: Services) -> None:
    app_id = _app(services)
    tenant, other = _tenant(services, app_id), _tenant(services, app_id)
    email = rand_email()
    _add(services, app_id, _user(services, app_id, tenant.id, email))
    with pytest.raises(ConstraintViolations) as caught:
        _add(services, app_id, _user(services, app_id, tenant.id, email.upper()))
    assert caught.value.violations["email"][0].code == "not_unique"
    _add(services, app_id, _user(services, app_id, other.id, email))  # another tenant: allowed


def test_external_id_and_username_unique(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    _add(services, app_id, _user(services, app_id, tenant.id, rand_email(), externalId="ext-1", username="Bob"))
    with pytest.raises(ConstraintViolations) as caught:
        _add(services, app_id, _user(services, app_id, tenant.id, rand_email(), externalId="ext-1"))
    assert "externalId" in caught.value.violations
    with pytest.raises(ConstraintViolations) as caught:
        _add(services, app_id, _user(services, app_id, tenant.id, rand_email(), username="bob"))
    assert "username" in caught.value.violations
    # NULL external ids and usernames never collide.
    _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))
    _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))


def test_tenant_domain_unique_case_insensitively_and_one_global(services: Services) -> None:
    app_id = _app(services)
    name = rand("tn")
    _tenant(services, app_id, name)
    with pytest.raises(ConstraintViolations) as caught:
        _tenant(services, app_id, name.upper())
    assert "domainName" in caught.value.violations
    _tenant(services, _app(services), name)  # another application: allowed
    _tenant(services, app_id, type_=TenantType.GLOBAL)
    with pytest.raises(ConstraintViolations) as caught:
        _tenant(services, app_id, type_=TenantType.GLOBAL)
    assert "type" in caught.value.violations


def test_repositories_never_cross_applications(services: Services) -> None:
    app_a, app_b = _app(services), _app(services)
    tenant = _tenant(services, app_a)
    user = _user(services, app_a, tenant.id, rand_email())
    _add(services, app_a, user)
    with services.core.uow(app_b) as uow:
        assert uow.tenants.get(tenant.id) is None
        assert uow.users.get(user.id) is None
        assert uow.users.page(ListSpec(), ALL).total == 0
        assert uow.tenants.page(ListSpec(), ALL).total == 0


def test_failed_unit_of_work_writes_nothing(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    email = rand_email()
    _add(services, app_id, _user(services, app_id, tenant.id, email))
    first = _user(services, app_id, tenant.id, rand_email())
    with pytest.raises(ConstraintViolations), services.core.uow(app_id, write=True) as uow:
        uow.users.add(first)
        uow.users.add(_user(services, app_id, tenant.id, email))
        uow.commit()
    with services.core.uow(app_id) as uow:
        assert uow.users.get(first.id) is None


def test_scope_limits_listing(services: Services) -> None:
    app_id = _app(services)
    a, b = _tenant(services, app_id), _tenant(services, app_id)
    for tenant in (a, a, b):
        _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))
    with services.core.uow(app_id) as uow:
        assert uow.users.page(ListSpec(), ALL).total == 3
        assert uow.users.page(ListSpec(), TenantScope(False, frozenset({a.id}))).total == 2
        assert uow.users.page(ListSpec(), TenantScope(True, excluded=frozenset({a.id}))).total == 1
        assert uow.users.page(ListSpec(), TenantScope(False)).total == 0


def test_concurrent_inserts_of_one_email_leave_one_user(services: Services) -> None:
    """Uniqueness lives in the database: racing writers get exactly one winner."""
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    email = rand_email()
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        user = _user(services, app_id, tenant.id, email)
        barrier.wait()
        try:
            _add(services, app_id, user)
            outcomes.append("created")
        except ConstraintViolations:
            outcomes.append("not_unique")

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["not_unique"] * 7
    with services.core.uow(app_id) as uow:
        assert uow.users.page(ListSpec(), ALL, tenant_id=tenant.id).total == 1


def test_deleting_a_tenant_cascades(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    user = _user(services, app_id, tenant.id, rand_email())
    _add(services, app_id, user)
    with services.core.uow(app_id, write=True) as uow:
        assert uow.users.delete_for_tenant(tenant.id, 100) == 1
        uow.tenants.delete(tenant.id)
        uow.commit()
    with services.core.uow(app_id) as uow:
        assert uow.tenants.get(tenant.id) is None
        assert uow.users.get(user.id) is None


def test_an_authorization_code_is_redeemed_once_by_racing_redeemers(services: Services) -> None:
    from datetime import timedelta

    from tenantry.core.auth.model import AuthorizationCode

    result = initialize_application(services.core, f"{rand('app')}.test", custom_domain=False)
    app_id = result.application.id
    tenant = _tenant(services, app_id)
    user = _user(services, app_id, tenant.id, rand_email())
    _add(services, app_id, user)
    now = _now()
    code = AuthorizationCode(
        code_hash=new_id(),
        application_id=app_id,
        tenant_id=tenant.id,
        user_id=user.id,
        client_id=result.client.id,
        session_id=None,
        redirect_uri="https://app.example.com/cb",
        scope="openid",
        nonce="n",
        code_challenge=None,
        auth_time=now,
        family_id=new_id(),
        created_at=now,
        expires_at=now + timedelta(minutes=1),
    )
    with services.core.uow(app_id, write=True) as uow:
        uow.authorization_codes.add(code)
        uow.commit()
    outcomes: list[tuple[str | None, bool]] = []
    barrier = threading.Barrier(6)

    def redeem() -> None:
        barrier.wait()
        with services.core.uow(app_id, write=True) as uow:
            found, first = uow.authorization_codes.consume(code.code_hash, _now())
            uow.commit()
        outcomes.append((found.user_id if found else None, first))

    threads = [threading.Thread(target=redeem) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Exactly one redemption; the others see the code (a replay to act on), not "unknown".
    assert sorted(outcomes, key=lambda o: not o[1]) == [(user.id, True)] + [(user.id, False)] * 5
    with services.core.uow(app_id, write=True) as uow:
        assert uow.authorization_codes.consume("no-such-code", _now()) == (None, False)
    other_app = _app(services)
    with services.core.uow(other_app, write=True) as uow:  # another application's code is unknown
        assert uow.authorization_codes.consume(code.code_hash, _now()) == (None, False)
