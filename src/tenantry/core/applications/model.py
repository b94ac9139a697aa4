"""The application: one vanity domain that owns tenants, clients, roles and identity providers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tenantry.core.model import EntityMetadata


class ApplicationStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


@dataclass(slots=True)
class Application:
    id: str
    name: str
    display_name: str
    vanity_domain: str
    custom_domain_active: bool
    signup_enabled: bool
    login_url: str | None
    status: ApplicationStatus
    metadata: EntityMetadata

    @property
    def issuer(self) -> str:
        return f"https://{self.vanity_domain}"

    @property
    def tenant_separator(self) -> str:
        return "." if self.custom_domain_active else "-"

    def tenant_host(self, domain_name: str) -> str:
        return f"{domain_name}{self.tenant_separator}{self.vanity_domain}"

    @property
    def resolved_login_url(self) -> str:
        return self.login_url or f"https://{self.vanity_domain}/login"
