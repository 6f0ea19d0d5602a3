"""Product kinds and the rights each has (ORG-05/06), pure data and checks.

A kind decides which right dimensions a grant on it may hold: always `use`
and `manage`; `technical` and `statistics` where the kind has them (a domain
has no statistics part); kind-specific fine rights `fine:<name>` (ticketing).
`holds_user_data`: removing a member asks what happens to their data (ORG-13).
`lockable`: a mail service is put into maintenance instead (ORG-10).
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import Unprocessable


@dataclass(frozen=True)
class KindSpec:
    category: str
    rights: tuple[str, ...]
    holds_user_data: bool = False
    lockable: bool = True


_ALL = ("use", "manage", "technical", "statistics")
KINDS: dict[str, KindSpec] = {
    "domain": KindSpec("domains", ("use", "manage", "technical")),
    "mail_service": KindSpec("mail", _ALL, holds_user_data=True, lockable=False),
    "drive": KindSpec("drive", _ALL, holds_user_data=True),
    "hosting": KindSpec("hosting", _ALL),
    "backup": KindSpec("backup", _ALL),
    "support_premium": KindSpec("support", ("use", "manage")),
    "ticketing": KindSpec("ticketing", ("use", "manage", "statistics", "fine:assign", "fine:reply",
                                        "fine:configure")),
}


def spec_of(kind: str) -> KindSpec:
    """Known kinds by table; a kind a future service introduces gets use/manage."""
    return KINDS.get(kind) or KindSpec(kind, ("use", "manage"))


def category_rights(category: str) -> frozenset[str]:
    rights = {r for spec in KINDS.values() if spec.category == category for r in spec.rights}
    return frozenset(rights or ("use", "manage"))


class InvalidRights(Unprocessable):
    code, message = "invalid_rights", "These rights do not exist for this kind of product."


def check_rights(rights: list[str], allowed: frozenset[str] | tuple[str, ...], **where) -> list[str]:
    """Sorted, de-duplicated rights, or 422 invalid_rights naming the unknown ones."""
    unknown = sorted(set(rights) - set(allowed))
    if unknown:
        raise InvalidRights(unknown=unknown, allowed=sorted(allowed), **where)
    if not rights:
        raise InvalidRights("A grant needs at least one right.", allowed=sorted(allowed), **where)
    return sorted(set(rights))


def max_rights(kind: str) -> list[str]:
    return list(spec_of(kind).rights)
