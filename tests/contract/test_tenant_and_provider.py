"""``tenant_and_provider``: Create User's tenant and identity-provider reads in one query must
answer exactly what ``tenants.get`` and ``identity_providers.get_by_name`` answer apart (the
provider only with the tenant: without one, Create User has nothing to look it up for)."""

from __future__ import annotations

from tenantry.bootstrap import Services
from tenantry.core.identity_providers.model import (
    BUILT_IN_NAME,
    IdentityProviderType,
)
from tenantry.core.roles.model import OwnerType
from tests.contract.test_repositories import _app, _okta_provider, _tenant


def test_one_query_answers_as_the_two_reads(services: Services) -> None:
    app_id = _app(services)
    own, other = _tenant(services, app_id), _tenant(services, app_id)
    shared = _okta_provider(services, app_id, OwnerType.APPLICATION, app_id, "Corp")
    tenants_own = _okta_provider(services, app_id, OwnerType.TENANT, own.id, "corp", domains=(f"{own.id}.example.com",))
    with services.core.uow(app_id) as uow:
        for tenant_id, name in [
            (own.id, "CORP"),  # the tenant's own provider before the application's of the same name
            (other.id, "corp"),  # the application's
            (own.id, BUILT_IN_NAME),
            (own.id, "nobody"),
            (own.id, "wrist\x00band"),  # no database holds it: no provider, the tenant still found
            ("no-such-tenant", BUILT_IN_NAME),
            ("abc\x00def", BUILT_IN_NAME),
        ]:
            tenant = uow.tenants.get(tenant_id)
            expected = (tenant, uow.identity_providers.get_by_name(name, tenant_id) if tenant else None)
            assert uow.identity_providers.tenant_and_provider(tenant_id, name) == expected, (tenant_id, name)
        tenant, provider = uow.identity_providers.tenant_and_provider(own.id, "Corp")
        assert tenant == own and provider == tenants_own and provider.email_domains == (f"{own.id}.example.com",)
        assert uow.identity_providers.tenant_and_provider(other.id, "CORP")[1] == shared
        built_in = uow.identity_providers.tenant_and_provider(own.id, BUILT_IN_NAME)[1]
        assert built_in is not None and built_in.type is IdentityProviderType.WRISTBAND
    # Another application sees neither the tenant nor its providers.
    with services.core.uow(_app(services)) as uow:
        assert uow.identity_providers.tenant_and_provider(own.id, "corp") == (None, None)
