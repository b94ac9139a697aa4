"""Directory provisioning (SCIM 2.0): a customer's directory — Okta, Entra ID, JumpCloud… —
creates, updates, deactivates and deletes the users of one tenant and one identity provider."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tenantry.core.identity_providers.model import IdentityProvider
from tenantry.core.tenants.model import Tenant


@dataclass(frozen=True, slots=True)
class DirectoryToken:
    """What a directory's bearer token stands for."""

    tenant_id: str
    identity_provider_id: str


@dataclass(frozen=True, slots=True)
class Directory:
    """An authenticated directory: it sees and changes only the users of ``provider`` in ``tenant``."""

    application_id: str
    tenant: Tenant
    provider: IdentityProvider


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """A user as the directory describes it, whole. ``profile`` holds every field the directory
    manages: ``None`` for one it leaves out, which a replace clears. Fields it does not manage
    (a birthdate, a picture) are not in it and stay as they are."""

    email: str
    active: bool | None  # None: not said (a new user is active; a replaced one keeps its state)
    profile: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IssuedDirectoryToken:
    token: str
    tenant: Tenant
    provider: IdentityProvider


@dataclass(frozen=True, slots=True)
class DirectoryTokenStatus:
    tenant: Tenant
    provider: IdentityProvider
    issued_at: datetime | None
