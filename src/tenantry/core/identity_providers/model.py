"""Identity providers: the built-in password provider and external OIDC / SAML 2.0 ones."""

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


class IdentityProviderStatus(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


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

    @property
    def is_external(self) -> bool:
        return self.type is not IdentityProviderType.WRISTBAND
