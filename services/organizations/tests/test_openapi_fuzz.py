"""X-03 for organizations: Schemathesis generates requests from the OpenAPI
document, valid and invalid, against running identity and organizations
processes; none may get a 5xx. The caller is a real account, and half the
cases target its own organization so the rules behind the 404 are reached."""
from __future__ import annotations

import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from manager_shared.testing.platform import Platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(kafka, tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz-org")
    running = Platform(bootstrap=kafka.bootstrap, smtp_port=1, log_dir=base / "logs",
                       database_urls={n: f"sqlite+aiosqlite:///{base}/{n}.db" for n in ("identity", "organizations")})
    try:
        running.start(names=("identity", "organizations"))
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def caller(platform):
    identity = platform.url("identity")
    account = {"email": "fuzz.org@example.ch", "password": "Fuzzing-Zermatt-Glacier-3", "first_name": "F",
               "last_name": "Z"}
    httpx.post(f"{identity}/v1/accounts", json=account, timeout=10)
    r = httpx.post(f"{identity}/v1/sessions", json={"email": account["email"], "password": account["password"]},
                   timeout=10)
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the personal organization arrives through Kafka
        mine = httpx.get(f"{platform.url('organizations')}/v1/organizations", headers=headers, timeout=10).json()
        if mine:
            return headers, mine[0]["id"]
        time.sleep(0.2)
    raise TimeoutError("no personal organization")


def test_x_03_organizations_never_answers_5xx(platform, caller):
    headers, own = caller
    base = platform.url("organizations")
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    statuses: list[int] = []

    for operation in operations:
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        @given(case=operation.as_strategy())
        def fuzz(case):
            if case.path_parameters and "organization_id" in case.path_parameters and len(statuses) % 2:
                case.path_parameters["organization_id"] = own
            response = case.call_and_validate(base_url=base, headers=headers, checks=[not_a_server_error])
            statuses.append(response.status_code)

        fuzz()
    assert len(statuses) >= 5 * len(operations)
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
