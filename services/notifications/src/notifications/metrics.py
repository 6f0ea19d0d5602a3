"""notifications' own metrics, registered once at import (the shared ones
carry a `service` label; these are named after the service instead)."""
from prometheus_client import Counter, Histogram

MESSAGES = Counter(
    "notifications_messages_total", "Messages by channel and the status they reached "
    "(pending = queued, sent, failed = will retry, dead = given up and dead-lettered)",
    ["channel", "status"])
DELIVERY_SECONDS = Histogram(
    "notifications_delivery_seconds", "Time from a message being queued to its delivery, retries included",
    ["channel"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400))
SEND_SECONDS = Histogram(
    "notifications_send_seconds", "Time of one hand-over to the transport (SMTP transaction, SMS gateway call), "
    "by channel and outcome (sent, retry, dead)",
    ["channel", "outcome"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
