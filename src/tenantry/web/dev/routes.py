"""``/dev/mailbox``: the messages ``LogTransport`` delivered, for local development without SMTP.

Mounted only when ``TENANTRY_ENV=local`` and ``TENANTRY_SMTP_URL`` is unset (``mounted``), and
even then it answers loopback clients only: the messages hold activation and password-reset
links, and ``local`` is the default environment, so a server started on a public address by
mistake must not hand them out.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

from tenantry.adapters.mail.memory import LINK, CapturedMail, LogTransport
from tenantry.bootstrap import Services
from tenantry.settings import Settings
from tenantry.web.deps import ServicesDep
from tenantry.web.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, prefix="/dev", tags=["development"], include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}

PAGE = Environment(autoescape=True, undefined=StrictUndefined).from_string(
    """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Dev mailbox ({{ messages | length }})</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 16px; color: #1f2933; }
header { display: flex; justify-content: space-between; align-items: baseline; }
article { border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; margin: 12px 0; }
h2 { font-size: 17px; margin: 0 0 4px; }
.meta { color: #6b7280; font-size: 13px; }
pre { white-space: pre-wrap; word-break: break-word; background: #f9fafb; padding: 12px; border-radius: 6px; }
iframe { width: 100%; height: 560px; border: 1px solid #e5e7eb; border-radius: 6px; }
</style>
</head>
<body>
<header><h1>Dev mailbox</h1><a href="">Refresh</a></header>
<p class="meta">The last {{ capacity }} messages sent by this process, newest first. Also as
<a href="mailbox.json">JSON</a>. Set <code>TENANTRY_SMTP_URL</code> to send real mail.</p>
{% for m in messages %}
<article id="m-{{ m.id }}">
  <h2>{{ m.subject }}</h2>
  <div class="meta">To <strong class="recipient">{{ m.recipient }}</strong> · {{ m.kind }} ·
    <time datetime="{{ m.received_at.isoformat() }}">{{ m.received_at.strftime("%Y-%m-%d %H:%M:%S") }} UTC</time></div>
  <pre>{{ linkify(m.text) }}</pre>
  <details><summary>HTML part</summary>
    <iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="{{ m.html }}" title="HTML part"></iframe>
  </details>
</article>
{% else %}
<p>No messages yet.</p>
{% endfor %}
</body>
</html>
"""
)


def mounted(settings: Settings) -> bool:
    return settings.env == "local" and not settings.smtp_url


def linkify(text: str) -> Markup:
    """Escaped text whose http(s) URLs are links."""
    parts: list[Markup] = []
    last = 0
    for match in LINK.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(Markup('<a href="{0}" target="_blank" rel="noopener">{0}</a>').format(match.group(0)))
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)


def _mailbox(request: Request, services: Services) -> LogTransport | None:
    transport = services.mail_transport
    client = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(client).is_loopback
    except ValueError:
        loopback = client == "localhost"
    return transport if loopback and isinstance(transport, LogTransport) else None


def _json(message: CapturedMail) -> dict[str, Any]:
    return {
        "id": message.id,
        "kind": message.kind,
        "recipient": message.recipient,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "links": message.links,
        "receivedAt": message.received_at.isoformat(),
    }


@router.get("/mailbox")
def mailbox_page(request: Request, services: ServicesDep) -> HTMLResponse:
    mailbox = _mailbox(request, services)
    if mailbox is None:
        return HTMLResponse("Not Found", status_code=404)
    html = PAGE.render(messages=mailbox.messages(), capacity=mailbox.capacity, linkify=linkify)
    return HTMLResponse(html, headers=NO_STORE)


@router.get("/mailbox.json")
def mailbox_json(request: Request, services: ServicesDep, to: str | None = None) -> JSONResponse:
    """All kept messages, newest first; ``?to=`` keeps those for one recipient (case-insensitive)."""
    mailbox = _mailbox(request, services)
    if mailbox is None:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    messages = [m for m in mailbox.messages() if to is None or m.recipient.lower() == to.lower()]
    return JSONResponse({"messages": [_json(m) for m in messages]}, headers=NO_STORE)
