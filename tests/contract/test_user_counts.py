"""``user_counts``, the per-tenant, per-status user counts kept by triggers (migration 0004) that
the users listing sums for its exact totals — on SQLite and PostgreSQL: every way users are
written, concurrent writers, scopes, and the backfill of users written before the migration."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.listing import USER_LISTING
from tenantry.adapters.sql.migrate import upgrade
from tenantry.bootstrap import Services, bootstrap
from tenantry.core.access import TenantScope
from tenantry.core.ports import ListSpec
from tenantry.core.users.model import User, UserStatus
from tenantry.protocols.query.parser import parse_query
from tests.contract.test_repositories import ALL, _add, _app, _okta_provider, _tenant, _user
from tests.support import drop_postgres_database, rand_email, run_on_server, test_settings


def _counted(services: Services) -> dict[tuple[str, str], int]:
    """Every (tenant, status) total the counts hold, zeros left out."""
    with services.database.transaction(write=False) as connection:
        rows = connection.execute(
            select(t.user_counts.c.tenant_id, t.user_counts.c.status, func.sum(t.user_counts.c.users)).group_by(
                t.user_counts.c.tenant_id, t.user_counts.c.status
            )
        ).all()
    return {(tenant, status): int(n) for tenant, status, n in rows if int(n)}


def _actual(services: Services) -> dict[tuple[str, str], int]:
    with services.database.transaction(write=False) as connection:
        rows = connection.execute(
            select(t.users.c.tenant_id, t.users.c.status, func.count()).group_by(t.users.c.tenant_id, t.users.c.status)
        ).all()
    return {(tenant, status): int(n) for tenant, status, n in rows}


def _set_status(services: Services, app_id: str, user: User, status: UserStatus) -> User:
    changed = replace(user, status=status)
    with services.core.uow(app_id, write=True) as uow:
        uow.users.update(changed)
        uow.commit()
    return changed


def test_the_counts_follow_every_write(services: Services) -> None:
    app_id = _app(services)
    a, b = _tenant(services, app_id), _tenant(services, app_id)
    users = [_user(services, app_id, tenant.id, rand_email()) for tenant in (a, a, a, b, b)]
    for user in users:
        _add(services, app_id, user)
    assert _counted(services) == _actual(services)
    assert _counted(services)[(a.id, "PROVISIONED")] == 3

    users[0] = _set_status(services, app_id, users[0], UserStatus.ACTIVE)
    users[1] = _set_status(services, app_id, users[1], UserStatus.ACTIVE)
    _set_status(services, app_id, users[1], UserStatus.ACTIVE)  # not a change of status
    with services.core.uow(app_id, write=True) as uow:
        uow.users.delete(users[2].id)
        uow.commit()
    assert _counted(services) == _actual(services)
    assert _counted(services)[(a.id, "ACTIVE")] == 2 and (a.id, "PROVISIONED") not in _counted(services)

    with services.core.uow(app_id, write=True) as uow:  # the tenant purge: batches, then the tenant
        assert uow.users.delete_for_tenant(b.id, 1) == 1
        uow.commit()
    assert _counted(services) == _actual(services)
    with services.core.uow(app_id, write=True) as uow:
        uow.tenants.delete(b.id)  # its last user goes by the foreign key's cascade
        uow.commit()
    assert _counted(services) == _actual(services)
    with services.database.transaction(write=False) as connection:
        left = connection.execute(select(func.count()).where(t.user_counts.c.tenant_id == b.id)).scalar_one()
    assert left == 0


def test_listing_totals_come_from_the_counts_and_match_the_rows(services: Services) -> None:
    app_id = _app(services)
    a, b = _tenant(services, app_id), _tenant(services, app_id)
    for tenant, n in ((a, 4), (b, 2)):
        for i in range(n):
            user = _user(services, app_id, tenant.id, rand_email())
            _add(services, app_id, user)
            if i % 2:
                _set_status(services, app_id, user, UserStatus.ACTIVE)
    spec = ListSpec(count=1)
    active = ListSpec(filter=parse_query('status eq "ACTIVE"', USER_LISTING.attributes), count=1)
    lower = ListSpec(filter=parse_query('status eq "active"', USER_LISTING.attributes), count=1)
    with services.core.uow(app_id) as uow:
        assert uow.users.page(spec, ALL, tenant_id=a.id).total == 4
        assert uow.users.page(active, ALL, tenant_id=a.id).total == 2
        assert uow.users.page(lower, ALL, tenant_id=a.id).total == 0  # statuses are exact, as in SQL
        for query, expected in (  # filters the counts cannot answer are counted
            ('status eq "ACTIVE" and email sw "nobody"', 0),
            ('status ne "ACTIVE"', 2),
            ('status eq "ACTIVE" or status eq "PROVISIONED"', 4),
            ("emailVerified eq true", 0),
        ):
            other = ListSpec(filter=parse_query(query, USER_LISTING.attributes), count=1)
            assert uow.users.page(other, ALL, tenant_id=a.id).total == expected, query
        assert uow.users.page(spec, ALL).total == 6  # the application's users
        assert uow.users.page(active, ALL).total == 3
        only_b = TenantScope(False, frozenset({b.id}))
        assert uow.users.page(spec, only_b).total == 2
        assert uow.users.page(spec, only_b, tenant_id=a.id).total == 0  # outside the caller's tenants
        assert uow.users.page(spec, TenantScope(True, excluded=frozenset({a.id}))).total == 2
    other_app = _app(services)
    with services.core.uow(other_app) as uow:  # another application's tenant: nothing
        assert uow.users.page(spec, ALL, tenant_id=a.id).total == 0
        assert uow.users.page(spec, ALL).total == 0


def test_concurrent_writers_keep_the_counts_exact(services: Services) -> None:
    app_id = _app(services)
    tenant = _tenant(services, app_id)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            mine = [_user(services, app_id, tenant.id, rand_email()) for _ in range(10)]
            barrier.wait()
            for user in mine:
                _add(services, app_id, user)
            for user in mine[:5]:
                _set_status(services, app_id, user, UserStatus.INACTIVE)
        except BaseException as error:  # reported below, not swallowed
            errors.append(error)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert _counted(services) == _actual(services)
    assert _counted(services)[(tenant.id, "INACTIVE")] == 40
    with services.core.uow(app_id) as uow:
        assert uow.users.page(ListSpec(count=0), ALL, tenant_id=tenant.id).total == 80


def test_users_written_before_the_migration_are_counted(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    for url in (f"sqlite:///{tmp_path / 'old.db'}", request.getfixturevalue("pg_url") + "_old"):
        if url.startswith("postgresql"):
            _create_database(request.getfixturevalue("pg_url"), url)
        upgrade(url, "0003")
        services = bootstrap(test_settings(tmp_path, url), migrate=False)
        try:
            app_id = _app(services)
            tenant = _tenant(services, app_id)
            for _ in range(3):
                _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))
            upgrade(url, "head")
            assert _counted(services) == _actual(services) == {(tenant.id, "PROVISIONED"): 3}
            _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))
            assert _counted(services) == {(tenant.id, "PROVISIONED"): 4}
        finally:
            services.close()
            if url.startswith("postgresql"):
                _drop_database(request.getfixturevalue("pg_url"), url)


def _create_database(server_url: str, url: str) -> None:
    run_on_server(server_url, f'CREATE DATABASE "{url.rpartition("/")[2]}"')


def _drop_database(server_url: str, url: str) -> None:
    drop_postgres_database(server_url, url.rpartition("/")[2])


def test_truncating_the_users_empties_the_counts(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """An operator's TRUNCATE (PostgreSQL) fires no row trigger; a statement trigger clears the
    counts. On a database of its own: the session's is shared with other tests."""
    server_url = request.getfixturevalue("pg_url")
    url = f"{server_url}_truncate"
    _create_database(server_url, url)
    services = bootstrap(test_settings(tmp_path, url))
    try:
        app_id = _app(services)
        tenant = _tenant(services, app_id)
        _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))
        assert _counted(services)
        with services.database.transaction(write=True) as connection:
            connection.execute(text("TRUNCATE users CASCADE"))
            connection.commit()
        assert _counted(services) == _actual(services) == {}
    finally:
        services.close()
        _drop_database(server_url, url)


def test_provider_filters_are_answered_by_the_counts_and_follow_the_provider(services: Services) -> None:
    from tenantry.core.roles.model import OwnerType

    app_id = _app(services)
    tenant = _tenant(services, app_id)
    okta = _okta_provider(services, app_id, OwnerType.TENANT, tenant.id, "Corp-Okta")
    for i in range(3):
        _add(services, app_id, _user(services, app_id, tenant.id, rand_email(), okta, externalId=f"sub-{i}"))
    for _ in range(2):
        _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))
    assert _counted(services) == _actual(services)

    def total(query: str) -> int:
        spec = ListSpec(filter=parse_query(query, USER_LISTING.attributes), count=1)
        with services.core.uow(app_id) as uow:
            return uow.users.page(spec, ALL, tenant_id=tenant.id).total

    assert total('identityProviderName eq "corp-okta"') == 3  # names are case-insensitive
    assert total('identityProviderName eq "CORP-OKTA" and status eq "PROVISIONED"') == 3
    assert total('identityProviderType eq "OKTA"') == 3
    assert total('identityProviderType eq "WRISTBAND"') == 2
    assert total('identityProviderType eq "okta"') == 0  # types are exact, as in SQL
    assert total('identityProviderName eq "nobody"') == 0
    assert total('identityProviderType eq "OKTA" and status eq "ACTIVE"') == 0

    with services.core.uow(app_id, write=True) as uow:  # its users go by the foreign key's cascade
        uow.identity_providers.delete(okta.id)
        uow.commit()
    assert _counted(services) == _actual(services)
    assert _counted(services)[(tenant.id, "PROVISIONED")] == 2
    assert total('identityProviderType eq "OKTA"') == 0
    with services.core.uow(app_id) as uow:
        assert uow.users.page(ListSpec(count=1), ALL, tenant_id=tenant.id).total == 2


def test_statements_that_change_many_users_at_once_are_counted(services: Services) -> None:
    """An operator's bulk SQL: one UPDATE or DELETE of many users, and users moved between tenants
    and providers (the application never does these, the triggers still count them)."""
    app_id = _app(services)
    a, b = _tenant(services, app_id), _tenant(services, app_id)
    for _ in range(5):
        _add(services, app_id, _user(services, app_id, a.id, rand_email()))
    assert _counted(services) == _actual(services)
    with services.database.transaction(write=True) as connection:
        connection.execute(text("UPDATE users SET status = 'ACTIVE' WHERE tenant_id = :t"), {"t": a.id})
        connection.execute(
            text(
                "UPDATE users SET status = 'INACTIVE' WHERE id IN (SELECT id FROM users WHERE tenant_id = :t LIMIT 2)"
            ),
            {"t": a.id},
        )
        connection.commit()
    assert _counted(services) == _actual(services)
    assert _counted(services)[(a.id, "ACTIVE")] == 3 and _counted(services)[(a.id, "INACTIVE")] == 2
    with services.core.uow(app_id) as uow:
        b_provider = uow.identity_providers.get_by_name("wristband", b.id)
    assert b_provider is not None
    with services.database.transaction(write=True) as connection:  # move two users to tenant b
        connection.execute(
            text(
                "UPDATE users SET tenant_id = :b, identity_provider_id = :p"
                " WHERE tenant_id = :a AND status = 'INACTIVE'"
            ),
            {"a": a.id, "b": b.id, "p": b_provider.id},
        )
        connection.execute(text("DELETE FROM users WHERE tenant_id = :a AND status = 'ACTIVE'"), {"a": a.id})
        connection.commit()
    assert _counted(services) == _actual(services)
    assert _counted(services)[(b.id, "INACTIVE")] == 2 and (a.id, "ACTIVE") not in _counted(services)


def test_postgresql_spreads_a_count_over_64_slots(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """Migration 0005: concurrent writers of one tenant wait for each other's counter row only when
    their transaction ids share a slot — 8 slots before it, 64 after (the old rows still count)."""
    server_url = request.getfixturevalue("pg_url")
    url = f"{server_url}_slots_{rand_email().split('@')[0].replace('-', '_')}"
    _create_database(server_url, url)
    upgrade(url, "0004")
    services = bootstrap(test_settings(tmp_path, url), migrate=False)
    try:
        app_id = _app(services)
        tenant = _tenant(services, app_id)

        def slots_after_adding(users: int) -> set[int]:
            with services.database.transaction(write=False) as connection:
                before = set(connection.execute(select(t.user_counts.c.slot)).scalars())
            for _ in range(users):  # one transaction each: consecutive transaction ids
                _add(services, app_id, _user(services, app_id, tenant.id, rand_email()))
            with services.database.transaction(write=False) as connection:
                return set(connection.execute(select(t.user_counts.c.slot)).scalars()) - before

        assert max(slots_after_adding(40)) < 8
        upgrade(url, "head")
        assert len(slots_after_adding(40)) > 8
        assert _counted(services) == _actual(services) == {(tenant.id, "PROVISIONED"): 80}
    finally:
        services.close()
        _drop_database(server_url, url)


def test_the_slots_migration_downgrades(request: pytest.FixtureRequest) -> None:
    from alembic import command

    from tenantry.adapters.sql.migrate import alembic_config

    server_url = request.getfixturevalue("pg_url")
    url = f"{server_url}_slots_down_{rand_email().split('@')[0].replace('-', '_')}"
    _create_database(server_url, url)
    try:
        upgrade(url, "head")
        command.downgrade(alembic_config(url), "0004")
        upgrade(url, "head")
    finally:
        _drop_database(server_url, url)
