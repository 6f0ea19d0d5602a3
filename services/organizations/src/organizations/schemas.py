"""organizations' request and response models."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from manager_shared.typed import TypedCode  # a token typed in full-width forms

Role = Literal["legal_representative", "administrator", "collaborator", "external"]
Kind = Literal["private", "association", "company", "public_body", "other"]
EditableKind = Literal["association", "company", "public_body", "other"]
Right = Annotated[str, Field(pattern=r"^(use|manage|technical|statistics|fine:[a-z_]{1,40})$")]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganizationRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    country: str | None
    currency: str
    created_at: datetime
    role: str  # the caller's role in it
    two_factor_required: bool = False


class OrganizationCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: Kind = "company"


class CurrentOrganizationSet(_In):
    organization_id: uuid.UUID


class GrantIn(_In):
    product_id: uuid.UUID
    rights: list[Right] = Field(min_length=1, max_length=20)


class CategoryGrantIn(_In):
    category: Category
    rights: list[Right] = Field(min_length=1, max_length=20)


class RightsSet(_In):
    grants: list[GrantIn] = Field(default=[], max_length=2000)
    category_grants: list[CategoryGrantIn] = Field(default=[], max_length=50)
    accounting: bool = False
    full_access: bool = False


class MemberRead(BaseModel):
    account_id: uuid.UUID
    role: str
    email: str | None
    first_name: str | None
    last_name: str | None
    two_factor_enabled: bool
    accounting: bool
    full_access: bool
    grants: list[GrantIn]
    category_grants: list[CategoryGrantIn]
    joined_at: datetime


class RoleChange(_In):
    role: Role


class DataDecisionIn(_In):
    product_id: uuid.UUID
    action: Literal["transfer", "delete"]
    transfer_to: uuid.UUID | None = None


class RemovalRequest(_In):
    confirm: bool = False
    data: list[DataDecisionIn] = Field(default=[], max_length=1000)


class TeamWrite(_In):
    name: str = Field(min_length=1, max_length=100)
    members: list[uuid.UUID] = Field(default=[], max_length=1000)
    grants: list[GrantIn] = Field(default=[], max_length=2000)


class TeamRead(BaseModel):
    id: uuid.UUID
    name: str
    members: list[uuid.UUID]
    grants: list[GrantIn]


class ProductRead(BaseModel):
    id: uuid.UUID
    kind: str
    category: str
    name: str
    locked: bool
    maintenance: bool
    rights: list[str]  # the caller's


class MaintenanceSet(_In):
    maintenance: bool


class TwoFactorPolicySet(_In):
    required: bool
    confirm: bool = False  # required to switch it on


class InvitationCreate(_In):
    email: EmailStr
    role: Role
    grants: list[GrantIn] = Field(default=[], max_length=2000)
    category_grants: list[CategoryGrantIn] = Field(default=[], max_length=50)
    team_ids: list[uuid.UUID] = Field(default=[], max_length=100)
    accounting: bool = False
    full_access: bool = False


class InvitationRead(BaseModel):
    id: uuid.UUID
    email: str
    role: str
    status: Literal["pending", "accepted", "revoked", "expired"]
    created_at: datetime
    expires_at: datetime


class MyInvitationRead(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    role: str
    expires_at: datetime


class InvitationAccept(_In):
    token: TypedCode = Field(min_length=20, max_length=200)


class AddressIn(_In):
    street: str = Field(min_length=1, max_length=200)
    postal_code: str = Field(min_length=1, max_length=20)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(pattern=r"^[A-Za-z]{2}$")


class BillingAddressIn(AddressIn):
    name: str = Field(min_length=1, max_length=200)


class BillingAddressRead(BaseModel):
    id: uuid.UUID
    name: str
    street: str
    postal_code: str
    city: str
    country: str


class DetailsUpdate(_In):
    name: str = Field(min_length=1, max_length=200)
    kind: EditableKind
    address: AddressIn | None = None
    phone: str | None = Field(default=None, max_length=30)


class DetailsRead(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    street: str | None
    postal_code: str | None
    city: str | None
    country: str | None
    phone: str | None
    currency: str


class DeletionRequest(_In):
    confirm: bool = False
    send_paid_invoices: bool = True


class AccessDecision(BaseModel):
    allowed: bool
    code: str
