"""The SAML service provider's signing key and certificate (signed AuthnRequests, SP metadata).

Configured files win (``TENANTRY_SAML_SP_KEY_FILE`` / ``TENANTRY_SAML_SP_CERT_FILE``: several nodes
must share them); otherwise a self-signed RSA pair is created once in the data directory."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CERT_DAYS = 3650


@dataclass(frozen=True, slots=True)
class SpCredentials:
    cert_pem: str
    key_pem: str


def load_or_create_sp_credentials(folder: Path, key_file: Path | None, cert_file: Path | None) -> SpCredentials:
    if key_file is not None and cert_file is not None:
        return SpCredentials(cert_file.read_text(), key_file.read_text())
    key_path, cert_path = folder / "sp-key.pem", folder / "sp-cert.pem"
    if key_path.exists() and cert_path.exists():
        return SpCredentials(cert_path.read_text(), key_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenantry SAML service provider")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    key_path.write_text(key_pem)
    key_path.chmod(0o600)
    cert_path.write_text(cert.public_bytes(serialization.Encoding.PEM).decode())
    return SpCredentials(cert_path.read_text(), key_pem)
