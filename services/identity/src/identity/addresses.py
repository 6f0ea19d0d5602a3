"""The e-mail addresses identity keeps (IDN-01, IDN-12).

`normalize_email` (manager_shared.addresses) is the key every lookup and
uniqueness check uses. `StoredEmail` is the type of an address an account
will be reached at (sign-up, new login, recovery address): on top of
`EmailStr` it refuses a domain that IDNA 2008 refuses, and a domain label
that mixes scripts the way homograph attacks do (`exаmple.ch` with a
Cyrillic `а`), as UTS 39's "highly restrictive" level does: one script per
label, plus the common characters (digits, hyphen) and combining marks;
Han may go with Hiragana and Katakana, with Bopomofo or with Hangul, and
Latin with any of those, as Japanese, Chinese and Korean names are written.
The refusal is a 422 like every validation error, with the stable type
`mixed_script_domain` or `invalid_domain` in its `fields`.
"""
from __future__ import annotations

from typing import Annotated

import idna
from confusable_homoglyphs import categories
from pydantic import AfterValidator, EmailStr
from pydantic_core import PydanticCustomError

from manager_shared.addresses import display_email, normalize_email

__all__ = ["StoredEmail", "display_email", "label_scripts_allowed", "normalize_email", "stored_email"]

_NEUTRAL = frozenset({"COMMON", "INHERITED"})
# UTS 39 5.2 "highly restrictive": the combinations one writing system uses.
_COMBINED = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
             frozenset({"LATIN", "HAN", "HANGUL"}))


def label_scripts_allowed(label: str) -> bool:
    """True when the label is in one script (or one allowed combination)."""
    scripts = set(categories.unique_aliases(label)) - _NEUTRAL
    return len(scripts) <= 1 or any(scripts <= allowed for allowed in _COMBINED)


def stored_email(address: str) -> str:
    """`address` in its compatibility-free form, or a 422 for a domain that
    IDNA 2008 refuses or whose label mixes scripts."""
    address = display_email(address)
    domain = address.rpartition("@")[2]
    try:
        idna.encode(domain, uts46=True, transitional=False)
    except (idna.IDNAError, UnicodeError) as e:
        raise PydanticCustomError("invalid_domain", "the domain is not a valid internationalised name") from e
    labels = idna.decode(domain).split(".")
    if not all(label_scripts_allowed(label) for label in labels):
        raise PydanticCustomError("mixed_script_domain",
                                  "a part of the domain mixes letters of different scripts")
    return address


StoredEmail = Annotated[EmailStr, AfterValidator(stored_email)]
