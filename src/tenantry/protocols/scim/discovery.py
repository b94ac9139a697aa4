"""The discovery resources (RFC 7644 §4): ``/ServiceProviderConfig``, ``/ResourceTypes``,
``/Schemas``. They describe exactly what Tenantry keeps (``users.py``), so a client that reads them
(scim2-tester, scim2-client) sends nothing that would not come back."""

from __future__ import annotations

from typing import Any

from tenantry.protocols.scim.users import USER_SCHEMA

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_RESULTS = 200


def service_provider_config(base: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The directory token issued for this tenant and identity provider",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }


def user_resource_type(base: str) -> dict[str, Any]:
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "The tenant's users of this identity provider",
        "schema": USER_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/User"},
    }


def _attribute(name: str, **traits: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "string",
        "multiValued": False,
        "description": "",
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
        **traits,
    }


def user_schema(base: str) -> dict[str, Any]:
    name_parts = ("formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix")
    attributes = [
        _attribute("userName", required=True, uniqueness="server", description="The username; unique in the tenant"),
        _attribute(
            "name",
            type="complex",
            description="The components of the user's name",
            subAttributes=[_attribute(part) for part in name_parts],
        ),
        _attribute("displayName"),
        _attribute("nickName"),
        _attribute(
            "emails",
            type="complex",
            multiValued=True,
            required=True,
            description="The user's email address (one; required: every Tenantry user has one)",
            subAttributes=[_attribute("value", required=True, description="The address")],
        ),
        _attribute(
            "active",
            type="boolean",
            required=True,
            description="Whether the user may sign in (always present: a user is active or not)",
        ),
    ]
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User Account",
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{USER_SCHEMA}"},
    }


def list_response(resources: list[dict[str, Any]], total: int, start_index: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
