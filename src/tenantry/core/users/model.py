"""Users: one person's account in one tenant, through one identity provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from tenantry.core.ids import new_id
from tenantry.core.model import EntityMetadata, JsonObject

if TYPE_CHECKING:
    from tenantry.core.identity_providers.model import IdentityProvider


class UserStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    PENDING_INVITE_ACTIVATION = "PENDING_INVITE_ACTIVATION"
    PENDING_SIGNUP_ACTIVATION = "PENDING_SIGNUP_ACTIVATION"
    PROVISIONED = "PROVISIONED"


# Profile fields a caller may set, in Wristband's camelCase, with their maximum length.
PROFILE_FIELDS: dict[str, int] = {
    "username": 200,
    "externalId": 200,
    "fullName": 200,
    "givenName": 200,
    "familyName": 200,
    "middleName": 200,
    "honorificPrefix": 200,
    "honorificSuffix": 200,
    "nickname": 200,
    "displayName": 200,
    "pictureUrl": 2000,
    "gender": 50,
    "birthdate": 10,
    "phoneNumber": 16,
    "preferredLanguage": 35,
    "locale": 35,
    "timeZone": 100,
}
EMAIL_MAX = 200


@dataclass(slots=True)
class User:
    id: str
    application_id: str
    tenant_id: str
    identity_provider_id: str
    identity_provider_name: str
    identity_provider_type: str
    email: str
    email_verified: bool
    status: UserStatus
    profile: dict[str, str | None]
    public_metadata: JsonObject
    restricted_metadata: JsonObject
    password_hash: str | None
    metadata: EntityMetadata
    failed_logins: int = 0
    locked_until: datetime | None = None

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    @property
    def username(self) -> str | None:
        return self.profile.get("username")

    @property
    def external_id(self) -> str | None:
        return self.profile.get("externalId")

    def change_status(self, status: UserStatus, now: datetime) -> None:
        """Record activation / deactivation times; the caller bumps the version."""
        if status is self.status:
            return
        if status is UserStatus.ACTIVE:
            self.metadata.activation_time = now
        elif status is UserStatus.INACTIVE:
            self.metadata.deactivation_time = now
        self.status = status


def new_user(
    *,
    application_id: str,
    tenant_id: str,
    provider: IdentityProvider,
    email: str,
    email_verified: bool,
    status: UserStatus,
    profile: dict[str, str | None],
    now: datetime,
    password_hash: str | None = None,
    public_metadata: JsonObject | None = None,
    restricted_metadata: JsonObject | None = None,
) -> User:
    """A user as every onboarding path creates one (an API call, signup, an invitation, a JIT
    login): a new id, the provider's identity, the profile without blanks, and the activation
    time when the user starts ``ACTIVE``."""
    user = User(
        id=new_id(),
        application_id=application_id,
        tenant_id=tenant_id,
        identity_provider_id=provider.id,
        identity_provider_name=provider.name,
        identity_provider_type=provider.type.value,
        email=email,
        email_verified=email_verified,
        status=status,
        profile={k: v for k, v in profile.items() if v},
        public_metadata=dict(public_metadata or {}),
        restricted_metadata=dict(restricted_metadata or {}),
        password_hash=password_hash,
        metadata=EntityMetadata.new(now),
    )
    if status is UserStatus.ACTIVE:
        user.metadata.activation_time = now
    return user
