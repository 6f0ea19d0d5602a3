"""Role rules of ORG-02/ORG-03, pure: unit tests reach them without HTTP or a database.

- Legal representatives and administrators manage users, roles and rights.
- Only a legal representative makes someone legal representative (or changes
  the role of one).
- The last legal representative can be neither removed, demoted nor leave.
"""
from __future__ import annotations

from .errors import LastLegalRepresentative, LegalRepresentativeRequired, RoleRequired

LEGAL_REPRESENTATIVE = "legal_representative"
ADMINISTRATOR = "administrator"
COLLABORATOR = "collaborator"
EXTERNAL = "external"
ROLES = (LEGAL_REPRESENTATIVE, ADMINISTRATOR, COLLABORATOR, EXTERNAL)
FULL_ROLES = frozenset({LEGAL_REPRESENTATIVE, ADMINISTRATOR})
LIMITED_ROLES = frozenset({COLLABORATOR, EXTERNAL})


def require_manager(actor_role: str) -> None:
    """Adding users, changing roles or rights: administrators and legal representatives."""
    if actor_role not in FULL_ROLES:
        raise RoleRequired()


def require_legal_representative(actor_role: str) -> None:
    if actor_role != LEGAL_REPRESENTATIVE:
        raise LegalRepresentativeRequired()


def check_grant_role(actor_role: str, role: str) -> None:
    """May `actor_role` give `role` to someone (invitation or role change)?"""
    require_manager(actor_role)
    if role == LEGAL_REPRESENTATIVE:
        require_legal_representative(actor_role)


def check_role_change(actor_role: str, current_role: str, new_role: str, legal_representatives: int) -> None:
    """Role change of a member whose role is `current_role`; `legal_representatives`
    is how many the organization has now (counted under a lock)."""
    check_grant_role(actor_role, new_role)
    if current_role == LEGAL_REPRESENTATIVE and new_role != LEGAL_REPRESENTATIVE:
        require_legal_representative(actor_role)
        if legal_representatives <= 1:
            raise LastLegalRepresentative()


def check_removal(actor_role: str, target_role: str, legal_representatives: int) -> None:
    require_manager(actor_role)
    if target_role == LEGAL_REPRESENTATIVE:
        require_legal_representative(actor_role)
        if legal_representatives <= 1:
            raise LastLegalRepresentative()


def check_leave(role: str, legal_representatives: int) -> None:
    if role == LEGAL_REPRESENTATIVE and legal_representatives <= 1:
        raise LastLegalRepresentative()
