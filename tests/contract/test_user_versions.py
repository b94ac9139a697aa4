"""``users.update(user, expected_version)``: the UPDATE itself refuses a write based on a stale
read, so a read-modify-write never overwrites a change made in between (both databases)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tenantry.bootstrap import Services
from tenantry.core.errors import ChangedMeanwhile
from tests.contract.test_repositories import _add, _app, _tenant, _user
from tests.support import rand_email


def test_a_stale_version_is_refused_and_the_current_row_stays(services: Services) -> None:
    app_id = _app(services)
    user = _user(services, app_id, _tenant(services, app_id).id, rand_email(), givenName="Ada")
    _add(services, app_id, user)
    read = user.metadata.version

    first = replace(user, profile={**user.profile, "givenName": "Augusta"})
    first.metadata.touch(datetime.now(UTC))
    with services.core.uow(app_id, write=True) as uow:
        uow.users.update(first, expected_version=read)
        uow.commit()

    stale = replace(user, profile={**user.profile, "givenName": "Grace"})
    stale.metadata.touch(datetime.now(UTC))
    with pytest.raises(ChangedMeanwhile), services.core.uow(app_id, write=True) as uow:
        uow.users.update(stale, expected_version=read)
    with services.core.uow(app_id) as uow:
        stored = uow.users.get(user.id)
    assert stored is not None and stored.profile["givenName"] == "Augusta" and stored.metadata.version == read + 1
