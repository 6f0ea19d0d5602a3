"""IDN-15 application passwords without HTTP: created only with 2FA on and a
recent sign-in, listed and revoked by their owner only, each change recorded
(activity, event); the sync servers' check accepts login + an active app
password of that active account, is throttled like sign-in (IDN-04) and only
answers sync servers holding a configured key. In-process SQLite, frozen clock."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from identity.app_passwords import (ALPHABET, MAX_PER_ACCOUNT, AppPasswords, InvalidAppPassword, TwoFactorRequired,
                                    UnknownSyncClient, new_app_password, normalize_app_password)
from identity.config import Settings
from identity.errors import TooManyAttempts
from identity.factor_totp import TotpFactor
from identity.location import Location
from identity.models import Account, Activity, AppPassword, TotpMethod, outbox_table
from identity.passwords import Passwords
from identity.service import IdentityService
from identity.two_factor import RecentSignInRequired, TwoFactorService
from manager_shared.auth import Principal
from manager_shared.clock import FrozenClock
from manager_shared.errors import DomainError, NotFound
from manager_shared.outbox import Outbox

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
SYNC_KEY = "imap-server-key-0123456789abcdef"
HERE = Location(ip="198.51.100.7", country="CH", device="Thunderbird")


@pytest.fixture
def db(sqlite_db):
    """Unit tests on one copy of the migrated SQLite schema (fast: no migration per test)."""
    return sqlite_db


@pytest.fixture
def clock():
    return FrozenClock(T0)


def make_app_passwords(clock, **settings) -> AppPasswords:
    settings = Settings(sync_client_key_hashes=settings.pop("keys", hashlib.sha256(SYNC_KEY.encode()).hexdigest()),
                        **settings)
    identity = IdentityService(settings=settings, passwords=Passwords(), outbox=Outbox(outbox_table), clock=clock)
    two_factor = TwoFactorService(identity=identity)
    two_factor.register(TotpFactor())
    return AppPasswords(two_factor)


@pytest.fixture
def app_passwords(clock):
    return make_app_passwords(clock)


async def new_account(db, email="nina@example.ch", *, two_factor=True, status="active") -> uuid.UUID:
    async with db.transaction() as s:
        account = Account(email=email, email_normalized=email, password_hash="-", first_name="N", last_name="R",
                          language="it", time_zone="Europe/Zurich", status=status, created_at=T0, updated_at=T0)
        s.add(account)
        await s.flush()
        if two_factor:
            s.add(TotpMethod(account_id=account.id, name="Phone", secret="JBSWY3DPEHPK3PXP", created_at=T0,
                             confirmed_at=T0))
    return account.id


def signed_in(account_id, clock, *, minutes_ago: float = 1) -> Principal:
    at = int((clock.now() - timedelta(minutes=minutes_ago)).timestamp())
    return Principal(account_id=account_id, session_id="s", auth_time=at, amr=("pwd", "otp"), scopes=(), claims={})


async def create(db, app_passwords, who, name="Thunderbird"):
    async with db.transaction() as s:
        return await app_passwords.create(s, who, name)


async def listed(db, app_passwords, account_id) -> list[str]:
    async with db.transaction() as s:
        return [p.name for p in await app_passwords.list(s, account_id)]


async def events(db) -> list[tuple[str, dict]]:
    async with db.transaction() as s:
        return [(r.type, json.loads(r.payload)) for r in
                (await s.execute(sa.select(outbox_table).order_by(outbox_table.c.id))).all()]


async def activity(db, account_id) -> list[str]:
    async with db.transaction() as s:
        return list((await s.execute(sa.select(Activity.kind).where(Activity.account_id == account_id)
                                     .order_by(Activity.id))).scalars())


# -- the password itself ----------------------------------------------------------------------

def test_idn_15_app_password_is_four_groups_of_five_unambiguous_characters():
    drawn = [new_app_password() for _ in range(300)]
    for password in drawn:
        groups = password.split("-")
        assert [len(g) for g in groups] == [5, 5, 5, 5], password
        assert set("".join(groups)) <= set(ALPHABET)
    assert len(set(drawn)) == 300
    assert set("".join(drawn).replace("-", "")) == set(ALPHABET)  # every character of the alphabet is used
    assert not set("ilo01") & set(ALPHABET)


def test_idn_15_app_password_is_typed_in_any_case_with_spaces_or_dashes():
    assert normalize_app_password("ABCDE fghjk-MNPQR  stuvw") == "abcdefghjkmnpqrstuvw"


# -- created by the owner, with 2FA and a recent sign-in --------------------------------------

async def test_idn_15_created_with_2fa_shown_once_and_recorded(db, clock, app_passwords):
    account = await new_account(db)
    row, password = await create(db, app_passwords, signed_in(account, clock))
    assert row.account_id == account and row.name == "Thunderbird" and row.created_at == T0
    assert password not in row.secret_hash and len(password) == 23
    assert await listed(db, app_passwords, account) == ["Thunderbird"]
    [(kind, payload)] = await events(db)
    assert kind == "AppPasswordCreated"
    assert payload["app_password_id"] == str(row.id) and payload["name"] == "Thunderbird"
    assert await activity(db, account) == ["app_password_created"]
    assert await app_passwords.verify(db, "nina@example.ch", password, HERE) == (account, row.id)


async def test_idn_15_needs_2fa_on(db, clock, app_passwords):
    account = await new_account(db, two_factor=False)
    with pytest.raises(TwoFactorRequired) as exc:
        await create(db, app_passwords, signed_in(account, clock))
    assert (exc.value.status, exc.value.code) == (409, "two_factor_required")
    assert await listed(db, app_passwords, account) == [] and await events(db) == []


async def test_idn_19_needs_a_recent_sign_in(db, clock, app_passwords):
    account = await new_account(db)
    with pytest.raises(RecentSignInRequired):
        await create(db, app_passwords, signed_in(account, clock, minutes_ago=30))
    assert await listed(db, app_passwords, account) == []


async def test_x_06_a_cap_of_app_passwords_per_account(db, clock, app_passwords):
    account = await new_account(db)
    who = signed_in(account, clock)
    async with db.transaction() as s:
        for i in range(MAX_PER_ACCOUNT):
            await app_passwords.create(s, who, f"client {i}")
    with pytest.raises(DomainError) as exc:
        await create(db, app_passwords, who, "one too many")
    assert (exc.value.status, exc.value.code) == (409, "too_many_app_passwords")
    async with db.transaction() as s:
        first = (await app_passwords.list(s, account))[0]
        await app_passwords.revoke(s, who, first.id)
    await create(db, app_passwords, who, "after a revocation")  # a revoked one frees its place


# -- listed and revoked by the owner only -----------------------------------------------------

async def test_idn_15_list_shows_only_the_owners_active_passwords_oldest_first(db, clock, app_passwords):
    nina, marco = await new_account(db), await new_account(db, "marco@example.ch")
    await create(db, app_passwords, signed_in(nina, clock), "Thunderbird")
    clock.advance(seconds=1)
    davx, _ = await create(db, app_passwords, signed_in(nina, clock), "DAVx5")
    await create(db, app_passwords, signed_in(marco, clock), "Outlook")
    assert await listed(db, app_passwords, nina) == ["Thunderbird", "DAVx5"]
    assert await listed(db, app_passwords, marco) == ["Outlook"]
    async with db.transaction() as s:
        await app_passwords.revoke(s, signed_in(nina, clock), davx.id)
    assert await listed(db, app_passwords, nina) == ["Thunderbird"]


async def test_idn_15_revoked_password_stops_working_and_is_recorded(db, clock, app_passwords):
    account = await new_account(db)
    row, password = await create(db, app_passwords, signed_in(account, clock))
    clock.advance(minutes=3)
    async with db.transaction() as s:
        await app_passwords.revoke(s, signed_in(account, clock), row.id)
    async with db.transaction() as s:
        assert (await s.get(AppPassword, row.id)).revoked_at == T0 + timedelta(minutes=3)
    assert [kind for kind, _ in await events(db)] == ["AppPasswordCreated", "AppPasswordRevoked"]
    assert (await events(db))[1][1]["app_password_id"] == str(row.id)
    assert await activity(db, account) == ["app_password_created", "app_password_revoked"]
    with pytest.raises(InvalidAppPassword):
        await app_passwords.verify(db, "nina@example.ch", password, HERE)


async def test_idn_15_only_the_owner_revokes_and_only_once(db, clock, app_passwords):
    nina, marco = await new_account(db), await new_account(db, "marco@example.ch")
    row, password = await create(db, app_passwords, signed_in(nina, clock))
    for who, target in ((signed_in(marco, clock), row.id), (signed_in(nina, clock), uuid.uuid4())):
        with pytest.raises(NotFound) as exc:
            async with db.transaction() as s:
                await app_passwords.revoke(s, who, target)
        assert exc.value.code == "app_password_not_found"
    assert await app_passwords.verify(db, "nina@example.ch", password, HERE) == (nina, row.id)
    async with db.transaction() as s:
        await app_passwords.revoke(s, signed_in(nina, clock), row.id)
    with pytest.raises(NotFound):
        async with db.transaction() as s:
            await app_passwords.revoke(s, signed_in(nina, clock), row.id)
    assert [kind for kind, _ in await events(db)].count("AppPasswordRevoked") == 1


async def test_idn_15_turning_2fa_off_revokes_them_all(db, clock, app_passwords):
    nina, marco = await new_account(db), await new_account(db, "marco@example.ch")
    passwords = [(await create(db, app_passwords, signed_in(nina, clock), name))[1] for name in ("A", "B")]
    _, theirs = await create(db, app_passwords, signed_in(marco, clock), "C")
    async with db.transaction() as s:
        await app_passwords.revoke_all(s, nina)
    assert await listed(db, app_passwords, nina) == []
    assert [kind for kind, _ in await events(db)].count("AppPasswordRevoked") == 2
    for password in passwords:
        with pytest.raises(InvalidAppPassword):
            await app_passwords.verify(db, "nina@example.ch", password, HERE)
    assert (await app_passwords.verify(db, "marco@example.ch", theirs, HERE))[0] == marco


# -- the sync servers' check ------------------------------------------------------------------

def test_idn_15_only_configured_sync_servers_may_check(clock):
    other = "caldav-server-key-fedcba9876543210"
    app_passwords = make_app_passwords(
        clock, keys=f" {hashlib.sha256(SYNC_KEY.encode()).hexdigest().upper()} ,, {hashlib.sha256(other.encode()).hexdigest()}")
    app_passwords.check_client(SYNC_KEY)
    app_passwords.check_client(other)
    for presented in (None, "", "wrong-key", SYNC_KEY.upper(), hashlib.sha256(SYNC_KEY.encode()).hexdigest()):
        with pytest.raises(UnknownSyncClient) as exc:
            app_passwords.check_client(presented)
        assert (exc.value.status, exc.value.code) == (403, "sync_client_unknown")


def test_idn_15_no_sync_server_is_trusted_by_default_not_even_without_a_key(clock):
    for keys in ("", " , ", hashlib.sha256(b"").hexdigest()):  # the last: a hash of the empty key
        app_passwords = make_app_passwords(clock, keys=keys)
        for presented in (None, "", SYNC_KEY):
            with pytest.raises(UnknownSyncClient):
                app_passwords.check_client(presented)


async def test_idn_15_check_accepts_the_login_in_any_form_and_the_password_as_typed(db, clock, app_passwords):
    account = await new_account(db)
    row, password = await create(db, app_passwords, signed_in(account, clock))
    typed = password.upper().replace("-", " ")
    assert await app_passwords.verify(db, " Nina@Example.CH ", typed, HERE) == (account, row.id)


async def test_idn_15_check_refuses_alike_unknown_login_wrong_password_other_account_blocked(db, clock, app_passwords):
    nina = await new_account(db)
    marco = await new_account(db, "marco@example.ch")
    blocked = await new_account(db, "bob@example.ch")
    _, ninas = await create(db, app_passwords, signed_in(nina, clock))
    _, marcos = await create(db, app_passwords, signed_in(marco, clock))
    _, bobs = await create(db, app_passwords, signed_in(blocked, clock))
    async with db.transaction() as s:
        (await s.get(Account, blocked)).status = "blocked"
    for login, password in (("nobody@example.ch", ninas), ("nina@example.ch", marcos),
                            ("nina@example.ch", new_app_password()), ("bob@example.ch", bobs)):
        with pytest.raises(InvalidAppPassword) as exc:
            await app_passwords.verify(db, login, password, Location(ip=f"203.0.113.{len(login)}", country=None,
                                                                     device="x"))
        assert (exc.value.status, exc.value.code) == (401, "invalid_credentials"), login


async def test_idn_15_last_use_is_written_at_most_hourly(db, clock, app_passwords):
    account = await new_account(db)
    row, password = await create(db, app_passwords, signed_in(account, clock))

    async def last_used():
        async with db.transaction() as s:
            return (await s.get(AppPassword, row.id)).last_used_at
    assert await last_used() is None
    clock.advance(minutes=1)
    await app_passwords.verify(db, "nina@example.ch", password, HERE)
    assert await last_used() == T0 + timedelta(minutes=1)
    clock.advance(minutes=30)
    await app_passwords.verify(db, "nina@example.ch", password, HERE)  # an IMAP login every few minutes: no write
    assert await last_used() == T0 + timedelta(minutes=1)
    clock.advance(minutes=31)
    await app_passwords.verify(db, "nina@example.ch", password, HERE)
    assert await last_used() == T0 + timedelta(minutes=62)


async def test_idn_04_failures_of_the_check_are_throttled_successes_are_not_counted(db, clock, app_passwords):
    account = await new_account(db)
    row, password = await create(db, app_passwords, signed_in(account, clock))

    async def attempt(secret):
        try:
            return await app_passwords.verify(db, "nina@example.ch", secret, HERE)
        except (InvalidAppPassword, TooManyAttempts) as exc:
            return exc.code
    # a mail app polling every few seconds: its successes never lock it out
    assert [await attempt(password) for _ in range(5)] == [(account, row.id)] * 5
    wrong = new_app_password()
    assert [await attempt(wrong), await attempt(wrong)] == ["invalid_credentials"] * 2
    assert [await attempt(password), await attempt(password)] == [(account, row.id)] * 2
    assert await attempt(wrong) == "invalid_credentials"  # the third failure in a row...
    assert await attempt(password) == "too_many_attempts"  # ...slows down: even the right password waits
    clock.advance(seconds=3)
    assert await attempt(password) == (account, row.id)
