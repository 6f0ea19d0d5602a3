"""`python -m domains serve|migrate`."""
from manager_shared.cli import run

run("domains", "domains.main:create_app", "domains.config:Settings", default_port=8004)
