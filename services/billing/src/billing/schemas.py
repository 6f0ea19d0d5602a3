"""billing's response models."""
from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class BillingAccountRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    currency: str
    created_at: datetime
