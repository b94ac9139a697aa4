"""Dashboard administrators and their sessions (``dashboard_admins``, ``dashboard_sessions``).

Sessions carry no application column: every read joins the administrator and filters on the
repository's application."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, func, insert, select, update

from tenantry.adapters.sql import tables as t
from tenantry.adapters.sql.repositories.base import Repository, aware
from tenantry.core.admins.model import Admin, AdminSession
from tenantry.core.ports import Page

A = t.dashboard_admins
S = t.dashboard_sessions


def _admin(row: Any) -> Admin:
    return Admin(
        id=row.id,
        application_id=row.application_id,
        tenant_id=row.tenant_id,
        email=row.email,
        password_hash=row.password_hash,
        failed_logins=row.failed_logins,
        locked_until=aware(row.locked_until),
        last_login_at=aware(row.last_login_at),
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        updated_at=aware(row.updated_at),  # type: ignore[arg-type]
        version=row.version,
        totp_secret=row.totp_secret,
    )


class SqlAdminRepository(Repository):
    def add(self, admin: Admin) -> None:
        self.write(
            insert(A).values(
                id=admin.id,
                application_id=self.application_id,
                tenant_id=admin.tenant_id,
                email=admin.email,
                email_key=admin.email.strip().lower(),
                password_hash=admin.password_hash,
                failed_logins=admin.failed_logins,
                locked_until=admin.locked_until,
                last_login_at=admin.last_login_at,
                created_at=admin.created_at,
                updated_at=admin.updated_at,
                version=admin.version,
                totp_secret=admin.totp_secret,
            )
        )

    def get(self, admin_id: str) -> Admin | None:
        row = self.connection.execute(
            select(A).where((A.c.id == admin_id) & (A.c.application_id == self.application_id))
        ).first()
        return _admin(row) if row else None

    def get_by_email_key(self, email_key: str) -> Admin | None:
        row = self.connection.execute(
            select(A).where((A.c.email_key == email_key) & (A.c.application_id == self.application_id))
        ).first()
        return _admin(row) if row else None

    def page(self, start_index: int, count: int) -> Page[Admin]:
        mine = A.c.application_id == self.application_id
        total = self.connection.execute(select(func.count()).select_from(A).where(mine)).scalar_one()
        rows = self.connection.execute(
            select(A).where(mine).order_by(A.c.email_key, A.c.id).offset(start_index - 1).limit(count)
        ).all()
        return Page(total=total, start_index=start_index, items=[_admin(r) for r in rows])

    def delete(self, admin_id: str) -> None:
        mine = (A.c.id == admin_id) & (A.c.application_id == self.application_id)
        self.connection.execute(delete(S).where(S.c.admin_id.in_(select(A.c.id).where(mine))))
        self.connection.execute(delete(A).where(mine))

    def set_password_hash(self, admin_id: str, password_hash: str) -> None:
        self.connection.execute(
            update(A)
            .where((A.c.id == admin_id) & (A.c.application_id == self.application_id))
            .values(password_hash=password_hash)
        )

    def replace_totp(self, admin_id: str, expected: str | None, stored: str | None) -> bool:
        current = A.c.totp_secret.is_(None) if expected is None else A.c.totp_secret == expected
        result = self.connection.execute(
            update(A)
            .where((A.c.id == admin_id) & (A.c.application_id == self.application_id) & current)
            .values(totp_secret=stored, version=A.c.version + 1)
        )
        return result.rowcount == 1

    def record_login_failure(self, admin_id: str, threshold: int, lock_until: datetime) -> None:
        count = A.c.failed_logins + 1
        self.connection.execute(
            update(A)
            .where((A.c.id == admin_id) & (A.c.application_id == self.application_id))
            .values(failed_logins=count, locked_until=case((count >= threshold, lock_until), else_=A.c.locked_until))
        )

    def record_login_success(self, admin_id: str, now: datetime, password_hash: str | None) -> None:
        values: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
        if password_hash is not None:
            values["password_hash"] = password_hash
        self.connection.execute(
            update(A).where((A.c.id == admin_id) & (A.c.application_id == self.application_id)).values(**values)
        )

    def add_session(self, session: AdminSession, token_hash: str) -> None:
        self.write(
            insert(S).values(
                id=session.id,
                token_hash=token_hash,
                admin_id=session.admin_id,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
            )
        )

    def get_session(self, token_hash: str) -> tuple[AdminSession, Admin] | None:
        query = (
            select(S.c.id.label("session_id"), S.c.created_at.label("s_created"), S.c.last_seen_at, S.c.expires_at, A)
            .join(A, A.c.id == S.c.admin_id)
            .where((S.c.token_hash == token_hash) & (A.c.application_id == self.application_id))
        )
        row = self.connection.execute(query).first()
        if row is None:
            return None
        session = AdminSession(
            row.session_id,
            row.id,
            aware(row.s_created),  # type: ignore[arg-type]
            aware(row.last_seen_at),  # type: ignore[arg-type]
            aware(row.expires_at),  # type: ignore[arg-type]
        )
        return session, _admin(row)

    def touch_session(self, session_id: str, now: datetime) -> None:
        self.connection.execute(update(S).where(S.c.id == session_id).values(last_seen_at=now))

    def delete_session(self, session_id: str) -> None:
        self.connection.execute(delete(S).where(S.c.id == session_id))
