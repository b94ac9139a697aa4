"""Enterprise SSO: a sign-in waiting at an external provider, and the identity it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tenantry.core.model import JsonObject


@dataclass(slots=True)
class SsoRequest:
    """A sign-in sent to an external IdP. ``state`` (the OIDC state / SAML RelayState) is only
    stored hashed; ``browser_hash`` binds it to the browser that started it (login CSRF);
    ``context`` carries where to go afterwards (the signed authorize ``req``, an invitation)."""

    id: str
    application_id: str
    tenant_id: str
    identity_provider_id: str
    state_hash: str
    browser_hash: str
    created_at: datetime
    expires_at: datetime
    nonce: str | None = None
    code_verifier: str | None = None
    saml_request_id: str | None = None
    context: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """Who the IdP says signed in: ``external_id`` is the OIDC ``sub`` or the SAML NameID (or
    the mapped ``id`` attribute); ``profile`` holds the mapped user fields it asserted."""

    external_id: str
    email: str | None
    email_verified: bool
    profile: dict[str, str]
    groups: tuple[str, ...] = ()
