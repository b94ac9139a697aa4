"""OAuth 2.0 error responses, RFC 6749 §5.2 (https://www.rfc-editor.org/rfc/rfc6749#section-5.2)."""

from __future__ import annotations


class OAuth2Error(Exception):
    error = "server_error"
    status_code = 400

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


class InvalidRequestError(OAuth2Error):
    error = "invalid_request"


class InvalidClientError(OAuth2Error):
    """401 with ``WWW-Authenticate: Basic`` when the client tried HTTP Basic (§5.2)."""

    error = "invalid_client"
    status_code = 401


class InvalidGrantError(OAuth2Error):
    error = "invalid_grant"


class UnauthorizedClientError(OAuth2Error):
    error = "unauthorized_client"


class UnsupportedGrantTypeError(OAuth2Error):
    error = "unsupported_grant_type"


class InvalidScopeError(OAuth2Error):
    error = "invalid_scope"
