"""identity rules through the service layer (real SQLite, no HTTP)."""
from __future__ import annotations

import sqlalchemy as sa
import pytest

from identity.errors import InvalidCredentials, InvalidRefreshToken
from identity.location import locate
from identity.models import Account, SignInSession, outbox_table
from identity.schemas import AccountCreate
from identity.service import RefreshTokenReused
from manager_shared.auth import JwksCache, TokenVerifier
from manager_shared.events import parse_event

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"
PASSWORD = "Alpenrose-Matterhorn-42"


def _data(email="Anna@Example.CH", **kw) -> AccountCreate:
    return AccountCreate(email=email, password=PASSWORD, first_name="Anna", last_name="Muster", language="de",
                         time_zone="Europe/Zurich", **kw)


async def _events(db) -> list:
    async with db.transaction() as s:
        rows = (await s.execute(sa.select(outbox_table.c.payload).order_by(outbox_table.c.id))).all()
    return [parse_event(r.payload) for r in rows]


async def _register(db, service, ip="195.186.1.1", ua=FIREFOX, **kw):
    async with db.transaction() as s:
        return await service.register(s, _data(**kw), locate(ip, ua))


async def test_idn_01_email_unique_case_insensitive_without_enumeration(db, service):
    first = await _register(db, service)
    again = await _register(db, service, email="ANNA@example.ch")
    assert first is not None and again is None  # same API answer either way (see api tests)
    async with db.transaction() as s:
        accounts = (await s.execute(sa.select(Account))).scalars().all()
    assert len(accounts) == 1 and accounts[0].email_normalized == "anna@example.ch"
    # the owner of the address is told, the one signing up learns nothing
    assert [e.type for e in await _events(db)] == ["AccountRegistered", "SignUpAttemptedWithExistingEmail"]
    await _register(db, service, email="anna@EXAMPLE.ch")  # a flood sends one mail per window
    assert len(await _events(db)) == 2


async def test_idn_01_password_is_stored_as_argon2id_only(db, service):
    account = await _register(db, service)
    assert account.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in account.password_hash


async def test_idn_03_sign_in_issues_token_other_services_verify(db, service, clock):
    account = await _register(db, service)
    pair = await service.sign_in(db, "anna@example.ch", PASSWORD, locate("195.186.1.1", FIREFOX), True)
    cache = JwksCache("http://unused.invalid/jwks")
    cache.preload(service.tokens.jwks())
    who = await TokenVerifier(cache, issuer="manager-identity", leeway=10**9).verify(pair.access_token)
    assert who.account_id == account.id and who.session_id == str(pair.session_id)
    assert who.amr == ("pwd",) and who.auth_time == int(clock.now().timestamp())
    assert pair.expires_in <= 600


async def test_idn_04_wrong_password_and_unknown_email_look_the_same(db, service):
    await _register(db, service)
    errors = []
    for email, password in (("anna@example.ch", "wrong-password"), ("nobody@example.ch", PASSWORD)):
        with pytest.raises(InvalidCredentials) as exc:
            await service.sign_in(db, email, password, locate("195.186.1.1", FIREFOX), True)
        errors.append((exc.value.code, exc.value.status, exc.value.message))
    assert errors[0] == errors[1]


async def test_idn_07_new_location_event_only_for_unseen_country_or_device(db, service):
    await _register(db, service, ip="195.186.1.1")
    places = [("83.76.1.1", FIREFOX), ("80.128.1.1", FIREFOX), ("80.128.1.1", FIREFOX), ("80.128.1.1", SAFARI)]
    for ip, ua in places:
        await service.sign_in(db, "anna@example.ch", PASSWORD, locate(ip, ua), True)
    alerts = [e for e in await _events(db) if e.type == "LoginFromNewLocation"]
    assert [(a.country, a.device) for a in alerts] == [("DE", "Firefox on Windows"), ("DE", "Safari on Mac OS X")]
    assert alerts[0].ip == "80.128.1.1"


async def test_idn_03_refresh_rotates_and_reuse_revokes_the_session(db, service):
    await _register(db, service)
    pair = await service.sign_in(db, "anna@example.ch", PASSWORD, locate("195.186.1.1", FIREFOX), True)
    async with db.transaction() as s:
        second = await service.refresh(s, pair.refresh_token)
    assert second.refresh_token != pair.refresh_token and second.session_id == pair.session_id
    with pytest.raises(RefreshTokenReused) as reused:
        async with db.transaction() as s:
            await service.refresh(s, pair.refresh_token)
    async with db.transaction() as s:
        await service.sign_out(s, reused.value.session_id)
    with pytest.raises(InvalidRefreshToken):  # the thief's rotation killed the whole family
        async with db.transaction() as s:
            await service.refresh(s, second.refresh_token)
    async with db.transaction() as s:
        assert (await s.get(SignInSession, pair.session_id)).revoked_at is not None


async def test_idn_03_browser_session_mode_has_short_refresh(db, service, clock):
    await _register(db, service)
    pair = await service.sign_in(db, "anna@example.ch", PASSWORD, locate("195.186.1.1", FIREFOX), False)
    assert (pair.refresh_expires_at - clock.now()).total_seconds() <= 12 * 3600


async def test_idn_07_concurrent_sign_ins_from_one_new_place_give_one_alert_and_no_error(db, service):
    import asyncio

    await _register(db, service)
    await service.sign_in(db, "anna@example.ch", PASSWORD, locate("195.186.1.1", FIREFOX), True)
    new_place = locate("81.2.69.142", SAFARI)  # another country and device
    results = await asyncio.gather(*[service.sign_in(db, "anna@example.ch", PASSWORD, new_place, True)
                                     for _ in range(4)])
    assert all(r.access_token for r in results)
    assert [e.type for e in await _events(db)].count("LoginFromNewLocation") == 1


async def test_idn_14a_a_totp_code_wins_once_under_concurrency(db, service):
    """Two second steps racing with the same code: the compare-and-set
    replay record lets exactly one through (on PostgreSQL, truly parallel)."""
    import asyncio
    from datetime import datetime, timezone

    import pyotp

    from identity.factor_totp import TotpFactor
    from identity.models import TotpMethod
    from identity.schemas import MfaStep

    account = await _register(db, service)
    secret, now = pyotp.random_base32(32), datetime.now(timezone.utc)
    async with db.transaction() as s:
        s.add(TotpMethod(account_id=account.id, name="app", secret=secret, created_at=now, confirmed_at=now))
    factor = TotpFactor()
    factor.service = service
    code = pyotp.TOTP(secret).at(service.clock.now())

    async def attempt() -> bool:
        async with db.transaction() as s:
            return await factor.verify(s, account.id, MfaStep(mfa_token="x" * 20, code=code), {},
                                       locate("195.186.1.1", FIREFOX))

    assert sorted(await asyncio.gather(*[attempt() for _ in range(6)])) == [False] * 5 + [True]


async def test_idn_14_concurrent_finishes_of_one_second_step_open_one_session(db, service):
    """Two requests finishing the same mfa_token at once (e.g. a push approval
    seen by the poll and by /v1/sessions/mfa): one session, the other 401."""
    import asyncio

    from identity.two_factor import MfaTokenInvalid, TwoFactorService

    account = await _register(db, service)
    two_factor = TwoFactorService(identity=service)
    token = service.tokens.mfa_token(account_id=str(account.id), persistent=True, now=service.clock.now())

    async def finish():
        try:
            async with db.transaction() as s:
                claims = await two_factor.read_claims(s, token)
            async with db.transaction() as s:
                return await two_factor.finish_sign_in(s, claims, "otp", locate("195.186.1.1", FIREFOX))
        except MfaTokenInvalid:
            return None

    results = await asyncio.gather(*[finish() for _ in range(4)])
    assert len([r for r in results if r is not None]) == 1
    async with db.transaction() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(SignInSession))).scalar_one() == 1


async def test_x_02_sign_up_failing_after_its_savepoint_leaves_no_account(db, service, monkeypatch):
    """The account is written in a savepoint; if the unit of work then fails
    (here: recording AccountRegistered), neither the account nor its event
    remains, on SQLite as on PostgreSQL."""
    async def broken_record(*_args, **_kw):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(service.outbox, "record", broken_record)
    with pytest.raises(RuntimeError):
        await _register(db, service)
    async with db.transaction() as s:
        assert (await s.execute(sa.select(sa.func.count()).select_from(Account))).scalar() == 0
    assert await _events(db) == []


async def test_idn_04_idn_18_right_password_of_a_blocked_account_leaves_no_pending_attempt(db, service):
    """A blocked account refused after its password checked out ends the
    attempt it was admitted with; otherwise every try would stay counted as
    pending and lock the address (and everyone behind it) for a minute."""
    from identity.errors import AccountBlocked

    account = await _register(db, service)
    async with db.transaction() as s:
        (await s.get(Account, account.id)).status = "blocked"
    where = locate("195.186.1.1", FIREFOX)
    for _ in range(15):
        with pytest.raises(AccountBlocked):
            await service.sign_in(db, "anna@example.ch", PASSWORD, where, True)
    with pytest.raises(InvalidCredentials):  # and the address is not locked for the next person
        await service.sign_in(db, "someone@example.ch", PASSWORD, where, True)
