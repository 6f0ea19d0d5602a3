"""Correlation id of the work in progress: set from the HTTP request (or the
consumed event) and copied into every event recorded meanwhile."""
from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def current_correlation_id() -> str | None:
    return _correlation_id.get()


def set_correlation_id(value: str | None) -> object:
    """Set the id (a new one if missing or not a safe token); returns a reset token."""
    if not value or not _VALID.match(value):
        value = uuid.uuid4().hex
    return _correlation_id.set(value)


def reset_correlation_id(token) -> None:
    _correlation_id.reset(token)
