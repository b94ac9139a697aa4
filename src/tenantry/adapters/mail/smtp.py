"""Delivery over SMTP with the standard library: ``TENANTRY_SMTP_URL`` parsing and ``SmtpTransport``.

URL forms (credentials percent-encoded; nothing here ever logs or echoes them)::

    smtp://host                     port 25, plain
    smtp://user:pass@host:587?starttls=true
    smtps://user:pass@host          port 465, TLS from the first byte
    ...?timeout=20                  seconds per socket operation (default 10)

One connection is kept open across a batch and closed by ``close()``. Every message gets a
``Message-ID`` made from its outbox id, so a retried message is recognisable as the same one.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, parseaddr
from urllib.parse import parse_qsl, unquote, urlsplit

from tenantry.adapters.mail.transport import DeliveryError
from tenantry.core.mail.model import EmailMessage

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
DEFAULT_TIMEOUT = 10.0
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT


def parse_smtp_url(url: str) -> SmtpConfig:
    """Parse ``TENANTRY_SMTP_URL``; raises ``ValueError`` with a message that never contains it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"TENANTRY_SMTP_URL: the scheme must be smtp or smtps, not {scheme!r}")
    if not parts.hostname:
        raise ValueError("TENANTRY_SMTP_URL: the host is missing")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as error:
        raise ValueError("TENANTRY_SMTP_URL: the port is not a number from 1 to 65535") from error
    if parts.path not in ("", "/"):
        raise ValueError("TENANTRY_SMTP_URL: a path is not allowed")
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = set(options) - {"starttls", "timeout"}
    if unknown:
        raise ValueError(f"TENANTRY_SMTP_URL: unknown option(s) {', '.join(sorted(unknown))}")
    starttls = _flag(options.get("starttls", "false"), "starttls")
    if starttls and scheme == "smtps":
        raise ValueError("TENANTRY_SMTP_URL: smtps already uses TLS; starttls is for smtp://")
    try:
        timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
    except ValueError as error:
        raise ValueError("TENANTRY_SMTP_URL: timeout must be a number of seconds") from error
    if not 0 < timeout <= 600:
        raise ValueError("TENANTRY_SMTP_URL: timeout must be between 0 and 600 seconds")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ValueError("TENANTRY_SMTP_URL: a password needs a user name")
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        implicit_tls=scheme == "smtps",
        starttls=starttls,
        username=username,
        password=password,
        timeout=timeout,
    )


def _flag(value: str, name: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ValueError(f"TENANTRY_SMTP_URL: {name} must be true or false")


def _has_control(value: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def envelope_address(mailbox: str) -> str:
    """The bare ``local@domain`` of ``"Name <local@domain>"``; ``ValueError`` when there is none."""
    if _has_control(mailbox):
        raise ValueError("mail address contains a control character")
    _, address = parseaddr(mailbox)
    if "@" not in address:
        raise ValueError(f"not a mail address: {mailbox!r}")
    return address


def single_recipient(recipient: str) -> str:
    """Exactly one ``local@domain``, nothing that could start another header or address."""
    if _has_control(recipient):
        raise DeliveryError("recipient contains a line break or control character", permanent=True)
    try:
        address = Address(addr_spec=recipient.strip())
    except (ValueError, IndexError, HeaderParseError) as error:
        raise DeliveryError(f"recipient is not one valid address: {error}", permanent=True) from error
    if not address.username or not address.domain:
        raise DeliveryError("recipient is not one valid address", permanent=True)
    return address.addr_spec


def _describe(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {_text(reply)}" for code, reply in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


class SmtpTransport:
    def __init__(self, config: SmtpConfig, mail_from: str) -> None:
        self.config = config
        self._from = mail_from
        self._envelope_from = envelope_address(mail_from)
        self._domain = self._envelope_from.rpartition("@")[2]
        self._local_hostname = socket.gethostname() or "localhost"  # getfqdn() may block on DNS
        self._lock = threading.Lock()
        self._connection: smtplib.SMTP | None = None

    def build(self, message: EmailMessage) -> MimeMessage:
        """The MIME message: multipart/alternative, text then HTML. A value that would add a
        header (CR/LF in recipient or subject) raises a permanent ``DeliveryError``."""
        recipient = single_recipient(message.recipient)
        subject = message.rendered.subject
        if _has_control(subject):
            raise DeliveryError("subject contains a line break or control character", permanent=True)
        mime = MimeMessage(policy=policy.SMTP)
        try:
            mime["From"] = self._from
            mime["To"] = recipient
            mime["Subject"] = subject
            mime["Date"] = formatdate(usegmt=True)
            mime["Message-ID"] = f"<{message.id}@{self._domain}>"
            mime["Auto-Submitted"] = "auto-generated"
            mime.set_content(message.rendered.text)
            mime.add_alternative(message.rendered.html, subtype="html")
        except (ValueError, HeaderParseError) as error:  # the stdlib policy refuses CR/LF in headers
            raise DeliveryError(f"message refused before sending: {error}", permanent=True) from error
        return mime

    def send(self, message: EmailMessage) -> None:
        mime = self.build(message)
        recipient = str(mime["To"])
        with self._lock:
            for first_try in (True, False):
                reused = self._connection is not None
                connection = self._connect()
                try:
                    self._transmit(connection, mime, recipient)
                    return
                except smtplib.SMTPServerDisconnected as error:
                    self._drop()
                    if reused and first_try:
                        continue  # the kept-open connection had gone stale: once more on a fresh one
                    raise DeliveryError("the SMTP server closed the connection", unavailable=True) from error

    def _transmit(self, connection: smtplib.SMTP, mime: MimeMessage, recipient: str) -> None:
        try:
            connection.send_message(mime, from_addr=self._envelope_from, to_addrs=[recipient])
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPRecipientsRefused as error:
            permanent = all(code >= 500 for code, _ in error.recipients.values())
            raise DeliveryError(f"recipient refused: {_describe(error)}", permanent=permanent) from error
        except smtplib.SMTPSenderRefused as error:
            self._drop()
            raise DeliveryError(
                f"sender {self._envelope_from} refused: {_describe(error)}", unavailable=True
            ) from error
        except smtplib.SMTPDataError as error:
            raise DeliveryError(f"message refused: {_describe(error)}", permanent=error.smtp_code >= 500) from error
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(f"not supported by the server: {_describe(error)}", permanent=True) from error
        except (OSError, smtplib.SMTPException) as error:
            self._drop()
            raise DeliveryError(f"SMTP failure: {_describe(error)}", unavailable=isinstance(error, OSError)) from error

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        config = self.config
        try:
            connection: smtplib.SMTP
            if config.implicit_tls:
                connection = smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    local_hostname=self._local_hostname,
                    timeout=config.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                connection = smtplib.SMTP(
                    config.host, config.port, local_hostname=self._local_hostname, timeout=config.timeout
                )
            try:
                if config.starttls:
                    connection.starttls(context=ssl.create_default_context())
                if config.username is not None:
                    connection.login(config.username, config.password or "")
            except BaseException:
                connection.close()
                raise
        except (OSError, smtplib.SMTPException) as error:
            where = f"{config.host}:{config.port}"
            raise DeliveryError(f"cannot use the SMTP server {where}: {_describe(error)}", unavailable=True) from error
        self._connection = connection
        return connection

    def _drop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        with self._lock:
            if self._connection is None:
                return
            try:
                self._connection.quit()
            except (OSError, smtplib.SMTPException):
                pass
            finally:
                self._drop()
