"""``at_hash`` and ``c_hash``, OpenID Connect Core 1.0 §3.1.3.6 and §3.3.2.11: the left half of
the hash of the token's ASCII octets, with the hash of the ID token's ``alg``, base64url-encoded
without padding. Used to issue Tenantry's ID tokens and to check an external provider's."""

from __future__ import annotations

import base64
import hashlib

_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def half_hash(value: str, alg: str) -> str:
    """``value``'s half hash for an ID token signed with ``alg`` (RS256, ES384, …).
    Raises KeyError for an alg without a SHA-2 size."""
    digest = _HASHES[alg[-3:]](value.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")
