"""The schema, as SQLAlchemy Core tables. Alembic migrations are written against it.

Every uniqueness rule of the domain is a constraint here, never a read-then-write in Python.
Case-insensitive rules use a ``*_key`` column holding the lower-cased value, so the same plain
unique index works on SQLite and PostgreSQL and filters can use it.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

ID = String(26)
TS = DateTime(timezone=True)


def _metadata_columns() -> list[Column[object]]:
    return [
        Column("created_at", TS, nullable=False),
        Column("updated_at", TS, nullable=False),
        Column("version", Integer, nullable=False, server_default=text("1")),
    ]


applications = Table(
    "applications",
    metadata,
    Column("id", ID, primary_key=True),
    Column("name", String(63), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("vanity_domain", String(253), nullable=False),
    Column("custom_domain_active", Boolean, nullable=False),
    Column("signup_enabled", Boolean, nullable=False),
    Column("login_url", String(2000)),
    Column("status", String(20), nullable=False),
    *_metadata_columns(),
    UniqueConstraint("vanity_domain", name="uq_applications_vanity_domain"),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("domain_name", String(40), nullable=False),
    Column("domain_key", String(40), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("description", String(1000)),
    Column("logo_url", String(2000)),
    Column("custom_domain", String(253)),
    Column("signup_enabled", Boolean, nullable=False),
    Column("type", String(20), nullable=False),
    Column("status", String(30), nullable=False),
    Column("public_metadata", JSON, nullable=False),
    Column("restricted_metadata", JSON, nullable=False),
    *_metadata_columns(),
    UniqueConstraint("application_id", "domain_key", name="uq_tenants_domain_name"),
    UniqueConstraint("custom_domain", name="uq_tenants_custom_domain"),
    CheckConstraint("type in ('STANDARD','GLOBAL','STANDALONE')", name="type"),
    CheckConstraint("status in ('ACTIVE','INACTIVE','DELETE_IN_PROGRESS')", name="status"),
    Index(
        "uq_tenants_one_global",
        "application_id",
        unique=True,
        sqlite_where=text("type = 'GLOBAL'"),
        postgresql_where=text("type = 'GLOBAL'"),
    ),
    Index("ix_tenants_app_status", "application_id", "status"),
)

identity_providers = Table(
    "identity_providers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("owner_type", String(20), nullable=False),
    Column("owner_id", ID, nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("type", String(30), nullable=False),
    Column("name", String(100), nullable=False),
    Column("name_key", String(100), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("jit_provisioning_enabled", Boolean, nullable=False),
    Column("protocol", JSON, nullable=False),
    Column("role_mappings", JSON, nullable=False, server_default=text("'[]'")),
    *_metadata_columns(),
    UniqueConstraint("application_id", "owner_id", "name_key", name="uq_identity_providers_name"),
)

# Home-realm discovery: an email domain routes to one external provider in the application.
identity_provider_domains = Table(
    "identity_provider_domains",
    metadata,
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("domain_key", String(253), primary_key=True),
    Column("identity_provider_id", ID, ForeignKey("identity_providers.id", ondelete="CASCADE"), nullable=False),
    Index("ix_identity_provider_domains_provider", "identity_provider_id"),
)

# Whether a tenant may use its own providers instead of the application's.
identity_provider_override_toggles = Table(
    "identity_provider_override_toggles",
    metadata,
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), primary_key=True),
    Column("owner_id", ID, primary_key=True),
    Column("owner_type", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("updated_at", TS, nullable=False),
)

# The users' columns the dashboard's search box matches by prefix (index name part, column).
PREFIX_SEARCHED = (
    ("email", "email_key"),
    ("username", "username_key"),
    ("given", "given_name"),
    ("family", "family_name"),
)
# Indexes created on PostgreSQL only (``ddl_if``): Alembic's autogenerate leaves them out elsewhere.
POSTGRESQL_ONLY_INDEXES = frozenset(f"ix_users_{name}_prefix" for name, _ in PREFIX_SEARCHED)

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("identity_provider_id", ID, ForeignKey("identity_providers.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(200), nullable=False),
    Column("email_key", String(200), nullable=False),
    Column("email_verified", Boolean, nullable=False),
    Column("username", String(200)),
    Column("username_key", String(200)),
    Column("external_id", String(200)),
    Column("full_name", String(200)),
    Column("given_name", String(200)),
    Column("family_name", String(200)),
    Column("profile", JSON, nullable=False),
    Column("status", String(40), nullable=False),
    Column("password_hash", String(300)),
    Column("public_metadata", JSON, nullable=False),
    Column("restricted_metadata", JSON, nullable=False),
    *_metadata_columns(),
    Column("activated_at", TS),
    Column("deactivated_at", TS),
    Column("verified_at", TS),
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", TS),
    UniqueConstraint("tenant_id", "identity_provider_id", "email_key", name="uq_users_email"),
    UniqueConstraint("tenant_id", "identity_provider_id", "external_id", name="uq_users_external_id"),
    UniqueConstraint("tenant_id", "identity_provider_id", "username_key", name="uq_users_username"),
    CheckConstraint(
        "status in ('ACTIVE','INACTIVE','PENDING_INVITE_ACTIVATION','PENDING_SIGNUP_ACTIVATION','PROVISIONED')",
        name="status",
    ),
    # The Users page: one per sort key within a tenant, ending in the id (the listing's tie-break),
    # so a page, its count and a deep page's ids come from the index alone.
    Index("ix_users_app_email", "application_id", "email_key"),
    Index("ix_users_tenant_email", "tenant_id", "email_key", "id"),
    Index("ix_users_tenant_status", "tenant_id", "status", "id"),
    Index("ix_users_tenant_created", "tenant_id", "created_at", "id"),
    Index("ix_users_tenant_family", "tenant_id", "family_name", "id"),
    Index("ix_users_tenant_given", "tenant_id", "given_name", "id"),
    # Search (``sw``, a LIKE 'prefix%'): under a collation other than C, PostgreSQL uses a btree for
    # LIKE only with the pattern operator class. SQLite does without (it uses no index for LIKE here).
    *(
        Index(f"ix_users_{name}_prefix", column, postgresql_ops={column: "varchar_pattern_ops"}).ddl_if(
            dialect="postgresql"
        )
        for name, column in PREFIX_SEARCHED
    ),
)

# How many users each tenant has in each status with each identity provider, kept by triggers on
# ``users`` (migration 0004): the listings' exact totals without counting rows. A count is the sum
# of its slots.
user_counts = Table(
    "user_counts",
    metadata,
    Column("application_id", ID, nullable=False),
    Column("tenant_id", ID, nullable=False),
    Column("identity_provider_id", ID, nullable=False),
    Column("status", String(40), nullable=False),
    Column("slot", Integer, nullable=False),
    Column("users", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "identity_provider_id", "status", "slot", name="pk_user_counts"),
    Index("ix_user_counts_application", "application_id", "status"),
)

roles = Table(
    "roles",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("owner_type", String(20), nullable=False),
    Column("owner_id", ID, nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("display_name", String(200), nullable=False),
    Column("description", String(1000)),
    Column("type", String(20), nullable=False),
    Column("permissions", JSON, nullable=False),
    *_metadata_columns(),
    UniqueConstraint("application_id", "name_key", name="uq_roles_name"),
    Index("ix_roles_tenant", "application_id", "tenant_id"),
)

user_roles = Table(
    "user_roles",
    metadata,
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ID, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_user_roles_role", "role_id"),
)

clients = Table(
    "clients",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("name", String(200), nullable=False),
    Column("type", String(30), nullable=False),
    Column("secret_hash", String(128)),
    Column("redirect_uris", JSON, nullable=False),
    Column("login_url", String(2000)),
    *_metadata_columns(),
    CheckConstraint("type in ('BACKEND_SERVER','SPA','NATIVE','MACHINE_TO_MACHINE')", name="type"),
    Index("ix_clients_app", "application_id"),
)

client_roles = Table(
    "client_roles",
    metadata,
    Column("client_id", ID, ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ID, ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(10), nullable=False),
    Column("private_pem", Text, nullable=False),
    Column("public_jwk", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("retired_at", TS),
    Column("publish_until", TS),
)

# --- hosted login and the OIDC provider -------------------------------------------------------

policies = Table(
    "policies",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("kind", String(40), nullable=False),
    Column("settings", JSON, nullable=False),
    *_metadata_columns(),
    Index("uq_policies_owner_kind", "application_id", "tenant_id", "kind", unique=True),
    Index(
        "uq_policies_app_kind",
        "application_id",
        "kind",
        unique=True,
        sqlite_where=text("tenant_id IS NULL"),
        postgresql_where=text("tenant_id IS NULL"),
    ),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("auth_time", TS, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Index("ix_auth_sessions_user", "user_id"),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", ID, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", ID),
    Column("redirect_uri", String(2000), nullable=False),
    Column("scope", String(1000), nullable=False),
    Column("nonce", String(128)),
    Column("code_challenge", String(128)),
    Column("auth_time", TS, nullable=False),
    Column("family_id", ID, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", ID, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("family_id", ID, nullable=False),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("client_id", ID, ForeignKey("clients.id", ondelete="CASCADE"), nullable=False),
    Column("session_id", ID),
    Column("scope", String(1000), nullable=False),
    Column("auth_time", TS, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Column("revoked_at", TS),
    Index("ix_refresh_tokens_family", "family_id"),
    Index("ix_refresh_tokens_user", "user_id"),
)

email_codes = Table(
    "email_codes",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE")),
    Column("kind", String(40), nullable=False),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("otp_hash", String(64)),
    Column("email", String(200), nullable=False),
    Column("data", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS),
    Index("ix_email_codes_user_kind", "user_id", "kind"),
)

# --- email over an outbox ---------------------------------------------------------------------

outbox = Table(
    "outbox",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE")),
    Column("tenant_id", ID),
    Column("kind", String(40), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", TS, nullable=False),
    Column("locked_until", TS),
    Column("last_error", String(2000)),
    Column("created_at", TS, nullable=False),
    Column("sent_at", TS),
    CheckConstraint("status in ('PENDING','SENT','FAILED')", name="status"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# --- invitations ------------------------------------------------------------------------------

invitations = Table(
    "invitations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # NEW_USER | EXISTING_USER
    Column("invitation_type", String(10), nullable=False),  # EMAIL | LINK
    Column("email", String(200)),
    Column("email_key", String(200)),
    Column("user_id", ID, ForeignKey("users.id", ondelete="CASCADE")),
    Column("completed_user_id", ID, ForeignKey("users.id", ondelete="SET NULL")),
    Column("roles_to_assign", JSON, nullable=False),
    Column("language", String(35)),
    Column("invited_by", String(64)),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("status", String(40), nullable=False),
    Column("expires_at", TS, nullable=False),
    *_metadata_columns(),
    CheckConstraint("kind in ('NEW_USER','EXISTING_USER')", name="kind"),
    CheckConstraint(
        "status in ('PENDING_INVITE_ACCEPTANCE','PENDING_EMAIL_VERIFICATION','COMPLETED','CANCELED','EXPIRED')",
        name="status",
    ),
    # One pending invitation per (tenant, email) and per existing user: a new one cancels the
    # old one in the same transaction; racing inviters meet this index.
    Index(
        "uq_invitations_pending_email",
        "tenant_id",
        "email_key",
        unique=True,
        sqlite_where=text("kind = 'NEW_USER' AND status = 'PENDING_INVITE_ACCEPTANCE' AND email_key IS NOT NULL"),
        postgresql_where=text("kind = 'NEW_USER' AND status = 'PENDING_INVITE_ACCEPTANCE' AND email_key IS NOT NULL"),
    ),
    Index(
        "uq_invitations_pending_user",
        "user_id",
        unique=True,
        sqlite_where=text("kind = 'EXISTING_USER' AND status = 'PENDING_INVITE_ACCEPTANCE'"),
        postgresql_where=text("kind = 'EXISTING_USER' AND status = 'PENDING_INVITE_ACCEPTANCE'"),
    ),
    Index("ix_invitations_tenant_status", "tenant_id", "kind", "status"),
    Index("ix_invitations_due", "status", "expires_at"),
)

# --- dashboard and audit ----------------------------------------------------------------------

dashboard_admins = Table(
    "dashboard_admins",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE")),  # NULL: application admin
    Column("email", String(200), nullable=False),
    Column("email_key", String(200), nullable=False),
    Column("password_hash", String(300), nullable=False),
    Column("totp_secret", String(64)),
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", TS),
    Column("last_login_at", TS),
    *_metadata_columns(),
    UniqueConstraint("application_id", "email_key", name="uq_dashboard_admins_email"),
)

dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("admin_id", ID, ForeignKey("dashboard_admins.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_seen_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID),  # kept after the tenant is gone: the log outlives what it describes
    Column("actor_type", String(20), nullable=False),  # client | user | admin | operator | directory | anonymous
    Column("actor_id", String(64)),
    Column("action", String(80), nullable=False),
    Column("target_type", String(40)),
    Column("target_id", String(64)),
    Column("ip", String(64)),
    Column("user_agent", String(300)),
    Column("details", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Index("ix_audit_events_app_time", "application_id", "created_at"),
    Index("ix_audit_events_tenant_time", "tenant_id", "created_at"),
    Index("ix_audit_events_target", "target_id"),
)

# --- enterprise SSO ----------------------------------------------------------------------------

# A sign-in sent to an external provider and not yet come back: state, nonce and PKCE verifier
# (OIDC) or the AuthnRequest id (SAML), bound to the browser that started it; consumed once.
sso_requests = Table(
    "sso_requests",
    metadata,
    Column("id", ID, primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("identity_provider_id", ID, ForeignKey("identity_providers.id", ondelete="CASCADE"), nullable=False),
    Column("state_hash", String(64), nullable=False, unique=True),
    Column("browser_hash", String(64), nullable=False),
    Column("nonce", String(128)),
    Column("code_verifier", String(128)),
    Column("saml_request_id", String(128)),
    Column("context", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("consumed_at", TS),
    Index("ix_sso_requests_expires", "expires_at"),
)

# SAML assertion ids seen, kept until the assertion expires: a replayed assertion is refused.
saml_assertion_ids = Table(
    "saml_assertion_ids",
    metadata,
    Column(
        "identity_provider_id",
        ID,
        ForeignKey("identity_providers.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("assertion_id", String(256), primary_key=True),
    Column("expires_at", TS, nullable=False),
    Index("ix_saml_assertion_ids_expires", "expires_at"),
)


# Directory (SCIM 2.0) tokens: one per tenant and identity provider; the token is stored hashed.
directory_tokens = Table(
    "directory_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("application_id", ID, ForeignKey("applications.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", ID, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("identity_provider_id", ID, ForeignKey("identity_providers.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("tenant_id", "identity_provider_id", name="uq_directory_tokens_tenant_provider"),
)
