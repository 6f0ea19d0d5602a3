"""E-mail addresses as keys (IDN-01, X-03).

People type the same address in many forms: `ZOE@Example.CH`, a phone's
full-width `ｚｏｅ@ｅｘａｍｐｌｅ.ｃｈ`, `xn--bcher-kva.ch` or `bücher.ch`. Every
service that keeps an address as a key, or compares two addresses, uses
`normalize_email`, so all those forms are one account, one throttle key, one
invitee.

- local part: NFKC (compatibility forms become their plain letters), then
  Unicode case folding, then NFKC again (folding can leave a string that is
  not in NFKC; the result is then stable: normalising twice changes nothing).
  Case folding maps the German `ß` (and the capital `ẞ`) to `ss`:
  `Straße@…` and `STRASSE@…` are one account, as an upper-case spelling of
  the same word. Mail always goes to the address as stored, never to this key.
- domain: the IDNA 2008 mapping (UTS 46, non-transitional), then A-labels
  decoded to their Unicode form. Here `ß` stays `ß`: IDNA 2008 made `faß.de`
  and `fass.de` two different domains with possibly different owners.
"""
from __future__ import annotations

import unicodedata

import idna


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def normalize_domain(domain: str) -> str:
    """The domain's comparison form; folded like a local part if IDNA refuses it
    (such an address is refused where it is stored, but may still be typed)."""
    domain = unicodedata.normalize("NFKC", domain).strip().rstrip(".")
    try:
        mapped = idna.uts46_remap(domain, std3_rules=False, transitional=False)
        return ".".join(idna.decode(label) if label.startswith("xn--") else label for label in mapped.split("."))
    except (idna.IDNAError, UnicodeError, ValueError):
        return _fold(domain)


def normalize_email(email: str) -> str:
    """The key of an address: equal for every form of the same address."""
    local, at, domain = unicodedata.normalize("NFKC", email).strip().rpartition("@")
    if not at:
        return _fold(domain)
    return f"{_fold(local)}@{normalize_domain(domain)}"


def display_email(email: str) -> str:
    """The address to keep and write to: as typed (case kept) but with its
    compatibility forms replaced (a full-width `ｚｏｅ` is the mailbox `zoe`)."""
    return unicodedata.normalize("NFKC", email).strip()
