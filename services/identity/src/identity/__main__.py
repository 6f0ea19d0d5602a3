"""`python -m identity serve|migrate`."""
from manager_shared.cli import run

run("identity", "identity.main:create_app", "identity.config:Settings", default_port=8001)
