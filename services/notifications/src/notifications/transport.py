"""What every channel's transport looks like to the delivery worker (NTF-03).

A transport opens a session for a batch (an SMTP connection, an HTTP client
already kept open) whose `send` never raises for a message's own trouble: it
sorts every outcome into sent, "try again later" or "give up".
"""
from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .models import Message


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
