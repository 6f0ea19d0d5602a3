"""X-05: the embedded broker keeps topics and consumer offsets in memory; a
restart must not lose what was published while a consumer was away.

identity and notifications run as processes on SQLite (as `./manager up` runs
them) against a broker of this test's own. notifications is stopped, 15
sign-ins from new countries are published, the broker is restarted on the
same port (empty), notifications is started again: each of the 15 security
mails arrives exactly once, and the events notifications already had are
skipped as duplicates of its inbox. The same holds with notifications running
on through the restart (its consumers rejoin the new broker from the start of
the topics, which hold the replay)."""
from __future__ import annotations

import re
import functools
import time
import uuid

import httpx
import pytest

from manager_shared.testing.kafka import TansuBroker
from manager_shared.testing.platform import Platform
from manager_shared.testing.polling import eventually as _eventually

pytestmark = pytest.mark.e2e

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
ZURICH = "195.186.1.1"
# one address in each of 15 countries of the offline geo-IP data (AU, HK, TW, SE, DK, DE, US, UA, GB, RU, NL,
# SG, CN, KR, JP): every sign-in from them is a new location
ABROAD = ("1.1.1.1", "1.64.1.1", "1.200.1.1", "2.1.1.1", "2.128.1.1", "2.200.1.1", "3.1.1.1", "5.1.1.1",
          "5.64.1.1", "5.128.1.1", "5.200.1.1", "8.128.1.1", "14.1.1.1", "14.64.1.1", "14.128.1.1")
PASSWORD = "Alpenrose-Matterhorn-42"
# a broker restart and a service start each take seconds on a loaded machine
eventually = functools.partial(_eventually, timeout=60.0)



def metric(platform: Platform, service: str, name: str, **labels: str) -> float:
    text = httpx.get(f"{platform.url(service)}/metrics", timeout=5).text
    total = 0.0
    for found, value in re.findall(rf'^{name}\{{([^}}]*)\}} ([0-9.e+]+)$', text, re.M):
        if all(f'{k}="{v}"' in found for k, v in labels.items()):
            total += float(value)
    return total


@pytest.fixture
def restartable_broker(tmp_path):
    holder = {"broker": TansuBroker(log_path=tmp_path / "tansu.log").start()}
    yield holder
    holder["broker"].stop()


def _restart(holder: dict, tmp_path) -> TansuBroker:
    """The broker restarts empty, on the same address."""
    port = holder["broker"].port
    holder["broker"].stop()
    holder["broker"] = TansuBroker(port, log_path=tmp_path / f"tansu-{time.monotonic_ns()}.log").start()
    return holder["broker"]


@pytest.mark.parametrize("consumer", ["stopped", "running"])
def test_x_05_events_published_around_a_broker_restart_reach_the_consumer_once(
        consumer, restartable_broker, mail_catcher, tmp_path):
    """stopped: notifications is away while the events are published and the
    broker restarts; running: it runs on through a restart before them."""
    broker = restartable_broker["broker"]
    platform = Platform(bootstrap=broker.bootstrap, smtp_port=mail_catcher.smtp_port, log_dir=tmp_path / "logs",
                        database_urls={n: f"sqlite+aiosqlite:///{tmp_path}/{n}.db"
                                       for n in ("identity", "organizations", "billing", "domains",
                                                 "notifications")},
                        extra={"identity": {"trusted_proxies": "127.0.0.1/32"}})
    try:
        platform.start(names=("identity", "notifications"))
        identity = httpx.Client(base_url=platform.url("identity"), timeout=10)
        email = f"x05.{uuid.uuid4().hex[:6]}@example.ch"
        r = identity.post("/v1/accounts", json={"email": email, "password": PASSWORD, "first_name": "Anna",
                                                "last_name": "Muster", "language": "de",
                                                "time_zone": "Europe/Zurich"},
                          headers={"X-Forwarded-For": ZURICH, "User-Agent": FIREFOX})
        assert r.status_code == 202, r.text
        eventually(lambda: metric(platform, "notifications", "events_consumed_total", type="AccountRegistered",
                                  outcome="processed") >= 1)

        def to_anna() -> list[dict]:
            return [m for m in mail_catcher.messages if email in [a.lower() for a in m["to"]]]
        before = len(to_anna())

        if consumer == "stopped":
            platform.stop_service("notifications")
        else:
            _restart(restartable_broker, tmp_path)
        for ip in ABROAD:
            r = identity.post("/v1/sessions", json={"email": email, "password": PASSWORD},
                              headers={"X-Forwarded-For": ip, "User-Agent": FIREFOX})
            assert r.status_code == 200, r.text
        published = eventually(lambda: (n := metric(platform, "identity", "events_published_total",
                                                    topic="identity.account.v1")) >= 1 + len(ABROAD) and n)
        eventually(lambda: metric(platform, "identity", "outbox_backlog") == 0)

        if consumer == "stopped":
            _restart(restartable_broker, tmp_path)
            platform.start_service("notifications")
            platform.wait_ready("notifications")
        mails = eventually(lambda: len(to_anna()) >= before + len(ABROAD) and to_anna(), timeout=90)
        # every event identity still holds was published again, and the one notifications had was skipped
        eventually(lambda: metric(platform, "notifications", "events_consumed_total", type="AccountRegistered",
                                  outcome="duplicate") >= 1)
        replayed = metric(platform, "identity", "events_replayed_total")
        processed = metric(platform, "notifications", "events_consumed_total", type="LoginFromNewLocation",
                           outcome="processed")
        mails = to_anna()
        bodies = [m["text"] for m in mails[before:]]  # each names another country
        print(f"\nX-05 figures ({consumer} consumer): {int(published)} events published by identity, {int(replayed)} of "
              f"them again on the new broker, {int(processed)} new-location events applied, {len(mails) - before} mails "
              f"(of {len(ABROAD)} expected), {len(bodies) - len(set(bodies))} duplicates")
        assert replayed >= (1 + len(ABROAD) if consumer == "stopped" else 1)
        assert processed == len(ABROAD)
        assert len(mails) - before == len(ABROAD) == len(set(bodies))  # each exactly once
    finally:
        platform.stop()
