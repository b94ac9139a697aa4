"""What the outbox dispatcher needs from a mail transport, and how a transport reports failure.

A transport is told one outbox message at a time and either returns (the message was handed
over) or raises ``DeliveryError``. The error says which of three things went wrong, because
the dispatcher treats them differently:

* ``permanent`` — this message can never be delivered (a header injection attempt, an invalid
  address, a 5xx refusal): the row is marked ``FAILED`` at once.
* ``unavailable`` — the mail server could not be used at all (connection refused, timeout,
  TLS or login failure): the message is fine, so it stays ``PENDING`` however long the outage
  lasts, and the rest of the batch is rescheduled without further connection attempts.
* neither — this message failed for a reason that may pass (a 4xx reply): retried with
  exponential back-off until ``mail_max_attempts``, then ``FAILED``.
"""

from __future__ import annotations

from typing import Protocol

from tenantry.core.mail.model import EmailMessage


class DeliveryError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False, unavailable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.unavailable = unavailable


class MailTransport(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def close(self) -> None:
        """Release a connection kept open across a batch (called after every batch)."""
