"""PKCE, RFC 7636 (https://www.rfc-editor.org/rfc/rfc7636): only the S256 method."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # §4.1


def s256_challenge(verifier: str) -> str:
    """BASE64URL-ENCODE(SHA256(ASCII(code_verifier))), §4.2."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def s256_matches(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)
