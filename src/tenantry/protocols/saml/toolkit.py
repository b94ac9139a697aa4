"""python3-saml (OneLogin's toolkit) set up from our SP/IdP values: it builds AuthnRequests and SP metadata, and
gives a second, independent opinion on every Response (schema validation and its own strict checks)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tenantry.protocols.saml.model import BINDING_POST, SamlError, SamlIdp, SamlSp

_SETTING_CODES = re.compile(r"[a-z_]+(,[a-z_]+)*")
NAME_ID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

_VALIDATION_ERROR_NAMES: dict[int, str] = {
    value: name.lower().replace("_", " ")
    for name, value in vars(OneLogin_Saml2_ValidationError).items()
    if name.isupper() and isinstance(value, int)
}


def _sp_settings(sp: SamlSp) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "entityId": sp.entity_id,
        "assertionConsumerService": {"url": sp.acs_url, "binding": BINDING_POST},
        "NameIDFormat": NAME_ID_UNSPECIFIED,
    }
    if sp.cert_pem:
        settings["x509cert"] = OneLogin_Saml2_Utils.format_cert(sp.cert_pem, heads=False)
    if sp.key_pem:
        settings["privateKey"] = sp.key_pem
    return settings


def settings_for(sp: SamlSp, idp: SamlIdp | None) -> Any:
    """OneLogin_Saml2_Settings in strict mode; SamlError when the toolkit finds the configuration unusable."""
    data: dict[str, Any] = {
        "strict": True,
        "debug": False,
        "sp": _sp_settings(sp),
        "security": {
            "wantAssertionsSigned": sp.want_assertions_signed,
            "wantMessagesSigned": sp.want_response_signed,
            "authnRequestsSigned": sp.sign_authn_requests,
            "signMetadata": False,
            "wantNameId": True,
            "wantAttributeStatement": False,
            "requestedAuthnContext": False,
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": OneLogin_Saml2_Constants.RSA_SHA256,
            "digestAlgorithm": OneLogin_Saml2_Constants.SHA256,
        },
    }
    if idp is not None:
        data["idp"] = {
            "entityId": idp.entity_id,
            "singleSignOnService": {"url": idp.sso_url, "binding": idp.sso_binding},
            "x509certMulti": {"signing": [OneLogin_Saml2_Utils.format_cert(c, heads=False) for c in idp.signing_certs]},
        }
    try:
        return OneLogin_Saml2_Settings(data, sp_validation_only=idp is None)
    except OneLogin_Saml2_Error as error:
        # the toolkit's message ends in fixed codes such as "idp_sso_url_invalid": safe to pass on
        codes = str(error).rpartition(": ")[2]
        detail = f": {codes}" if _SETTING_CODES.fullmatch(codes) else ""
        raise SamlError(f"SAML configuration invalid{detail}") from error


def request_data_for(acs_url: str, post_data: dict[str, str] | None = None) -> dict[str, Any]:
    """The toolkit's view of "the current request": exactly the ACS URL, so its Destination/Recipient checks
    compare against the configured ACS and not against whatever Host header arrived."""
    parts = urlsplit(acs_url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.netloc,
        "script_name": parts.path,
        "get_data": {},
        "post_data": post_data or {},
    }


def toolkit_validate(sp: SamlSp, idp: SamlIdp, saml_response_b64: str, expected_request_id: str | None) -> None:
    """python3-saml's strict ``is_valid``; it judges time against the system clock with its own drift."""
    settings = settings_for(sp, idp)
    try:
        response = OneLogin_Saml2_Response(settings, saml_response_b64)
        response.is_valid(request_data_for(sp.acs_url), expected_request_id, raise_exceptions=True)
    except OneLogin_Saml2_ValidationError as error:
        name = _VALIDATION_ERROR_NAMES.get(error.code, "validation failed")
        raise SamlError(f"toolkit: {name}") from error
    except Exception as error:  # the toolkit raises bare Exceptions for XML and crypto trouble
        raise SamlError("toolkit: response rejected") from error
