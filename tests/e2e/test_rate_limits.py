"""Rate limits on the hosted forms answer 429 once a client's or an identifier's budget is spent."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.oidc_helpers import PASSWORD, authorize_params, browser_for, csrf_from, login, make_world, pkce
from tests.support import build_api, rand_email


def test_login_per_identifier_and_discovery_per_email(tmp_path: Path) -> None:
    api = build_api(tmp_path, rate_limits={"login_identifier": "3/minute", "discovery_email": "2/minute"})
    with api.client:
        world = make_world(api)
        _, challenge = pkce()
        with browser_for(api) as browser:
            codes = [
                login(world, browser, authorize_params(world, challenge), password="wrong").status_code
                for _ in range(3)
            ]
            assert codes == [401, 401, 401]
            limited = login(world, browser, authorize_params(world, challenge), password=PASSWORD)
            assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
            assert "Too many attempts" in limited.text
            other = make_world(api)  # another identifier still gets through
            assert login(other, browser, authorize_params(other, challenge)).status_code == 302

            email = rand_email()
            page = browser.get("/login")
            sent = [
                browser.post(
                    "/login", data={"csrf_token": csrf_from(page.text), "action": "email", "email": email}
                ).status_code
                for _ in range(3)
            ]
            assert sent == [200, 200, 429]
    api.services.close()


def test_login_per_ip(tmp_path: Path) -> None:
    api = build_api(tmp_path, rate_limits={"login_ip": "2/minute"})
    with api.client:
        world = make_world(api)
        _, challenge = pkce()
        with browser_for(api) as browser:
            statuses = [
                login(world, browser, authorize_params(world, challenge), password="x").status_code for _ in range(3)
            ]
    assert statuses == [401, 401, 429]
    api.services.close()
