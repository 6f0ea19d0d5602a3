"""IDN-03 tokens as pure functions: a short-lived ES256 access token that
any service verifies locally from the published JWKS (the shared verifier
is the judge), a second-step token that is no access token and expires by
the injected clock, and opaque refresh tokens of which only a hash is kept."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import jwt
import pytest

from identity.tokens import TokenIssuer, generate_private_pem, hash_token, kid_of, new_refresh_token
from manager_shared.auth import JwksCache, TokenVerifier
from manager_shared.errors import Unauthorized

PEM = generate_private_pem()
ISSUER = TokenIssuer(PEM, issuer="https://id.manager.example", audience="manager", ttl_seconds=600)
PAST = datetime(2020, 5, 4, 10, 0, tzinfo=timezone.utc)  # an injected clock far from the real one


def _verifier(issuer: TokenIssuer = ISSUER, leeway: int = 0) -> TokenVerifier:
    cache = JwksCache("http://identity.invalid/.well-known/jwks.json")
    cache.preload(issuer.jwks())
    return TokenVerifier(cache, issuer="https://id.manager.example", audience="manager", leeway=leeway)


def _access(now: datetime, **extra) -> tuple[str, str]:
    account = str(uuid4())
    token = ISSUER.access_token(account_id=account, session_id="s-1", auth_time=now - timedelta(minutes=2),
                                amr=["pwd", "otp"], now=now, **extra)
    return account, token


async def test_idn_03_access_token_verified_by_other_services_from_the_jwks():
    now = datetime.now(timezone.utc)
    account, token = _access(now, scope="support")
    principal = await _verifier().verify(token)
    assert str(principal.account_id) == account and principal.session_id == "s-1"
    assert principal.amr == ("pwd", "otp") and principal.scopes == ("support",)
    assert principal.auth_time == int((now - timedelta(minutes=2)).timestamp())  # IDN-19 reads it
    assert jwt.get_unverified_header(token)["kid"] == ISSUER.kid
    _, plain = _access(now)
    assert "scope" not in jwt.decode(plain, options={"verify_signature": False})  # no scope unless given


async def test_idn_03_access_token_lives_its_ttl_and_no_longer():
    now = datetime.now(timezone.utc)
    _, token = _access(now)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 600 and claims["nbf"] == claims["iat"] == int(now.timestamp())
    _, old = _access(now - timedelta(seconds=601))
    with pytest.raises(Unauthorized) as exc:
        await _verifier().verify(old)
    assert exc.value.code == "token_expired"


async def test_idn_03_tokens_of_another_key_are_refused():
    other = TokenIssuer(generate_private_pem(), issuer="https://id.manager.example", audience="manager",
                        ttl_seconds=600)
    token = other.access_token(account_id=str(uuid4()), session_id="s", auth_time=datetime.now(timezone.utc),
                               amr=["pwd"], now=datetime.now(timezone.utc))
    with pytest.raises(Unauthorized):
        await _verifier().verify(token)


async def test_idn_03_second_step_token_is_not_an_access_token():
    token = ISSUER.mfa_token(account_id=str(uuid4()), persistent=True, now=datetime.now(timezone.utc))
    with pytest.raises(Unauthorized):
        await _verifier().verify(token)
    _, access = _access(datetime.now(timezone.utc))
    assert ISSUER.read_mfa_token(access, datetime.now(timezone.utc)) is None  # nor the reverse


def test_idn_03_second_step_token_expires_after_five_minutes_by_the_injected_clock():
    account = str(uuid4())
    token = ISSUER.mfa_token(account_id=account, persistent=False, now=PAST)
    claims = ISSUER.read_mfa_token(token, PAST + timedelta(seconds=10))  # years ago by the real clock
    assert claims is not None and claims["sub"] == account and claims["persistent"] is False
    assert ISSUER.read_mfa_token(token, PAST + timedelta(seconds=299)) is not None
    assert ISSUER.read_mfa_token(token, PAST + timedelta(seconds=300)) is None
    short = ISSUER.mfa_token(account_id=account, persistent=True, now=PAST, ttl=60)
    assert ISSUER.read_mfa_token(short, PAST + timedelta(seconds=59))["persistent"] is True
    assert ISSUER.read_mfa_token(short, PAST + timedelta(seconds=60)) is None


def test_idn_03_second_step_token_of_another_key_or_altered_is_refused():
    other = TokenIssuer(generate_private_pem(), issuer="https://id.manager.example", audience="manager",
                        ttl_seconds=600)
    forged = other.mfa_token(account_id=str(uuid4()), persistent=True, now=PAST)
    assert ISSUER.read_mfa_token(forged, PAST) is None
    assert ISSUER.read_mfa_token("not-a-token", PAST) is None


def test_idn_03_every_token_is_distinct():
    now = datetime.now(timezone.utc)
    assert len({_access(now)[1] for _ in range(3)} | {ISSUER.mfa_token(account_id="a", persistent=True, now=now)
                                                       for _ in range(3)}) == 6


def test_idn_03_key_id_is_stable_for_a_key_and_differs_between_keys():
    assert kid_of(PEM) == kid_of(PEM) == TokenIssuer(PEM, issuer="i", audience="a", ttl_seconds=1).kid
    assert kid_of(generate_private_pem()) != kid_of(PEM)
    (jwk,) = ISSUER.jwks()["keys"]
    assert (jwk["kid"], jwk["alg"], jwk["use"], jwk["kty"], jwk["crv"]) == (ISSUER.kid, "ES256", "sig", "EC", "P-256")
    assert "d" not in jwk  # the public key only


def test_idn_03_refresh_tokens_are_random_256_bit_and_only_their_hash_is_kept():
    pairs = [new_refresh_token() for _ in range(3)]
    assert len({t for t, _ in pairs}) == 3
    for token, stored in pairs:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32
        assert stored == hash_token(token) == hashlib.sha256(token.encode()).hexdigest() and stored != token
    assert hash_token(pairs[0][0]) != hash_token(pairs[1][0])
