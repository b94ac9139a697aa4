"""Tenants: a customer organisation inside an application."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from tenantry.core.model import EntityMetadata, JsonObject


class TenantType(StrEnum):
    STANDARD = "STANDARD"
    GLOBAL = "GLOBAL"
    STANDALONE = "STANDALONE"


class TenantStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"


# A DNS label: letters, digits and inner hyphens. It becomes `{domainName}-{vanity}` in host names.
DOMAIN_NAME_PATTERN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
DOMAIN_NAME_MIN = 2
DOMAIN_NAME_MAX = 40
DISPLAY_NAME_MAX = 200


@dataclass(slots=True)
class Tenant:
    id: str
    application_id: str
    domain_name: str
    display_name: str
    description: str | None
    logo_url: str | None
    signup_enabled: bool
    type: TenantType
    status: TenantStatus
    public_metadata: JsonObject
    restricted_metadata: JsonObject
    metadata: EntityMetadata
    custom_domain: str | None = None

    @property
    def is_usable(self) -> bool:
        return self.status is TenantStatus.ACTIVE
