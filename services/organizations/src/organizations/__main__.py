"""`python -m organizations serve|migrate`."""
from manager_shared.cli import run

run("organizations", "organizations.main:create_app", "organizations.config:Settings", default_port=8002)
