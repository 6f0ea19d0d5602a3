"""Event contracts: every event any service publishes, defined once.

Each producer's module lists its events in `EVENTS`; `ALL_EVENTS` joins them
and is the registry the contract-snapshot test and the AsyncAPI docs are built
from. `parse_event` turns bytes from Kafka into the right model.
"""
from __future__ import annotations

import json
from typing import Annotated, Union

from pydantic import Field, TypeAdapter

from ..sealing import FROM_WIRE
from . import billing, domains, identity, invoices, organizations, subscriptions
from .base import Event, utcnow
from .billing import *  # noqa: F403
from .domains import *  # noqa: F403
from .identity import *  # noqa: F403
from .organizations import *  # noqa: F403
from .subscriptions import *  # noqa: F403
from .invoices import *  # noqa: F403

ALL_EVENTS: tuple[type[Event], ...] = (
    identity.EVENTS + organizations.EVENTS + billing.EVENTS + subscriptions.EVENTS + invoices.EVENTS + domains.EVENTS)
EVENTS_BY_TYPE: dict[str, type[Event]] = {e.model_fields["type"].default: e for e in ALL_EVENTS}
TOPICS: tuple[str, ...] = tuple(sorted({e.topic for e in ALL_EVENTS}))

_AnyEvent = TypeAdapter(Annotated[Union[ALL_EVENTS], Field(discriminator="type")])  # type: ignore[valid-type]


class UnknownEventType(ValueError):
    """A well-formed envelope whose type this build does not know (a newer
    producer); consumers skip it rather than dead-letter it."""


def parse_event(raw: bytes | str) -> Event:
    """Parse one message body; raises ValueError (incl. pydantic's
    ValidationError) for malformed input, UnknownEventType for new types."""
    data = json.loads(raw)
    if isinstance(data, dict) and isinstance(data.get("type"), str) and data["type"] not in EVENTS_BY_TYPE:
        raise UnknownEventType(data["type"])
    # from the wire, a secret field in clear is refused (X-06: only sealed ones travel)
    return _AnyEvent.validate_python(data, context={FROM_WIRE: True})


__all__ = ["ALL_EVENTS", "EVENTS_BY_TYPE", "TOPICS", "Event", "UnknownEventType", "parse_event", "utcnow",
           *(e.__name__ for e in ALL_EVENTS)]
