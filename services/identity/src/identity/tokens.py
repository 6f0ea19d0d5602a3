"""Access tokens (ES256 JWT) and the JWKS that publishes their keys."""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm


def generate_private_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def kid_of(private_pem: str) -> str:
    """Key id: thumbprint of the public key, stable across restarts."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(public).hexdigest()[:16]


class TokenIssuer:
    def __init__(self, private_pem: str, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._key = serialization.load_pem_private_key(private_pem.encode(), password=None)
        self.kid = kid_of(private_pem)
        self.issuer, self.audience, self.ttl = issuer, audience, ttl_seconds

    def access_token(self, *, account_id: str, session_id: str, auth_time: datetime, amr: list[str],
                     now: datetime, scope: str = "") -> str:
        iat = int(now.timestamp())
        claims = {"iss": self.issuer, "aud": self.audience, "sub": account_id, "sid": session_id,
                  "auth_time": int(auth_time.timestamp()), "amr": amr, "iat": iat, "nbf": iat,
                  "exp": iat + self.ttl, "jti": secrets.token_urlsafe(12)}
        if scope:
            claims["scope"] = scope
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid})

    def mfa_token(self, *, account_id: str, persistent: bool, now: datetime, ttl: int = 300) -> str:
        """Proof that the password step passed, for the second step only: its
        audience is not the API's, so no service accepts it as an access token."""
        iat = int(now.timestamp())
        return jwt.encode({"iss": self.issuer, "aud": f"{self.audience}-mfa", "sub": account_id, "iat": iat,
                           "exp": iat + ttl, "persistent": persistent, "jti": secrets.token_urlsafe(12)},
                          self._key, algorithm="ES256", headers={"kid": self.kid})

    def read_mfa_token(self, token: str, now: datetime) -> dict | None:
        """The claims of a valid, unexpired second-step token (expiry by the injected clock)."""
        try:
            claims = jwt.decode(token, self._key.public_key(), algorithms=["ES256"], audience=f"{self.audience}-mfa",
                                issuer=self.issuer, options={"verify_exp": False, "require": ["exp", "sub"]})
        except jwt.PyJWTError:
            return None
        return claims if claims["exp"] > now.timestamp() else None

    def jwks(self) -> dict:
        jwk = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "ES256"})
        return {"keys": [jwk]}


def new_refresh_token() -> tuple[str, str]:
    """A 256-bit opaque token and the SHA-256 we store instead of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
