"""E-mail through SMTP with aiosmtplib (NTF-03): one connection per batch,
and every failure sorted into "try again later" or "give up"."""
from __future__ import annotations

import re
import base64
import contextlib
import functools
import ssl
import time
import urllib.parse
from collections.abc import AsyncIterator
from email.utils import format_datetime, parseaddr
import aiosmtplib

from .attachments import Attachment, loaded
from .config import Settings
from .models import Message
from .transport import Outcome, delivery_key

_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+$")


_REFUSALS = (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused)


def classify(exc: BaseException) -> Outcome:
    """Transient (retry): no connection, timeouts, 4xx, trouble with our own
    login or sender. Permanent (dead): 5xx about this message or recipient,
    an address that cannot be sent to."""
    error = f"{type(exc).__name__}: {exc}"[:1000]
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        return Outcome("dead" if any(c >= 500 for c in codes) else "retry", error)
    if isinstance(exc, (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPAuthenticationError,
                        aiosmtplib.SMTPConnectResponseError, aiosmtplib.SMTPHeloError)):
        return Outcome("retry", error)  # our configuration or the relay, not this message
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return Outcome("dead" if exc.code >= 500 else "retry", error)
    if isinstance(exc, (ValueError, aiosmtplib.SMTPNotSupported)):
        return Outcome("dead", error)  # e.g. non-ASCII address the relay cannot take
    return Outcome("retry", error)


def _encoded_words(value: str) -> str:
    """RFC 2047: ASCII as is; anything else as base64 encoded words of at
    most 75 characters, split between characters, folded onto new lines."""
    if value.isascii():
        return value
    words, chunk = [], ""
    for char in value:
        if len((chunk + char).encode()) > 45:  # 45 bytes -> 60 base64 characters
            words.append(chunk)
            chunk = ""
        chunk += char
    words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w.encode()).decode()}?=" for w in words)


@functools.lru_cache(maxsize=8)
def _domain_of(mail_from: str) -> str:
    return parseaddr(mail_from)[1].rpartition("@")[2] or "manager.local"


@functools.lru_cache(maxsize=8)
def _mailbox(value: str) -> str:
    name, address = parseaddr(value)
    return f"{_encoded_words(name)} <{address}>" if name else address


def _part(content_type: str, body: str) -> bytes:
    return (f"Content-Type: {content_type}; charset=\"utf-8\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            .encode() + base64.encodebytes(body.encode()).replace(b"\n", b"\r\n"))


def _filename_parameter(name: str) -> str:
    """ASCII names as a quoted string; others in RFC 2231 form (every mail client reads it)."""
    if name.isascii():
        return f'filename="{name}"'
    return f"filename*=utf-8''{urllib.parse.quote(name, safe='')}"


def _attachment_part(attachment: Attachment) -> bytes:
    """A file as is, in base64: what arrives is byte for byte what was queued."""
    return (f"Content-Type: {attachment.media_type}\r\nContent-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; {_filename_parameter(attachment.safe_filename)}\r\n\r\n".encode()
            + base64.encodebytes(attachment.content).replace(b"\n", b"\r\n"))


def _body(message: Message, boundary: str) -> bytes:
    """The readable part: text alone, or text and HTML as alternatives (headers included)."""
    if not message.body_html:
        return _part("text/plain", message.body_text)
    sep = f"--{boundary}\r\n".encode()
    return (f"Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n".encode()
            + sep + _part("text/plain", message.body_text) + sep + _part("text/html", message.body_html)
            + f"--{boundary}--\r\n".encode())


def build_email(message: Message, mail_from: str) -> bytes:
    """The mail as MIME bytes: text and HTML alternatives, base64 bodies,
    RFC 2047 subject, and the message's files as attachments (multipart/mixed).
    Written out directly: the `email` package's header registry and folding
    cost more than everything else in a delivery."""
    headers = {"To": message.address, "Subject": message.subject, "X-Manager-Template": message.template,
               "Content-Language": message.language}
    if any(c in value for value in headers.values() for c in "\r\n\0"):
        raise ValueError("line break in a header")
    domain = _domain_of(mail_from)
    boundary = f"=_manager_{message.event_id.hex}_{message.id}"
    lines = [
        f"From: {_mailbox(mail_from)}", f"To: {message.address}", f"Subject: {_encoded_words(message.subject)}",
        f"Date: {format_datetime(message.created_at)}",
        # Stable per (event, recipient, channel): a copy re-sent after a crash
        # carries the same id, so a receiving system can drop it (NTF-04).
        f"Message-ID: <{delivery_key(message.event_id, message.recipient, message.channel)}"
        f"@notifications.{domain}>",
        "Auto-Submitted: auto-generated",  # RFC 3834: no auto-replies, please
        f"X-Manager-Template: {message.template}", f"Content-Language: {message.language}", "MIME-Version: 1.0"]
    head = "\r\n".join(lines).encode() + b"\r\n"
    files = loaded(message.attachments)
    if not files:
        return head + _body(message, boundary)
    mixed = f"{boundary}_mixed"
    sep = f"--{mixed}\r\n".encode()
    return (head + f"Content-Type: multipart/mixed; boundary=\"{mixed}\"\r\n\r\n".encode()
            + sep + _body(message, boundary) + b"".join(sep + _attachment_part(f) for f in files)
            + f"--{mixed}--\r\n".encode())


@functools.lru_cache(maxsize=4)
def _tls_context(ca_file: str | None) -> ssl.SSLContext | None:
    """Certificates are always verified; a private CA can be named."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else None


class SmtpMailer:
    """The e-mail channel: opens SMTP sessions with the configured relay
    (host, port, implicit TLS or STARTTLS, login from settings)."""

    channel = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Connections kept open between batches (one per delivery loop at
        # most), with when they were parked: a trickle of single messages
        # must not pay connect + EHLO + STARTTLS + login + QUIT for each.
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator["SmtpSession"]:
        session = SmtpSession(self.settings, self._take())
        try:
            yield session
        finally:
            if session.client is not None and session.client.is_connected:
                self._idle.append((session.client, time.monotonic()))
                session.client = None
            else:
                await session._close()

    def _take(self) -> aiosmtplib.SMTP | None:
        while self._idle:
            client, parked = self._idle.pop()
            if client.is_connected and time.monotonic() - parked < self.settings.smtp_idle_seconds:
                return client
            client.close()  # idle too long: relays drop such connections (Postfix after 300 s)
        return None

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for client, _ in idle:
            await _quit(client)


class SmtpSession:
    """One connection for a batch, often one kept from the batch before.
    After a failed connect the rest of the batch is not tried again (each
    would wait for the same timeout); after a dropped connection the next
    message reconnects; a kept connection the relay closed meanwhile is
    replaced at once, without counting as a failed try."""

    def __init__(self, settings: Settings, client: aiosmtplib.SMTP | None = None) -> None:
        self.settings = settings
        self.sender = parseaddr(settings.mail_from)[1]  # the envelope sender (bounces)
        self.client = client
        self.kept = client is not None  # not used yet in this session: may be stale
        self.unreachable: Outcome | None = None

    async def __aenter__(self) -> "SmtpSession":
        return self

    async def __aexit__(self, *exc) -> None:
        await self._close()

    async def send(self, message: Message) -> Outcome:
        if not _ADDRESS.match(message.address):
            return Outcome("dead", f"invalid address: {message.address!r}"[:1000])
        if self.unreachable:
            return self.unreachable
        try:
            raw = build_email(message, self.settings.mail_from)
        except (ValueError, TypeError, UnicodeError) as exc:
            return Outcome("dead", f"{type(exc).__name__}: {exc}"[:1000])
        if not await self._connect():
            return self.unreachable or Outcome("retry")
        try:
            await self._sendmail(message, raw)
        except Exception as exc:
            outcome = classify(exc)
            # A refusal leaves the session usable (aiosmtplib sent RSET); anything else may not.
            if not self.client.is_connected or not isinstance(exc, _REFUSALS):
                await self._close()
            return outcome
        return Outcome("sent")

    async def _sendmail(self, message: Message, raw: bytes) -> None:
        kept, self.kept = self.kept, False
        try:
            await self.client.sendmail(self.sender, [message.address], raw)
        except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
            if not kept:
                raise
            # The kept connection had been closed by the relay: a new one, once.
            await self._close()
            if not await self._connect():
                raise aiosmtplib.SMTPConnectError(self.unreachable.error if self.unreachable else "reconnect failed")
            await self.client.sendmail(self.sender, [message.address], raw)

    async def _connect(self) -> bool:
        if self.client is not None and self.client.is_connected:
            return True
        s = self.settings
        self.client = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls, start_tls=s.smtp_starttls, timeout=s.smtp_timeout,
            local_hostname=s.smtp_local_hostname, tls_context=_tls_context(s.smtp_ca_file))
        try:
            await self.client.connect()
        except Exception as exc:
            self.unreachable = Outcome("retry", classify(exc).error)
            self.client = None
            return False
        return True

    async def _close(self) -> None:
        client, self.client = self.client, None
        if client is not None and client.is_connected:
            await _quit(client)


async def _quit(client: aiosmtplib.SMTP) -> None:
    try:
        await client.quit()
    except Exception:  # closing a broken connection: nothing more to learn
        client.close()
