"""RS256 signing keys: stored in the database, cached in memory, published as a JWKS.

Every node signs with the newest active key. ``rotate`` adds a new key and retires the old ones,
which stay in the JWKS until the last token they signed has expired (``publish_until``). Nodes
reload the key set every ``refresh_seconds`` and whenever they meet an unknown ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.database import Database
from tenantry.core.ids import new_id
from tenantry.core.ports import Clock

KEY_BITS = 2048


class InvalidToken(Exception):
    """The token is malformed, badly signed, or signed by a key we do not know."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A signing key as an administrator sees it (never its private part)."""

    kid: str
    algorithm: str
    created_at: datetime
    retired_at: datetime | None
    publish_until: datetime | None

    @property
    def active(self) -> bool:
        return self.retired_at is None


@dataclass(frozen=True)
class _Loaded:
    active: RSAKey
    active_kid: str
    keys: KeySet
    public: dict[str, Any]
    loaded_at: float
    seals: dict[str, bytes]  # kid -> HMAC secret derived from that key, for internal values


class KeyStore:
    def __init__(self, database: Database, clock: Clock, *, refresh_seconds: float = 60.0) -> None:
        self._database = database
        self._clock = clock
        self._refresh = refresh_seconds
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def _load(self) -> _Loaded:
        now = self._clock.now()
        with self._database.transaction(write=False) as conn:
            rows = conn.execute(select(t.signing_keys).order_by(t.signing_keys.c.created_at.desc())).all()
        if not rows:
            self.rotate(token_lifetime=timedelta(0))
            return self._load()
        live = [r for r in rows if r.publish_until is None or _aware(r.publish_until) > now]
        active_row = next((r for r in rows if r.retired_at is None), rows[0])
        private = {r.kid: RSAKey.import_key(r.private_pem, {"kid": r.kid}) for r in live}
        if active_row.kid not in private:
            private[active_row.kid] = RSAKey.import_key(active_row.private_pem, {"kid": active_row.kid})
        public = {"keys": [{**dict(r.public_jwk), "kid": r.kid, "use": "sig", "alg": "RS256"} for r in live]}
        seals = {
            kid: hmac.new(key.as_pem(private=True), b"tenantry internal seal v1", hashlib.sha256).digest()
            for kid, key in private.items()
        }
        return _Loaded(
            active=private[active_row.kid],
            active_kid=active_row.kid,
            keys=KeySet(list(private.values())),
            public=public,
            loaded_at=time.monotonic(),
            seals=seals,
        )

    def _current(self, *, force: bool = False) -> _Loaded:
        loaded = self._loaded
        if force or loaded is None or time.monotonic() - loaded.loaded_at > self._refresh:
            with self._lock:
                if force or self._loaded is None or time.monotonic() - self._loaded.loaded_at > self._refresh:
                    self._loaded = self._load()
                loaded = self._loaded
        return loaded

    def rotate(self, *, token_lifetime: timedelta) -> str:
        """Add a new active key; older keys stay published for ``token_lifetime``."""
        key = RSAKey.generate_key(KEY_BITS, private=True)
        kid = new_id()
        now = self._clock.now()
        with self._database.transaction(write=True) as conn:
            conn.execute(
                update(t.signing_keys)
                .where(t.signing_keys.c.retired_at.is_(None))
                .values(retired_at=now, publish_until=now + token_lifetime)
            )
            conn.execute(
                insert(t.signing_keys).values(
                    kid=kid,
                    algorithm="RS256",
                    private_pem=key.as_pem(private=True).decode("ascii"),
                    public_jwk=key.as_dict(private=False),
                    created_at=now,
                )
            )
            conn.commit()
        self.reload()
        return kid

    def reload(self) -> None:
        """Forget the cached key set; the next use reads it from the database."""
        self._loaded = None

    def sign(self, claims: dict[str, Any]) -> str:
        loaded = self._current()
        header = {"alg": "RS256", "kid": loaded.active_kid, "typ": "JWT"}
        return jwt.encode(header, claims, loaded.active, algorithms=["RS256"])

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token we signed; raises ``InvalidToken``. Time claims are the
        caller's to check."""
        loaded = self._current()
        try:
            kid = jws.extract_compact(token.encode("ascii")).headers().get("kid")
        except (JoseError, ValueError, TypeError, UnicodeError) as error:
            raise InvalidToken(str(error)) from error
        if kid not in {k.kid for k in loaded.keys}:
            loaded = self._current(force=True)
        try:
            decoded = jwt.decode(token, loaded.keys, algorithms=["RS256"])
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise InvalidToken(str(error)) from error
        return dict(decoded.claims)

    def seal(self, claims: dict[str, Any]) -> str:
        """Claims only this deployment reads back (the login page's ``req``): HMAC-SHA256 with a
        secret derived from the active signing key — shared by every node, rotated with the keys,
        and microseconds instead of an RSA signature."""
        loaded = self._current()
        payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=")
        signed = f"{loaded.active_kid}.{payload.decode('ascii')}"
        mac = hmac.new(loaded.seals[loaded.active_kid], signed.encode("ascii"), hashlib.sha256).digest()
        return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode('ascii')}"

    def unseal(self, value: str) -> dict[str, Any]:
        """The claims of a value :meth:`seal` made; raises ``InvalidToken``."""
        parts = value.split(".")
        if len(parts) != 3 or not value.isascii():
            raise InvalidToken("malformed")
        kid, payload, mac = parts
        loaded = self._current()
        if kid not in loaded.seals:
            loaded = self._current(force=True)
        secret = loaded.seals.get(kid)
        if secret is None:
            raise InvalidToken("unknown key")
        expected = hmac.new(secret, f"{kid}.{payload}".encode("ascii"), hashlib.sha256).digest()
        try:
            given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
            if not hmac.compare_digest(expected, given):
                raise InvalidToken("bad seal")
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, TypeError) as error:
            raise InvalidToken("malformed") from error
        if not isinstance(claims, dict):
            raise InvalidToken("malformed")
        return claims

    def describe(self) -> list[KeyInfo]:
        """Every stored key, newest first (retired keys included until they are deleted)."""
        columns = t.signing_keys.c
        query = select(columns.kid, columns.algorithm, columns.created_at, columns.retired_at, columns.publish_until)
        with self._database.transaction(write=False) as conn:
            rows = conn.execute(query.order_by(columns.created_at.desc())).all()
        return [
            KeyInfo(
                r.kid,
                r.algorithm,
                _aware(r.created_at),
                _aware(r.retired_at) if r.retired_at else None,
                _aware(r.publish_until) if r.publish_until else None,
            )
            for r in rows
        ]

    def jwks(self) -> dict[str, Any]:
        return self._current().public


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
