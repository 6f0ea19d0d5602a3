"""What every channel's transport looks like to the delivery worker (NTF-03).

A transport opens a session for a batch (an SMTP connection, an HTTP client
already kept open) whose `send` never raises for a message's own trouble: it
sorts every outcome into sent, "try again later" or "give up".
"""
from __future__ import annotations

import hashlib
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .models import Message


def delivery_key(event_id: uuid.UUID, recipient: str, channel: str) -> str:
    """The same for every try of one message (NTF-04): a message is one event
    to one recipient on one channel, whatever its row id. It names the mail
    (Message-ID) and the SMS (the gateway's Idempotency-Key), so a copy sent
    again after a crash can be dropped by whoever receives it."""
    return hashlib.sha256(f"{event_id}|{recipient}|{channel}".encode()).hexdigest()


@dataclass(frozen=True)
class Outcome:
    status: Literal["sent", "retry", "dead"]
    error: str | None = None


class Sender(Protocol):
    async def send(self, message: "Message") -> Outcome: ...


class Transport(Protocol):
    channel: str

    def session(self) -> AbstractAsyncContextManager[Sender]: ...

    async def aclose(self) -> None: ...
