"""Which passwords are acceptable (NIST SP 800-63B 3.1.1.2, OWASP ASVS 5.0
6.2): length, not composition rules; never a common or breached one, never
the account's own e-mail or name."""
from __future__ import annotations

import unicodedata
from functools import lru_cache

from .errors import WeakPassword

MIN_LENGTH = 8
MAX_LENGTH = 256  # long passphrases welcome; the cap only bounds hashing work


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords of public breach corpora, as shipped
    with zxcvbn (lower-case)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def check_password(password: str, *, email: str, first_name: str = "", last_name: str = "") -> None:
    """Raise WeakPassword (422) with a stable `reason` if the password is not acceptable."""
    length = len(unicodedata.normalize("NFKC", password))
    if length < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.", reason="too_short")
    if length > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.", reason="too_long")
    folded = _fold(password)
    if folded in common_passwords():
        raise WeakPassword("This password is too common: it is among the first ones attackers try.",
                           reason="too_common")
    local = _fold(email).split("@", 1)[0]
    # the name whatever its length: a short one in compatibility characters
    # (e.g. 'ﷻ') can fold to a password of acceptable length
    personal = {_fold(email), local, _fold(first_name), _fold(last_name), _fold(f"{first_name}{last_name}"),
                _fold(f"{first_name} {last_name}")}
    if folded in {p for p in personal if p}:
        raise WeakPassword("Do not use your e-mail address or your name as password.",
                           reason="contains_personal_data")
