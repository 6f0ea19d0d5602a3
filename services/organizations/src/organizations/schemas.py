"""organizations' response models."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class OrganizationRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    country: str | None
    currency: str
    created_at: datetime
    role: str  # the caller's role in it
