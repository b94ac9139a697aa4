"""SP-initiated sign-in: an AuthnRequest (SAML Core 2.0 §3.4.1) sent by the HTTP-Redirect binding
(Bindings 2.0 §3.4), signed over the query string when the SP signs its requests."""

from __future__ import annotations

from onelogin.saml2.auth import OneLogin_Saml2_Auth

from tenantry.protocols.saml.model import SamlError, SamlIdp, SamlSp
from tenantry.protocols.saml.toolkit import request_data_for, settings_for


def build_authn_request(sp: SamlSp, idp: SamlIdp, relay_state: str) -> tuple[str, str]:
    """(URL to redirect the browser to, the request's ID to remember for InResponseTo)."""
    if sp.sign_authn_requests and not (sp.key_pem and sp.cert_pem):
        raise SamlError("signing AuthnRequests needs the SP key and certificate")
    auth = OneLogin_Saml2_Auth(request_data_for(sp.acs_url), settings_for(sp, idp))
    url = auth.login(return_to=relay_state)
    request_id = auth.get_last_request_id()
    if not isinstance(url, str) or not isinstance(request_id, str):
        raise SamlError("AuthnRequest could not be built")
    return url, request_id
