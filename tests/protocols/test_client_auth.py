"""RFC 6749 §2.3.1 client authentication parsing."""

from __future__ import annotations

import base64

import pytest

from tenantry.protocols.oauth2.client_auth import parse_client_credentials
from tenantry.protocols.oauth2.errors import InvalidClientError, InvalidRequestError


def basic(value: str) -> str:
    return "Basic " + base64.b64encode(value.encode()).decode()


def test_basic() -> None:
    creds = parse_client_credentials(basic("cid:s%3Acret"), {})
    assert (creds.client_id, creds.client_secret, creds.method) == ("cid", "s:cret", "client_secret_basic")


def test_post() -> None:
    creds = parse_client_credentials(None, {"client_id": "cid", "client_secret": "sec"})
    assert (creds.client_id, creds.client_secret, creds.method) == ("cid", "sec", "client_secret_post")


def test_public_client() -> None:
    assert parse_client_credentials(None, {"client_id": "cid"}).method == "none"


@pytest.mark.parametrize(
    "header", ["Basic !!!", basic("no-colon"), basic(":secret"), "Basic " + base64.b64encode(b"\xff:x").decode()]
)
def test_malformed_basic(header: str) -> None:
    with pytest.raises(InvalidClientError):
        parse_client_credentials(header, {})


def test_two_methods_at_once() -> None:
    with pytest.raises(InvalidRequestError):
        parse_client_credentials(basic("cid:sec"), {"client_secret": "sec"})
    with pytest.raises(InvalidRequestError):
        parse_client_credentials(basic("cid:sec"), {"client_id": "other"})


def test_nothing() -> None:
    with pytest.raises(InvalidClientError):
        parse_client_credentials("Bearer x", {})
