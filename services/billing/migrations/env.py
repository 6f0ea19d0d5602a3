import os

from alembic import context

from billing.models import Base
from manager_shared.db import run_alembic_env

if not context.config.get_main_option("sqlalchemy.url"):
    from billing.config import Settings
    context.config.set_main_option("sqlalchemy.url", os.environ.get("BILLING_DATABASE_URL", Settings().database_url))
run_alembic_env(Base.metadata)
