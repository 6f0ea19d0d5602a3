"""Events published by billing about invoices (producer: billing)."""
from __future__ import annotations

from .base import Event

# Every event of this module, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = ()
__all__ = [e.__name__ for e in EVENTS]
