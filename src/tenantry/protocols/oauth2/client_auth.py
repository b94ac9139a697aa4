"""Client authentication at the token endpoint, RFC 6749 §2.3.1
(https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1): ``client_secret_basic`` and
``client_secret_post``. Using both at once is an error (§2.3)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote

from tenantry.protocols.oauth2.errors import InvalidClientError, InvalidRequestError


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str | None
    method: str  # client_secret_basic | client_secret_post | none


def parse_client_credentials(authorization: str | None, form: Mapping[str, str]) -> ClientCredentials:
    basic = None
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise InvalidClientError("Malformed HTTP Basic credentials") from error
        client_id, sep, secret = decoded.partition(":")
        if not sep or not client_id:
            raise InvalidClientError("Malformed HTTP Basic credentials")
        # §2.3.1: the id and secret are form-urlencoded before being base64-encoded.
        basic = ClientCredentials(unquote(client_id), unquote(secret), "client_secret_basic")
    posted_id = form.get("client_id")
    posted_secret = form.get("client_secret")
    if basic is not None:
        if posted_secret is not None:
            raise InvalidRequestError("Use only one client authentication method")
        if posted_id is not None and posted_id != basic.client_id:
            raise InvalidRequestError("client_id does not match the authenticated client")
        return basic
    if posted_id and posted_secret is not None:
        return ClientCredentials(posted_id, posted_secret, "client_secret_post")
    if posted_id:
        return ClientCredentials(posted_id, None, "none")
    raise InvalidClientError("Client authentication is required")
