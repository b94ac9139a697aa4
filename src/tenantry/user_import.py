"""``tenantry users import``: users from another system, one JSON object a line.

Each line is a Create User body as the API takes it (``docs/api.md``), with three conveniences:
``tenantName`` (the tenant's ``domainName``) may stand for ``tenantId``,
``identityProviderName`` defaults to the built-in provider, and ``roles`` lists roles to assign
(short names: the tenant's role of that name, else the application's; or full names). Passwords come as ``passwordHash``
(the old system's hash, ``docs/migrating.md``) or ``password`` (hashed here, slowly). Every line
goes through the same use case as ``POST /api/v1/users`` — the same checks, the same database
constraints, the same audit record — so an import changes nothing the API could not.

Lines are independent: a bad one is reported with its number and the rest go on. With
``skip_existing`` a line whose email is already taken in its tenant counts as already imported
(its roles are still assigned), so an interrupted import is finished by running it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import Enum
from itertools import islice
from typing import Any

from pydantic import ValidationError

from tenantry.core.access import Principal
from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, TenantryError, Violation
from tenantry.core.roles.service import assign_roles
from tenantry.core.users import service as users
from tenantry.web.api.schemas import CreateUserBody
from tenantry.web.api.users import create_user_command

BUILT_IN_PROVIDER = "wristband"


class Outcome(Enum):
    CREATED = "created"
    EXISTING = "existing"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LineResult:
    line: int
    outcome: Outcome
    detail: str = ""


@dataclass(slots=True)
class ImportSummary:
    created: int = 0
    existing: int = 0
    failures: list[LineResult] = field(default_factory=list)

    def add(self, result: LineResult) -> None:
        if result.outcome is Outcome.CREATED:
            self.created += 1
        elif result.outcome is Outcome.EXISTING:
            self.existing += 1
        else:
            self.failures.append(result)


class LineRejected(Exception):
    """A line that cannot become a Create User call; the message says why."""


class UserImport:
    """Imports into one application as its operator (every permission, like the other CLI commands)."""

    def __init__(
        self,
        core: CoreContext,
        application_id: str,
        *,
        default_tenant: str | None = None,
        skip_existing: bool = False,
        workers: int = 1,
    ) -> None:
        self._core = core
        self._application_id = application_id
        self._operator = Principal.operator(application_id)
        self._default_tenant = default_tenant
        self._skip_existing = skip_existing
        self._workers = max(1, workers)
        self._tenant_ids: dict[str, str | None] = {}
        self._roles: dict[tuple[str, tuple[str, ...]], list[str] | LineRejected] = {}

    def run(self, lines: Iterable[bytes | str], on_result: Callable[[LineResult], None] | None = None) -> ImportSummary:
        """Import every non-blank line; ``on_result`` hears of each as it ends (in any order)."""
        summary = ImportSummary()
        with ThreadPoolExecutor(self._workers, thread_name_prefix="import") as pool:
            for result in _bounded(pool, self._import_line, _numbered(lines), window=4 * self._workers):
                summary.add(result)
                if on_result is not None:
                    on_result(result)
        summary.failures.sort(key=lambda r: r.line)
        return summary

    def _import_line(self, numbered: tuple[int, bytes | str]) -> LineResult:
        number, raw = numbered
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            command, role_names = self._command(text)
            role_ids = self._role_ids(command.tenant_id, role_names)
        except UnicodeDecodeError:
            return LineResult(number, Outcome.FAILED, "not UTF-8 text")
        except LineRejected as error:
            return LineResult(number, Outcome.FAILED, str(error))
        try:  # the user and its roles in one transaction
            user = users.create_user(self._core, self._operator, replace(command, role_ids=role_ids))
            return LineResult(number, Outcome.CREATED, user.id)
        except ConstraintViolations as error:
            existing = self._existing(command) if self._skip_existing and _is_not_unique(error) else None
            if existing is None:
                return LineResult(number, Outcome.FAILED, _describe(error))
        except TenantryError as error:
            return LineResult(number, Outcome.FAILED, error.message)
        if role_ids:  # already there: its line's roles still (assigning a role twice changes nothing)
            try:
                assign_roles(self._core, self._operator, existing, role_ids, replace=False)
            except TenantryError as error:
                return LineResult(number, Outcome.FAILED, f"the user is there, but its roles are not: {error.message}")
        return LineResult(number, Outcome.EXISTING, existing)

    def _existing(self, command: users.CreateUser) -> str | None:
        """The id of the line's user if it is there: its email in its tenant and provider. (The
        database names one violated constraint, not necessarily the email's: the username's may
        come first.)"""
        with self._core.uow(self._application_id) as uow:
            found = uow.users.find_by_email(command.email)
        return next(
            (
                u.id
                for u in found
                if u.tenant_id == command.tenant_id and u.identity_provider_name == command.identity_provider_name
            ),
            None,
        )

    def _role_ids(self, tenant_id: str, names: list[str]) -> list[str]:
        """Each role by its full name (``app:…`` / ``tnt:…``) or its short name: the tenant's own
        role of that name or the application's, refused when both exist (say which). Resolved
        once per tenant and list of names: an import's lines mostly repeat a few."""
        if not names:
            return []
        key = (tenant_id, tuple(names))
        if key not in self._roles:
            try:
                self._roles[key] = self._resolve_roles(tenant_id, names)
            except LineRejected as error:
                self._roles[key] = error
        found = self._roles[key]
        if isinstance(found, LineRejected):
            raise LineRejected(str(found))
        return found

    def _resolve_roles(self, tenant_id: str, names: list[str]) -> list[str]:
        with self._core.uow(self._application_id) as uow:
            tenant = uow.tenants.get(tenant_id)
            application = uow.applications.get(self._application_id)
            if tenant is None or application is None:
                raise LineRejected(f"no tenant {tenant_id}")
            found: list[str] = []
            for name in names:
                candidates = (
                    [name]
                    if ":" in name
                    else [f"tnt:{tenant.domain_name}:{name}".lower(), f"app:{application.name}:{name}"]
                )
                roles = [r for c in candidates if (r := uow.roles.get_by_name(c)) is not None]
                if not roles:
                    raise LineRejected(f"roles: no role named {name}")
                if len(roles) > 1:
                    raise LineRejected(f"roles: {name} is a tenant role and an application role: write {roles[0].name}")
                found.append(roles[0].id)
        return found

    def _command(self, text: str) -> tuple[users.CreateUser, list[str]]:
        try:
            record = json.loads(text)
        except ValueError as error:
            raise LineRejected(f"not JSON: {error}") from error
        except RecursionError as error:
            raise LineRejected("not JSON: nested too deeply") from error
        if not isinstance(record, dict):
            raise LineRejected("not a JSON object")
        record = dict(record)
        roles = record.pop("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
            raise LineRejected("roles: a list of role names")
        tenant_name = record.pop("tenantName", None)
        if "tenantId" not in record:
            record["tenantId"] = self._tenant_id(tenant_name if tenant_name is not None else self._default_tenant)
        record.setdefault("identityProviderName", BUILT_IN_PROVIDER)
        try:
            body = CreateUserBody.model_validate(record)
        except ValidationError as error:
            raise LineRejected(_describe_validation(error)) from error
        return create_user_command(body), roles

    def _tenant_id(self, name: Any) -> str:
        if name is None:
            raise LineRejected("no tenant: give tenantId or tenantName, or --tenant for every line")
        if not isinstance(name, str):
            raise LineRejected("tenantName: not a string")
        if name not in self._tenant_ids:
            with self._core.uow(self._application_id) as uow:
                tenant = uow.tenants.get_by_domain_name(name)
            self._tenant_ids[name] = tenant.id if tenant is not None else None
        found = self._tenant_ids[name]
        if found is None:
            raise LineRejected(f"no tenant named {name}")
        return found


def _numbered(lines: Iterable[bytes | str]) -> Iterator[tuple[int, bytes | str]]:
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield number, text


def _bounded(
    pool: ThreadPoolExecutor,
    work: Callable[[tuple[int, bytes | str]], LineResult],
    items: Iterator[tuple[int, bytes | str]],
    *,
    window: int,
) -> Iterator[LineResult]:
    """``pool.map`` that reads ahead at most ``window`` items: a file of millions of lines is
    never held in memory. Results come in the order of the items."""
    pending: list[Future[LineResult]] = [pool.submit(work, item) for item in islice(items, window)]
    while pending:
        done = pending.pop(0)
        for item in islice(items, 1):
            pending.append(pool.submit(work, item))
        yield done.result()


def _is_not_unique(error: ConstraintViolations) -> bool:
    return any(v.code == "not_unique" for found in error.violations.values() for v in found)


def _describe(error: ConstraintViolations) -> str:
    fields = "; ".join(f"{name}: {', '.join(map(_violation, found))}" for name, found in error.violations.items())
    return f"{error.message} ({fields})" if fields else error.message


def _violation(violation: Violation) -> str:
    attributes = ", ".join(f"{k}={v}" for k, v in violation.attributes.items())
    return f"{violation.code} [{attributes}]" if attributes else violation.code


def _describe_validation(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'line'}: {e['msg']}" for e in error.errors())
