"""Policy forms (signup, user schema, password, email and invitation links, role assignment), shared by
the application's policies page and a tenant's overrides.

A blank field means "not set at this level": the application falls back to the default, a tenant
to the application's value. Values are checked by the core (``parse_settings``), as for the API."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from tenantry.core.context import CoreContext
from tenantry.core.errors import ConstraintViolations, TenantryError, Violation
from tenantry.core.policies.model import POLICY_TYPES, SCHEMA_FIELDS, PolicyKind, to_json
from tenantry.core.policies.service import read_policy, read_settings, set_policy
from tenantry.web.dashboard.common import app_admin_only, call, dashboard_router, notice
from tenantry.web.dashboard.rendering import FormDep, Signed, SignedDep, error_text, not_found, redirect, render
from tenantry.web.deps import CoreDep

router = dashboard_router()
TITLES = {  # by kind value; a kind not listed here gets a title made from its value
    "signup": "Signup",
    "user_schema": "User schema",
    "password": "Password",
    "email": "Email and invitation links",
    "role_assignment": "Role assignment",
    "sso_login": "SSO login",
}
LABELS = {
    "verification": "Verification after signup",
    "customRedirectUrl": "Redirect after signup (https URL)",
    "requiredFields": f"Required profile fields (comma-separated: {', '.join(SCHEMA_FIELDS)})",
    "minLength": "Minimum password length (6-128)",
    "activationMinutes": "Activation link lifetime, minutes",
    "verificationMinutes": "Email verification link lifetime, minutes",
    "resetPasswordMinutes": "Reset-password link lifetime, minutes",
    "invitationMinutes": "Invitation lifetime, minutes",
    "activationUrl": "Activation link target (https URL)",
    "verificationUrl": "Verification link target (https URL)",
    "resetPasswordUrl": "Reset-password link target (https URL)",
    "invitationUrl": "Invitation link target (https URL)",
    "applicationSignupRoles": "Roles of a tenant's first user (comma-separated role names)",
    "defaultRoles": "Roles of every other new user (comma-separated role names)",
    "emailVerification": "Email verification after an SSO login",
}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: str  # number | url | choice | list
    value: str  # what is set at this level ("" = not set)
    effective: str  # what is in force
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyForm:
    kind: PolicyKind
    slug: str
    title: str
    fields: tuple[Field, ...]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _field_kind(sample: Any) -> tuple[str, tuple[str, ...]]:
    """How a setting is edited, from its default: a choice (enums, yes/no), a number, a list, or text."""
    if isinstance(sample, bool):
        return "choice", ("true", "false")
    if isinstance(sample, Enum):
        return "choice", tuple(str(member.value) for member in type(sample))
    if isinstance(sample, int):
        return "number", ()
    if isinstance(sample, tuple):
        return "list", ()
    return "url", ()


def _settings(kind: PolicyKind) -> list[tuple[str, Any]]:
    """(camelCase name, default value) of each setting of ``kind``."""
    default = POLICY_TYPES[kind]()
    return [(name, getattr(default, f.name)) for f, name in zip(fields(default), to_json(default), strict=True)]


def title_of(kind: PolicyKind) -> str:
    return TITLES.get(kind.value, kind.value.replace("_", " ").capitalize())


def policy_forms(core: CoreContext, signed: Signed, tenant_id: str | None) -> list[PolicyForm]:
    forms = []
    for kind in PolicyKind:
        stored = call(read_settings, core, signed.principal, kind, tenant_id)
        effective = call(read_policy, core, signed.principal, kind, tenant_id)
        form_fields = []
        for name, sample in _settings(kind):
            field_kind, choices = _field_kind(sample)
            form_fields.append(
                Field(
                    name,
                    LABELS.get(name, name),
                    field_kind,
                    _text(stored.get(name)),
                    _text(effective.get(name)),
                    choices,
                )
            )
        forms.append(PolicyForm(kind, kind.value.replace("_", "-"), title_of(kind), tuple(form_fields)))
    return forms


def kind_of(slug: str) -> PolicyKind:
    try:
        return PolicyKind(slug.replace("-", "_"))
    except ValueError:
        raise not_found() from None


def document_from(kind: PolicyKind, form: Any) -> dict[str, Any]:
    """The policy document of a posted form: blank is ``None`` (not set here); numbers, yes/no and
    lists are parsed here, everything else is checked by the core."""
    document: dict[str, Any] = {}
    violations: dict[str, list[Violation]] = {}
    for name, sample in _settings(kind):
        raw = form.get(name).strip()
        if not raw:
            document[name] = None
        elif isinstance(sample, bool):
            if raw not in ("true", "false"):
                violations[name] = [Violation("invalid_value", {"expected": "true or false"})]
            document[name] = raw == "true"
        elif isinstance(sample, tuple):
            document[name] = [part.strip() for part in raw.split(",") if part.strip()]
        elif isinstance(sample, int) and not isinstance(sample, Enum):
            try:
                document[name] = int(raw)
            except ValueError:
                violations[name] = [Violation("invalid_value", {"expected": "a whole number"})]
        else:
            document[name] = raw
    if violations:
        raise ConstraintViolations(violations, f"Invalid {kind.value} policy")
    return document


def save_policy(core: CoreContext, signed: Signed, kind: PolicyKind, tenant_id: str | None, form: Any) -> None:
    set_policy(core, signed.principal, kind, tenant_id, document_from(kind, form))


def _page(request: Request, core: CoreContext, signed: Signed, status: int = 200, **extra: Any) -> Response:
    context = {
        "section": "policies",
        "forms": policy_forms(core, signed, None),
        "action_base": "/dashboard/policies",
        "tenant_level": False,
        "notice": notice(request),
        **extra,
    }
    return render(request, "policies.html", context, status, signed)


@router.get("/policies", response_model=None)
def policies(request: Request, signed: SignedDep, core: CoreDep) -> Response:
    app_admin_only(signed)
    return _page(request, core, signed)


@router.post("/policies/{slug}", response_model=None)
def save(request: Request, slug: str, signed: SignedDep, core: CoreDep, form: FormDep) -> Response:
    app_admin_only(signed)
    kind = kind_of(slug)
    try:
        save_policy(core, signed, kind, None, form)
    except TenantryError as error:
        return _page(request, core, signed, 400, errors=[f"{title_of(kind)}: {e}" for e in error_text(error)])
    return redirect(f"/dashboard/policies?done=policy#policy-{slug}")
