import os

from alembic import context

from notifications.models import Base
from manager_shared.db import run_alembic_env

if not context.config.get_main_option("sqlalchemy.url"):
    from notifications.config import Settings
    context.config.set_main_option("sqlalchemy.url", os.environ.get("NOTIFICATIONS_DATABASE_URL", Settings().database_url))
run_alembic_env(Base.metadata)
