"""Operators' scopes in the access token: logins listed in
IDENTITY_SUPPORT_STAFF_EMAILS get `support`, those in
IDENTITY_BILLING_OPERATOR_EMAILS get `billing` (billing's operator endpoints:
camt.054 import, unmatched bank payments, payouts), matched like logins
(case-insensitive); everyone else gets no scope."""
from __future__ import annotations

import jwt

PASSWORD = "Gotthard-Tunnel-Lok-9"


async def _scope(client, email: str) -> str:
    await client.post("/v1/accounts", json={"email": email, "password": PASSWORD, "first_name": "A",
                                            "last_name": "B", "language": "en"})
    r = await client.post("/v1/sessions", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return jwt.decode(r.json()["access_token"], options={"verify_signature": False}).get("scope", "")


async def test_billing_operators_get_the_billing_scope(make_client, database_url):
    async with make_client(database_url, support_staff_emails="agent@manager.example",
                           billing_operator_emails=" Treasurer@Manager.example ,agent@manager.example") as c:
        assert await _scope(c, "treasurer@manager.example") == "billing"
        assert (await _scope(c, "agent@manager.example")).split() == ["support", "billing"]
        assert await _scope(c, "anna@example.ch") == ""


async def test_no_billing_scope_unless_configured(make_client, database_url):
    async with make_client(database_url, support_staff_emails="agent@manager.example") as c:
        assert await _scope(c, "agent@manager.example") == "support"
        assert await _scope(c, "treasurer@manager.example") == ""
