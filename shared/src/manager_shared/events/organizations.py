"""Events published by organizations on `organizations.organization.v1`
(key: organization id)."""
from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from .base import Event

Role = Literal["legal_representative", "administrator", "collaborator", "external"]


class _OrganizationEvent(Event):
    topic: ClassVar[str] = "organizations.organization.v1"
    producer_name: ClassVar[str] = "organizations"
    key_field: ClassVar[str] = "organization_id"

    organization_id: UUID


class OrganizationCreated(_OrganizationEvent):
    """Sent when an organization exists (the personal one made at sign-up,
    IDN-02/ORG-01, or one created later). Billing opens its billing account."""

    type: Literal["OrganizationCreated"] = "OrganizationCreated"
    name: str
    kind: Literal["private", "association", "company", "public_body", "other"]
    created_by: UUID
    country: str | None = None
    currency: Literal["CHF", "EUR"]


class MemberAdded(_OrganizationEvent):
    """Sent when an account becomes a member of an organization with a role
    (ORG-01, ORG-02)."""

    type: Literal["MemberAdded"] = "MemberAdded"
    account_id: UUID
    role: Role


# Every event this producer publishes, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    OrganizationCreated,
    MemberAdded,
)
__all__ = [e.__name__ for e in EVENTS]
