"""IDN-01: one address, one account, whatever form it is typed in (NFKC and
case folding before uniqueness), and no account on a domain whose label
mixes scripts (UTS 39). On SQLite and PostgreSQL."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from identity import throttle
from identity.errors import InvalidCredentials, TooManyAttempts
from identity.location import locate
from identity.main import MIGRATIONS
from identity.models import Account, SigninThrottle
from identity.schemas import AccountCreate
from manager_shared.addresses import normalize_email
from manager_shared.db import Database, alembic_config
from manager_shared.testing.fixtures import recorded

PASSWORD = "Zytglogge-Aare-Bern-1191"
SIGNUP = {"email": "zoe@example.ch", "password": PASSWORD, "first_name": "Zoé", "last_name": "Keller",
          "language": "de", "time_zone": "Europe/Zurich"}
FORMS = ("zoe@example.ch", "ZOE@Example.CH", "ｚｏｅ@example.ch", "ＺＯＥ@ｅｘａｍｐｌｅ．ｃｈ")
WHERE = locate("195.186.1.1", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0")


async def _accounts(db) -> list[Account]:
    async with db.transaction() as s:
        return list((await s.execute(sa.select(Account))).scalars())


def test_idn_01_every_form_has_one_key():
    assert {normalize_email(form) for form in FORMS} == {"zoe@example.ch"}
    assert normalize_email("zoe@xn--bcher-kva.ch") == normalize_email("ZOE@BÜCHER.ch") == "zoe@bücher.ch"
    for form in (*FORMS, "Straße@faß.de", "ẞ@x.ch"):
        assert normalize_email(normalize_email(form)) == normalize_email(form)  # stable


def test_idn_04_throttle_key_is_the_same_for_every_form():
    assert len({throttle.email_key(form) for form in FORMS}) == 1
    assert len({throttle.email_key(normalize_email(form)) for form in FORMS}) == 1


def test_idn_01_german_sharp_s_folds_in_the_local_part_not_in_the_domain():
    # Case folding: ß and ẞ are ss (STRASSE is Straße in capitals). IDNA 2008
    # keeps ß in domains: faß.de and fass.de are different domains.
    assert normalize_email("Straße@faß.de") == normalize_email("STRASSE@faß.de") == "strasse@faß.de"
    assert normalize_email("strasse@fass.de") == "strasse@fass.de"


async def test_idn_01_full_width_sign_up_is_the_ascii_account(db, service):
    async with db.transaction() as s:
        first = await service.register(s, AccountCreate(**SIGNUP), WHERE)
    async with db.transaction() as s:
        again = await service.register(s, AccountCreate(**{**SIGNUP, "email": "ｚｏｅ@example.ch"}), WHERE)
    assert first is not None and again is None  # the existing-address path: the owner is told
    [account] = await _accounts(db)
    assert account.email_normalized == "zoe@example.ch"
    for form in FORMS:
        pair = await service.sign_in(db, form, PASSWORD, WHERE, True)
        assert pair.access_token


async def test_idn_01_upper_lower_and_full_width_sign_ups_are_one_account(client, database_url):
    answers = [await client.post("/v1/accounts", json={**SIGNUP, "email": form}) for form in FORMS]
    assert {r.status_code for r in answers} == {202} and len({r.text for r in answers}) == 1
    assert [e.type for e in await recorded(client) if e.type.startswith(("Account", "SignUp"))] == [
        "AccountRegistered", "SignUpAttemptedWithExistingEmail"]  # one mail per alert window
    for form in FORMS:
        r = await client.post("/v1/sessions", json={"email": form, "password": PASSWORD})
        assert r.status_code == 200, r.text
    db = Database(database_url)
    try:
        [account] = await _accounts(db)
        assert account.email == "zoe@example.ch"  # the first form typed, the mails' address
    finally:
        await db.dispose()


async def test_idn_01_full_width_first_sign_up_keeps_a_deliverable_address(client):
    await client.post("/v1/accounts", json={**SIGNUP, "email": "ｚｏｅ@example.ch"})
    [event] = await recorded(client, "AccountRegistered")
    assert event.email == "zoe@example.ch"  # a full-width mailbox name is the mailbox zoe


async def test_idn_04_wrong_passwords_in_every_form_count_on_one_key(db, service):
    async with db.transaction() as s:
        await service.register(s, AccountCreate(**SIGNUP), WHERE)
    for form in FORMS:
        with pytest.raises((InvalidCredentials, TooManyAttempts)):
            await service.sign_in(db, form, "not-the-password", WHERE, True)
    async with db.transaction() as s:
        keys = [k for k in (await s.execute(sa.select(SigninThrottle.key))).scalars() if "email" in k]
    assert keys == [throttle.email_key("zoe@example.ch")]


async def test_idn_01_mixed_script_domain_label_is_refused_and_no_account_made(client, database_url):
    cyrillic_a = "\u0430"
    r = await client.post("/v1/accounts", json={**SIGNUP, "email": f"zoe@ex{cyrillic_a}mple.ch"})
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    assert [(f["field"], f["type"]) for f in r.json()["fields"]] == [("body.email", "mixed_script_domain")]
    for fine in ("zoe@bücher.ch", "zoe@a-1.example.ch", "zoe@日本語ドメイン.jp", "zoe@пример.рф"):
        r = await client.post("/v1/accounts", json={**SIGNUP, "email": fine})
        assert r.status_code == 202, (fine, r.text)  # one script per label (+ digits, hyphen)
    db = Database(database_url)
    try:
        assert all(cyrillic_a not in a.email for a in await _accounts(db)) and len(await _accounts(db)) == 4
    finally:
        await db.dispose()


async def test_idn_06_new_login_and_recovery_address_refuse_a_mixed_script_domain(client):
    await client.post("/v1/accounts", json=SIGNUP)
    tokens = (await client.post("/v1/sessions", json={"email": SIGNUP["email"], "password": PASSWORD})).json()
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    bad = "zoe@p\u0430ypal.com"
    r = await client.put("/v1/me/recovery-email", headers=auth, json={"password": PASSWORD, "recovery_email": bad})
    assert (r.status_code, r.json()["fields"][0]["type"]) == (422, "mixed_script_domain")
    # the same address in another form is the login itself
    r = await client.put("/v1/me/recovery-email", headers=auth,
                         json={"password": PASSWORD, "recovery_email": "ＺＯＥ@example.ch"})
    assert (r.status_code, r.json()["code"]) == (422, "same_as_login_email")


async def test_idn_13_password_reset_in_full_width_reaches_the_account(client):
    await client.post("/v1/accounts", json=SIGNUP)
    r = await client.post("/v1/password-reset", json={"email": "ｚｏｅ@ｅｘａｍｐｌｅ.ch"})
    assert r.status_code == 202
    [sent] = await recorded(client, "PasswordResetRequested")
    assert sent.email == "zoe@example.ch"  # the account's address, never the form typed


async def test_idn_01_migration_recomputes_keys_and_reports_collisions(database_url, caplog):
    """Keys stored as lower() by revision 0014 become NFKC case-folded; of two
    accounts that now share a key, the older keeps it, the other is reported."""
    db = Database(database_url)
    try:
        await _upgrade(db, "0014")
        rows = [("zoe@example.ch", 1), ("Straße@example.ch", 2), ("ｚｏｅ@example.ch", 3), ("ann@example.ch", 4)]
        ids = [uuid.uuid4() for _ in rows]
        async with db.transaction() as s:
            for account_id, (email, day) in zip(ids, rows):
                await s.execute(sa.text(
                    "INSERT INTO account (id, email, email_normalized, password_hash, first_name, last_name, "
                    "language, time_zone, status, version, created_at, updated_at) VALUES (:id, :e, :n, 'x', 'a', "
                    "'b', 'en', 'UTC', 'active', 1, :t, :t)").bindparams(
                        sa.bindparam("id", type_=sa.Uuid())),
                    {"id": account_id, "e": email, "n": email.lower(), "t": datetime(2024, 1, day, tzinfo=timezone.utc)})
        with caplog.at_level(logging.INFO, logger="alembic"):
            await _upgrade(db, "head")
        keys = {a.id: a.email_normalized for a in await _accounts(db)}
        assert [keys[i] for i in ids] == ["zoe@example.ch", "strasse@example.ch", "ｚｏｅ@example.ch",
                                          "ann@example.ch"]
        warning = next(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
        assert str(ids[2]) in warning and "ｚｏｅ" not in warning and "zoe" not in warning
    finally:
        await db.dispose()


async def _upgrade(db: Database, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(MIGRATIONS, db.url)

    def run(sync_conn) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(run)
