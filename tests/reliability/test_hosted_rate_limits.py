"""Rate limits of the hosted forms not covered by tests/e2e/test_rate_limits.py (which has sign-in
per identifier and per IP and discovery per email): signup, discovery, forgot password (per IP
and per email) and one-time codes, each answering 429 in the documented shape (the "Too many
attempts" page, ``Retry-After: 60``) once its budget is spent, and doing nothing more: no user,
no mail. Also: a locked account answers exactly like a wrong password, so lockout reveals nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tenantry.adapters.sql import tables as t
from tenantry.core.auth.settings import AuthSettings
from tests.e2e.oidc_helpers import PASSWORD, authorize_params, browser_for, csrf_from, login, make_world, pkce
from tests.reliability.test_enumeration import masked
from tests.support import Api, build_api, rand_email

BUDGET = 2


def post_form(browser: TestClient, url: str, **fields: str) -> httpx.Response:
    page = browser.get(url.replace("/activate-code", "/login"))
    return browser.post(url, data={"csrf_token": csrf_from(page.text), **fields}, follow_redirects=False)


def mail_count(api: Api) -> int:
    with api.services.database.transaction(write=False) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.outbox)).scalar_one())


def user_count(api: Api) -> int:
    with api.services.database.transaction(write=False) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar_one())


Submit = Callable[[Api, TestClient, str, int], httpx.Response]  # (api, browser, tenant host, attempt number)


def signup(api: Api, browser: TestClient, host: str, n: int) -> httpx.Response:
    return post_form(browser, f"https://{host}/signup", email=rand_email(), password="a fine long passphrase")


def discovery(api: Api, browser: TestClient, host: str, n: int) -> httpx.Response:
    return post_form(browser, f"https://{api.vanity}/login", action="email", email=rand_email())


def forgot_any(api: Api, browser: TestClient, host: str, n: int) -> httpx.Response:
    return post_form(browser, f"https://{host}/forgot-password", email=rand_email())


def forgot_same(api: Api, browser: TestClient, host: str, n: int) -> httpx.Response:
    return post_form(browser, f"https://{host}/forgot-password", email="same.person@example.com")


def one_time_code(api: Api, browser: TestClient, host: str, n: int) -> httpx.Response:
    return post_form(browser, f"https://{host}/activate-code", code_id="nope", otp="000000")


CASES: dict[str, tuple[str, Submit, int]] = {
    # rule, how to spend it, what an allowed attempt answers
    "signup per IP": ("signup_ip", signup, 200),
    "discovery per IP": ("discovery_ip", discovery, 200),
    "forgot password per IP": ("forgot_ip", forgot_any, 200),
    "forgot password per email": ("forgot_email", forgot_same, 200),
    "one-time code per IP": ("otp_ip", one_time_code, 400),
}


@pytest.mark.parametrize("case", CASES)
def test_budget_spent_is_429_and_nothing_more(tmp_path: Path, case: str) -> None:
    rule, submit, allowed_status = CASES[case]
    api = build_api(tmp_path, rate_limits={rule: f"{BUDGET}/minute"})
    with api.client:
        tenant = api.create_tenant(signupEnabled=True)
        host = f"{tenant['domainName']}-{api.vanity}"
        with browser_for(api) as browser:
            allowed = [submit(api, browser, host, n).status_code for n in range(BUDGET)]
            users, mails = user_count(api), mail_count(api)
            limited = submit(api, browser, host, BUDGET)
        assert allowed == [allowed_status] * BUDGET
        assert limited.status_code == 429, limited.text[:300]
        assert limited.headers["retry-after"] == "60"
        assert limited.headers["content-type"].startswith("text/html")
        assert "Too many attempts" in limited.text
        assert (user_count(api), mail_count(api)) == (users, mails)
    api.services.close()


def test_a_locked_account_answers_like_a_wrong_password(tmp_path: Path) -> None:
    api = build_api(tmp_path)
    core = api.services.core
    api.services.core = dataclasses.replace(core, auth=AuthSettings(lockout_threshold=3, lockout_seconds=600))
    with api.client:
        world = make_world(api)
        _, challenge = pkce()
        with browser_for(api) as browser:

            def attempt(password: str) -> httpx.Response:
                return login(world, browser, authorize_params(world, challenge), password=password)

            wrong = [attempt("wrong") for _ in range(3)]
            locked = attempt(PASSWORD)
        assert [r.status_code for r in wrong] == [401, 401, 401]
        assert locked.status_code == 401
        assert masked(locked, world.user["email"]) == masked(wrong[0], world.user["email"])
    api.services.close()
