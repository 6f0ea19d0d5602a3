"""X-03 for identity: Schemathesis generates requests from the OpenAPI
document, valid and invalid, against a running identity process; none may
get a 5xx. Authenticated operations get a real token."""
from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from manager_shared.testing.platform import Platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def identity_url(kafka, tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    platform = Platform(bootstrap=kafka.bootstrap, smtp_port=1, log_dir=base / "logs",
                        database_urls={"identity": f"sqlite+aiosqlite:///{base}/identity.db"})
    try:
        platform.start(names=("identity",))
        yield platform.url("identity")
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def auth_headers(identity_url):
    account = {"email": "fuzz@example.ch", "password": "Fuzzing-Zermatt-Glacier-3", "first_name": "F",
               "last_name": "Z"}
    httpx.post(f"{identity_url}/v1/accounts", json=account, timeout=10)
    r = httpx.post(f"{identity_url}/v1/sessions", json={"email": account["email"], "password": account["password"]},
                   timeout=10)
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_x_03_identity_never_answers_5xx(identity_url, auth_headers):
    # Driven by hand: Schemathesis' pytest plugin does not support pytest 9 yet.
    schema = schemathesis.openapi.from_url(f"{identity_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    statuses: list[int] = []

    for operation in operations:
        # derandomize: the same examples every run, so CI is reproducible; explore with
        # --hypothesis-seed or a higher max_examples when hunting.
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        @given(case=operation.as_strategy())
        def fuzz(case):
            response = case.call_and_validate(base_url=identity_url, headers=auth_headers,
                                              checks=[not_a_server_error])
            statuses.append(response.status_code)

        fuzz()
    # it really exercised the API: many calls, and both accepted and refused input
    assert len(statuses) >= 10 * len(operations)
    assert any(200 <= s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
