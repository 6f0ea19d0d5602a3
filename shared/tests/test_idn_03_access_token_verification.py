"""IDN-03: every service verifies identity's access tokens locally against its
JWKS: ES256 only, issuer and audience checked, required claims present, expiry
enforced, an unknown key id refreshes the JWKS (key rotation) but at most every
`min_refresh` seconds, and a JWKS endpoint that fails never lets a token in.
The JWKS endpoint is an `httpx.MockTransport`; keys are real P-256 keys."""
from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from starlette.requests import Request

from manager_shared import auth
from manager_shared.auth import JwksCache, Principal, TokenVerifier, bearer_token
from manager_shared.errors import Unauthorized

ISSUER, URL = "manager-identity", "http://identity.test/.well-known/jwks.json"


class Signer:
    """One identity signing key: its private half and its public JWK."""

    def __init__(self, kid: str, curve=ec.SECP256R1()) -> None:
        self.kid, self.key = kid, ec.generate_private_key(curve)

    def jwk(self) -> dict:
        jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, alg="ES256", use="sig")
        return jwk

    def token(self, *, drop: tuple[str, ...] = (), headers: dict | None = None, **over) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "manager", "sub": str(uuid.uuid4()), "sid": "session-1", "auth_time": now - 30,
                  "iat": now, "exp": now + 600, "amr": ["pwd", "otp"], "scope": "read write"}
        claims.update(over)
        for name in drop:
            claims.pop(name)
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid, **(headers or {})})


class Jwks:
    """identity's JWKS endpoint: serves the current keys, counts the fetches."""

    def __init__(self, *signers: Signer, status: int = 200) -> None:
        self.signers, self.status, self.fetches = list(signers), status, 0
        self.body: bytes | None = None  # overrides the JSON document when set

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == URL
        self.fetches += 1
        if self.body is not None:
            return httpx.Response(self.status, content=self.body)
        return httpx.Response(self.status, json={"keys": [s.jwk() for s in self.signers]})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def _with_header(token: str, header: dict) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return ".".join([encoded, *token.split(".")[1:]])


async def refused(verifier: TokenVerifier, token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as exc:
        await verifier.verify(token)
    return exc.value


async def test_idn_03_valid_token_gives_the_principal_from_its_claims():
    signer = Signer("k1")
    endpoint = Jwks(signer)
    verifier = TokenVerifier(JwksCache(URL, client=endpoint.client()), issuer=ISSUER)
    account = uuid.uuid4()
    who = await verifier.verify(signer.token(sub=str(account), auth_time=1_700_000_000))
    assert isinstance(who, Principal)
    assert (who.account_id, who.session_id, who.auth_time) == (account, "session-1", 1_700_000_000)
    assert who.amr == ("pwd", "otp") and who.scopes == ("read", "write")
    assert who.claims["iss"] == ISSUER
    assert endpoint.fetches == 1


async def test_idn_03_only_es256_from_identity_for_this_audience_with_every_required_claim():
    signer = Signer("k1")
    cache = JwksCache(URL, client=Jwks().client())
    cache.preload({"keys": [signer.jwk()]})
    verifier = TokenVerifier(cache, issuer=ISSUER)
    now = int(time.time())
    bad = {
        "expired": signer.token(exp=now - 120),
        "other issuer": signer.token(iss="someone-else"),
        "other audience": signer.token(aud="billing-internal"),
        "signed by another key": Signer("k1").token(),
        "sub not an account id": signer.token(sub="admin"),
        "tampered": signer.token()[:-4] + "AAAA",
        "garbage": "not.a.token",
        **{f"no {claim}": signer.token(drop=(claim,)) for claim in ("exp", "iat", "sub", "sid", "auth_time")},
    }
    for what, token in bad.items():
        error = await refused(verifier, token)
        assert error.status == 401, what
        assert error.code == ("token_expired" if what == "expired" else "invalid_token"), what


async def test_idn_03_other_algorithms_and_missing_kid_are_refused_without_asking_identity():
    signer = Signer("k1")
    endpoint = Jwks(signer)
    verifier = TokenVerifier(JwksCache(URL, client=endpoint.client()), issuer=ISSUER)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "manager", "sub": str(uuid.uuid4()), "sid": "s", "auth_time": now,
              "iat": now, "exp": now + 600}
    forged = {
        "HS256 keyed with anything": jwt.encode(claims, "x" * 32, algorithm="HS256", headers={"kid": "k-new"}),
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": "k-new"}),
        "ES384": jwt.encode(claims, ec.generate_private_key(ec.SECP384R1()), algorithm="ES384",
                            headers={"kid": "k-new"}),
        "ES256 without kid": jwt.encode(claims, signer.key, algorithm="ES256"),
        "kid not a string": _with_header(jwt.encode(claims, signer.key, algorithm="ES256", headers={"kid": "7"}),
                                         {"alg": "ES256", "typ": "JWT", "kid": 7}),
    }
    for what, token in forged.items():
        error = await refused(verifier, token)
        assert (error.status, error.code) == (401, "invalid_token"), what
    assert endpoint.fetches == 0  # none of these made us call identity


async def test_idn_03_key_rotation_fetches_the_new_key_at_most_every_min_refresh():
    old, new = Signer("k-old"), Signer("k-new")
    endpoint = Jwks(old)
    verifier = TokenVerifier(JwksCache(URL, min_refresh=0.3, client=endpoint.client()), issuer=ISSUER)
    await verifier.verify(old.token())
    assert endpoint.fetches == 1
    await verifier.verify(old.token())  # a known kid: served from the cache
    assert endpoint.fetches == 1
    endpoint.signers.append(new)  # identity rotates its key
    error = await refused(verifier, new.token())  # fetched 0 s ago: not again yet
    assert (error.status, error.code) == (401, "invalid_token")
    assert endpoint.fetches == 1
    await asyncio.sleep(0.35)
    who = await verifier.verify(new.token())
    assert endpoint.fetches == 2 and isinstance(who.account_id, uuid.UUID)
    await verifier.verify(old.token())  # the old key still works while published
    assert endpoint.fetches == 2


async def test_idn_03_garbage_kids_cannot_make_us_hammer_identity():
    signer = Signer("k1")
    endpoint = Jwks(signer)
    verifier = TokenVerifier(JwksCache(URL, min_refresh=60, client=endpoint.client()), issuer=ISSUER)
    await verifier.verify(signer.token())
    for i in range(5):
        error = await refused(verifier, Signer(f"random-{i}").token())
        assert (error.status, error.code) == (401, "invalid_token")
    assert endpoint.fetches == 1


async def test_idn_03_a_failed_or_empty_fetch_does_not_hold_back_the_next_one():
    signer = Signer("k1")
    endpoint = Jwks()  # identity not serving keys yet
    verifier = TokenVerifier(JwksCache(URL, min_refresh=60, client=endpoint.client()), issuer=ISSUER)
    assert (await refused(verifier, signer.token())).code == "jwks_unavailable"
    endpoint.signers.append(signer)
    await verifier.verify(signer.token())  # nothing was cached: fetched again at once
    assert endpoint.fetches == 2


async def test_idn_03_preloaded_keys_do_not_stop_the_first_fetch_of_a_rotated_key():
    own, rotated = Signer("k1"), Signer("k2")
    endpoint = Jwks(own, rotated)
    cache = JwksCache(URL, min_refresh=60, client=endpoint.client())
    cache.preload({"keys": [own.jwk()]})
    verifier = TokenVerifier(cache, issuer=ISSUER)
    await verifier.verify(own.token())
    assert endpoint.fetches == 0  # the preloaded key needs no fetch
    await verifier.verify(rotated.token())  # never fetched yet: no rate limit applies
    assert endpoint.fetches == 1


@pytest.mark.parametrize("status, body", [(500, None), (503, None), (404, b"<html>not found</html>"),
                                          (200, b"<html>maintenance</html>"), (200, b'{"keys": "none"}')])
async def test_idn_03_jwks_endpoint_failing_fails_closed_with_503(status, body):
    signer = Signer("k1")
    endpoint = Jwks(signer, status=status)  # even an error page carrying the keys is not a key source
    endpoint.body = body
    verifier = TokenVerifier(JwksCache(URL, client=endpoint.client()), issuer=ISSUER)
    error = await refused(verifier, signer.token())
    assert (error.status, error.code) == (503, "jwks_unavailable")


async def test_idn_03_shared_client_stays_open_and_own_client_is_closed(monkeypatch):
    signer = Signer("k1")
    endpoint = Jwks(signer)
    shared = endpoint.client()
    verifier = TokenVerifier(JwksCache(URL, min_refresh=0, client=shared), issuer=ISSUER)
    await verifier.verify(signer.token())
    endpoint.signers.append(rotated := Signer("k2"))
    await verifier.verify(rotated.token())  # the caller's client is reused, not closed
    assert endpoint.fetches == 2 and not shared.is_closed

    created: list[httpx.AsyncClient] = []
    real = httpx.AsyncClient

    def make_client(**kwargs):
        created.append(real(transport=httpx.MockTransport(endpoint.handler)))
        return created[-1]
    monkeypatch.setattr(auth.httpx, "AsyncClient", make_client)
    verifier = TokenVerifier(JwksCache(URL), issuer=ISSUER)
    await verifier.verify(signer.token())
    assert len(created) == 1 and created[0].is_closed  # no connection left open per refresh


def test_idn_19_signed_in_within_counts_from_auth_time():
    who = Principal(account_id=uuid.uuid4(), session_id="s", auth_time=1_000, amr=("pwd",), scopes=(), claims={})
    assert who.signed_in_within(300, now=1_200)
    assert who.signed_in_within(300, now=1_300)  # "within 300 s" includes 300 s
    assert not who.signed_in_within(300, now=1_301)
    recent = Principal(account_id=uuid.uuid4(), session_id="s", auth_time=int(time.time()) - 10, amr=(), scopes=(),
                       claims={})
    assert recent.signed_in_within(60) and not recent.signed_in_within(5)  # default: the real clock


def _request(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_idn_03_bearer_token_from_the_authorization_header():
    assert bearer_token(_request("Bearer abc.def.ghi")) == "abc.def.ghi"
    assert bearer_token(_request("bearer  abc.def.ghi ")) == "abc.def.ghi"
    for value in (None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "abc.def.ghi", "Token abc"):
        with pytest.raises(Unauthorized) as exc:
            bearer_token(_request(value))
        assert exc.value.status == 401, value
