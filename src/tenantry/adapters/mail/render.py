"""``TemplateRenderer``: Jinja2 templates per message kind, ``templates/<kind>/``::

    subject.txt.jinja   one line (whitespace, line breaks included, is collapsed to single spaces)
    body.txt.jinja      the text/plain part
    body.html.jinja     the text/html part; extends ``_layout.html.jinja``; autoescaped

Undefined variables are errors (``StrictUndefined``); optional values default to ``None``.

Every template gets the branding of ``EmailContext``:

    application_name   always
    tenant_name        or None
    logo_url           the tenant's logo (``tenant_logo_url``, http(s) only) or None
    brand              tenant_name when set, else application_name

and the kind's values (``EmailContext.values``):

    user_activation            action_url, expires_minutes, user_name, code (optional one-time code)
    email_verification         action_url, expires_minutes
    tenant_discovery           tenants: a list of {display_name, login_url}
    forgot_password            action_url, expires_minutes
    new_user_invitation        action_url, expires_minutes, inviter (optional)
    existing_user_invitation   action_url, expires_minutes, user_name

``expires_minutes`` is shown through the ``duration`` filter ("30 minutes", "1 hour", "7 days").
Links (``action_url``, each ``login_url``) must be absolute http(s) URLs, so a template can
never be made to carry a ``javascript:`` link.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tenantry.core.mail.model import EmailContext, EmailKind, RenderedEmail

TEMPLATES = Path(__file__).parent / "templates"

REQUIRED: dict[EmailKind, tuple[str, ...]] = {
    EmailKind.USER_ACTIVATION: ("action_url", "expires_minutes", "user_name"),
    EmailKind.EMAIL_VERIFICATION: ("action_url", "expires_minutes"),
    EmailKind.TENANT_DISCOVERY: ("tenants",),
    EmailKind.FORGOT_PASSWORD: ("action_url", "expires_minutes"),
    EmailKind.NEW_USER_INVITATION: ("action_url", "expires_minutes"),
    EmailKind.EXISTING_USER_INVITATION: ("action_url", "expires_minutes", "user_name"),
}
OPTIONAL: dict[EmailKind, tuple[str, ...]] = {
    EmailKind.USER_ACTIVATION: ("code",),
    EmailKind.NEW_USER_INVITATION: ("inviter",),
}


class TemplateContextError(ValueError):
    """The values given for a kind do not match what its templates need."""


def _is_web_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _check_url(kind: EmailKind, name: str, value: object) -> None:
    if not _is_web_url(value):
        raise TemplateContextError(f"{kind.value}: {name} must be an absolute http(s) URL")


def duration(minutes: int) -> str:
    """``90`` -> "90 minutes", ``60`` -> "1 hour", ``10080`` -> "7 days"."""
    for size, unit in ((1440, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{minutes} minutes"


class TemplateRenderer:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(enabled_extensions=("html.jinja", "html"), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.filters["duration"] = duration

    def render(self, kind: EmailKind, context: EmailContext) -> RenderedEmail:
        values = self._values(kind, context)
        subject = self._env.get_template(f"{kind.value}/subject.txt.jinja").render(values)
        text = self._env.get_template(f"{kind.value}/body.txt.jinja").render(values)
        html = self._env.get_template(f"{kind.value}/body.html.jinja").render(values)
        return RenderedEmail(subject=" ".join(subject.split()), text=text.strip() + "\n", html=html)

    @staticmethod
    def _values(kind: EmailKind, context: EmailContext) -> dict[str, Any]:
        given: Mapping[str, Any] = context.values
        missing = [name for name in REQUIRED[kind] if given.get(name) is None]
        if missing:
            raise TemplateContextError(f"{kind.value}: missing {', '.join(missing)}")
        unknown = set(given) - set(REQUIRED[kind]) - set(OPTIONAL.get(kind, ()))
        if unknown:
            raise TemplateContextError(f"{kind.value}: unexpected {', '.join(sorted(unknown))}")
        if "action_url" in given:
            _check_url(kind, "action_url", given["action_url"])
        for tenant in given.get("tenants", ()):
            if not isinstance(tenant, Mapping) or not tenant.get("display_name"):
                raise TemplateContextError(f"{kind.value}: each tenant needs display_name and login_url")
            _check_url(kind, "login_url", tenant.get("login_url"))
        return {
            **dict.fromkeys(OPTIONAL.get(kind, ())),
            **given,
            "application_name": context.application_name,
            "tenant_name": context.tenant_name,
            "logo_url": context.tenant_logo_url if _is_web_url(context.tenant_logo_url) else None,
            "brand": context.tenant_name or context.application_name,
        }
