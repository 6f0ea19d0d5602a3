"""Events published by organizations on `organizations.organization.v1`
(key: organization id).

Events that change who may do what (members, roles, rights, teams, products,
locks, the 2FA policy, deletion) carry `org_version`: the organization's
change counter after the change. Services keeping a projection of access
(manager_shared.access_check) apply an event only if it is newer than what
they hold, so a repeated or late event never rolls access back.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ..sealing import SealedSecret
from .base import Event

Role = Literal["legal_representative", "administrator", "collaborator", "external"]
OrganizationKind = Literal["private", "association", "company", "public_body", "other"]


class _OrganizationEvent(Event):
    topic: ClassVar[str] = "organizations.organization.v1"
    producer_name: ClassVar[str] = "organizations"
    key_field: ClassVar[str] = "organization_id"

    organization_id: UUID


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ProductGrant(_Part):
    """Rights on one product: `use`, `manage`, and where the kind has them
    `technical`, `statistics` and kind-specific fine rights (`fine:<name>`)."""

    product_id: UUID
    rights: list[str]


class CategoryGrant(_Part):
    """Rights on every product of a category, including products added later
    (ORG-06 "future products of this category too")."""

    category: str
    rights: list[str]


class Recipient(_Part):
    """A member to tell by mail; e-mail and names as organizations knows them
    (None while identity's AccountRegistered has not been seen)."""

    account_id: UUID
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    language: str | None = None


class DataDecision(_Part):
    """What happens to a removed member's data in one product (ORG-13)."""

    product_id: UUID
    product_name: str
    action: Literal["transfer", "delete"]
    transfer_to: UUID | None = None


class PostalAddress(_Part):
    street: str
    postal_code: str
    city: str
    country: str  # ISO 3166-1 alpha-2


class BillingAddress(PostalAddress):
    id: UUID
    name: str


class OrganizationCreated(_OrganizationEvent):
    """Sent when an organization exists (the personal one made at sign-up,
    IDN-02/ORG-01, or one created later). Billing opens its billing account."""

    type: Literal["OrganizationCreated"] = "OrganizationCreated"
    name: str
    kind: OrganizationKind
    created_by: UUID
    country: str | None = None
    currency: Literal["CHF", "EUR"]
    org_version: int = 0


class MemberAdded(_OrganizationEvent):
    """Sent when an account becomes a member of an organization with a role
    (ORG-01, ORG-02): creator, accepted invitation. Carries the initial rights
    of limited roles and whether the account has 2FA (ORG-11)."""

    type: Literal["MemberAdded"] = "MemberAdded"
    account_id: UUID
    role: Role
    org_version: int = 0
    organization_name: str | None = None
    member: Recipient | None = None
    invited_by: UUID | None = None
    two_factor_enabled: bool = False
    grants: list[ProductGrant] = []
    category_grants: list[CategoryGrant] = []
    accounting: bool = False
    full_access: bool = False


class MemberRoleChanged(_OrganizationEvent):
    """Sent when an administrator or legal representative changed a member's
    role (ORG-02/03). A limited role keeps its grants; a full role makes them moot."""

    type: Literal["MemberRoleChanged"] = "MemberRoleChanged"
    account_id: UUID
    role: Role
    previous_role: Role
    changed_by: UUID
    org_version: int
    organization_name: str
    member: Recipient


class MemberRightsChanged(_OrganizationEvent):
    """Sent on every change of a member's own rights (ORG-06, ORG-08): the
    complete new set of product grants, category grants (future products too),
    the full-access flag and the accounting right. Replaces what was held."""

    type: Literal["MemberRightsChanged"] = "MemberRightsChanged"
    account_id: UUID
    grants: list[ProductGrant]
    category_grants: list[CategoryGrant]
    full_access: bool
    accounting: bool
    changed_by: UUID
    org_version: int


class MemberRemoved(_OrganizationEvent):
    """Sent when a member left or was removed (ORG-13). `data_decisions` says,
    per product that held the member's data, whether it goes to another member
    or is deleted; the product services carry it out."""

    type: Literal["MemberRemoved"] = "MemberRemoved"
    account_id: UUID
    reason: Literal["removed", "left"]
    removed_by: UUID | None
    data_decisions: list[DataDecision] = []
    org_version: int
    organization_name: str
    member: Recipient


class MemberTwoFactorStatusChanged(_OrganizationEvent):
    """Sent for each organization of an account when identity said its 2FA
    went on or off (ORG-11), so access checks refuse or admit it at once."""

    type: Literal["MemberTwoFactorStatusChanged"] = "MemberTwoFactorStatusChanged"
    account_id: UUID
    two_factor_enabled: bool
    org_version: int


class TeamChanged(_OrganizationEvent):
    """Sent when a work team was created or changed (ORG-07): its whole new
    state. Members get the union of their own and their teams' grants."""

    type: Literal["TeamChanged"] = "TeamChanged"
    team_id: UUID
    name: str
    members: list[UUID]
    grants: list[ProductGrant]
    changed_by: UUID
    org_version: int


class TeamDeleted(_OrganizationEvent):
    """Sent when a work team was deleted; its grants no longer count."""

    type: Literal["TeamDeleted"] = "TeamDeleted"
    team_id: UUID
    changed_by: UUID
    org_version: int


class ProductAdded(_OrganizationEvent):
    """Sent when a product joined the organization's registry (ORG-05), learned
    from the provisioning service's ProductProvisioned."""

    type: Literal["ProductAdded"] = "ProductAdded"
    product_id: UUID
    kind: str
    category: str
    name: str
    org_version: int


class ProductRemoved(_OrganizationEvent):
    """Sent when a product left the organization's registry (deprovisioned)."""

    type: Literal["ProductRemoved"] = "ProductRemoved"
    product_id: UUID
    org_version: int


class ProductLocked(_OrganizationEvent):
    """Sent when an administrator or legal representative locked the management
    of a product (ORG-10): holders of limited rights can no longer manage it.
    Every member is told by mail (`recipients`)."""

    type: Literal["ProductLocked"] = "ProductLocked"
    product_id: UUID
    product_name: str
    kind: str
    locked_by: UUID
    locked_by_name: str | None
    organization_name: str
    recipients: list[Recipient]
    org_version: int


class ProductUnlocked(_OrganizationEvent):
    """Sent when the management lock of a product was lifted (ORG-10)."""

    type: Literal["ProductUnlocked"] = "ProductUnlocked"
    product_id: UUID
    product_name: str
    unlocked_by: UUID
    organization_name: str
    recipients: list[Recipient]
    org_version: int


class ProductMaintenanceChanged(_OrganizationEvent):
    """Sent when a mail service was put into or out of maintenance (ORG-10):
    mail is still received but cannot be read while it lasts."""

    type: Literal["ProductMaintenanceChanged"] = "ProductMaintenanceChanged"
    product_id: UUID
    product_name: str
    maintenance: bool
    changed_by: UUID
    organization_name: str
    recipients: list[Recipient]
    org_version: int


class TwoFactorPolicyChanged(_OrganizationEvent):
    """Sent when "2FA required" was switched on or off (ORG-11). From then,
    members without 2FA are refused web/Manager actions by every service;
    `members_without_two_factor` are the ones to tell by mail."""

    type: Literal["TwoFactorPolicyChanged"] = "TwoFactorPolicyChanged"
    required: bool
    changed_by: UUID
    organization_name: str
    members_without_two_factor: list[Recipient]
    org_version: int


class SecurityAlertRequested(_OrganizationEvent):
    """Sent when an administrator asks that one member be alerted about their
    account settings (ORG-11), e.g. to set up 2FA. Mailed to that member."""

    type: Literal["SecurityAlertRequested"] = "SecurityAlertRequested"
    account_id: UUID
    member: Recipient
    requested_by: UUID
    requested_by_name: str | None
    organization_name: str
    reason: Literal["two_factor_missing"] = "two_factor_missing"
    two_factor_required: bool


class InvitationCreated(_OrganizationEvent):
    """Sent when someone was invited by e-mail (ORG-04). Mailed to `email` with
    the single-use `token` (its only copy: organizations keeps a hash); if
    `account_exists` is false the mail asks them to create an account with
    that address first."""

    type: Literal["InvitationCreated"] = "InvitationCreated"
    invitation_id: UUID
    email: str
    role: Role
    token: SealedSecret  # sealed to notifications' key (X-06)
    expires_at: datetime
    organization_name: str
    invited_by: UUID
    invited_by_name: str | None
    account_exists: bool
    language: str | None = None


class InvitationRevoked(_OrganizationEvent):
    """Sent when a pending invitation was revoked; its token no longer works."""

    type: Literal["InvitationRevoked"] = "InvitationRevoked"
    invitation_id: UUID
    email: str
    revoked_by: UUID
    organization_name: str


class OrganizationDetailsChanged(_OrganizationEvent):
    """Sent after every change of an organization's details or billing
    addresses (ORG-12): the full new state, for the summary mail to the legal
    representatives (`recipients`) and for billing (currency of future
    invoices: CHF for CH/LI addresses, else EUR)."""

    type: Literal["OrganizationDetailsChanged"] = "OrganizationDetailsChanged"
    name: str
    kind: OrganizationKind
    address: PostalAddress | None
    phone: str | None
    currency: Literal["CHF", "EUR"]
    has_logo: bool
    billing_addresses: list[BillingAddress]
    changed_fields: list[str]
    changed_by: UUID
    recipients: list[Recipient]


class OrganizationDeleted(_OrganizationEvent):
    """Sent when an organization was deleted (ORG-14): every service drops its
    data; billing mails the paid invoices to the `requester` when
    `send_paid_invoices`. The accounts stay."""

    type: Literal["OrganizationDeleted"] = "OrganizationDeleted"
    name: str
    deleted_by: UUID
    requester: Recipient
    send_paid_invoices: bool
    org_version: int


# Every event this producer publishes, in the order they were introduced.
EVENTS: tuple[type[Event], ...] = (
    OrganizationCreated,
    MemberAdded,
    MemberRoleChanged,
    MemberRightsChanged,
    MemberRemoved,
    MemberTwoFactorStatusChanged,
    TeamChanged,
    TeamDeleted,
    ProductAdded,
    ProductRemoved,
    ProductLocked,
    ProductUnlocked,
    ProductMaintenanceChanged,
    TwoFactorPolicyChanged,
    SecurityAlertRequested,
    InvitationCreated,
    InvitationRevoked,
    OrganizationDetailsChanged,
    OrganizationDeleted,
)
__all__ = [*(e.__name__ for e in EVENTS), "Role", "OrganizationKind", "ProductGrant", "CategoryGrant",
           "Recipient", "DataDecision", "PostalAddress", "BillingAddress"]
