"""One-time codes (codes.py) as the requirements use them: the code sent to
confirm a new login e-mail (IDN-06), the password reset code by recovery
e-mail or phone (IDN-13), the SMS second factor (IDN-14c). Fast: the code
store on an in-process SQLite database, budgets as a pure function."""
from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from identity.codes import (Budget, CodeRefused, OneTimeCodes, Outcome, TooManyCodes, derive_key, new_code, normalize,
                            payload_of)
from identity.models import Account, OneTimeChallenge
from identity.tokens import generate_private_pem
from manager_shared.clock import FrozenClock

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)
BUDGET = Budget(("sms_sign_in", "sms_enrolment"), cooldown_seconds=60, per_hour=5)


@pytest.fixture
def db(sqlite_db):
    """Unit tests on one copy of the migrated SQLite schema (fast: no migration per test)."""
    return sqlite_db


@pytest.fixture
def clock():
    return FrozenClock(T0)


@pytest.fixture
def codes(clock):
    store = OneTimeCodes(lambda: clock, max_attempts=5)
    store.use_key(derive_key("test secret", ""))
    return store


async def new_account(db, email: str = "lea@example.ch") -> uuid.UUID:
    async with db.transaction() as s:
        account = Account(email=email, email_normalized=email, password_hash="-", first_name="L", last_name="B",
                          language="fr", time_zone="Europe/Zurich", created_at=T0, updated_at=T0)
        s.add(account)
    return account.id


@pytest.fixture
async def account(db):
    return await new_account(db)


async def issue(db, codes, account_id, purpose="sms_sign_in", *, ttl=300, destination="+41791234567", **kw):
    async with db.transaction() as s:
        row, code = await codes.issue(s, account_id=account_id, purpose=purpose, ttl_seconds=ttl, digits=6,
                                      destination=destination, **kw)
    return row, code


async def rows(db) -> list[OneTimeChallenge]:
    async with db.transaction() as s:
        return list((await s.execute(sa.select(OneTimeChallenge).order_by(OneTimeChallenge.created_at))).scalars())


async def reload(db, row) -> OneTimeChallenge:
    async with db.transaction() as s:
        return await s.get(OneTimeChallenge, row.id)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


# -- the key and the codes themselves ----------------------------------------------------------

def test_idn_16_code_key_is_256_bits_from_the_secret_or_the_signing_key():
    pem = generate_private_pem()
    derived = derive_key(None, pem)
    assert isinstance(derived, bytes) and len(derived) >= 32
    assert derived == derive_key(None, pem) != derive_key(None, generate_private_pem())
    assert derive_key("secret one", pem) == derive_key("secret one", "") != derive_key("secret two", "")
    assert derive_key("secret one", "") not in (b"secret one", derived)


def test_idn_14c_codes_use_the_whole_code_space():
    drawn = [new_code(6) for _ in range(600)]
    assert all(len(c) == 6 and c.isascii() and c.isdigit() for c in drawn)
    assert len(set(drawn)) > 590  # 10^6 values: repeats are rare
    for position in range(6):  # every digit appears at every position, leading zeros included
        assert set(Counter(c[position] for c in drawn)) == set("0123456789")
    assert all(len(new_code(8)) == 8 for _ in range(50))


def test_idn_14c_typed_code_may_contain_the_spaces_and_dashes_people_add():
    assert normalize(" 123-456\u00a0\t") == "123456"
    assert normalize("123456") == "123456"


def test_x_03_refusals_carry_a_stable_code_and_status():
    for outcome, code in ((Outcome.INVALID, "invalid_code"), (Outcome.EXPIRED, "code_expired"),
                          (Outcome.USED, "code_used"), (Outcome.EXHAUSTED, "code_attempts_exceeded")):
        error = CodeRefused.of(outcome)
        assert (error.status, error.code) == (422, code) and error.message
    busy = TooManyCodes(42)
    assert (busy.status, busy.code, busy.details, busy.headers) == (429, "too_many_codes", {"retry_after": 42},
                                                                    {"Retry-After": "42"})
    assert "wait" in busy.message


async def test_idn_16_no_code_without_the_key(db, clock, account):
    store = OneTimeCodes(lambda: clock)
    with pytest.raises(RuntimeError):
        await issue(db, store, account)


# -- a code works once, for a while, for a few tries ------------------------------------------

async def test_idn_14c_right_code_works_once(db, codes, account):
    row, code = await issue(db, codes, account)
    assert codes.inspect(row) is Outcome.OK
    assert codes.check(row, f"{code[:3]} {code[3:]}") is Outcome.OK
    assert row.used_at == T0 and row.status == "used"
    assert codes.check(row, code) is Outcome.USED
    assert codes.inspect(row) is Outcome.USED


async def test_idn_06_check_without_spending_then_spend(db, codes, clock, account):
    row, code = await issue(db, codes, account, "login_email_change", destination="new@example.ch")
    assert codes.check(row, code, spend=False) is Outcome.OK
    assert row.used_at is None and codes.check(row, code, spend=False) is Outcome.OK  # e.g. password checked next
    clock.advance(seconds=5)
    codes.spend(row)
    assert row.used_at == T0 + timedelta(seconds=5) and codes.check(row, code) is Outcome.USED


async def test_idn_14c_code_expires_after_its_ttl(db, codes, clock, account):
    row, code = await issue(db, codes, account, ttl=300)
    stored = await reload(db, row)
    assert stored.expires_at == T0 + timedelta(seconds=300)
    clock.advance(seconds=299)
    assert codes.inspect(row) is Outcome.OK
    clock.advance(seconds=1)
    assert codes.inspect(row) is Outcome.EXPIRED
    assert codes.check(row, code) is Outcome.EXPIRED and row.used_at is None


async def test_idn_14c_five_wrong_tries_end_the_code(db, codes, account):
    row, code = await issue(db, codes, account)
    bad = wrong(code)
    assert [codes.check(row, bad) for _ in range(4)] == [Outcome.INVALID] * 4
    assert row.attempts == 4 and codes.inspect(row) is Outcome.OK
    assert codes.check(row, bad) is Outcome.EXHAUSTED  # the fifth wrong try says so at once
    assert codes.check(row, code) is Outcome.EXHAUSTED and codes.inspect(row) is Outcome.EXHAUSTED
    assert row.attempts == 5 and row.used_at is None


async def test_idn_14c_four_wrong_tries_still_leave_the_right_code_working(db, codes, account):
    row, code = await issue(db, codes, account)
    for _ in range(4):
        codes.check(row, wrong(code))
    assert codes.check(row, code) is Outcome.OK


async def test_idn_13_a_failed_step_riding_on_the_code_costs_one_try(db, codes, account):
    row, code = await issue(db, codes, account, "password_reset")
    for _ in range(4):
        codes.count_failure(row)  # e.g. the reset's second factor was wrong
    assert row.attempts == 4 and codes.check(row, code, spend=False) is Outcome.OK
    codes.count_failure(row)
    assert codes.check(row, code) is Outcome.EXHAUSTED


@pytest.mark.parametrize("typed", ["12a456", "", "１２３４５６", "١٢٣٤٥٦", "12345", "1234567", "۱۲۳۴۵۶"])
async def test_x_03_odd_input_is_a_wrong_code_never_an_error(db, codes, account, typed):
    row, _ = await issue(db, codes, account)
    assert codes.check(row, typed) is Outcome.INVALID and row.attempts == 1


async def test_x_03_unicode_digits_of_the_right_code_are_refused(db, codes, account):
    row, code = await issue(db, codes, account)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in code)
    assert not codes.matches(row, fullwidth)
    assert codes.check(row, fullwidth) is Outcome.INVALID


async def test_idn_16_only_the_keyed_hash_is_stored(db, codes, clock, account):
    row, code = await issue(db, codes, account)
    stored = await reload(db, row)
    assert stored.secret_hash and code not in stored.secret_hash and code not in stored.payload
    assert codes.matches(stored, code)
    other_key = OneTimeCodes(lambda: clock)
    other_key.use_key(derive_key("another secret", ""))
    assert not other_key.matches(stored, code)
    twin = OneTimeChallenge(id=uuid.uuid4(), account_id=account, purpose="sms_sign_in", secret_hash=stored.secret_hash,
                            created_at=T0, expires_at=T0 + timedelta(minutes=5))
    assert not codes.matches(twin, code)  # the row id is in the MAC: a hash copied to another row is useless


async def test_idn_14b_a_row_without_code_accepts_none(db, codes, account):
    # WebAuthn and push challenges share the table but have no code
    row = OneTimeChallenge(account_id=account, purpose="webauthn", created_at=T0, expires_at=T0 + timedelta(minutes=5))
    assert codes.inspect(row) is Outcome.INVALID and codes.inspect(None) is Outcome.INVALID
    assert codes.check(row, "123456") is Outcome.INVALID and codes.check(None, "123456") is Outcome.INVALID
    assert codes.check(None, "123456", discreet=True) is Outcome.INVALID
    assert codes.check(row, "123456", discreet=True) is Outcome.INVALID


async def test_idn_06_signed_in_user_is_told_why_a_code_no_longer_works(db, codes, clock, account):
    row, code = await issue(db, codes, account, "login_email_change", destination="new@example.ch")
    clock.advance(seconds=400)
    assert codes.check(row, wrong(code)) is Outcome.EXPIRED  # not discreet by default
    assert codes.check(row, code) is Outcome.EXPIRED


async def test_idn_13_anonymous_caller_learns_the_reason_only_with_the_right_code(db, codes, clock, account):
    used, used_code = await issue(db, codes, account, "password_reset", destination="r@example.ch")
    codes.spend(used)
    for row, code, reason in ((used, used_code, Outcome.USED),):
        assert codes.check(row, wrong(code), discreet=True) is Outcome.INVALID
        assert codes.check(row, code, discreet=True) is reason
    expired, expired_code = await issue(db, codes, account, "password_reset_sms")
    clock.advance(seconds=301)
    assert codes.check(expired, wrong(expired_code), discreet=True) is Outcome.INVALID
    assert codes.check(expired, expired_code, discreet=True) is Outcome.EXPIRED
    assert expired.attempts == 0  # a dead code counts no more tries


# -- one live code at a time, and a table that stays small -----------------------------------

async def test_idn_14c_a_new_code_retires_the_pending_one_of_the_account_only(db, codes, account):
    other = await new_account(db, "max@example.ch")
    first, first_code = await issue(db, codes, account)
    theirs, their_code = await issue(db, codes, other)
    second, second_code = await issue(db, codes, account)
    first, theirs, second = await reload(db, first), await reload(db, theirs), await reload(db, second)
    assert first.status == "superseded" and codes.check(first, first_code) is Outcome.USED
    assert codes.check(theirs, their_code) is Outcome.OK
    assert codes.check(second, second_code) is Outcome.OK


async def test_idn_13_a_new_reset_code_retires_the_superseded_purposes(db, codes, account):
    by_sms, sms_code = await issue(db, codes, account, "password_reset_sms")
    enrolment, enrolment_code = await issue(db, codes, account, "sms_enrolment")
    await issue(db, codes, account, "password_reset", destination="r@example.ch", supersedes=("password_reset_sms",))
    assert codes.check(await reload(db, by_sms), sms_code) is Outcome.USED
    assert codes.check(await reload(db, enrolment), enrolment_code) is Outcome.OK  # another purpose, untouched


async def test_idn_14c_codes_bound_to_different_sign_ins_live_side_by_side(db, codes, account):
    a1, a1_code = await issue(db, codes, account, bound_to="jti-a")
    b, b_code = await issue(db, codes, account, bound_to="jti-b")  # a second browser signing in
    assert codes.check(await reload(db, a1), a1_code, spend=False) is Outcome.OK
    a2, a2_code = await issue(db, codes, account, bound_to="jti-a")  # "send again" in the first browser
    assert codes.check(await reload(db, a1), a1_code) is Outcome.USED
    assert codes.check(await reload(db, b), b_code) is Outcome.OK
    assert codes.check(await reload(db, a2), a2_code) is Outcome.OK


async def test_x_06_codes_a_day_past_expiry_are_deleted_when_the_next_is_issued(db, codes, clock, account):
    other = await new_account(db, "max@example.ch")
    old, _ = await issue(db, codes, account, ttl=300)
    theirs, _ = await issue(db, codes, other, ttl=300)
    clock.advance(seconds=300, hours=25)
    new, _ = await issue(db, codes, account)
    assert {r.id for r in await rows(db)} == {theirs.id, new.id}  # another account's rows wait for its own turn


async def test_x_06_expired_codes_of_the_last_day_are_kept(db, codes, clock, account):
    old, _ = await issue(db, codes, account, ttl=300)
    clock.advance(seconds=300, hours=23)
    await issue(db, codes, account)
    assert old.id in {r.id for r in await rows(db)}


async def test_idn_06_payload_travels_with_the_code(db, codes, account):
    row, _ = await issue(db, codes, account, "login_email_change", destination="new@example.ch",
                         payload={"new_email": "new@example.ch"})
    assert payload_of(await reload(db, row)) == {"new_email": "new@example.ch"}
    bare, _ = await issue(db, codes, account, "sms_sign_in")
    assert payload_of(await reload(db, bare)) == {}


def test_x_03_a_damaged_payload_reads_as_empty():
    for stored in ("", "not json", "[1, 2]", "null", '"text"'):
        assert payload_of(SimpleNamespace(payload=stored)) == {}
    assert payload_of(SimpleNamespace(payload=json.dumps({"a": 1}))) == {"a": 1}


async def test_idn_13_rehearsal_issues_nothing_and_changes_no_row(db, codes, account):
    row, code = await issue(db, codes, account, "password_reset", destination="r@example.ch")
    async with db.transaction() as s:
        thrown_away = await codes.rehearse_issue(s, purpose="password_reset", digits=6)
    assert len(thrown_away) == 6 and thrown_away.isdigit()
    [kept] = await rows(db)
    assert kept.id == row.id and kept.used_at is None and codes.check(kept, code) is Outcome.OK


# -- finding the challenge -------------------------------------------------------------------

async def test_idn_14c_pending_finds_only_the_accounts_challenge_of_those_purposes(db, codes, account):
    other = await new_account(db, "max@example.ch")
    row, _ = await issue(db, codes, account)
    async with db.transaction() as s:
        assert (await codes.pending(s, row.id, account, ("sms_sign_in",))).id == row.id
        assert await codes.pending(s, row.id, other, ("sms_sign_in",)) is None
        assert await codes.pending(s, row.id, account, ("password_reset",)) is None
        assert await codes.pending(s, uuid.uuid4(), account, ("sms_sign_in",)) is None


async def test_idn_14c_latest_is_the_newest_of_the_account_and_method(db, codes, clock, account):
    other = await new_account(db, "max@example.ch")
    phone_a, phone_b = uuid.uuid4(), uuid.uuid4()
    a1, _ = await issue(db, codes, account, "sms_enrolment", method_id=phone_a)
    clock.advance(seconds=10)
    b1, _ = await issue(db, codes, account, "sms_sign_in", method_id=phone_b)
    clock.advance(seconds=10)
    a2, _ = await issue(db, codes, account, "sms_enrolment", method_id=phone_a)
    clock.advance(seconds=10)
    await issue(db, codes, other, "sms_enrolment", method_id=phone_a)
    async with db.transaction() as s:
        assert (await codes.latest(s, account, ("sms_enrolment",))).id == a2.id  # used or not
        assert (await codes.latest(s, account, ("sms_enrolment", "sms_sign_in"))).id == a2.id
        assert (await codes.latest(s, account, ("sms_enrolment", "sms_sign_in"), phone_b)).id == b1.id
        assert (await codes.latest(s, account, ("sms_enrolment", "sms_sign_in"), phone_a)).id == a2.id
        assert await codes.latest(s, account, ("sms_sign_in",), phone_a) is None
        assert await codes.latest(s, account, ("password_reset",)) is None


# -- sending budget: one per cooldown, a cap per hour, per account and per destination -------

def test_idn_14c_retry_after_one_code_per_purpose_per_cooldown():
    def sent(seconds_ago, purpose="sms_sign_in"):
        return SimpleNamespace(purpose=purpose, created_at=T0 - timedelta(seconds=seconds_ago))
    wait = lambda recent, purpose="sms_sign_in": OneTimeCodes(FrozenClock).retry_after(recent, purpose, BUDGET, T0)
    assert wait([]) == 0
    assert wait([sent(10)]) == 50
    assert wait([sent(10, "sms_enrolment")]) == 0  # another purpose has its own cooldown
    assert wait([sent(10, "sms_enrolment")], "sms_enrolment") == 50
    assert wait([sent(30), sent(50)]) == 30  # counted from the newest
    assert wait([sent(59.5)]) == 1  # a fraction of a second left: 1 s, never 0
    assert wait([sent(59.9995)]) == 1
    assert wait([sent(49.5)]) == 11  # rounded up
    assert wait([sent(60)]) == 0 and wait([sent(70)]) == 0


def test_idn_14c_retry_after_cap_per_hour():
    def sent(minutes_ago, purpose="sms_enrolment"):
        return SimpleNamespace(purpose=purpose, created_at=T0 - timedelta(minutes=minutes_ago))
    wait = lambda recent: OneTimeCodes(FrozenClock).retry_after(recent, "sms_sign_in", BUDGET, T0)
    assert wait([sent(m) for m in (50, 40, 30, 20)]) == 0  # four in the hour: one more may go
    assert wait([sent(m) for m in (50, 40, 30, 20, 10)]) == 600  # five: until the oldest is an hour old
    assert wait([sent(m) for m in (10, 50, 30, 40, 20)]) == 600  # in any order
    assert wait([sent(m) for m in (55, 50, 40, 30, 20, 10)]) == 600  # six: until the 2nd oldest leaves the hour


async def test_idn_14c_budget_per_account_and_per_destination(db, codes, clock, account):
    other = await new_account(db, "max@example.ch")

    async def send(who=account, number="+41791234567", purpose="sms_sign_in"):
        async with db.transaction() as s:
            wait = await codes.wait_before_sending(s, account_id=who, destination=number, purpose=purpose,
                                                   budget=BUDGET)
            if not wait:
                await codes.issue(s, account_id=who, purpose=purpose, ttl_seconds=60, digits=6, destination=number)
        return wait

    assert await send() == 0
    assert await send() == 60
    assert await send(number="+41797654321") == 60  # the account's budget, whatever the number
    assert await send(other, number=" +41791234567 ") == 60  # the number's budget, whatever the account
    assert await send(other, number="+41797654321") == 0
    assert await send(purpose="password_reset") == 0  # not a purpose of this budget
    for _ in range(4):  # each code expires before the next: the hourly cap still counts them
        clock.advance(seconds=61)
        assert await send() == 0
    clock.advance(seconds=61)
    assert await send() == 3600 - 5 * 61
    assert await send(other, number="+41791234567") == 3600 - 5 * 61
    clock.advance(seconds=3600 - 5 * 61)
    assert await send() == 0


async def test_idn_06_address_budget_ignores_case_and_spaces(db, codes, account):
    other = await new_account(db, "max@example.ch")
    budget = Budget(("login_email_change",), cooldown_seconds=60, per_hour=5)
    async with db.transaction() as s:
        await codes.issue(s, account_id=account, purpose="login_email_change", ttl_seconds=600, digits=6,
                          destination="New@Example.ch")
        assert await codes.wait_before_sending(s, account_id=other, destination=" new@example.CH", budget=budget,
                                               purpose="login_email_change") == 60
        assert await codes.wait_before_sending(s, account_id=other, destination="else@example.ch", budget=budget,
                                               purpose="login_email_change") == 0
