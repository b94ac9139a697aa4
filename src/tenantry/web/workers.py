"""Background work inside ``serve``: purging tenants whose deletion was requested, and delivering
the email outbox."""

from __future__ import annotations

import threading

import structlog

from tenantry.bootstrap import Services
from tenantry.core.invitations.service import expire_invitations
from tenantry.core.tenants.service import purge_deleted_tenants

log = structlog.get_logger("tenantry.workers")


class TenantPurger:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        from sqlalchemy import select

        from tenantry.adapters.sql import tables as t

        with self._services.database.transaction(write=False) as connection:
            app_ids = list(connection.execute(select(t.applications.c.id)).scalars())
        for app_id in app_ids:
            expire_invitations(self._services.core, app_id)
        return sum(purge_deleted_tenants(self._services.core, app_id) for app_id in app_ids)

    def _loop(self) -> None:
        while not self._stop.wait(self._services.settings.tenant_purge_interval):
            try:
                purged = self.run_once()
                if purged:
                    log.info("tenants_purged", count=purged)
            except Exception:  # keep the worker alive; the next pass retries
                log.exception("tenant_purge_failed")

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="tenant-purger", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


class MailDispatcherThread:
    """Runs ``services.outbox_dispatcher`` in a daemon thread (``tenantry worker`` runs it in the
    foreground instead). Any number of these, on any number of nodes, may run at once."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._services.outbox_dispatcher.run_forever,
                args=(self._stop,),
                name="mail-dispatcher",
                daemon=True,
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
            self._thread = None
