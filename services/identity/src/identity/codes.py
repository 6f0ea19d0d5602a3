"""One-time codes sent by SMS or e-mail (IDN-06, IDN-13, IDN-14c).

A code is a row of `one_time_challenge`: what it is for (`purpose`), whom it
belongs to (`account_id`, optionally `bound_to` the jti of an mfa token and a
`method_id`), until when it works, how many wrong tries it had, and whether it
was used. The code itself is never stored: only HMAC-SHA256(key, row id ‖ code).

Why a keyed hash: a 6- or 8-digit code has at most 10^8 values, so its plain
SHA-256 is reversed by trying them all in well under a second. The HMAC key
is not in the database (it comes from IDENTITY_ONE_TIME_CODE_KEY or, by
default, is derived with HKDF from the token signing key), so a copy of the
table alone tells nothing. The row id in the MAC input makes the same code in
two rows hash differently.

Sending is budgeted per account and per destination (phone number or
address, kept as a keyed hash too): at most one code per purpose per
cooldown, and a cap per hour — against SMS pumping and mail bombing.
"""
from __future__ import annotations

import enum
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from manager_shared.errors import DomainError

from .models import OneTimeChallenge

_INFO = b"manager-identity/one-time-codes/v1"


def derive_key(explicit_secret: str | None, signing_key_pem: str) -> bytes:
    """The HMAC key: from the configured secret if any, else from the private
    scalar of the token signing key (which never leaves identity). HKDF with
    a label of its own, so the key is not the signing key itself."""
    if explicit_secret:
        material = explicit_secret.encode()
    else:
        key = serialization.load_pem_private_key(signing_key_pem.encode(), password=None)
        material = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption())
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)


def new_code(digits: int) -> str:
    """`digits` random decimal digits from the OS CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(10 ** digits):0{digits}d}"


def normalize(code: str) -> str:
    """What the user typed, without the spaces and dashes people add."""
    return "".join(ch for ch in code if ch not in " -\u00a0\t")


class Outcome(enum.Enum):
    OK = "ok"
    INVALID = "invalid_code"
    EXPIRED = "code_expired"
    USED = "code_used"
    EXHAUSTED = "code_attempts_exceeded"


class CodeRefused(DomainError):
    """A code that does not work, with the reason as stable code."""

    status, code, message = 422, "invalid_code", "The code is not valid."
    MESSAGES = {
        Outcome.INVALID: "The code is not valid.",
        Outcome.EXPIRED: "The code has expired: ask for a new one.",
        Outcome.USED: "The code was already used: ask for a new one.",
        Outcome.EXHAUSTED: "Too many wrong codes: ask for a new one.",
    }

    @classmethod
    def of(cls, outcome: Outcome) -> CodeRefused:
        return cls(cls.MESSAGES[outcome], code=outcome.value)


class TooManyCodes(DomainError):
    code, status, message = "too_many_codes", 429, "A code was sent a short while ago: wait before asking again."

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class Budget:
    """At most one code per purpose every `cooldown_seconds`, and at most
    `per_hour` codes of the `purposes` in any hour, per account and per
    destination alike."""

    purposes: tuple[str, ...]
    cooldown_seconds: int = 60
    per_hour: int = 5


class OneTimeCodes:
    """Issues and checks one-time codes; time comes from `clock_source()`
    (the identity service's clock, which tests replace)."""

    def __init__(self, clock_source, max_attempts: int = 5) -> None:
        self._clock_source = clock_source
        self.max_attempts = max_attempts
        self._key: bytes | None = None

    def use_key(self, key: bytes) -> None:
        self._key = key

    def now(self) -> datetime:
        return self._clock_source().now()

    def _mac(self, label: str, value: str) -> str:
        if self._key is None:
            raise RuntimeError("one-time code key not loaded")
        return hmac.new(self._key, f"{label}\x00{value}".encode(), hashlib.sha256).hexdigest()

    async def _retire(self, session: AsyncSession, account_id: uuid.UUID, purpose: str, bound_to: str | None,
                      supersedes: tuple[str, ...], now: datetime) -> None:
        # rows a day past expiry serve no budget any more: the table stays small
        await session.execute(sa.delete(OneTimeChallenge).where(
            OneTimeChallenge.account_id == account_id, OneTimeChallenge.purpose.in_((purpose, *supersedes)),
            OneTimeChallenge.expires_at < now - timedelta(days=1)))
        await session.execute(sa.update(OneTimeChallenge).where(
            OneTimeChallenge.account_id == account_id, OneTimeChallenge.purpose.in_((purpose, *supersedes)),
            OneTimeChallenge.bound_to == bound_to if bound_to is not None else sa.true(),
            OneTimeChallenge.used_at.is_(None)).values(used_at=now, status="superseded"))

    async def rehearse_issue(self, session: AsyncSession, *, purpose: str, digits: int,
                             supersedes: tuple[str, ...] = ()) -> str:
        """The statements and hashing of `issue` for an account that does not
        exist (they change no row), and a code thrown away: the work of a
        request that must not look different (ASVS 6.3.8)."""
        decoy = uuid.uuid4()
        await self._retire(session, decoy, purpose, None, supersedes, self.now())
        code = new_code(digits)
        self._mac(str(uuid.uuid4()), code)
        return code

    def destination_key(self, destination: str) -> str:
        """Keyed hash of a normalized phone number or address (for budgets)."""
        return self._mac("destination", destination.strip().lower())

    async def issue(self, session: AsyncSession, *, account_id: uuid.UUID, purpose: str, ttl_seconds: int,
                    digits: int, destination: str, bound_to: str | None = None,
                    method_id: uuid.UUID | None = None, payload: dict | None = None,
                    supersedes: tuple[str, ...] = ()) -> tuple[OneTimeChallenge, str]:
        """A new code; earlier pending codes of the same purpose (and binding)
        or of the `supersedes` purposes stop working, so one at most is live."""
        now = self.now()
        await self._retire(session, account_id, purpose, bound_to, supersedes, now)
        code = new_code(digits)
        row = OneTimeChallenge(account_id=account_id, purpose=purpose, bound_to=bound_to, method_id=method_id,
                               destination=self.destination_key(destination), payload=json.dumps(payload or {}),
                               created_at=now, expires_at=now + timedelta(seconds=ttl_seconds))
        row.secret_hash = self._mac(str(row.id), code)
        session.add(row)
        await session.flush()
        return row, code

    def retry_after(self, recent: list[OneTimeChallenge], purpose: str, budget: Budget, now: datetime) -> int:
        """Seconds to wait before another code may be sent (0 = now)."""
        waits = [0.0]
        same = [r.created_at for r in recent if r.purpose == purpose]
        if same:
            waits.append((max(same) + timedelta(seconds=budget.cooldown_seconds) - now).total_seconds())
        if len(recent) >= budget.per_hour:
            oldest = sorted(r.created_at for r in recent)[len(recent) - budget.per_hour]
            waits.append((oldest + timedelta(hours=1) - now).total_seconds())
        wait = max(waits)
        return max(1, int(wait + 0.999)) if wait > 0 else 0

    async def wait_before_sending(self, session: AsyncSession, *, account_id: uuid.UUID, destination: str,
                                  purpose: str, budget: Budget) -> int:
        """0 if a code of `purpose` may go to `destination` now, else the seconds to wait."""
        now = self.now()
        recent = list((await session.execute(select(OneTimeChallenge).where(
            sa.or_(OneTimeChallenge.account_id == account_id,
                   OneTimeChallenge.destination == self.destination_key(destination)),
            OneTimeChallenge.purpose.in_(budget.purposes),
            OneTimeChallenge.created_at > now - timedelta(hours=1)))).scalars())
        return self.retry_after(recent, purpose, budget, now)

    async def pending(self, session: AsyncSession, challenge_id: uuid.UUID, account_id: uuid.UUID,
                      purposes: tuple[str, ...]) -> OneTimeChallenge | None:
        """The account's challenge of one of `purposes` by id (locked), or None."""
        row = (await session.execute(select(OneTimeChallenge).where(
            OneTimeChallenge.id == challenge_id).with_for_update())).scalar_one_or_none()
        if row is None or row.account_id != account_id or row.purpose not in purposes:
            return None
        return row

    async def latest(self, session: AsyncSession, account_id: uuid.UUID, purposes: tuple[str, ...],
                     method_id: uuid.UUID | None = None) -> OneTimeChallenge | None:
        """The newest challenge of these purposes (and method), locked; used or not."""
        query = select(OneTimeChallenge).where(OneTimeChallenge.account_id == account_id,
                                               OneTimeChallenge.purpose.in_(purposes))
        if method_id is not None:
            query = query.where(OneTimeChallenge.method_id == method_id)
        query = query.order_by(OneTimeChallenge.created_at.desc(), OneTimeChallenge.id).limit(1)
        return (await session.execute(query.with_for_update())).scalar_one_or_none()

    def inspect(self, row: OneTimeChallenge | None) -> Outcome:
        """Whether the challenge could still accept a code (without checking one)."""
        if row is None or row.secret_hash is None:
            return Outcome.INVALID
        if row.used_at is not None:
            return Outcome.USED
        if row.expires_at <= self.now():
            return Outcome.EXPIRED
        if row.attempts >= self.max_attempts:
            return Outcome.EXHAUSTED
        return Outcome.OK

    def matches(self, row: OneTimeChallenge, code: str) -> bool:
        typed = normalize(code)
        if not (typed.isascii() and typed.isdigit()):  # compare_digest refuses non-ASCII text
            return False
        return hmac.compare_digest(row.secret_hash or "", self._mac(str(row.id), typed))

    def check(self, row: OneTimeChallenge | None, code: str, *, spend: bool = True,
              discreet: bool = False) -> Outcome:
        """Check `code` against the challenge. A wrong code counts an attempt
        (the caller must commit it even though it then refuses the request);
        a right one is spent unless `spend` is False. Runs in the caller's
        transaction, on a row read with `pending`/`latest` (locked).

        `discreet` (anonymous callers): expired / used / exhausted is told
        only to whoever typed the right code; anyone else gets INVALID, so
        the answer does not show that a code was ever sent for an account."""
        state = self.inspect(row)
        if state is not Outcome.OK:
            if discreet and not (row is not None and row.secret_hash and self.matches(row, code)):
                return Outcome.INVALID
            return state
        if not self.matches(row, code):
            row.attempts += 1
            return Outcome.EXHAUSTED if row.attempts >= self.max_attempts else Outcome.INVALID
        if spend:
            row.used_at, row.status = self.now(), "used"
        return Outcome.OK

    def spend(self, row: OneTimeChallenge) -> None:
        row.used_at, row.status = self.now(), "used"

    def count_failure(self, row: OneTimeChallenge) -> None:
        """A failed step that rides on this code (e.g. a wrong second factor) costs a try."""
        row.attempts += 1


def payload_of(row: OneTimeChallenge) -> dict:
    try:
        value = json.loads(row.payload or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
