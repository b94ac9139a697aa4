"""``find_for_login_on``: a password login's provider and user in one query must answer exactly
what ``identity_providers.get_by_name`` then ``users.find_for_login`` answer apart, the
tenant's own provider of that name before the application's."""

from __future__ import annotations

from tenantry.bootstrap import Services
from tenantry.core.identity_providers.model import BUILT_IN_NAME
from tenantry.core.roles.model import OwnerType
from tests.contract.test_repositories import _add, _app, _okta_provider, _tenant, _user
from tests.support import rand, rand_email


def test_one_query_answers_as_the_two_reads(services: Services) -> None:
    app_id = _app(services)
    own, other = _tenant(services, app_id), _tenant(services, app_id)
    shared = _okta_provider(services, app_id, OwnerType.APPLICATION, app_id, "Corp")
    tenants_own = _okta_provider(services, app_id, OwnerType.TENANT, own.id, "corp")
    email, name = rand_email(), rand("name")
    password_user = _user(services, app_id, own.id, email, username=name)
    # The same email on the application's "corp" (shadowed for ``own`` by its own) and on its own.
    shadowed = _user(services, app_id, own.id, email, shared)
    own_corp = _user(services, app_id, own.id, email.upper(), tenants_own)
    elsewhere = _user(services, app_id, other.id, email, shared)
    for user in (password_user, shadowed, own_corp, elsewhere):
        _add(services, app_id, user)

    with services.core.uow(app_id) as uow:

        def apart(tenant_id: str, provider_name: str, identifier: str) -> object:
            provider = uow.identity_providers.get_by_name(provider_name, tenant_id)
            return uow.users.find_for_login(tenant_id, provider.id, identifier) if provider else None

        cases = [
            (own.id, BUILT_IN_NAME, email),
            (own.id, BUILT_IN_NAME, name.upper()),  # by username, case-insensitively
            (own.id, "CORP", email),  # the tenant's own "corp", not the application's
            (other.id, "corp", email.upper()),  # the application's
            (other.id, BUILT_IN_NAME, email),  # nobody there
            (own.id, "nobody", email),
            (own.id, BUILT_IN_NAME, "wrist\x00band"),
            ("no-such-tenant", BUILT_IN_NAME, email),
        ]
        for tenant_id, provider_name, identifier in cases:
            expected = apart(tenant_id, provider_name, identifier)
            found = uow.users.find_for_login_on(tenant_id, provider_name, identifier)
            assert found == expected, (tenant_id, provider_name, identifier)
        assert uow.users.find_for_login_on(own.id, BUILT_IN_NAME, email) == password_user
        assert uow.users.find_for_login_on(own.id, BUILT_IN_NAME, name) == password_user
        assert uow.users.find_for_login_on(own.id, "corp", email) == own_corp
        assert uow.users.find_for_login_on(other.id, "corp", email) == elsewhere
    # Another application sees none of them.
    with services.core.uow(_app(services)) as uow:
        assert uow.users.find_for_login_on(own.id, BUILT_IN_NAME, email) is None
