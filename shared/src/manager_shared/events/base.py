"""The event envelope shared by every contract."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..context import current_correlation_id


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Event(BaseModel):
    """Envelope fields common to every event.

    `key` is the aggregate id; it is also the Kafka message key, so all events
    of one aggregate land in one partition and stay in order.
    """

    # Consumers must tolerate fields added later (additive changes keep the
    # version); a breaking change gets a new version and a new topic.
    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: ClassVar[str]
    producer_name: ClassVar[str]
    key_field: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4)
    type: str
    version: int = 1
    occurred_at: datetime = Field(default_factory=utcnow)
    producer: str = ""
    key: str = ""
    correlation_id: str | None = Field(default_factory=current_correlation_id)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        """Every datetime of every event is aware UTC, so it travels as
        RFC 3339 with an offset; a naive one (only an event written before
        this rule could hold one) is read as the UTC it always was."""
        if isinstance(value, datetime):
            return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
        return value

    @model_validator(mode="before")
    @classmethod
    def _fill_envelope(cls, data: Any) -> Any:
        if isinstance(data, dict) and getattr(cls, "key_field", None):
            data = dict(data)
            data.setdefault("producer", cls.producer_name)
            if not data.get("key") and data.get(cls.key_field) is not None:
                data["key"] = str(data[cls.key_field])
        return data

    def to_bytes(self, sealer: Any = None) -> bytes:
        """The event's JSON; a `SealedSecret` field is sealed with `sealer`
        (a `manager_shared.sealing.Sealer`), and without one serializing a
        clear secret raises: it is never written in clear."""
        return (sealer.seal_event(self) if sealer is not None else self).model_dump_json().encode()
