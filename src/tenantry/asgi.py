"""The uvicorn target: ``uvicorn --factory tenantry.asgi:create``. Nothing else."""

from __future__ import annotations

from fastapi import FastAPI

from tenantry.bootstrap import bootstrap
from tenantry.logs import configure_logging
from tenantry.settings import Settings
from tenantry.web.app import create_app


def create() -> FastAPI:
    settings = Settings()
    configure_logging(json=settings.json_logs, level=settings.log_level)
    return create_app(bootstrap(settings, migrate=False))
