"""`python -m billing serve|migrate`."""
from manager_shared.cli import run

run("billing", "billing.main:create_app", "billing.config:Settings", default_port=8003)
