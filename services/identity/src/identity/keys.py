"""Loading (or creating once) the token signing key."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from manager_shared.db import Database

from . import repository as repo
from .config import Settings
from .models import SigningKey
from .tokens import generate_private_pem, kid_of


async def load_signing_key(db: Database, settings: Settings) -> str:
    if settings.jwt_private_key_file:
        return Path(settings.jwt_private_key_file).read_text()
    async with db.transaction() as session:
        key = await repo.active_signing_key(session)
        if key:
            return key.private_pem
        pem = generate_private_pem()
        session.add(SigningKey(kid=kid_of(pem), private_pem=pem, created_at=datetime.now(timezone.utc)))
        return pem
