"""One typed settings tree, read from ``TENANTRY_*`` environment variables; the only module that
reads the environment. ``docs/configuration.md`` documents every field."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TENANTRY_", extra="ignore")

    env: Literal["local", "production", "test"] = "local"
    data_dir: Path = Path(".tenantry")
    database_url: str | None = None
    db_pool_size: int = Field(10, ge=1, le=200)

    access_token_lifetime: int = Field(3600, ge=120, le=86400, description="seconds")
    session_idle_seconds: int = Field(8 * 3600, ge=60)
    session_absolute_seconds: int = Field(30 * 86400, ge=300)
    authorization_code_seconds: int = Field(120, ge=10, le=600)
    refresh_token_seconds: int = Field(30 * 86400, ge=300)
    lockout_threshold: int = Field(10, ge=1, description="failed logins before a temporary lockout")
    lockout_seconds: int = Field(900, ge=1)
    argon2_memory_kib: int = Field(19456, ge=1024)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1)
    # Hashes one process runs at once; unset: the CPUs this process may use, divided by the
    # ``serve --workers`` count (``serve`` passes it on as TENANTRY_HASH_CONCURRENCY).
    hash_concurrency: int | None = Field(None, ge=1)
    password_min_length: int = Field(8, ge=6, le=128)
    # Threads a process runs blocking request work on (the database); unset: db_pool_size.
    request_threads: int | None = Field(None, ge=1, le=256)

    max_body_bytes: int = Field(1_048_576, ge=1024)
    max_page_size: int = Field(1000, ge=1, le=10_000)
    default_page_size: int = Field(50, ge=1)

    saml_sp_key_file: Path | None = Field(None, description="PEM key signing AuthnRequests (shared by all nodes)")
    saml_sp_cert_file: Path | None = Field(None, description="PEM certificate published in the SP metadata")

    smtp_url: str | None = Field(None, description="smtp://user:pass@host:587?starttls=true or smtps://...")
    mail_from: str = "Tenantry <no-reply@tenantry.local>"
    mail_max_attempts: int = Field(8, ge=1, le=100)
    mail_retry_base_seconds: float = Field(5.0, gt=0, description="first retry delay; doubles each time")
    mail_poll_seconds: float = Field(1.0, gt=0)
    mail_lease_seconds: float = Field(120.0, gt=30, le=3600, description="how long a dispatcher holds what it claimed")
    mail_dispatcher: bool = Field(True, description="run the outbox dispatcher thread inside serve")

    key_refresh_seconds: float = Field(60.0, gt=0)
    tenant_purge_interval: float = Field(5.0, gt=0, description="seconds between purges of deleted tenants")
    redis_url: str | None = Field(None, description="redis://… shares rate-limit counters between nodes")
    rate_limit_enabled: bool = True
    rate_limits: dict[str, str] = Field(default_factory=dict, description='overrides, e.g. {"login_ip": "30/minute"}')
    log_json: bool | None = None
    log_level: str = "INFO"
    trusted_proxies: list[str] = Field(default_factory=list)

    @property
    def resolved_request_threads(self) -> int:
        """A thread beyond the connection pool would only wait for a connection (and each thread
        that ran a request keeps its own glibc arena: 16 signups at once held ~20 MB more with 40
        threads than with 8)."""
        return self.request_threads or self.db_pool_size

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tenantry.db').resolve()}"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.env == "production"
