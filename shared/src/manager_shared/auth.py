"""Access-token verification against identity's JWKS, done locally by every service."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import httpx
import jwt
from fastapi import Request

from .errors import Unauthorized

ALGORITHMS = ["ES256"]


@dataclass(frozen=True)
class Principal:
    """Who is calling, as the access token says."""

    account_id: UUID
    session_id: str
    auth_time: int
    amr: tuple[str, ...]
    scopes: tuple[str, ...]
    claims: dict

    def signed_in_within(self, seconds: int, now: float | None = None) -> bool:
        """Recent sign-in check for dangerous actions (IDN-19), no call needed."""
        return (now or time.time()) - self.auth_time <= seconds


class JwksCache:
    """Keys fetched from identity's JWKS URL, cached, refreshed when a token
    names an unknown `kid` (key rotation) but at most every `min_refresh` s,
    so garbage tokens cannot make us hammer identity."""

    def __init__(self, url: str, *, min_refresh: float = 10.0, client: httpx.AsyncClient | None = None) -> None:
        self.url, self.min_refresh = url, min_refresh
        self._client = client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.min_refresh and self._keys:
                return
            client = self._client or httpx.AsyncClient(timeout=5.0)
            try:
                response = await client.get(self.url)
                response.raise_for_status()
                jwks = jwt.PyJWKSet.from_dict(response.json())
            finally:
                if self._client is None:
                    await client.aclose()
            self._keys = {k.key_id: k for k in jwks.keys if k.key_id}
            self._fetched_at = time.monotonic()

    def preload(self, jwks: dict) -> None:
        """Seed the cache (identity knows its own keys without a fetch)."""
        self._keys.update({k.key_id: k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id})

    async def key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            try:
                await self._refresh()
            except (httpx.HTTPError, jwt.PyJWKSetError, ValueError) as exc:
                raise Unauthorized("Token keys are unavailable.", code="jwks_unavailable", status=503) from exc
        try:
            return self._keys[kid]
        except KeyError:
            raise Unauthorized("Unknown token key.", code="invalid_token") from None


class TokenVerifier:
    def __init__(self, jwks: JwksCache, *, issuer: str, audience: str = "manager", leeway: int = 5) -> None:
        self.jwks, self.issuer, self.audience, self.leeway = jwks, issuer, audience, leeway

    async def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("Malformed token.", code="invalid_token") from None
        if header.get("alg") not in ALGORITHMS or not isinstance(header.get("kid"), str):
            raise Unauthorized("Unsupported token.", code="invalid_token")
        key = await self.jwks.key(header["kid"])
        try:
            claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=self.audience,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": ["exp", "iat", "sub", "sid", "auth_time"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The access token has expired.", code="token_expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("Invalid token.", code="invalid_token") from None
        try:
            account_id = UUID(claims["sub"])
        except ValueError:
            raise Unauthorized("Invalid token.", code="invalid_token") from None
        return Principal(account_id=account_id, session_id=str(claims["sid"]), auth_time=int(claims["auth_time"]),
                         amr=tuple(claims.get("amr", ())), scopes=tuple(str(claims.get("scope", "")).split()),
                         claims=claims)


def bearer_token(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("A bearer access token is required.")
    return token.strip()
