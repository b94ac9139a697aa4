"""PKCE's S256 challenge and the ID token's ``at_hash``, against the examples in their specs."""

from __future__ import annotations

import pytest

from tenantry.protocols.oauth2.pkce import s256_challenge, s256_matches
from tenantry.protocols.oidc.relying_party import pkce_pair
from tenantry.protocols.oidc.token_hash import half_hash

# RFC 7636, Appendix B.
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
# OpenID Connect Core 1.0, Appendix A.4 (an ID token with at_hash).
CORE_ACCESS_TOKEN = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
CORE_AT_HASH = "77QmUPtjPfzWtF2AnpK9RQ"


def test_s256_is_rfc_7636s_example() -> None:
    assert s256_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE
    assert s256_matches(RFC7636_VERIFIER, RFC7636_CHALLENGE)
    assert not s256_matches(RFC7636_VERIFIER[:-1] + "l", RFC7636_CHALLENGE)
    assert not s256_matches("short", s256_challenge("short"))  # §4.1: 43 to 128 characters
    assert not s256_matches(None, RFC7636_CHALLENGE)


def test_the_relying_partys_pairs_match() -> None:
    verifier, challenge = pkce_pair()
    assert s256_matches(verifier, challenge)


def test_at_hash_is_the_core_specs_example() -> None:
    assert half_hash(CORE_ACCESS_TOKEN, "RS256") == CORE_AT_HASH


@pytest.mark.parametrize(("alg", "length"), [("RS256", 22), ("ES384", 32), ("PS512", 43)])
def test_the_hash_follows_the_algs_size(alg: str, length: int) -> None:
    assert len(half_hash(CORE_ACCESS_TOKEN, alg)) == length
