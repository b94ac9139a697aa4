"""Bearer tokens on the management API: verify the JWT, then load its subject's permissions."""

from __future__ import annotations

import time
from typing import Any

from tenantry.adapters.security.keys import InvalidToken, KeyStore
from tenantry.core.access import Principal
from tenantry.core.applications.model import Application
from tenantry.core.caching import ExpiringCache
from tenantry.core.clients.authentication import client_principal, user_principal
from tenantry.core.context import CoreContext
from tenantry.core.errors import Unauthenticated

# A principal's grants are cached briefly per node: role changes reach every node within this.
PRINCIPAL_CACHE_SECONDS = 10.0
VERIFIED_CACHE_SIZE = 10_000


class BearerAuthenticator:
    def __init__(self, core: CoreContext, keys: KeyStore) -> None:
        self._core = core
        self._keys = keys
        self._principals: ExpiringCache[tuple[str, str], Principal] = ExpiringCache(PRINCIPAL_CACHE_SECONDS)
        self._verified: dict[str, dict[str, Any]] = {}

    def authenticate_cached(self, authorization: str | None, application: Application) -> Principal | None:
        """The principal when everything needed is cached (no I/O, no RSA); ``None`` means
        "call ``authenticate``", which may reach the database."""
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        claims = self._verified.get(authorization[7:].strip())
        if claims is None:
            return None
        subject = self._check(claims, application)
        hit = self._principals.get((application.id, subject))
        return hit[0] if hit is not None else None

    def authenticate(self, authorization: str | None, application: Application) -> Principal:
        if not authorization or authorization[:7].lower() != "bearer ":
            raise Unauthenticated("A Bearer access token is required")
        token = authorization[7:].strip()
        claims = self._verified.get(token)
        if claims is None:
            try:
                claims = self._keys.verify(token)
            except InvalidToken as error:
                raise Unauthenticated("The access token is invalid") from error
            # A token verified once stays verified until it expires: skip the RSA check next time.
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = claims
        subject = self._check(claims, application)
        return self._principal(
            application.id, subject, claims.get("sid") if claims.get("client_id") != subject else None
        )

    @staticmethod
    def _check(claims: dict[str, Any], application: Application) -> str:
        """The subject of valid claims for ``application`` (a client, or a user of a tenant
        signed in through the OIDC flow); raises ``Unauthenticated``."""
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= time.time():
            raise Unauthenticated("The access token has expired")
        if claims.get("iss") != application.issuer or claims.get("app_id") != application.id:
            raise Unauthenticated("The access token was not issued for this application")
        subject = claims.get("sub")
        is_client = claims.get("client_id") == subject
        is_user = isinstance(claims.get("tnt_id"), str) and isinstance(claims.get("sid"), str)
        if not isinstance(subject, str) or not (is_client or is_user):
            raise Unauthenticated("The access token has no usable subject")
        return subject

    def _principal(self, application_id: str, subject: str, session_family: str | None = None) -> Principal:
        return self._principals.get_or_load(
            (application_id, subject),
            lambda: (
                user_principal(self._core, application_id, subject, session_family)
                if session_family is not None
                else client_principal(self._core, application_id, subject)
            ),
        )

    def forget(self, client_id: str | None = None) -> None:
        if client_id is None:
            self._principals.clear()
        else:
            self._principals.forget_where(lambda key: key[1] == client_id)
