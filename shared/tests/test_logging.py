"""No secrets in logs: even at LOG_LEVEL=DEBUG, the drivers that would log
SQL parameters or Kafka message bodies (outbox payloads carry one-time
codes) stay at WARNING."""
from __future__ import annotations

import logging

from manager_shared.runtime import PAYLOAD_LOGGERS, quiet_payload_loggers


def test_x_payload_loggers_stay_quiet_at_debug():
    before = {n: logging.getLogger(n).level for n in PAYLOAD_LOGGERS}
    try:
        for name in PAYLOAD_LOGGERS:  # as LOG_LEVEL=DEBUG (or a driver's echo) would leave them
            logging.getLogger(name).setLevel(logging.DEBUG)
        quiet_payload_loggers()
        assert not any(logging.getLogger(n).isEnabledFor(logging.INFO) for n in PAYLOAD_LOGGERS)
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)
