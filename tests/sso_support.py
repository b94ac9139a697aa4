"""Real identity providers for the enterprise SSO tests, and the browser's part at them.

- ``oidc-provider`` (panva, OpenID Certified) and ``saml-idp`` (mcguinness) from npm, installed in
  ``tests/idp`` by ``scripts/node-deps.sh``, run as subprocesses on loopback ports;
- :func:`oidc_sign_in` / :func:`saml_sign_in` play a user at their login pages with a plain
  httpx client and hand back what the IdP sends the browser back to Tenantry with;
- :func:`add_provider` configures an external provider of a tenant through the management API.

Processes run in their own session and are stopped by PID; their output goes to a log file whose
tail is shown when one fails to start.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support import Api, rand

IDP_DIR = Path(__file__).resolve().parent / "idp"
STARTUP_SECONDS = 30.0
SAML_CONFIG = IDP_DIR / "saml-config.cjs"
SAML_IDP_SCRIPT = IDP_DIR / "node_modules" / "saml-idp" / "bin" / "run.js"
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (IDP_DIR / "node_modules").is_dir():
        raise RuntimeError("Node.js and tests/idp/node_modules are needed: run ./scripts/node-deps.sh")
    return node


@dataclass
class NodeServer:
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else "(no log)"


def start_node(args: Sequence[str], ready_url: str, log: Path, env: Mapping[str, str] | None = None) -> NodeServer:
    """``node args…`` in tests/idp, once ``ready_url`` answers 200."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [_node(), *args],
            cwd=IDP_DIR,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=sink,
            start_new_session=True,
        )
    server = NodeServer(process, log)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node {' '.join(args)} exited with {process.returncode}:\n{server.output()}")
        try:
            if httpx.get(ready_url, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    server.stop()
    raise TimeoutError(f"node {' '.join(args)} did not answer {ready_url}:\n{server.output()}")


# --- oidc-provider ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OidcClient:
    client_id: str
    client_secret: str
    registration_uri: str
    registration_token: str


def _client_metadata(redirect_uris: Sequence[str]) -> dict[str, Any]:
    return {
        "redirect_uris": list(redirect_uris),
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "client_secret_basic",
    }


@dataclass
class OidcIdp:
    """oidc-provider on ``issuer``. Its users are read from ``users_file`` at every lookup, so
    :meth:`set_user` changes what the next login asserts."""

    issuer: str
    users_file: Path
    server: NodeServer

    def users(self) -> dict[str, dict[str, Any]]:
        data: dict[str, dict[str, Any]] = json.loads(self.users_file.read_text())
        return data

    def set_user(self, account: str, **claims: Any) -> None:
        users = self.users()
        users[account] = claims
        temporary = self.users_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(users))
        temporary.replace(self.users_file)

    def register_client(self, redirect_uris: Sequence[str] = ("https://rp.invalid/callback",)) -> OidcClient:
        """A relying party registered at the IdP (OpenID Connect Dynamic Client Registration)."""
        response = httpx.post(f"{self.issuer}/reg", json=_client_metadata(redirect_uris), timeout=10)
        assert response.status_code == 201, response.text
        doc = response.json()
        return OidcClient(
            doc["client_id"], doc["client_secret"], doc["registration_client_uri"], doc["registration_access_token"]
        )

    def set_redirect_uris(self, client: OidcClient, redirect_uris: Sequence[str]) -> None:
        """RFC 7592 client update: Tenantry's redirect URI names the provider id, known only once
        the provider exists (which needs the client's credentials)."""
        body = {**_client_metadata(redirect_uris), "client_id": client.client_id, "client_secret": client.client_secret}
        response = httpx.put(
            client.registration_uri,
            json=body,
            headers={"Authorization": f"Bearer {client.registration_token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def protocol(self, client: OidcClient, **extra: Any) -> dict[str, Any]:
        """Tenantry's ``protocol`` object for this IdP."""
        return {
            "type": "OIDC",
            "issuer": self.issuer,
            "clientId": client.client_id,
            "clientSecret": client.client_secret,
            "scopes": ["openid", "email", "profile", "groups"],
            **extra,
        }


def start_oidc_idp(folder: Path) -> OidcIdp:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    users_file = folder / "oidc-users.json"
    users_file.write_text("{}")
    server = start_node(
        ["oidc.mjs"],
        f"{issuer}/.well-known/openid-configuration",
        folder / "oidc-provider.log",
        {"PORT": str(port), "ISSUER": issuer, "USERS_FILE": str(users_file)},
    )
    return OidcIdp(issuer, users_file, server)


def _form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The first form of ``page``: its absolute action URL and its named input values."""
    match = re.search(r"<form[^>]*action=[\"']([^\"']+)[\"']", page.text)
    assert match, f"no form at {page.url}: {page.text[:1000]}"
    fields = {
        name: html.unescape(value)
        for name, _, value in re.findall(r"<input[^>]*name=[\"']([^\"']+)[\"'][^>]*value=([\"'])(.*?)\2", page.text)
    }
    return urljoin(str(page.url), html.unescape(match.group(1))), fields


def oidc_sign_in(idp_browser: httpx.Client, authorize_url: str, account: str) -> str:
    """``account`` signs in at oidc-provider's login page and consents: the URL the IdP sends the
    browser back to (the relying party's redirect URI with ``code`` / ``error`` and ``state``)."""
    issuer_origin = re.match(r"https?://[^/]+", authorize_url)
    assert issuer_origin
    response = idp_browser.get(authorize_url)
    for _ in range(20):
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if not location.startswith(issuer_origin.group(0)):
                return location
            response = idp_browser.get(location)
        assert response.status_code == 200, f"{response.url}: {response.status_code} {response.text[:1000]}"
        action, fields = _form(response)
        if 'name="login"' in response.text:
            fields |= {"login": account, "password": "any password: the dev pages check none"}
        response = idp_browser.post(action, data=fields)
    raise AssertionError("oidc-provider did not send the browser back")


# --- saml-idp --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKeys:
    key_path: Path
    cert_path: Path
    key_pem: str
    cert_pem: str


def make_signing_keys(folder: Path, name: str = "test-saml-idp") -> SigningKeys:
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_path, cert_path = folder / f"{name}-key.pem", folder / f"{name}-cert.pem"
    key_path.write_text(key_pem)
    cert_path.write_text(cert_pem)
    return SigningKeys(key_path, cert_path, key_pem, cert_pem)


@dataclass
class SamlIdp:
    """One saml-idp process: its audience (the SP entity id) is fixed when it starts, so there is
    one per Tenantry provider. :meth:`start` runs it once the provider exists."""

    folder: Path
    port: int
    entity_id: str
    keys: SigningKeys
    server: NodeServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/saml/sso"

    def protocol(self, **extra: Any) -> dict[str, Any]:
        """Tenantry's ``protocol`` object for this IdP."""
        return {
            "type": "SAML2",
            "idpEntityId": self.entity_id,
            "idpSsoUrl": self.sso_url,
            "idpSigningCerts": [self.keys.cert_pem],
            **extra,
        }

    def start(self, sp_entity_id: str, acs_url: str) -> None:
        args = [
            str(SAML_IDP_SCRIPT),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--issuer",
            self.entity_id,
            "--cert",
            str(self.keys.cert_path),
            "--key",
            str(self.keys.key_path),
            "--acsUrl",
            acs_url,
            "--audience",
            sp_entity_id,
            "--configFile",
            str(SAML_CONFIG),
        ]
        self.server = start_node(args, f"{self.base_url}/metadata", self.folder / f"saml-idp-{self.port}.log")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def new_saml_idp(folder: Path) -> SamlIdp:
    """A saml-idp with its own port, entity id and signing keys; not started yet."""
    folder.mkdir(parents=True, exist_ok=True)
    return SamlIdp(folder, free_port(), f"urn:test:idp:{rand('saml')}", make_signing_keys(folder, rand("idp")))


@dataclass(frozen=True)
class SamlPost:
    """What saml-idp's auto-submitting page POSTs to the SP."""

    acs_url: str
    saml_response: str
    relay_state: str

    @property
    def form(self) -> dict[str, str]:
        return {"SAMLResponse": self.saml_response, "RelayState": self.relay_state}


@dataclass(frozen=True)
class SamlUser:
    name_id: str
    email: str
    first_name: str = "Alice"
    last_name: str = "Liddell"
    groups: tuple[str, ...] = field(default=())

    def fields(self) -> dict[str, str]:
        return {
            "userName": self.name_id,
            "nameIdFormat": EMAIL_FORMAT,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "groups": ",".join(self.groups),
        }


def saml_sign_in(idp_browser: httpx.Client, sso_url: str, user: SamlUser) -> SamlPost:
    """At saml-idp: open the AuthnRequest URL (or the bare SSO URL for an IdP-initiated login),
    submit ``user`` on its form (every field, since saml-idp remembers posted values), and read
    the auto-submitting form it answers with."""
    page = idp_browser.get(sso_url, follow_redirects=True)
    assert page.status_code == 200, page.text[:1000]
    assert "SAML AuthnRequest Parse Error" not in page.text, page.text[:2000]
    data = user.fields()
    request = re.search(r"name=\"_authnRequest\" type='hidden' value='([^']*)'", page.text)
    if request:
        data["_authnRequest"] = html.unescape(request.group(1))
    answer = idp_browser.post(urljoin(sso_url, "/signin"), data=data)
    assert answer.status_code == 200, answer.text[:2000]
    action = re.search(r'<form[^>]*action="([^"]+)"', answer.text)
    saml = re.search(r'name="SAMLResponse"\s+value="([^"]+)"', answer.text)
    relay = re.search(r'name="RelayState" value="([^"]*)"', answer.text)
    assert action and saml and relay, answer.text[:2000]
    return SamlPost(html.unescape(action.group(1)), html.unescape(saml.group(1)), html.unescape(relay.group(1)))


# --- Tenantry's side -------------------------------------------------------------------------


def add_provider(
    api: Api,
    tenant_id: str,
    *,
    protocol: dict[str, Any],
    name: str | None = None,
    display_name: str = "Acme SSO",
    jit: bool = True,
    role_mappings: Sequence[tuple[str, Sequence[str]]] = (),
    email_domains: Sequence[str] = (),
    status: str = "ENABLED",
) -> dict[str, Any]:
    """A tenant's external identity provider, through ``POST /identity-providers?upsert=true``."""
    body = {
        "ownerType": "TENANT",
        "ownerId": tenant_id,
        "type": protocol["type"],
        "name": name or rand("idp"),
        "displayName": display_name,
        "status": status,
        "jitProvisioningEnabled": jit,
        "protocol": protocol,
        "emailDomains": list(email_domains),
        "roleMappings": [{"group": group, "roleIds": list(ids)} for group, ids in role_mappings],
    }
    response = api.call("POST", "/identity-providers", params={"upsert": "true"}, json=body)
    assert response.status_code == 201, response.text
    doc: dict[str, Any] = response.json()
    return doc


SESSION_COOKIE = "tenantry_session"
BROWSER_COOKIE = "tenantry_sso"


def tenant_host(api: Api, tenant: Mapping[str, Any]) -> str:
    return f"{tenant['domainName']}-{api.vanity}"


def sp_urls(host: str, provider_id: str) -> tuple[str, str]:
    """(SP entity id, ACS URL) Tenantry uses for ``provider_id`` on ``host``."""
    return f"https://{host}/sso/{provider_id}/metadata", f"https://{host}/sso/{provider_id}/acs"


def sets_session(response: httpx.Response) -> bool:
    return any(h.startswith(f"{SESSION_COOKIE}=") for h in response.headers.get_list("set-cookie"))


def tenant_users(api: Api, tenant_id: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/tenants/{tenant_id}/users", params={"count": 100})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def role_skus(api: Api, user_id: str) -> set[str]:
    response = api.call("GET", f"/users/{user_id}/roles", params={"count": 100})
    assert response.status_code == 200, response.text
    return {r["sku"] for r in response.json()["items"]}
