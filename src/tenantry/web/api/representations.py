"""Entities as Wristband's camelCase JSON documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tenantry.core.applications.model import Application
from tenantry.core.clients.model import Client
from tenantry.core.model import EntityMetadata
from tenantry.core.roles.model import Role
from tenantry.core.tenants.model import Tenant
from tenantry.core.users.model import PROFILE_FIELDS, User


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def metadata_json(meta: EntityMetadata) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "creationTime": iso(meta.creation_time),
        "lastModifiedTime": iso(meta.last_modified_time),
        "version": str(meta.version),
    }
    for key, value in (
        ("activationTime", meta.activation_time),
        ("deactivationTime", meta.deactivation_time),
        ("lastVerificationTime", meta.last_verification_time),
    ):
        if value is not None:
            doc[key] = iso(value)
    return doc


def user_json(user: User) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": user.id,
        "tenantId": user.tenant_id,
        "applicationId": user.application_id,
        "identityProviderName": user.identity_provider_name,
        "identityProviderType": user.identity_provider_type,
        "email": user.email,
        "emailVerified": user.email_verified,
    }
    for name in PROFILE_FIELDS:
        doc[name] = user.profile.get(name)
    doc.update(
        {
            "publicMetadata": user.public_metadata,
            "restrictedMetadata": user.restricted_metadata,
            "hasPassword": user.has_password,
            "status": user.status.value,
            "metadata": metadata_json(user.metadata),
        }
    )
    return doc


def tenant_json(tenant: Tenant, application: Application) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "applicationId": tenant.application_id,
        "vanityDomain": application.tenant_host(tenant.domain_name),
        "domainName": tenant.domain_name,
        "displayName": tenant.display_name,
        "description": tenant.description,
        "logoUrl": tenant.logo_url,
        "customDomain": tenant.custom_domain,
        "signupEnabled": tenant.signup_enabled,
        "type": tenant.type.value,
        "status": tenant.status.value,
        "publicMetadata": tenant.public_metadata,
        "restrictedMetadata": tenant.restricted_metadata,
        "metadata": metadata_json(tenant.metadata),
    }


def role_json(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "displayName": role.display_name,
        "description": role.description,
        "ownerType": role.owner_type.value,
        "ownerId": role.owner_id,
        "tenantId": role.tenant_id,
        "type": role.type.value,
        "sku": role.sku,
        "permissions": [
            {"value": g.permission, "boundary": g.boundary.value, "tenantIds": list(g.tenant_ids)} for g in role.grants
        ],
        "metadata": metadata_json(role.metadata),
    }


def client_json(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "applicationId": client.application_id,
        "tenantId": client.tenant_id,
        "name": client.name,
        "type": client.type.value,
        "grantTypes": list(client.type.grant_types),
        "redirectUris": client.redirect_uris,
        "loginUrl": client.login_url,
        "roleIds": client.role_ids,
        "metadata": metadata_json(client.metadata),
    }


def application_json(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "displayName": app.display_name,
        "vanityDomain": app.vanity_domain,
        "isCustomDomainActive": app.custom_domain_active,
        "signupEnabled": app.signup_enabled,
        "loginUrl": app.resolved_login_url,
        "status": app.status.value,
        "metadata": metadata_json(app.metadata),
    }
