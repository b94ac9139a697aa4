"""Identity providers: the built-in password provider and external OIDC / SAML 2.0 ones.

An external provider's protocol settings are kept as the JSON object of the wire format
(``protocol``); :mod:`tenantry.core.identity_providers.settings` reads them into typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tenantry.core.model import EntityMetadata, JsonObject
from tenantry.core.roles.model import OwnerType

BUILT_IN_NAME = "wristband"


class IdentityProviderType(StrEnum):
    WRISTBAND = "WRISTBAND"
    OIDC = "OIDC"
    SAML2 = "SAML2"
    OKTA = "OKTA"
    AZURE_AD = "AZURE_AD"
    GOOGLE_WORKSPACE = "GOOGLE_WORKSPACE"


class ProtocolType(StrEnum):
    OIDC = "OIDC"
    SAML2 = "SAML2"


class IdentityProviderStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


@dataclass(frozen=True, slots=True)
class RoleMapping:
    """Members of the IdP group ``group`` get the roles ``role_ids`` (re-evaluated each login)."""

    group: str
    role_ids: tuple[str, ...]


@dataclass(slots=True)
class IdentityProvider:
    id: str
    application_id: str
    owner_type: OwnerType
    owner_id: str
    type: IdentityProviderType
    name: str
    display_name: str
    status: IdentityProviderStatus
    jit_provisioning_enabled: bool
    metadata: EntityMetadata
    protocol: JsonObject = field(default_factory=dict)
    role_mappings: tuple[RoleMapping, ...] = ()
    email_domains: tuple[str, ...] = ()

    @property
    def is_external(self) -> bool:
        return self.type is not IdentityProviderType.WRISTBAND

    @property
    def is_enabled(self) -> bool:
        return self.status is IdentityProviderStatus.ENABLED

    @property
    def protocol_type(self) -> ProtocolType | None:
        """OIDC or SAML2 for an external provider (the presets speak OIDC unless configured as SAML2)."""
        if not self.is_external:
            return None
        if self.type is IdentityProviderType.SAML2 or self.protocol.get("type") == ProtocolType.SAML2.value:
            return ProtocolType.SAML2
        return ProtocolType.OIDC

    @property
    def tenant_id(self) -> str | None:
        return self.owner_id if self.owner_type is OwnerType.TENANT else None
