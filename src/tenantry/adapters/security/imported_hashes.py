"""Password hashes made by other systems, kept until each user's next sign-in.

A migration brings users with the hashes of the system they leave: bcrypt (PHP, Rails, Node,
Auth0, Kratos), PBKDF2 (Django, Werkzeug/Flask, passlib, Keycloak's exports written as PHC
strings), scrypt (passlib, Werkzeug, PHC strings) and argon2i/argon2d. Each is verified as its
system did; a successful sign-in stores a fresh argon2id hash in its place (``needs_rehash``).

The formats recognised, ``password`` being the user's and everything else from the stored string:

- bcrypt: ``$2a$``, ``$2b$``, ``$2y$`` + cost + 53 characters. Only a password's first 72 bytes
  count, as in every bcrypt before pyca/bcrypt 5 refused longer ones.
- PBKDF2-HMAC (SHA-1, SHA-256, SHA-512):
  ``$pbkdf2-sha256$i=N[,l=L]$salt$hash`` (PHC string, base64 without padding),
  ``$pbkdf2-sha256$N$salt$hash`` and ``$pbkdf2$N$salt$hash`` (passlib, its ``./`` base64),
  ``pbkdf2_sha256$N$salt$hash`` (Django: the salt as text, the hash in base64),
  ``pbkdf2:sha256:N$salt$hexhash`` (Werkzeug: the salt as text, the hash in hex).
- scrypt: ``$scrypt$ln=L,r=R,p=P$salt$hash`` (PHC string or passlib; N = 2^L),
  ``scrypt:N:R:P$salt$hexhash`` (Werkzeug).

Costs are bounded (below), when a hash is imported and again at every verification: a hash is a
work order run at every sign-in (a locked account's too), so one imported with absurd parameters
would let whoever can create users tie up the server's cores. Each bound is about a second of one
core and at most 64 MiB: bcrypt cost 14; PBKDF2 2,000,000 iterations of the hash function (an
iteration count times the blocks of the derived key); scrypt 128·N·r ≤ 64 MiB and N·r·p ≤ 2²².
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

import bcrypt

MAX_BCRYPT_COST = 14
MAX_PBKDF2_WORK = 2_000_000  # iterations x blocks of the digest's size in the derived key
MAX_SCRYPT_MEMORY = 64 * 1024 * 1024  # 128 * N * r bytes
MAX_SCRYPT_WORK = 2**22  # N * r * p
MAX_DERIVED_BYTES = 128
BCRYPT_PASSWORD_BYTES = 72

_BCRYPT = re.compile(r"\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}")
_PHC = re.compile(r"\$(pbkdf2(?:-sha1|-sha256|-sha512)?|scrypt)\$([^$]+)\$([./+A-Za-z0-9]+)\$([./+A-Za-z0-9]+)")
_DJANGO = re.compile(r"pbkdf2_(sha1|sha256|sha512)\$([0-9]{1,9})\$([!-#%-~]+)\$([+/A-Za-z0-9]+={0,2})")
_WERKZEUG_PBKDF2 = re.compile(r"pbkdf2:(sha1|sha256|sha512):([0-9]{1,9})\$([!-#%-~]+)\$([0-9a-f]+)")
_WERKZEUG_SCRYPT = re.compile(r"scrypt:([0-9]{1,9}):([0-9]{1,9}):([0-9]{1,9})\$([!-#%-~]+)\$([0-9a-f]+)")
_DECIMAL = re.compile(r"[0-9]{1,9}")
_DIGEST_BYTES = {"sha1": 20, "sha256": 32, "sha512": 64}
_PHC_DIGESTS = {"pbkdf2": "sha1", "pbkdf2-sha1": "sha1", "pbkdf2-sha256": "sha256", "pbkdf2-sha512": "sha512"}

Verify = Callable[[str], bool]
"""Whether a password matches the hash the verifier was made for."""


def imported_verifier(password_hash: str) -> Verify | None:
    """A verifier for ``password_hash`` if it is in a recognised format within the cost bounds,
    else None. Every format is printable ASCII."""
    if not password_hash.isascii() or not password_hash.isprintable():
        return None
    for parse in (_bcrypt, _phc, _django, _werkzeug_pbkdf2, _werkzeug_scrypt):
        found = parse(password_hash)
        if found is not None:
            return found
    return None


def _bcrypt(password_hash: str) -> Verify | None:
    match = _BCRYPT.fullmatch(password_hash)
    if match is None or not 4 <= int(match.group(1)) <= MAX_BCRYPT_COST:
        return None
    stored = password_hash.encode("ascii")

    def verify(password: str) -> bool:
        try:
            return bcrypt.checkpw(password.encode("utf-8", "surrogatepass")[:BCRYPT_PASSWORD_BYTES], stored)
        except ValueError:  # a salt or hash the library cannot read
            return False

    return verify


@dataclass(frozen=True, slots=True)
class _Pbkdf2:
    digest: str
    iterations: int
    salt: bytes
    expected: bytes

    def verify(self, password: str) -> bool:
        derived = hashlib.pbkdf2_hmac(
            self.digest, password.encode("utf-8", "surrogatepass"), self.salt, self.iterations, len(self.expected)
        )
        return hmac.compare_digest(derived, self.expected)

    def checked(self) -> Verify | None:
        blocks = -(-len(self.expected) // _DIGEST_BYTES[self.digest])
        fits = self.iterations >= 1 and self.iterations * blocks <= MAX_PBKDF2_WORK
        return self.verify if fits and 1 <= len(self.expected) <= MAX_DERIVED_BYTES and self.salt else None


@dataclass(frozen=True, slots=True)
class _Scrypt:
    log_n: int
    r: int
    p: int
    salt: bytes
    expected: bytes

    def verify(self, password: str) -> bool:
        n = 1 << self.log_n
        derived = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=self.salt,
            n=n,
            r=self.r,
            p=self.p,
            maxmem=128 * self.r * (n + self.p + 2) + 1024 * 1024,
            dklen=len(self.expected),
        )
        return hmac.compare_digest(derived, self.expected)

    def checked(self) -> Verify | None:
        if not (1 <= self.log_n <= 30 and self.r >= 1 and self.p >= 1):
            return None
        n = 1 << self.log_n
        fits = 128 * n * self.r <= MAX_SCRYPT_MEMORY and n * self.r * self.p <= MAX_SCRYPT_WORK
        return self.verify if fits and 1 <= len(self.expected) <= MAX_DERIVED_BYTES and self.salt else None


def _phc(password_hash: str) -> Verify | None:
    match = _PHC.fullmatch(password_hash)
    if match is None:
        return None
    scheme, params, salt_text, hash_text = match.groups()
    salt, expected = _b64(salt_text), _b64(hash_text)
    if salt is None or expected is None:
        return None
    if scheme == "scrypt":
        found = _params(params, {"ln", "r", "p"})
        if found is None or found.keys() != {"ln", "r", "p"}:
            return None
        return _Scrypt(found["ln"], found["r"], found["p"], salt, expected).checked()
    if _DECIMAL.fullmatch(params):  # passlib: the iteration count alone
        iterations = int(params)
    else:
        found = _params(params, {"i", "l"})
        if found is None or "i" not in found or found.get("l", len(expected)) != len(expected):
            return None
        iterations = found["i"]
    return _Pbkdf2(_PHC_DIGESTS[scheme], iterations, salt, expected).checked()


def _django(password_hash: str) -> Verify | None:
    match = _DJANGO.fullmatch(password_hash)
    if match is None:
        return None
    digest, iterations, salt, hash_text = match.groups()
    expected = _b64(hash_text)
    if expected is None:
        return None
    return _Pbkdf2(digest, int(iterations), salt.encode("utf-8"), expected).checked()


def _werkzeug_pbkdf2(password_hash: str) -> Verify | None:
    match = _WERKZEUG_PBKDF2.fullmatch(password_hash)
    if match is None or len(match.group(4)) % 2:
        return None
    digest, iterations, salt, hex_hash = match.groups()
    return _Pbkdf2(digest, int(iterations), salt.encode("utf-8"), bytes.fromhex(hex_hash)).checked()


def _werkzeug_scrypt(password_hash: str) -> Verify | None:
    match = _WERKZEUG_SCRYPT.fullmatch(password_hash)
    if match is None or len(match.group(5)) % 2:
        return None
    n, r, p, salt, hex_hash = match.groups()
    cost = int(n)
    if cost < 2 or cost & (cost - 1):  # scrypt's N is a power of two
        return None
    return _Scrypt(cost.bit_length() - 1, int(r), int(p), salt.encode("utf-8"), bytes.fromhex(hex_hash)).checked()


def _params(text: str, allowed: set[str]) -> dict[str, int] | None:
    """``a=1,b=2`` with only ``allowed`` names, each once, each a decimal number."""
    found: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or name not in allowed or name in found or not _DECIMAL.fullmatch(value):
            return None
        found[name] = int(value)
    return found


def _b64(text: str) -> bytes | None:
    """Base64 in the standard alphabet or passlib's (``.`` for ``+``), padded or not."""
    standard = text.replace(".", "+").rstrip("=")
    if len(standard) % 4 == 1:
        return None
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except binascii.Error:
        return None
