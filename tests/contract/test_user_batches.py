"""``users.batch_after``: every user of the application, or of one tenant, once, in id order."""

from __future__ import annotations

from tenantry.bootstrap import Services
from tests.contract.test_repositories import _add, _app, _tenant, _user
from tests.support import rand_email


def test_batches_walk_every_user_once_and_stay_in_their_application(services: Services) -> None:
    app_id, other_app = _app(services), _app(services)
    first, second = _tenant(services, app_id), _tenant(services, app_id)
    elsewhere = _tenant(services, other_app)
    users = [_user(services, app_id, tenant.id, rand_email()) for tenant in (first, second) * 5]
    for user in users:
        _add(services, app_id, user)
    _add(services, other_app, _user(services, other_app, elsewhere.id, rand_email()))

    def walk(tenant_id: str | None = None) -> list[str]:
        seen: list[str] = []
        after: str | None = None
        while True:
            with services.core.uow(app_id) as uow:
                batch = uow.users.batch_after(after, 3, tenant_id)
            if not batch:
                return seen
            assert len(batch) <= 3
            seen += [u.id for u in batch]
            after = batch[-1].id

    assert walk() == sorted(u.id for u in users)
    assert walk(first.id) == sorted(u.id for u in users if u.tenant_id == first.id)
    with services.core.uow(app_id) as uow:
        assert uow.users.batch_after(None, 100, elsewhere.id) == []
        loaded = uow.users.batch_after(None, 1)[0]
    assert loaded == next(u for u in users if u.id == loaded.id)
