"""Internal values the server hands out and reads back (the login page's ``req``) are sealed
with an HMAC keyed from the signing keys: tampering, foreign keys and garbage are refused, and
a value sealed before a key rotation still opens afterwards."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tenantry.adapters.security.keys import InvalidToken
from tests.support import Api


def test_seal_round_trip_and_tampering(api: Api) -> None:
    keys = api.services.keys
    sealed = keys.seal({"typ": "authorize", "p": {"client_id": "x"}})
    assert keys.unseal(sealed) == {"typ": "authorize", "p": {"client_id": "x"}}
    kid, payload, mac = sealed.split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for bad in (
        f"{kid}.{forged_payload}.{mac}",
        f"{kid}.{payload}.{mac[:-2]}xx",
        f"nope.{payload}.{mac}",
        "a.b",
        "",
        "ü.ü.ü",
        f"{kid}.{payload}.{mac}.extra",
    ):
        with pytest.raises(InvalidToken):
            keys.unseal(bad)


def test_sealed_value_survives_a_key_rotation(api: Api) -> None:
    keys = api.services.keys
    sealed = keys.seal({"n": 1})
    keys.rotate(token_lifetime=timedelta(hours=1))
    assert keys.unseal(sealed) == {"n": 1}
    assert keys.seal({"n": 2}).split(".")[0] != sealed.split(".")[0]
