"""The dashboard's identity-provider pages over HTTP: listing, creating OIDC and SAML providers by
form (metadata XML pasted), editing without losing the client secret, test connection, delete,
the override toggle, tenant-administrator isolation and CSRF."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.e2e.test_dashboard import Admin
from tests.e2e.test_identity_providers_api import (
    SECRET,
    certificate,
    create,
    metadata_xml,
    oidc_body,
    pem,
    stored_secret,
)
from tests.support import Api, rand

BASE = "/dashboard/identity-providers"


@pytest.fixture
def app_admin(api: Api) -> Admin:
    admin = Admin(api)
    assert admin.sign_in().status_code == 303
    return admin


def provider_id_from(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text[:2000]
    match = re.match(rf"{BASE}/([a-z2-7]{{26}})\?done=", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def oidc_form(tenant_id: str, name: str, **extra: str) -> list[tuple[str, str]]:
    fields = {
        "kind": "oidc",
        "tenant": tenant_id,
        "type": "OIDC",
        "name": name,
        "displayName": "Acme SSO",
        "status": "ENABLED",
        "jit": "on",
        "emailDomains": f"{name}.example.com",
        "issuer": "https://login.acme.example",
        "clientId": "dash-client",
        "clientSecret": SECRET,
        "scopes": "openid email profile",
        "mappingRows": "1",
        "group.0": "",
        **extra,
    }
    return list(fields.items())


def stored(api: Api, provider_id: str) -> Any:
    with api.services.core.uow(api.application_id) as uow:
        return uow.identity_providers.get(provider_id)


def test_list_page_renders_for_the_application_and_a_tenant(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    doc = create(api, oidc_body(tenant["id"], displayName="Listed SSO"))
    page = app_admin.get(BASE)
    assert page.status_code == 200 and "Built-in sign-in" in page.text and "Add SAML 2.0 provider" in page.text
    listed = app_admin.get(BASE, tenant=tenant["id"])
    assert listed.status_code == 200
    assert f"{BASE}/{doc['id']}" in listed.text and "Listed SSO" in listed.text and "Tenant override" in listed.text
    edit = app_admin.get(f"{BASE}/{doc['id']}")
    assert edit.status_code == 200
    assert f"/sso/{doc['id']}/callback" in edit.text and SECRET not in edit.text
    assert "leave blank to keep it" in edit.text


def test_create_oidc_by_form_and_edit_keeps_the_secret(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    role = api.call("GET", f"/tenants/{tenant['id']}/roles", params={"include_application_roles": "true"}).json()
    viewer = next(r["id"] for r in role["items"] if r["sku"] == "tenant-viewer" or r["sku"] == "user")
    name = rand("dash")
    form = oidc_form(tenant["id"], name, **{"mappingRows": "1", "group.0": "engineering"})
    form.append(("roles.0", viewer))
    provider_id = provider_id_from(app_admin.post(f"{BASE}/new", form))
    provider = stored(api, provider_id)
    assert provider.name == name and provider.tenant_id == tenant["id"] and provider.jit_provisioning_enabled
    assert provider.email_domains == (f"{name}.example.com",)
    assert provider.protocol["clientSecret"] == SECRET and provider.protocol["issuer"] == "https://login.acme.example"
    assert [(m.group, m.role_ids) for m in provider.role_mappings] == [("engineering", (viewer,))]
    page = app_admin.get(f"{BASE}/{provider_id}")
    assert page.status_code == 200 and SECRET not in page.text and "engineering" in page.text
    edit = [(k, v) for k, v in oidc_form(tenant["id"], name) if k not in ("clientSecret", "name", "tenant", "type")]
    edit = [(k, "Renamed SSO" if k == "displayName" else v) for k, v in edit] + [("clientSecret", "")]
    saved = app_admin.post(f"{BASE}/{provider_id}", edit)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    after = stored(api, provider_id)
    assert after.display_name == "Renamed SSO" and after.protocol["clientSecret"] == SECRET
    assert after.role_mappings == ()
    assert stored_secret(api, provider_id) == SECRET


def test_create_saml_by_pasting_metadata(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    cert = certificate()
    xml = metadata_xml("https://idp.dash.example/entity", "https://idp.dash.example/sso", cert)
    fields = {
        "kind": "saml",
        "tenant": tenant["id"],
        "type": "SAML2",
        "name": rand("saml"),
        "displayName": "Dash SAML",
        "status": "ENABLED",
        "idpMetadataXml": xml,
        "wantAssertionsSigned": "on",
        "map.email": "mail",
        "mappingRows": "0",
    }
    provider_id = provider_id_from(app_admin.post(f"{BASE}/new", fields))
    provider = stored(api, provider_id)
    assert provider.protocol["idpEntityId"] == "https://idp.dash.example/entity"
    assert provider.protocol["idpSigningCerts"] == [pem(cert)]
    assert provider.protocol["attributeMapping"]["email"] == "mail"
    assert provider.protocol.get("allowIdpInitiatedSso") is False
    page = app_admin.get(f"{BASE}/{provider_id}")
    assert f"/sso/{provider_id}/acs" in page.text and f"/sso/{provider_id}/metadata" in page.text
    tested = app_admin.post(f"{BASE}/{provider_id}/test", {})
    assert tested.status_code == 200 and "Connection works." in tested.text
    bad = {**fields, "name": rand("saml"), "idpMetadataXml": "<nope/>"}
    refused = app_admin.post(f"{BASE}/new", bad)
    assert refused.status_code == 400 and "invalid metadata" in refused.text
    names = {p["name"] for p in api.call("GET", f"/tenants/{tenant['id']}/identity-providers").json()["items"]}
    assert bad["name"] not in names


def test_invalid_form_shows_errors_and_stores_nothing(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    name = rand("bad")
    response = app_admin.post(f"{BASE}/new", oidc_form(tenant["id"], name, emailDomains="gmail.com", issuer="ftp://x"))
    assert response.status_code == 400
    assert "emailDomains: public email domain" in response.text and "protocol.issuer" in response.text
    assert 'value="ftp://x"' in response.text  # what was typed is kept
    names = {p["name"] for p in api.call("GET", f"/tenants/{tenant['id']}/identity-providers").json()["items"]}
    assert name not in names


def test_delete_with_confirmation_and_the_override_toggle(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    doc = create(api, oidc_body(tenant["id"]))
    assert app_admin.get(f"{BASE}/{doc['id']}/delete").status_code == 200
    wrong = app_admin.post(f"{BASE}/{doc['id']}/delete", {"confirm": "something else"})
    assert wrong.status_code == 400 and stored(api, doc["id"]) is not None
    gone = app_admin.post(f"{BASE}/{doc['id']}/delete", {"confirm": doc["name"]})
    assert gone.status_code == 303 and stored(api, doc["id"]) is None
    assert app_admin.get(f"{BASE}/{doc['id']}").status_code == 404
    toggled = app_admin.post(f"{BASE}/override-toggle", {"tenant": tenant["id"], "status": "ENABLED"})
    assert toggled.status_code == 303
    page = app_admin.get(BASE, tenant=tenant["id"])
    assert 'id="idp-toggle-status">on<' in page.text


def test_tenant_admin_sees_only_their_tenant(api: Api) -> None:
    own, other = api.create_tenant(), api.create_tenant()
    admin = Admin(api, own["id"])
    assert admin.sign_in().status_code == 303
    foreign = create(api, oidc_body(other["id"], displayName="Foreign SSO"))
    mine = create(api, oidc_body(own["id"], displayName="My SSO"))
    page = admin.get(BASE, tenant=other["id"])  # the parameter is ignored: always their own tenant
    assert page.status_code == 200 and "My SSO" in page.text and "Foreign SSO" not in page.text
    assert admin.get(f"{BASE}/{mine['id']}").status_code == 200
    for path in (f"{BASE}/{foreign['id']}", f"{BASE}/{foreign['id']}/delete"):
        assert admin.get(path).status_code == 404
    assert admin.post(f"{BASE}/{foreign['id']}", oidc_form(other["id"], foreign["name"])).status_code == 404
    assert admin.post(f"{BASE}/{foreign['id']}/delete", {"confirm": foreign["name"]}).status_code == 404
    assert admin.post(f"{BASE}/{foreign['id']}/test", {}).status_code == 404
    assert stored(api, foreign["id"]).display_name == "Foreign SSO"
    # Creating "for" another tenant lands in their own tenant (the form's tenant is ignored).
    provider_id = provider_id_from(admin.post(f"{BASE}/new", oidc_form(other["id"], rand("own"))))
    assert stored(api, provider_id).tenant_id == own["id"]
    assert admin.post(f"{BASE}/override-toggle", {"tenant": other["id"], "status": "ENABLED"}).status_code == 303
    with api.services.core.uow(api.application_id) as uow:
        assert uow.identity_providers.override_toggle(other["id"]) is None
        assert uow.identity_providers.override_toggle(own["id"]) is not None


def test_forms_refuse_a_missing_or_wrong_csrf_token(api: Api, app_admin: Admin) -> None:
    tenant = api.create_tenant()
    name = rand("csrf")
    body = dict(oidc_form(tenant["id"], name))
    missing = app_admin.client.post(f"{BASE}/new", data=body)
    wrong = app_admin.client.post(f"{BASE}/new", data={**body, "csrf_token": "x" * 40})
    assert missing.status_code == wrong.status_code == 403
    doc = create(api, oidc_body(tenant["id"]))
    assert app_admin.client.post(f"{BASE}/{doc['id']}/delete", data={"confirm": doc["name"]}).status_code == 403
    assert stored(api, doc["id"]) is not None
    names = {p["name"] for p in api.call("GET", f"/tenants/{tenant['id']}/identity-providers").json()["items"]}
    assert name not in names


def test_the_provider_page_issues_replaces_and_revokes_the_directory_token(api: Api) -> None:
    """A tenant administrator connects the tenant's directory (SCIM) from the provider's page."""
    tenant = api.create_tenant()
    admin = Admin(api, tenant["id"])
    assert admin.sign_in().status_code == 303
    provider = create(api, oidc_body(tenant["id"]))
    page = admin.get(f"{BASE}/{provider['id']}")
    base_url = f"https://{tenant['domainName']}-{api.vanity}/scim/v2"
    assert page.status_code == 200 and base_url in page.text and "No token yet" in page.text
    assert 'id="scim-revoke"' not in page.text

    issued = admin.post(f"{BASE}/{provider['id']}/directory-token", {})
    assert issued.status_code == 200, issued.text[:2000]
    token = re.search(r'id="scim-token"[^>]*>(tdt_[^<]+)<', issued.text)
    assert token, issued.text[:3000]
    scim = api.client.get(
        f"{base_url}/Users",
        headers={"Authorization": f"Bearer {token.group(1)}", "Host": f"{tenant['domainName']}-{api.vanity}"},
    )
    assert scim.status_code == 200, scim.text
    again = admin.get(f"{BASE}/{provider['id']}")
    assert "A token was issued on" in again.text and token.group(1) not in again.text

    revoked = admin.post(f"{BASE}/{provider['id']}/directory-token/revoke", {})
    assert revoked.status_code == 303 and revoked.headers["location"].endswith("?done=revoked")
    refused = api.client.get(
        f"{base_url}/Users",
        headers={"Authorization": f"Bearer {token.group(1)}", "Host": f"{tenant['domainName']}-{api.vanity}"},
    )
    assert refused.status_code == 401
    assert "No token yet" in admin.get(f"{BASE}/{provider['id']}").text
    # Without the CSRF token nothing is issued; another tenant's administrator gets nothing.
    assert admin.client.post(f"{BASE}/{provider['id']}/directory-token", data={}).status_code == 403
    outsider = Admin(api, api.create_tenant()["id"])
    assert outsider.sign_in().status_code == 303
    assert outsider.post(f"{BASE}/{provider['id']}/directory-token", {}).status_code == 404
    with api.services.core.uow(api.application_id) as uow:
        assert uow.directory_tokens.issued_at(tenant["id"], provider["id"]) is None
