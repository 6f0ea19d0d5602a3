"""`python -m notifications serve|migrate`."""
from manager_shared.cli import run

run("notifications", "notifications.main:create_app", "notifications.config:Settings", default_port=8005)
