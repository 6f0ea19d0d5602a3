"""The whole platform for the end-to-end tests of this folder: started once
per test session (five service processes, PostgreSQL, Tansu, SMTP catcher)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from manager_shared.testing.kafka import TansuBroker
from manager_shared.testing.platform import SERVICES, Platform

# The key an IMAP/DAV server presents to identity to check app passwords (IDN-15).
SYNC_CLIENT_KEY = "e2e-sync-server-key-5f1c2a"


@pytest.fixture(scope="session")
def platform_broker(tmp_path_factory):
    """A broker of the platform's own: the session's shared `kafka` broker
    holds events other tests published on the real topic names (accounts and
    organizations nobody here knows), which the platform's consumers would
    first have to wade through."""
    broker = TansuBroker(log_path=Path(tmp_path_factory.mktemp("tansu-platform")) / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def sms_file(tmp_path_factory) -> Path:
    """Where the platform's notifications writes each SMS (the local gateway)."""
    return tmp_path_factory.mktemp("sms") / "sms.jsonl"


@pytest.fixture(scope="session")
def platform(platform_broker, postgres, _mail_catcher_session, tmp_path_factory, sms_file):
    p = Platform(bootstrap=platform_broker.bootstrap, smtp_port=_mail_catcher_session.smtp_port,
                 database_urls={n: postgres.create_database(n) for n in SERVICES},
                 log_dir=tmp_path_factory.mktemp("platform-logs"),
                 # the test client is the "proxy" on 127.0.0.1 that says where users come from
                 extra={"identity": {"trusted_proxies": "127.0.0.1/32",
                                     "support_staff_emails": "agent@manager.example",
                                     "sync_client_key_hashes": hashlib.sha256(SYNC_CLIENT_KEY.encode()).hexdigest()},
                        "notifications": {"sms_file_path": str(sms_file)}})
    try:
        p.start()
        yield p
    finally:
        p.stop()


@pytest.fixture
def sync_client_key() -> str:
    return SYNC_CLIENT_KEY
