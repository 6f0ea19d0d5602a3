"""domains' response models."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class DomainRead(BaseModel):
    id: uuid.UUID
    name: str
    tld: str
    status: str
    expires_at: datetime
