"""Client address behind proxies (IDN-07 input) and token verification rules."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from manager_shared.auth import JwksCache, TokenVerifier
from manager_shared.errors import Unauthorized
from manager_shared.net import client_ip, parse_networks

PROXIES = parse_networks(["10.0.0.0/8", "127.0.0.1/32"])


def test_idn_07_forwarded_for_ignored_from_untrusted_peer():
    assert client_ip("203.0.113.9", "80.128.1.1", PROXIES) == "203.0.113.9"


def test_idn_07_forwarded_for_from_trusted_proxy_takes_first_untrusted_hop():
    # the client forged "1.1.1.1"; our proxy appended the real peer 80.128.1.1
    assert client_ip("10.1.2.3", "1.1.1.1, 80.128.1.1, 10.0.0.5", PROXIES) == "80.128.1.1"
    assert client_ip("127.0.0.1", "garbage", PROXIES) == "127.0.0.1"
    assert client_ip("127.0.0.1", None, PROXIES) == "127.0.0.1"


def _keys():
    key = ec.generate_private_key(ec.SECP256R1())
    import json
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid="k1", alg="ES256", use="sig")
    return key, {"keys": [jwk]}


def _token(key, **over):
    now = int(time.time())
    claims = {"iss": "manager-identity", "aud": "manager", "sub": str(uuid.uuid4()), "sid": "s", "auth_time": now,
              "iat": now, "exp": now + 600, "amr": ["pwd"]}
    claims.update(over)
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": over.pop("kid", "k1")})


async def test_idn_03_token_checks():
    key, jwks = _keys()
    cache = JwksCache("http://127.0.0.1:9/never-called")
    cache.preload(jwks)
    verifier = TokenVerifier(cache, issuer="manager-identity")
    who = await verifier.verify(_token(key))
    assert who.signed_in_within(300)
    for bad, code in ((_token(key, exp=int(time.time()) - 60), "token_expired"),
                      (_token(key, aud="other"), "invalid_token"),
                      (_token(ec.generate_private_key(ec.SECP256R1())), "invalid_token"),
                      (jwt.encode({"sub": "x"}, "an-hmac-secret-long-enough-for-pyjwt-32b", algorithm="HS256", headers={"kid": "k1"}), "invalid_token"),
                      ("not.a.token", "invalid_token")):
        with pytest.raises(Unauthorized) as exc:
            await verifier.verify(bad)
        assert exc.value.code == code


async def test_idn_03_unknown_kid_triggers_refresh_and_fails_closed():
    key, jwks = _keys()
    verifier = TokenVerifier(JwksCache("http://127.0.0.1:9/jwks.json"), issuer="manager-identity")
    with pytest.raises(Unauthorized) as exc:  # nothing listens there: 503-style error, never accepted
        await verifier.verify(_token(key))
    assert exc.value.code == "jwks_unavailable"
