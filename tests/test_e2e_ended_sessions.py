"""End to end across processes (IDN-03, IDN-05, IDN-18, ASVS 7.4): a session
that ends early — sign-out, a reused refresh token, revoked from another
session, ended by a password change — is refused by identity at once and by
organizations, billing, domains and notifications within seconds, while the
account's remaining session keeps working everywhere."""
from __future__ import annotations

import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.e2e
PASSWORD, NEW_PASSWORD = "Lauberhorn-Wengen-Abfahrt-9", "Jungfraujoch-Sphinx-3454"


def _within(deadline_s: float, check) -> object:
    deadline = time.monotonic() + deadline_s
    while True:
        last = check()
        if last or time.monotonic() > deadline:
            return last
        time.sleep(0.1)


class Everywhere:
    """One protected endpoint per service for this account."""

    def __init__(self, platform, org_id: str) -> None:
        self.urls = {"identity": f"{platform.url('identity')}/v1/me",
                     "organizations": f"{platform.url('organizations')}/v1/organizations",
                     "billing": f"{platform.url('billing')}/v1/organizations/{org_id}/billing-account",
                     "domains": f"{platform.url('domains')}/v1/organizations/{org_id}/domains",
                     "notifications": f"{platform.url('notifications')}/v1/messages"}

    def answers(self, token: str) -> dict[str, tuple[int, str | None]]:
        out = {}
        for name, url in self.urls.items():
            r = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            out[name] = (r.status_code, r.json().get("code") if isinstance(r.json(), dict) else None)
        return out

    def accepted(self, token: str) -> bool:
        return all(status == 200 for status, _ in self.answers(token).values())

    def assert_refused(self, token: str) -> None:
        r = httpx.get(self.urls["identity"], headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert (r.status_code, r.json()["code"]) == (401, "session_ended")  # identity: at once, no polling
        def all_refused():
            answers = self.answers(token)
            return answers if set(answers.values()) == {(401, "session_ended")} else None

        assert _within(15, all_refused), self.answers(token)


def test_idn_03_ended_sessions_are_refused_by_every_service(platform):
    identity = httpx.Client(base_url=platform.url("identity"), timeout=10)
    email = f"ueli.{uuid.uuid4().hex[:6]}@example.ch"
    assert identity.post("/v1/accounts", json={"email": email, "password": PASSWORD, "first_name": "Ueli",
                                               "last_name": "Steck", "language": "de"}).status_code == 202

    def session() -> dict:
        r = identity.post("/v1/sessions", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return r.json()

    keeper, signed_out, replayed, revoked, by_password = (session() for _ in range(5))
    orgs = httpx.Client(base_url=platform.url("organizations"), timeout=10,
                        headers={"Authorization": f"Bearer {keeper['access_token']}"})
    org_id = _within(45, lambda: orgs.get("/v1/organizations").json())[0]["id"]
    everywhere = Everywhere(platform, org_id)
    for s in (keeper, signed_out, replayed, revoked, by_password):  # billing etc. know the account first
        assert _within(45, lambda: everywhere.accepted(s["access_token"])), everywhere.answers(s["access_token"])
    auth = {"Authorization": f"Bearer {keeper['access_token']}"}

    r = identity.delete("/v1/sessions/current", headers={"Authorization": f"Bearer {signed_out['access_token']}"})
    assert r.status_code == 204
    everywhere.assert_refused(signed_out["access_token"])

    identity.post("/v1/sessions/refresh", json={"refresh_token": replayed["refresh_token"]})
    r = identity.post("/v1/sessions/refresh", json={"refresh_token": replayed["refresh_token"]})  # stolen copy
    assert r.status_code == 401
    everywhere.assert_refused(replayed["access_token"])

    assert identity.delete(f"/v1/sessions/{revoked['session_id']}", headers=auth).status_code == 204
    everywhere.assert_refused(revoked["access_token"])

    r = identity.post("/v1/me/password", headers=auth, json={"current_password": PASSWORD,
                                                            "new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text
    everywhere.assert_refused(by_password["access_token"])

    assert everywhere.accepted(keeper["access_token"])  # the session that changed the password goes on
