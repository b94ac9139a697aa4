"""Roles, the permissions they grant and the boundary each permission is limited to."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from tenantry.core.model import EntityMetadata


class Boundary(StrEnum):
    """How far a granted permission reaches (Wristband's permission boundaries)."""

    APPLICATION = "APPLICATION"
    TENANT = "TENANT"
    TENANT_INCLUSION_LIST = "TENANT_INCLUSION_LIST"
    TENANT_EXCLUSION_LIST = "TENANT_EXCLUSION_LIST"
    SELF = "SELF"


class OwnerType(StrEnum):
    APPLICATION = "APPLICATION"
    TENANT = "TENANT"


class RoleType(StrEnum):
    PREDEFINED = "PREDEFINED"
    CUSTOM = "CUSTOM"


PERMISSIONS: tuple[str, ...] = (
    "application:read",
    "application:update",
    "tenant:create",
    "tenant:read",
    "tenant:update",
    "tenant:delete",
    "tenant:manage-signup-enablement",
    "tenant:manage-restricted-metadata",
    "tenant:manage-status",
    "user:create",
    "user:read",
    "user:update",
    "user:delete",
    "user:manage-status",
    "user:manage-email",
    "user:manage-external-id",
    "user:manage-restricted-metadata",
    "role:create",
    "role:read",
    "role:delete",
    "role-assignment:manage",
    "client:create",
    "client:read",
    "client:delete",
    "identity-provider:read",
    "identity-provider:manage",
    "auth-session:delete",
    "refresh-token:revoke",
    "signup-workflow:execute",
    "user-activation-workflow:execute",
    "email-verification-workflow:execute",
    "tenant-discovery-workflow:execute",
    "forgot-password-workflow:execute",
    "change-password-workflow:execute",
    "new-user-invitation-workflow:execute",
    "new-user-invitation-request:read",
    "existing-user-invitation-workflow:execute",
    "existing-user-invitation-request:read",
    "external-idp-login-workflow:execute",
    "audit-event:read",
)

PERMISSION_SET = frozenset(PERMISSIONS)


@dataclass(frozen=True, slots=True)
class PermissionGrant:
    permission: str
    boundary: Boundary
    tenant_ids: tuple[str, ...] = ()


ROLE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9:_.-]{0,199}$")


@dataclass(slots=True)
class Role:
    id: str
    application_id: str
    owner_type: OwnerType
    owner_id: str
    name: str
    display_name: str
    description: str | None
    type: RoleType
    grants: tuple[PermissionGrant, ...]
    metadata: EntityMetadata
    tenant_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def sku(self) -> str:
        """The part after the last ``:`` (the SDKs use it as the role's short name)."""
        return self.name.rsplit(":", 1)[-1]


def qualify_role_name(name: str, *, tenant_domain: str) -> str | None:
    """A tenant role's name lives in its tenant's namespace: ``auditor`` (or an already
    qualified ``tnt:{tenant}:auditor``) → ``tnt:{tenant}:auditor``. A name in any other
    namespace (another tenant's, or ``app:``) is refused with ``None``, so one tenant cannot
    squat another's names or mimic application roles."""
    prefix = f"tnt:{tenant_domain}:".lower()
    lowered = name.lower()
    short = lowered[len(prefix) :] if lowered.startswith(prefix) else lowered
    if not short or ":" in short:
        return None
    return prefix + short


def all_permissions(boundary: Boundary) -> tuple[PermissionGrant, ...]:
    return tuple(PermissionGrant(p, boundary) for p in PERMISSIONS)


TENANT_ADMIN_PERMISSIONS = tuple(
    p for p in PERMISSIONS if not p.startswith(("application:", "client:")) and p != "tenant:create"
)

APP_USER_PERMISSIONS = (
    "user:read",
    "user:update",
    "tenant:read",
    "role:read",
    "change-password-workflow:execute",
)
