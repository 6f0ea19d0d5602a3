"""IDN-06 login e-mail change: current password, the new address twice,
not the recovery e-mail, not another account's login (told only to whoever
holds the code), effective only with the code sent to the new address; the
profile always shows the current login. Also the recovery e-mail."""
from __future__ import annotations



from identity import repository
from manager_shared.testing.fixtures import recorded

SIGNUP = {"email": "marc@example.fr", "password": "Camembert-Velo-Lyon-Pont-3", "first_name": "Marc",
          "last_name": "Durand", "language": "fr", "time_zone": "Europe/Paris"}
OTHER = {**SIGNUP, "email": "claire@example.fr", "first_name": "Claire", "password": "Bordeaux-Vigne-Soleil-77"}
NEW = "marc.durand@example.org"



async def _auth(client, account=SIGNUP):
    await client.post("/v1/accounts", json=account)
    r = await client.post("/v1/sessions", json={"email": account["email"], "password": account["password"]})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _change(new=NEW, repeat=None, password=SIGNUP["password"]):
    return {"current_password": password, "new_email": new, "new_email_repeat": repeat or new}


async def test_idn_06_login_changes_only_with_the_code_sent_to_the_new_address(client):
    auth = await _auth(client)
    r = await client.post("/v1/me/email", headers=auth, json=_change())
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    [asked] = await recorded(client, "LoginEmailChangeRequested")
    assert (asked.old_email, asked.new_email, len(asked.code)) == (SIGNUP["email"], NEW, 8)
    assert (await client.get("/v1/me", headers=auth)).json()["email"] == SIGNUP["email"]  # not yet
    pending = (await client.get("/v1/me/email", headers=auth)).json()
    assert (pending["email"], pending["pending_email"]) == (SIGNUP["email"], NEW)

    wrong = "0" * 8 if asked.code != "0" * 8 else "1" * 8
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": wrong})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_code")
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": asked.code})
    assert (r.status_code, r.json()["email"]) == (200, NEW)
    assert (await client.get("/v1/me", headers=auth)).json()["email"] == NEW
    [changed] = await recorded(client, "LoginEmailChanged")
    assert (changed.old_email, changed.new_email) == (SIGNUP["email"], NEW)
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": asked.code})
    assert (r.status_code, r.json()["code"]) == (422, "code_used")
    ok = await client.post("/v1/sessions", json={"email": NEW.upper(), "password": SIGNUP["password"]})
    old = await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": SIGNUP["password"]})
    assert (ok.status_code, old.status_code) == (200, 401)


async def test_idn_06_the_new_address_is_typed_twice_the_same(client):
    auth = await _auth(client)
    r = await client.post("/v1/me/email", headers=auth, json=_change(repeat="marc.durand@example.com"))
    assert (r.status_code, r.json()["code"]) == (422, "email_mismatch")
    r = await client.post("/v1/me/email", headers=auth, json=_change(repeat=NEW.upper()))
    assert r.status_code == 202  # the same address, whatever the case
    r = await client.post("/v1/me/email", headers=auth, json={"current_password": "x", "new_email": NEW})
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")


async def test_idn_06_needs_the_current_password_and_wrong_ones_are_throttled(client):
    auth = await _auth(client)
    statuses = []
    for _ in range(4):
        r = await client.post("/v1/me/email", headers=auth, json=_change(password="not-my-password"))
        statuses.append((r.status_code, r.json()["code"]))
    assert statuses[:3] == [(403, "wrong_password")] * 3 and statuses[3] == (429, "too_many_attempts")
    assert await recorded(client, "LoginEmailChangeRequested") == []


async def test_idn_06_must_differ_from_the_recovery_email_and_the_current_login(client):
    auth = await _auth(client)
    r = await client.put("/v1/me/recovery-email", headers=auth,
                         json={"password": SIGNUP["password"], "recovery_email": NEW})
    assert r.status_code == 200
    r = await client.post("/v1/me/email", headers=auth, json=_change(NEW.upper()))
    assert (r.status_code, r.json()["code"]) == (422, "same_as_recovery_email")
    r = await client.post("/v1/me/email", headers=auth, json=_change(SIGNUP["email"]))
    assert (r.status_code, r.json()["code"]) == (422, "same_email")


async def test_idn_06_another_accounts_login_is_not_revealed_when_asking(client):
    await _auth(client, OTHER)
    auth = await _auth(client)
    free = await client.post("/v1/me/email", headers=auth, json=_change("free@example.fr"))
    client._transport.app.state.identity.clock.advance(seconds=61)
    taken = await client.post("/v1/me/email", headers=auth, json=_change(OTHER["email"]))
    assert free.status_code == taken.status_code == 202
    assert free.json().keys() == taken.json().keys() and free.json()["message"] == taken.json()["message"]
    asked = (await recorded(client, "LoginEmailChangeRequested"))[-1]
    assert asked.new_email == OTHER["email"]
    # only whoever reads that mailbox (and so holds the code) learns it is taken
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": asked.code})
    assert (r.status_code, r.json()["code"]) == (409, "email_taken")
    assert (await client.get("/v1/me", headers=auth)).json()["email"] == SIGNUP["email"]


async def test_idn_06_a_race_for_the_same_address_ends_in_409_not_500(client, monkeypatch):
    auth = await _auth(client)
    other_auth = await _auth(client, OTHER)
    await client.post("/v1/me/email", headers=auth, json=_change("shared@example.fr"))
    mine = (await recorded(client, "LoginEmailChangeRequested"))[-1]
    client._transport.app.state.identity.clock.advance(seconds=61)  # one code a minute per address
    await client.post("/v1/me/email", headers=other_auth,
                      json=_change("shared@example.fr", password=OTHER["password"]))
    theirs = (await recorded(client, "LoginEmailChangeRequested"))[-1]
    assert (await client.post("/v1/me/email/confirm", headers=other_auth,
                              json={"code": theirs.code})).status_code == 200

    async def not_seen_yet(session, email):  # the other confirmation commits after our look-up
        return None

    monkeypatch.setattr(repository, "account_by_email", not_seen_yet)
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": mine.code})
    assert (r.status_code, r.json()["code"]) == (409, "email_taken")
    monkeypatch.undo()
    assert (await client.get("/v1/me", headers=auth)).json()["email"] == SIGNUP["email"]


async def test_idn_06_codes_expire_and_a_new_request_replaces_the_pending_one(client, frozen):
    auth = await _auth(client)
    await client.post("/v1/me/email", headers=auth, json=_change())
    first = (await recorded(client, "LoginEmailChangeRequested"))[-1]
    r = await client.post("/v1/me/email", headers=auth, json=_change())
    assert (r.status_code, r.json()["code"]) == (429, "too_many_codes") and "Retry-After" in r.headers
    frozen.advance(seconds=61)
    await client.post("/v1/me/email", headers=auth, json=_change("other.new@example.org"))
    second = (await recorded(client, "LoginEmailChangeRequested"))[-1]
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": first.code})
    assert r.status_code == 422
    frozen.advance(minutes=30)
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": second.code})
    assert (r.status_code, r.json()["code"]) == (422, "code_expired")
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": "12345678"})
    assert r.status_code == 422
    assert (await client.get("/v1/me/email", headers=auth)).json()["pending_email"] is None


async def test_idn_06_confirm_without_a_pending_change(client):
    auth = await _auth(client)
    r = await client.post("/v1/me/email/confirm", headers=auth, json={"code": "12345678"})
    assert (r.status_code, r.json()["code"]) == (404, "no_pending_email_change")


async def test_idn_01_recovery_email_needs_the_password_and_differs_from_the_login(client):
    auth = await _auth(client)
    body = {"password": SIGNUP["password"], "recovery_email": "marc.secours@example.org"}
    r = await client.put("/v1/me/recovery-email", headers=auth, json={**body, "password": "wrong-one"})
    assert (r.status_code, r.json()["code"]) == (403, "wrong_password")
    r = await client.put("/v1/me/recovery-email", headers=auth, json={**body, "recovery_email": SIGNUP["email"].upper()})
    assert (r.status_code, r.json()["code"]) == (422, "same_as_login_email")
    r = await client.put("/v1/me/recovery-email", headers=auth, json=body)
    assert r.json() == {"recovery_email": "marc.secours@example.org"}
    assert (await client.get("/v1/me", headers=auth)).json()["recovery_email"] == "marc.secours@example.org"
    r = await client.put("/v1/me/recovery-email", headers=auth, json={"password": SIGNUP["password"],
                                                                      "recovery_email": None})
    assert r.json() == {"recovery_email": None}
    kinds = [a["kind"] for a in (await client.get("/v1/me/activity", headers=auth)).json()["items"]]
    assert kinds.count("recovery_email_changed") == 2
    changes = await recorded(client, "RecoveryEmailChanged")
    assert [(e.old_recovery_email, e.recovery_email_hint) for e in changes] == [
        (None, "m•••@example.org"), ("marc.secours@example.org", None)]
