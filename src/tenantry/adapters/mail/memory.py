"""``LogTransport``: delivery for local development. Each message is logged with its first link
and the last ``capacity`` messages are kept in memory for the dev mailbox (``/dev/mailbox``)."""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from tenantry.core.mail.model import EmailMessage

log = structlog.get_logger("tenantry.mail")
LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class CapturedMail:
    id: str
    kind: str
    recipient: str
    subject: str
    text: str
    html: str
    received_at: datetime

    @property
    def links(self) -> list[str]:
        return LINK.findall(self.text)


class LogTransport:
    def __init__(self, capacity: int = 200) -> None:
        self.capacity = capacity
        self._messages: deque[CapturedMail] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        captured = CapturedMail(
            id=message.id,
            kind=message.kind.value,
            recipient=message.recipient,
            subject=message.rendered.subject,
            text=message.rendered.text,
            html=message.rendered.html,
            received_at=datetime.now(UTC),
        )
        with self._lock:
            self._messages.append(captured)
        links = captured.links
        log.info(
            "mail_logged",
            id=captured.id,
            kind=captured.kind,
            to=captured.recipient,
            subject=captured.subject,
            link=links[0] if links else None,
        )

    def close(self) -> None:
        pass

    def messages(self) -> list[CapturedMail]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._messages))

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
