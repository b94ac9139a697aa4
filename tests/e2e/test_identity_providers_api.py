"""Identity-provider configuration over the API: upsert, read, patch, delete, validation, the
write-only client secret, permissions, tenant overrides, redirect URLs and test-connection."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.e2e._helpers import (
    ID,
    app_role_id,
    assert_base_error,
    assert_denied,
    assert_violation,
    create_role,
    token_with_permissions,
)
from tests.e2e.test_user_tokens import user_token
from tests.support import Api, rand

SECRET = "s3cret-" + "x" * 20


def certificate(days: int = 365) -> x509.Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-idp")])
    now = datetime.now(UTC)
    start = now - timedelta(days=400) if days < 0 else now - timedelta(days=1)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def metadata_xml(entity_id: str, sso_url: str, cert: x509.Certificate) -> str:
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>
      <ds:X509Certificate>{der}</ds:X509Certificate>
    </ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""


def oidc_body(tenant_id: str, **fields: Any) -> dict[str, Any]:
    protocol = {"type": "OIDC", "issuer": "https://idp.example.com", "clientId": "cid-1", "clientSecret": SECRET}
    return {
        "ownerType": "TENANT",
        "ownerId": tenant_id,
        "type": "OIDC",
        "name": rand("oidc"),
        "displayName": "Corporate SSO",
        "jitProvisioningEnabled": True,
        "status": "ENABLED",
        **fields,
        "protocol": {**protocol, **fields.get("protocol", {})},
    }


def saml_body(tenant_id: str, **fields: Any) -> dict[str, Any]:
    protocol = {
        "type": "SAML2",
        "idpEntityId": "https://idp.example.com/saml",
        "idpSsoUrl": "https://idp.example.com/sso",
        "idpSigningCerts": [pem(certificate())],
    }
    return {
        "ownerType": "TENANT",
        "ownerId": tenant_id,
        "type": "SAML2",
        "name": rand("saml"),
        "displayName": "SAML SSO",
        **fields,
        "protocol": {**protocol, **fields.get("protocol", {})},
    }


def create(api: Api, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
    response = api.call("POST", "/identity-providers", token=token, json=body)
    assert response.status_code == 201, response.text
    doc: dict[str, Any] = response.json()
    return doc


def stored_secret(api: Api, provider_id: str) -> Any:
    with api.services.core.uow(api.application_id) as uow:
        provider = uow.identity_providers.get(provider_id)
        assert provider is not None
        return provider.protocol.get("clientSecret")


def tenant_provider_names(api: Api, tenant_id: str) -> set[str]:
    response = api.call("GET", f"/tenants/{tenant_id}/identity-providers", params={"count": "100"})
    assert response.status_code == 200, response.text
    return {p["name"] for p in response.json()["items"]}


# ------------------------------------------------------------------------------------------ create


def test_create_oidc_provider_and_read_it_back(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    body = oidc_body(tenant["id"], emailDomains=["Acme-Corp.example.COM"])
    doc = create(any_api, body)
    assert ID.match(doc["id"])
    assert doc["ownerType"] == "TENANT" and doc["ownerId"] == tenant["id"] and doc["type"] == "OIDC"
    assert doc["name"] == body["name"] and doc["displayName"] == "Corporate SSO"
    assert doc["isExternal"] is True and doc["jitProvisioningEnabled"] is True and doc["status"] == "ENABLED"
    assert doc["emailDomains"] == ["acme-corp.example.com"] and doc["roleMappings"] == []
    protocol = doc["protocol"]
    assert "clientSecret" not in protocol and SECRET not in str(doc)
    assert protocol["clientId"] == "cid-1" and protocol["issuer"] == "https://idp.example.com"
    host = f"{tenant['domainName']}-{any_api.vanity}"
    assert protocol["redirectUrl"] == f"https://{host}/sso/{doc['id']}/callback"
    assert protocol["redirectDomainName"] == host
    assert doc["metadata"]["version"] == "1"
    fetched = any_api.call("GET", f"/identity-providers/{doc['id']}")
    assert fetched.status_code == 200 and fetched.json() == doc
    assert SECRET not in fetched.text
    assert stored_secret(any_api, doc["id"]) == SECRET
    assert body["name"] in tenant_provider_names(any_api, tenant["id"])
    events = any_api.call("GET", "/audit-events", params={"query": f'targetId eq "{doc["id"]}"'})
    if events.status_code == 404:  # the audit listing lives under the application
        events = any_api.call(
            "GET",
            f"/applications/{any_api.application_id}/audit-events",
            params={"query": f'targetId eq "{doc["id"]}"'},
        )
    assert events.status_code == 200, events.text
    assert [e["action"] for e in events.json()["items"]] == ["identity_provider.created"]
    assert SECRET not in events.text


def test_create_saml_provider_shows_sp_urls(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    doc = create(any_api, saml_body(tenant["id"], protocol={"allowIdpInitiatedSso": True}))
    protocol = doc["protocol"]
    host = f"{tenant['domainName']}-{any_api.vanity}"
    base = f"https://{host}/sso/{doc['id']}"
    assert protocol["type"] == "SAML2" and protocol["allowIdpInitiatedSso"] is True
    assert protocol["acsUrl"] == f"{base}/acs"
    assert protocol["spEntityId"] == protocol["spMetadataUrl"] == f"{base}/metadata"
    assert protocol["spDomainName"] == host
    assert protocol["idpSigningCerts"][0].startswith("-----BEGIN CERTIFICATE-----")


def test_saml_metadata_xml_fills_the_idp_fields(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    cert = certificate()
    xml = metadata_xml("https://idp.acme.example/entity", "https://idp.acme.example/sso/redirect", cert)
    body = saml_body(tenant["id"])
    body["protocol"] = {"type": "SAML2", "idpMetadataXml": xml}
    doc = create(any_api, body)
    protocol = doc["protocol"]
    assert protocol["idpEntityId"] == "https://idp.acme.example/entity"
    assert protocol["idpSsoUrl"] == "https://idp.acme.example/sso/redirect"
    assert protocol["idpSigningCerts"] == [pem(cert)]
    assert "idpMetadataXml" not in protocol


@pytest.mark.parametrize(
    "xml",
    [
        "<not-metadata/>",
        "this is not xml",
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        metadata_xml("https://idp.example/e", "http://idp.example/not-https", certificate()),
    ],
)
def test_unusable_saml_metadata_is_refused(any_api: Api, xml: str) -> None:
    tenant = any_api.create_tenant()
    body = saml_body(tenant["id"])
    body["protocol"] = {"type": "SAML2", "idpMetadataXml": xml}
    violation = assert_violation(
        any_api.call("POST", "/identity-providers", json=body), "protocol.idpMetadataXml", "invalid_metadata"
    )
    assert violation["constraintAttributes"]["reason"]
    assert body["name"] not in tenant_provider_names(any_api, tenant["id"])


def test_metadata_url_must_be_reachable_https(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    for url, reason in (
        ("http://idp.example.com/metadata", "https"),
        (f"http://127.0.0.1:{closed_port()}/metadata", "reached"),
    ):
        body = saml_body(tenant["id"])
        body["protocol"] = {"type": "SAML2", "idpMetadataUrl": url}
        violation = assert_violation(
            any_api.call("POST", "/identity-providers", json=body), "protocol.idpMetadataUrl", "invalid_metadata"
        )
        assert reason in violation["constraintAttributes"]["reason"]


def test_application_owned_provider(any_api: Api) -> None:
    body = oidc_body(any_api.application_id, ownerType="APPLICATION", name=rand("appidp"))
    doc = create(any_api, body)
    assert doc["ownerType"] == "APPLICATION" and "redirectUrl" not in doc["protocol"]
    listed = any_api.call("GET", f"/applications/{any_api.application_id}/identity-providers", params={"count": "500"})
    assert listed.status_code == 200
    names = {p["name"] for p in listed.json()["items"]}
    assert {"wristband", body["name"]} <= names
    tenant = any_api.create_tenant()
    seen = any_api.call("GET", f"/tenants/{tenant['id']}/identity-providers", params={"count": "500"}).json()
    mine = next(p for p in seen["items"] if p["id"] == doc["id"])
    # Listed for a tenant, an application provider shows that tenant's redirect URL.
    assert mine["protocol"]["redirectDomainName"] == f"{tenant['domainName']}-{any_api.vanity}"


# ------------------------------------------------------------------------------------ upsert/update


def test_upsert_updates_by_owner_and_name_and_keeps_the_secret(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    body = oidc_body(tenant["id"])
    first = create(any_api, body)
    again = {**body, "displayName": "Renamed", "protocol": {**body["protocol"], "clientId": "cid-2"}}
    del again["protocol"]["clientSecret"]
    response = any_api.call("POST", "/identity-providers", params={"upsert": "true"}, json=again)
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["id"] == first["id"] and doc["displayName"] == "Renamed" and doc["protocol"]["clientId"] == "cid-2"
    assert doc["metadata"]["version"] == "2"
    assert stored_secret(any_api, doc["id"]) == SECRET
    duplicate = any_api.call("POST", "/identity-providers", json=again)
    assert_violation(duplicate, "name", "not_unique")
    other_type = {**again, "type": "OKTA"}
    assert_violation(
        any_api.call("POST", "/identity-providers", params={"upsert": "true"}, json=other_type), "type", "immutable"
    )
    # The same name under another owner is another provider.
    other = any_api.create_tenant()
    created = any_api.call(
        "POST", "/identity-providers", params={"upsert": "true"}, json=oidc_body(other["id"], name=body["name"])
    )
    assert created.status_code == 201 and created.json()["id"] != first["id"]


def test_patch_merges_protocol_and_keeps_the_secret(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    doc = create(any_api, oidc_body(tenant["id"]))
    changes = {"displayName": "Patched", "status": "DISABLED", "protocol": {"scopes": ["openid", "email"]}}
    response = any_api.call("PATCH", f"/identity-providers/{doc['id']}", json=changes)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["displayName"] == "Patched" and patched["status"] == "DISABLED"
    assert patched["protocol"]["scopes"] == ["openid", "email"] and patched["protocol"]["clientId"] == "cid-1"
    assert stored_secret(any_api, doc["id"]) == SECRET
    rotated = any_api.call("PATCH", f"/identity-providers/{doc['id']}", json={"protocol": {"clientSecret": "new-one"}})
    assert rotated.status_code == 200 and "new-one" not in rotated.text
    assert stored_secret(any_api, doc["id"]) == "new-one"
    for field, value in (("name", "renamed"), ("type", "SAML2"), ("ownerId", tenant["id"] + "x")):
        assert_violation(
            any_api.call("PATCH", f"/identity-providers/{doc['id']}", json={field: value}), field, "immutable"
        )
    assert_violation(
        any_api.call("PATCH", f"/identity-providers/{doc['id']}", json={"displayName": None}), "displayName", "not_null"
    )
    bad = any_api.call(
        "PATCH", f"/identity-providers/{doc['id']}", json={"protocol": {"issuer": "ftp://x"}, "displayName": "Nope"}
    )
    assert_violation(bad, "protocol.issuer", "invalid_url")
    after = any_api.call("GET", f"/identity-providers/{doc['id']}").json()
    assert after["displayName"] == "Patched" and after["protocol"]["issuer"] == "https://idp.example.com"
    assert after["metadata"]["version"] == "3"


def test_okta_issuer_from_domain_name(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    body = oidc_body(tenant["id"], type="OKTA", domainName="acme.okta.com", name="okta")
    del body["protocol"]["issuer"]
    doc = create(any_api, body)
    assert doc["domainName"] == "acme.okta.com" and doc["protocol"]["issuer"] == "https://acme.okta.com"


# -------------------------------------------------------------------------------------- validation


def _bad_bodies() -> list[tuple[dict[str, Any], str, str | None]]:
    return [
        ({"name": "Bad_Name"}, "name", "invalid_format"),
        ({"name": "a"}, "name", "invalid_format"),
        ({"name": "x" * 61}, "name", "invalid_format"),
        ({"name": "wristband"}, "name", "reserved"),
        ({"name": None}, "name", "required"),
        ({"type": "WRISTBAND"}, "type", "invalid_value"),
        ({"type": "LDAP"}, "type", "invalid_value"),
        ({"ownerType": "USER"}, "ownerType", "invalid_value"),
        ({"ownerId": "k" * 26}, "ownerId", "invalid_value"),
        ({"status": "ON"}, "status", "invalid_value"),
        ({"jitProvisioningEnabled": "yes"}, "jitProvisioningEnabled", "invalid_type"),
        ({"displayName": "d" * 201}, "displayName", "too_long"),
        ({"displayName": "bad\nname"}, "displayName", "invalid_format"),
        ({"emailDomains": ["gmail.com"]}, "emailDomains", "public_email_domain"),
        ({"emailDomains": ["Outlook.com"]}, "emailDomains", "public_email_domain"),
        ({"emailDomains": ["not a domain"]}, "emailDomains", "invalid_format"),
        ({"emailDomains": ["localhost"]}, "emailDomains", "invalid_format"),
        ({"emailDomains": [f"d{i}.example.com" for i in range(21)]}, "emailDomains", "too_many"),
        ({"emailDomains": "example.com"}, "emailDomains", "invalid_type"),
        ({"roleMappings": [{"group": "g", "roleIds": ["k" * 26]}]}, "roleMappings", "invalid_value"),
        ({"roleMappings": [{"group": "", "roleIds": ["k" * 26]}]}, "roleMappings[0].group", "invalid_value"),
        ({"roleMappings": [{"group": "g", "roleIds": []}]}, "roleMappings[0].roleIds", "invalid_value"),
        ({"roleMappings": {"g": "r"}}, "roleMappings", "invalid_type"),
        ({"protocol": {"issuer": "http://idp.example.com"}}, "protocol.issuer", "invalid_url"),
        ({"protocol": {"clientId": None}}, "protocol.clientId", "not_blank"),
        ({"protocol": {"clientSecret": None}}, "protocol.clientSecret", "not_blank"),
        ({"protocol": {"scopes": ["email"]}}, "protocol.scopes", "openid_required"),
        ({"protocol": {"claimMapping": {"salary": "x"}}}, "protocol.claimMapping.salary", "unknown_field"),
        ({"protocol": {"type": "SAML2"}}, "protocol.type", "invalid_value"),
    ]


@pytest.mark.parametrize(("changes", "field", "code"), _bad_bodies())
def test_invalid_provider_is_refused_and_nothing_is_stored(
    any_api: Api, changes: dict[str, Any], field: str, code: str | None
) -> None:
    tenant = any_api.create_tenant()
    body = oidc_body(tenant["id"])
    for key, value in changes.items():
        if key == "protocol":
            body["protocol"] = {k: v for k, v in {**body["protocol"], **value}.items() if v is not None}
        else:
            body[key] = value
    assert_violation(any_api.call("POST", "/identity-providers", json=body), field, code)
    assert tenant_provider_names(any_api, tenant["id"]) == {"wristband"} | _app_names(any_api)


def _app_names(api: Api) -> set[str]:
    listed = api.call("GET", f"/applications/{api.application_id}/identity-providers", params={"count": "500"})
    return {p["name"] for p in listed.json()["items"]}


def test_missing_protocol_and_saml_certificates(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    body = oidc_body(tenant["id"])
    del body["protocol"]
    assert_violation(any_api.call("POST", "/identity-providers", json=body), "protocol", "required")
    saml = saml_body(tenant["id"])
    saml["protocol"]["idpSigningCerts"] = []
    assert_violation(any_api.call("POST", "/identity-providers", json=saml), "protocol.idpSigningCerts", "not_empty")
    saml["protocol"]["idpSigningCerts"] = ["not a certificate"]
    assert_violation(any_api.call("POST", "/identity-providers", json=saml), "protocol.idpSigningCerts")
    assert tenant_provider_names(any_api, tenant["id"]) == {"wristband"} | _app_names(any_api)


def test_every_violation_comes_back_at_once(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    body = oidc_body(tenant["id"], name="Bad Name", status="ON", emailDomains=["gmail.com"])
    body["protocol"]["issuer"] = "nope"
    response = any_api.call("POST", "/identity-providers", json=body)
    assert response.status_code == 400
    assert {"name", "status", "emailDomains", "protocol.issuer"} <= set(response.json()["violations"])


def test_an_email_domain_belongs_to_one_provider(any_api: Api) -> None:
    domain = f"{rand('corp')}.example.com"
    first, second = any_api.create_tenant(), any_api.create_tenant()
    create(any_api, oidc_body(first["id"], emailDomains=[domain]))
    body = oidc_body(second["id"], emailDomains=["other.example.org", domain.upper()])
    assert_violation(any_api.call("POST", "/identity-providers", json=body), "emailDomains", "not_unique")
    assert body["name"] not in tenant_provider_names(any_api, second["id"])
    # The domain is free again once its provider lets it go.
    mine = create(any_api, oidc_body(second["id"]))
    taken = any_api.call("PATCH", f"/identity-providers/{mine['id']}", json={"emailDomains": [domain]})
    assert_violation(taken, "emailDomains", "not_unique")
    assert any_api.call("GET", f"/identity-providers/{mine['id']}").json()["emailDomains"] == []


def test_role_mappings(any_api: Api) -> None:
    tenant, other = any_api.create_tenant(), any_api.create_tenant()
    own = create_role(any_api, tenant["id"], ["user:read"])
    foreign = create_role(any_api, other["id"], ["user:read"])
    mappings = [{"group": "engineers", "roleIds": [own["id"]]}]
    doc = create(any_api, oidc_body(tenant["id"], roleMappings=mappings))
    assert doc["roleMappings"] == mappings
    refused = oidc_body(tenant["id"], roleMappings=[{"group": "x", "roleIds": [foreign["id"]]}])
    assert_violation(any_api.call("POST", "/identity-providers", json=refused), "roleMappings", "invalid_value")
    duplicate = oidc_body(tenant["id"], roleMappings=[mappings[0], mappings[0]])
    assert_violation(any_api.call("POST", "/identity-providers", json=duplicate), "roleMappings[1].group", "not_unique")
    # An application provider maps groups to application roles only.
    app_body = oidc_body(any_api.application_id, ownerType="APPLICATION", roleMappings=mappings)
    assert_violation(any_api.call("POST", "/identity-providers", json=app_body), "roleMappings", "invalid_value")


# ------------------------------------------------------------------------------------------ delete


def test_delete(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    doc = create(any_api, oidc_body(tenant["id"]))
    response = any_api.call("DELETE", f"/identity-providers/{doc['id']}")
    assert response.status_code == 204 and response.content == b""
    assert_base_error(any_api.call("GET", f"/identity-providers/{doc['id']}"), 404, "identity_provider_not_found")
    assert_base_error(any_api.call("DELETE", f"/identity-providers/{doc['id']}"), 404, "identity_provider_not_found")


def test_built_in_provider_cannot_be_deleted_or_edited(any_api: Api) -> None:
    listed = any_api.call("GET", f"/applications/{any_api.application_id}/identity-providers", params={"count": "500"})
    built_in = next(p for p in listed.json()["items"] if p["name"] == "wristband")
    assert built_in["type"] == "WRISTBAND" and built_in["isExternal"] is False
    assert_base_error(
        any_api.call("DELETE", f"/identity-providers/{built_in['id']}"), 400, "identity_provider_not_deletable"
    )
    assert_base_error(
        any_api.call("PATCH", f"/identity-providers/{built_in['id']}", json={"displayName": "x"}),
        400,
        "identity_provider_not_editable",
    )


def test_provider_with_users_cannot_be_deleted(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    doc = create(any_api, oidc_body(tenant["id"]))
    any_api.create_user(tenant["id"], identityProviderName=doc["name"], externalId=rand("sub"))
    assert_base_error(any_api.call("DELETE", f"/identity-providers/{doc['id']}"), 400, "identity_provider_in_use")
    assert any_api.call("GET", f"/identity-providers/{doc['id']}").status_code == 200


# ------------------------------------------------------------------------------------- permissions


def test_client_without_manage_permission_is_refused(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    doc = create(any_api, oidc_body(tenant["id"]))
    reader = token_with_permissions(any_api, tenant["id"], ["identity-provider:read"])
    assert any_api.call("GET", f"/identity-providers/{doc['id']}", token=reader).status_code == 200
    assert any_api.call("GET", f"/tenants/{tenant['id']}/identity-providers", token=reader).status_code == 200
    body = oidc_body(tenant["id"])
    assert_base_error(any_api.call("POST", "/identity-providers", token=reader, json=body), 403, "forbidden")
    assert_base_error(
        any_api.call("PATCH", f"/identity-providers/{doc['id']}", token=reader, json={"displayName": "x"}), 403
    )
    assert_base_error(any_api.call("DELETE", f"/identity-providers/{doc['id']}", token=reader), 403)
    toggle = {"ownerType": "TENANT", "ownerId": tenant["id"], "status": "ENABLED"}
    assert_base_error(any_api.call("POST", "/identity-provider-override-toggles", token=reader, json=toggle), 403)
    nothing = token_with_permissions(any_api, tenant["id"], ["user:read"])
    assert_denied(any_api.call("GET", f"/identity-providers/{doc['id']}", token=nothing))
    assert_denied(any_api.call("GET", f"/tenants/{tenant['id']}/identity-providers", token=nothing))
    assert body["name"] not in tenant_provider_names(any_api, tenant["id"])


def test_tenant_admin_manages_only_their_tenant(any_api: Api) -> None:
    token, own, _ = user_token(any_api, "tenant-admin")
    other = any_api.create_tenant()
    foreign = create(any_api, oidc_body(other["id"]))
    mine = create(any_api, oidc_body(own["id"]), token=token)
    assert mine["ownerId"] == own["id"]
    assert (
        any_api.call("PATCH", f"/identity-providers/{mine['id']}", token=token, json={"displayName": "Ok"}).status_code
        == 200
    )
    body = oidc_body(other["id"])
    assert_denied(any_api.call("POST", "/identity-providers", token=token, json=body))
    assert_denied(
        any_api.call(
            "POST", "/identity-providers", token=token, json=oidc_body(any_api.application_id, ownerType="APPLICATION")
        )
    )
    assert_denied(any_api.call("GET", f"/identity-providers/{foreign['id']}", token=token))
    assert_denied(any_api.call("PATCH", f"/identity-providers/{foreign['id']}", token=token, json={"displayName": "x"}))
    assert_denied(any_api.call("DELETE", f"/identity-providers/{foreign['id']}", token=token))
    assert_denied(any_api.call("GET", f"/tenants/{other['id']}/identity-providers", token=token))
    resolve = f"/tenants/{other['id']}/identity-providers/resolve-overrides"
    assert_denied(any_api.call("POST", resolve, token=token, params={"types": "OIDC"}))
    assert_denied(
        any_api.call(
            "POST",
            f"/tenants/{other['id']}/identity-providers/test-connection",
            token=token,
            json={"identityProviderId": foreign["id"]},
        )
    )
    assert body["name"] not in tenant_provider_names(any_api, other["id"])
    after = any_api.call("GET", f"/identity-providers/{foreign['id']}").json()
    assert after["displayName"] == foreign["displayName"]


def test_tenant_admin_cannot_map_groups_to_roles_beyond_their_reach(any_api: Api) -> None:
    token, own, _ = user_token(any_api, "tenant-admin")
    admin_role = app_role_id(any_api, "admin-client")
    body = oidc_body(own["id"], roleMappings=[{"group": "everyone", "roleIds": [admin_role]}])
    assert_base_error(any_api.call("POST", "/identity-providers", token=token, json=body), 403, "forbidden")
    assert body["name"] not in tenant_provider_names(any_api, own["id"])


# ---------------------------------------------------------------------------- overrides and checks


def test_resolve_overrides_follows_the_tenant_toggle(any_api: Api) -> None:
    app_okta = create(
        any_api, oidc_body(any_api.application_id, ownerType="APPLICATION", type="OKTA", name=rand("okta"))
    )
    tenant = any_api.create_tenant()
    own_okta = create(any_api, oidc_body(tenant["id"], type="OKTA", name=app_okta["name"]))
    path = f"/tenants/{tenant['id']}/identity-providers/resolve-overrides"

    def resolved(**params: str) -> list[tuple[str, bool]]:
        response = any_api.call("POST", path, params=params)
        assert response.status_code == 200, response.text
        return [(i["item"]["id"], i["isDefault"]) for i in response.json()["items"]]

    assert (app_okta["id"], True) in resolved(types="OKTA")
    assert own_okta["id"] not in {i for i, _ in resolved(types="OKTA")}
    # Without an application provider of the type, the tenant's own is used, toggle or not.
    own_saml = create(any_api, saml_body(tenant["id"]))
    assert resolved(types="SAML2") == [(own_saml["id"], False)]
    toggle = {"ownerType": "TENANT", "ownerId": tenant["id"], "status": "ENABLED"}
    first = any_api.call("POST", "/identity-provider-override-toggles", params={"upsert": "true"}, json=toggle)
    assert first.status_code == 201 and first.json() == toggle
    again = any_api.call("POST", "/identity-provider-override-toggles", params={"upsert": "true"}, json=toggle)
    assert again.status_code == 200
    assert_violation(any_api.call("POST", "/identity-provider-override-toggles", json=toggle), "ownerId", "not_unique")
    assert resolved(types="OKTA") == [(own_okta["id"], False)]
    assert resolved(names=app_okta["name"]) == [(own_okta["id"], False)]
    item = any_api.call("POST", path, params={"types": "OKTA"}).json()["items"][0]["item"]
    assert "clientSecret" not in item["protocol"] and item["protocol"]["redirectUrl"].endswith("/callback")
    wristband = resolved(types="WRISTBAND")
    assert len(wristband) == 1 and wristband[0][1] is True
    assert_base_error(any_api.call("POST", path, params={"types": "LDAP"}), 400, "invalid_request")
    assert_base_error(any_api.call("POST", path), 400, "invalid_request")
    assert_violation(
        any_api.call("POST", "/identity-provider-override-toggles", json={**toggle, "status": "MAYBE"}), "status"
    )
    assert_base_error(
        any_api.call("POST", "/identity-provider-override-toggles", json={**toggle, "ownerId": "k" * 26}),
        404,
        "tenant_not_found",
    )


def test_resolve_redirect_urls(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    oidc = create(any_api, oidc_body(tenant["id"], type="AZURE_AD", name="entra"))
    saml = create(any_api, saml_body(tenant["id"]))
    any_api.call(
        "POST",
        "/identity-provider-override-toggles",
        params={"upsert": "true"},
        json={"ownerType": "TENANT", "ownerId": tenant["id"], "status": "ENABLED"},
    )
    body = {"identityProviderTypes": ["AZURE_AD", "SAML2", "GOOGLE_WORKSPACE"]}
    response = any_api.call("POST", f"/tenants/{tenant['id']}/identity-providers/resolve-redirect-urls", json=body)
    assert response.status_code == 200, response.text
    items = {i["identityProviderType"]: i["redirectUrls"] for i in response.json()["items"]}
    host = f"{tenant['domainName']}-{any_api.vanity}"
    assert items["AZURE_AD"] == [
        {"protocolType": "OIDC", "redirectUrl": f"https://{host}/sso/{oidc['id']}/callback", "redirectDomainName": host}
    ]
    assert items["SAML2"] == [
        {"protocolType": "SAML2", "redirectUrl": f"https://{host}/sso/{saml['id']}/acs", "redirectDomainName": host}
    ]
    assert items["GOOGLE_WORKSPACE"] == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_of_saml_and_unreachable_oidc(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    path = f"/tenants/{tenant['id']}/identity-providers/test-connection"
    good = create(any_api, saml_body(tenant["id"]))
    response = any_api.call("POST", path, json={"identityProviderId": good["id"]})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["ok"] is True and report["protocolType"] == "SAML2" and report["identityProviderId"] == good["id"]
    assert {c["name"] for c in report["checks"]} == {"entityId", "ssoUrl", "certificate[0]"}
    expired = create(any_api, saml_body(tenant["id"], protocol={"idpSigningCerts": [pem(certificate(days=-5))]}))
    report = any_api.call("POST", path, json={"identityProviderId": expired["id"]}).json()
    assert report["ok"] is False
    assert next(c for c in report["checks"] if c["name"] == "certificate[0]")["reason"] == "expired"
    unreachable = f"http://127.0.0.1:{closed_port()}"
    oidc = create(any_api, oidc_body(tenant["id"], protocol={"issuer": unreachable}))
    report = any_api.call("POST", path, json={"identityProviderId": oidc["id"]}).json()
    assert report["ok"] is False and report["protocolType"] == "OIDC"
    assert report["checks"] == [
        {"name": "discovery", "ok": False, "reason": "discovery endpoint unreachable", "issuer": unreachable}
    ]
    by_type = any_api.call("POST", path, json={"identityProviderType": "GOOGLE_WORKSPACE"})
    assert_base_error(by_type, 404, "identity_provider_not_found")
    assert_base_error(any_api.call("POST", path, json={}), 400, "invalid_request")


def test_tenant_listing_envelope_filter_and_fields(any_api: Api) -> None:
    tenant = any_api.create_tenant()
    made = [create(any_api, oidc_body(tenant["id"], name=f"p{i}-{rand('x')}")) for i in range(3)]
    any_api.call("PATCH", f"/identity-providers/{made[0]['id']}", json={"status": "DISABLED"})
    path = f"/tenants/{tenant['id']}/identity-providers"
    page = any_api.call("GET", path, params={"query": 'ownerType eq "TENANT"', "sort_by": "name:desc", "count": "2"})
    assert page.status_code == 200, page.text
    body = page.json()
    assert set(body) == {"totalResults", "startIndex", "itemsPerPage", "items"}
    assert body["totalResults"] == 3 and body["itemsPerPage"] == 2
    assert [p["name"] for p in body["items"]] == sorted((m["name"] for m in made), reverse=True)[:2]
    disabled = any_api.call("GET", path, params={"query": 'status eq "DISABLED"', "fields": "id,name"}).json()
    assert disabled["items"] == [{"id": made[0]["id"], "name": made[0]["name"]}]
    assert_base_error(any_api.call("GET", path, params={"query": 'secret eq "x"'}), 400, "invalid_request")
    assert_base_error(any_api.call("GET", f"/tenants/{'k' * 26}/identity-providers"), 404, "tenant_not_found")


def test_connection_to_a_real_oidc_provider(api: Api, oidc_idp: Any) -> None:
    """oidc-provider from npm: discovery (with its issuer check) and the JWKS are fetched."""
    tenant = api.create_tenant()
    doc = create(api, oidc_body(tenant["id"], protocol={"issuer": oidc_idp.issuer}))
    path = f"/tenants/{tenant['id']}/identity-providers/test-connection"
    # By id: other tests of this shared application may add application-level OIDC providers,
    # which a lookup by type could resolve to instead.
    report = api.call("POST", path, json={"identityProviderId": doc["id"]})
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["ok"] is True and body["identityProviderId"] == doc["id"], body
    checks = {c["name"]: c for c in body["checks"]}
    assert checks["discovery"]["issuer"] == oidc_idp.issuer
    assert checks["jwks"]["ok"] is True and checks["jwks"]["keys"] >= 1
    # The same issuer with a path the provider does not serve: discovery fails, nothing else is tried.
    wrong = create(api, oidc_body(tenant["id"], protocol={"issuer": oidc_idp.issuer + "/elsewhere"}))
    body = api.call("POST", path, json={"identityProviderId": wrong["id"]}).json()
    assert body["ok"] is False and [c["name"] for c in body["checks"]] == ["discovery"]


def test_saml_metadata_fetched_from_its_url(api: Api) -> None:
    """The metadata URL alone is enough: the document is fetched (loopback http here) and read."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cert = certificate()
    document = metadata_xml("https://idp.fetched.example/entity", "https://idp.fetched.example/sso", cert).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = document if self.path == "/metadata" else b"x" * (1024 * 1024 + 10)
            self.send_response(200)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        tenant = api.create_tenant()
        url = f"http://127.0.0.1:{server.server_address[1]}/metadata"
        body = saml_body(tenant["id"])
        body["protocol"] = {"type": "SAML2", "idpMetadataUrl": url}
        doc = create(api, body)
        assert doc["protocol"]["idpEntityId"] == "https://idp.fetched.example/entity"
        assert doc["protocol"]["idpMetadataUrl"] == url and doc["protocol"]["idpSigningCerts"] == [pem(cert)]
        too_big = saml_body(tenant["id"])
        too_big["protocol"] = {"type": "SAML2", "idpMetadataUrl": url.replace("/metadata", "/huge")}
        violation = assert_violation(api.call("POST", "/identity-providers", json=too_big), "protocol.idpMetadataUrl")
        assert "1 MB" in violation["constraintAttributes"]["reason"]
    finally:
        server.shutdown()
        server.server_close()
