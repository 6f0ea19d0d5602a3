"""Events published by domains on `domains.domain.v1` (key: organization id)."""
from __future__ import annotations

from .base import Event

# Every event this producer publishes, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = ()
__all__ = [e.__name__ for e in EVENTS]
