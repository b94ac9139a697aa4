"""Request bodies. Unknown fields are ignored (the official import tool sends some); types are
checked here, the domain rules (lengths, formats, uniqueness) in ``tenantry.core``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from tenantry.core.clients.model import ClientType
from tenantry.core.tenants.model import TenantType
from tenantry.core.text import json_problem


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)

    @model_validator(mode="before")
    @classmethod
    def _only_storable_json(cls, data: Any) -> Any:
        """JSON that parses but cannot be stored (``core.text.json_problem``)."""
        if problem := json_problem(data):
            raise PydanticCustomError("invalid_request", problem)
        return data


class Profile(Body):
    username: str | None = None
    externalId: str | None = None
    fullName: str | None = None
    givenName: str | None = None
    familyName: str | None = None
    middleName: str | None = None
    honorificPrefix: str | None = None
    honorificSuffix: str | None = None
    nickname: str | None = None
    displayName: str | None = None
    pictureUrl: str | None = None
    gender: str | None = None
    birthdate: str | None = None
    phoneNumber: str | None = None
    preferredLanguage: str | None = None
    locale: str | None = None
    timeZone: str | None = None


class CreateUserBody(Profile):
    tenantId: str
    identityProviderName: str
    email: str
    emailVerified: bool = False
    status: Literal["PROVISIONED", "ACTIVE"] = "PROVISIONED"
    password: str | None = Field(default=None, json_schema_extra={"writeOnly": True})
    passwordHash: str | None = Field(
        default=None,
        max_length=1024,
        description="Tenantry extension: a hash from the system the user migrates from (docs/migrating.md)",
        json_schema_extra={"writeOnly": True},
    )
    publicMetadata: dict[str, Any] | None = None
    restrictedMetadata: dict[str, Any] | None = None


class UpdateUserBody(Profile):
    email: str | None = None
    emailVerified: bool | None = None
    status: Literal["ACTIVE", "INACTIVE"] | None = None
    publicMetadata: dict[str, Any] | None = None
    restrictedMetadata: dict[str, Any] | None = None


class CreateTenantBody(Body):
    domainName: str
    displayName: str
    applicationId: str | None = None
    type: TenantType = TenantType.STANDARD
    description: str | None = None
    logoUrl: str | None = None
    customDomain: str | None = None
    signupEnabled: bool = False
    publicMetadata: dict[str, Any] | None = None
    restrictedMetadata: dict[str, Any] | None = None


class UpdateTenantBody(Body):
    displayName: str | None = None
    description: str | None = None
    logoUrl: str | None = None
    customDomain: str | None = None
    signupEnabled: bool | None = None
    status: Literal["ACTIVE", "INACTIVE"] | None = None
    domainName: str | None = None
    type: str | None = None
    publicMetadata: dict[str, Any] | None = None
    restrictedMetadata: dict[str, Any] | None = None


class RoleIdsBody(Body):
    roleIds: list[str] = Field(max_length=100)


class UserIdsBody(Body):
    userIds: list[str] = Field(max_length=100)


class CreateRoleBody(Body):
    name: str
    displayName: str
    description: str | None = None
    permissions: list[str] = Field(default_factory=list, max_length=200)


class CreateClientBody(Body):
    name: str
    type: ClientType
    tenantId: str | None = None
    redirectUris: list[str] = Field(default_factory=list)
    loginUrl: str | None = None
    roleIds: list[str] = Field(default_factory=list, max_length=100)


class UpdateApplicationBody(Body):
    displayName: str | None = None
    loginUrl: str | None = None
    signupEnabled: bool | None = None


# --- workflow APIs (web/api/workflows.py) ---


class ProvisionUserBody(Profile):
    """Application-level signup (``applicationId``, ``tenantName``) or tenant-level (``tenantId``)."""

    email: str
    password: str | None = Field(default=None, json_schema_extra={"writeOnly": True})
    applicationId: str | None = None
    tenantId: str | None = None
    tenantName: str | None = None
    tenantDisplayName: str | None = None
    clientId: str | None = None


class UserIdBody(Body):
    userId: str


class EmailAuthCodeBody(Body):
    emailAuthCode: str


class ActivateUserBody(Body):
    """``emailAuthCode`` (the link's code), or ``userId`` with the emailed one-time ``code``."""

    emailAuthCode: str | None = None
    userId: str | None = None
    code: str | None = None


class TenantDiscoveryBody(Body):
    applicationId: str
    email: str
    clientId: str | None = None


class RequestPasswordResetBody(Body):
    tenantId: str
    email: str


class ResetPasswordBody(Body):
    emailAuthCode: str
    newPassword: str = Field(json_schema_extra={"writeOnly": True})


class ChangePasswordBody(Body):
    userId: str
    currentPassword: str = Field(json_schema_extra={"writeOnly": True})
    newPassword: str = Field(json_schema_extra={"writeOnly": True})


class InviteNewUserBody(Body):
    tenantId: str
    email: str | None = None
    rolesToAssign: list[str] = Field(default_factory=list, max_length=50)
    language: str | None = Field(default=None, max_length=35)
    invitationType: Literal["EMAIL", "LINK"] = "EMAIL"


class CancelNewUserInviteBody(Body):
    newUserInvitationRequestId: str


class InviteExistingUserBody(Body):
    userId: str


class CancelExistingUserInviteBody(Body):
    existingUserInvitationRequestId: str


class InviteCodeBody(Body):
    emailAuthCode: str | None = None
    inviteCode: str | None = None


class AcceptNewUserInviteBody(Profile):
    emailAuthCode: str | None = None
    inviteCode: str | None = None
    email: str | None = None
    password: str | None = Field(default=None, json_schema_extra={"writeOnly": True})


class AcceptExistingUserInviteBody(Body):
    emailAuthCode: str
    password: str | None = Field(default=None, json_schema_extra={"writeOnly": True})
