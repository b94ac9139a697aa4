"""PKCE, RFC 7636 (https://www.rfc-editor.org/rfc/rfc7636): only the S256 method."""

from __future__ import annotations

import hmac
import re

from authlib.oauth2.rfc7636 import create_s256_code_challenge

VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")  # §4.1


def s256_matches(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(create_s256_code_challenge(verifier), challenge)
