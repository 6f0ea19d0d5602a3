"""Access tokens for service tests, signed by a test key that the service's
verifier is told about (the same checks as with identity's real keys)."""
from __future__ import annotations

import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm


class TestTokens:
    __test__ = False  # not a pytest class

    def __init__(self, issuer: str = "manager-identity", audience: str = "manager") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.kid = f"test-{uuid.uuid4().hex[:8]}"
        self.issuer, self.audience = issuer, audience

    def jwks(self) -> dict:
        jwk = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        jwk.update(kid=self.kid, alg="ES256", use="sig")
        return {"keys": [jwk]}

    def trust_in(self, app) -> "TestTokens":
        app.state.runtime.verifier.jwks.preload(self.jwks())
        return self

    def token(self, account_id: uuid.UUID, *, auth_age: int = 0, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": str(account_id), "sid": uuid.uuid4().hex,
                "auth_time": now - auth_age, "iat": now, "exp": now + 600, "amr": ["pwd"], **claims}
        return jwt.encode(body, self._key, algorithm="ES256", headers={"kid": self.kid})

    def headers(self, account_id: uuid.UUID, **kw) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(account_id, **kw)}"}
