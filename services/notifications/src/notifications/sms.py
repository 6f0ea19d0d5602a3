"""SMS through a gateway interface (NTF-03): an HTTP provider adapter for
production and a file sink for development.

The text of an SMS is a one-time code (IDN-13, IDN-14c): nothing here logs it
or puts it in an error, and providers' answers are reduced to their status
and a short error code, since some echo the request back.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import httpx

from .models import Message
from .transport import Outcome, delivery_key

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_ERROR_CODE = re.compile(r"^[A-Za-z_.-]{1,60}$")


@dataclass(frozen=True)
class Sms:
    to: str  # E.164
    text: str
    # Stable per message: a provider that deduplicates on it turns a re-send
    # after a crash into nothing (NTF-04).
    reference: str


class SmsGateway(Protocol):
    """Anything that can hand an SMS to the phone network."""

    async def send(self, sms: Sms) -> Outcome: ...

    async def aclose(self) -> None: ...


class HttpSmsGateway:
    """A provider's JSON API: `POST url` with `{"to", "from", "text",
    "reference"}`, a bearer token and `Idempotency-Key: reference`.

    2xx sent; 408/425/429, 5xx, 401/403 (our credentials) and network errors
    are retried; any other 4xx (a number the provider refuses) is final.
    One client, so connections are reused between messages.
    """

    def __init__(self, url: str, token: str | None, sender: str, timeout: float = 10.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.url, self.sender = url, sender
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client or httpx.AsyncClient(timeout=timeout, headers=headers)

    async def send(self, sms: Sms) -> Outcome:
        try:
            response = await self.client.post(
                self.url, json={"to": sms.to, "from": self.sender, "text": sms.text, "reference": sms.reference},
                headers={"Idempotency-Key": sms.reference})
        except httpx.HTTPError as exc:  # connect, timeout, protocol: the provider may be back later
            return Outcome("retry", f"{type(exc).__name__}: SMS gateway unreachable")
        if response.is_success:
            return Outcome("sent")
        error = f"HTTP {response.status_code} {response.reason_phrase}{_error_code(response)}"[:1000]
        status = response.status_code
        retry = status in (401, 403, 408, 425, 429) or status >= 500
        return Outcome("retry" if retry else "dead", error)

    async def aclose(self) -> None:
        await self.client.aclose()


def _error_code(response: httpx.Response) -> str:
    """The provider's error code, if it gives a short word; never free text."""
    with contextlib.suppress(ValueError, AttributeError):
        code = response.json().get("error")
        if isinstance(code, str) and _ERROR_CODE.match(code):
            return f" ({code})"
    return ""


class FileSmsSink:
    """Development: each SMS becomes a JSON line in a file (the local
    platform's phone). Not a log: it exists so a developer can read the code."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    async def send(self, sms: Sms) -> Outcome:
        line = json.dumps({"at": datetime.now(timezone.utc).isoformat(), "to": sms.to, "text": sms.text,
                           "reference": sms.reference}, ensure_ascii=False) + "\n"
        try:
            await asyncio.to_thread(self._append, line)
        except OSError as exc:
            return Outcome("retry", f"{type(exc).__name__}: cannot write the SMS file")
        return Outcome("sent")

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)

    async def aclose(self) -> None:
        pass


class SmsTransport:
    """The delivery worker's SMS channel over any gateway."""

    channel = "sms"

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator["SmsTransport"]:
        yield self  # the gateway keeps its own connections

    async def send(self, message: Message) -> Outcome:
        if not E164.match(message.address):
            return Outcome("dead", "invalid phone number (E.164 expected)")
        return await self.gateway.send(Sms(to=message.address, text=message.body_text,
                                           reference=delivery_key(message.event_id, message.recipient,
                                                                  message.channel)))

    async def aclose(self) -> None:
        await self.gateway.aclose()


def gateway_from(settings) -> SmsGateway:
    if settings.sms_gateway == "http":
        if not settings.sms_http_url:
            raise ValueError("NOTIFICATIONS_SMS_HTTP_URL is required with NOTIFICATIONS_SMS_GATEWAY=http")
        token = settings.sms_http_token.get_secret_value() if settings.sms_http_token else None
        return HttpSmsGateway(settings.sms_http_url, token, settings.sms_sender, settings.sms_timeout)
    return FileSmsSink(settings.sms_file_path)
