"""notifications' response models."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from .attachments import names

Status = Literal["pending", "sent", "failed", "dead", "cancelled"]


class MessageRead(BaseModel):
    """One entry of the delivery log."""

    id: int
    event_id: uuid.UUID
    event_type: str
    account_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    channel: str
    template: str
    language: str
    address: str
    subject: str
    status: Status = Field(description="pending: queued; sent; failed: will be retried; dead: given up; "
                                       "cancelled: a reminder no longer needed (settled before it was due)")
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    attachments: list[str] = Field(default=[], description="file names of the attachments (their content is "
                                                            "erased once the message is sent or given up)")

    @field_validator("attachments", mode="before")
    @classmethod
    def _file_names(cls, value):
        return names(value) if value is None or isinstance(value, str) else value


class MessagePage(BaseModel):
    items: list[MessageRead]
    # Pass as `before` for the next (older) page; null on the last page.
    next_before: int | None = None
