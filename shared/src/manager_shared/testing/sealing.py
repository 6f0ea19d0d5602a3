"""One seal key pair per test run (X-06): producers seal codes and tokens to
its public key, notifications opens them with its private key.

Importing this module (the pytest plugin does) puts the pair into the
environment of this process, so every service's settings built here, and
every service process started from here, have it; a pair already in the
environment is kept.
"""
from __future__ import annotations

import os

from ..sealing import Keyring, Sealer, generate_key_pair, open_event

PRODUCERS = ("IDENTITY", "ORGANIZATIONS")

if not os.environ.get("NOTIFICATIONS_SEAL_PRIVATE_KEYS"):
    _private, _public = generate_key_pair()
    os.environ["NOTIFICATIONS_SEAL_PRIVATE_KEYS"] = _private
    for _prefix in PRODUCERS:
        os.environ[f"{_prefix}_NOTIFICATIONS_SEAL_KEY"] = _public

KEYRING = Keyring.from_setting(os.environ["NOTIFICATIONS_SEAL_PRIVATE_KEYS"])
SEALER = Sealer(os.environ.get("IDENTITY_NOTIFICATIONS_SEAL_KEY", ""))


def sealed_bytes(event) -> bytes:
    """The event as a producer would publish it (secret fields sealed)."""
    return event.to_bytes(SEALER)


def opened(event):
    """The event with its secret fields opened (what notifications renders)."""
    return open_event(event, KEYRING)
