"""TOTP rules (RFC 6238 via pyotp): ±1 time step, each step accepted once."""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32(length=32)  # 160 bits


def provisioning_uri(secret: str, account_email: str, issuer: str = "Manager") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_email, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    return segno.make(uri, error="m").svg_inline(scale=4)


def matching_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step `code` belongs to (now ±1), if it is later than `last_step`."""
    if not (code.isascii() and code.isdigit() and len(code) == 6):  # compare_digest needs ASCII
        return None
    totp, current = pyotp.TOTP(secret), int(now.timestamp()) // STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if step > last_step and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_emergency_codes(count: int = 10) -> list[str]:
    """Ten codes of 80 bits each, shown once (e.g. 'k7qm-4xzp-9wtr-2hbn')."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"  # 31 symbols, no look-alikes
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(alphabet) for _ in range(16))  # 16 × log2(31) ≈ 79 bits
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def normalize_emergency(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")
