"""Organization details, logo and billing addresses (ORG-12) and deleting an
organization (ORG-14)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.auth import Principal
from manager_shared.errors import Conflict, DomainError
from manager_shared.events import BillingAccountOpened, BillingAddress as BillingAddressPart, BillingStandingChanged
from manager_shared.events import OrganizationDeleted, OrganizationDetailsChanged, PostalAddress
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from . import roles
from .core import Context, Core
from .errors import ConfirmationRequired, NotFoundLogo, Unprocessable
from .service import OrganizationsService
from .models import BillingAddress, BillingStanding, Membership, Organization, OrganizationLogo, Product

CHF_COUNTRIES = frozenset({"CH", "LI"})
# Accepted logo formats, recognised by their first bytes (the declared type must agree).
LOGO_SIGNATURES = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",),
                   "image/gif": (b"GIF87a", b"GIF89a"), "image/webp": (b"RIFF",)}


class PrivateOrganization(Conflict):
    code, message = "private_organization", "A private organization has no editable details."


class OrganizationNotDeletable(Conflict):
    code, message = "organization_not_deletable", "The organization cannot be deleted yet."


class LogoTooLarge(DomainError):
    code, status, message = "logo_too_large", 413, "The logo is too large."


def currency_for(country: str | None, default: str) -> str:
    """ORG-12: the postal address decides the currency of future invoices."""
    if country is None:
        return default
    return "CHF" if country.upper() in CHF_COUNTRIES else "EUR"


def normalize_phone(phone: str | None) -> str | None:
    if phone is None:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise Unprocessable("The phone number needs a country prefix (+41...) and must be valid.",
                            code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def logo_type(content_type: str, data: bytes) -> str:
    content_type = content_type.split(";")[0].strip().lower()
    signatures = LOGO_SIGNATURES.get(content_type)
    ok = signatures is not None and any(data.startswith(s) for s in signatures)
    if ok and content_type == "image/webp":
        ok = data[8:12] == b"WEBP"
    if not ok:
        raise Unprocessable("The logo must be a PNG, JPEG, GIF or WebP image of the declared type.",
                            code="invalid_logo", accepted=sorted(LOGO_SIGNATURES))
    return content_type


@dataclass
class DetailsService:
    core: Core
    organizations: OrganizationsService

    async def _editable(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID) -> Context:
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.require_legal_representative(ctx.role)
        if ctx.org.kind == "private":
            raise PrivateOrganization()
        return ctx

    async def update(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID, *, name: str,
                     kind: str, address: dict | None, phone: str | None) -> Organization:
        """Legal representatives only; the address decides the currency."""
        ctx = await self._editable(session, organization_id, actor)
        org = ctx.org
        new = {"name": name.strip(), "kind": kind, "street": address and address["street"],
               "postal_code": address and address["postal_code"], "city": address and address["city"],
               "country": address and address["country"].upper(), "phone": normalize_phone(phone)}
        changed = sorted(k for k, v in new.items() if getattr(org, k) != v)
        for key, value in new.items():
            setattr(org, key, value)
        currency = currency_for(org.country, self.core.settings.default_currency)
        if currency != org.currency:
            org.currency = currency
            changed.append("currency")
        await self._announce(session, ctx, actor, changed)
        return org

    async def set_logo(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                       content_type: str, data: bytes) -> None:
        if len(data) > self.core.settings.logo_max_bytes:
            raise LogoTooLarge(max_bytes=self.core.settings.logo_max_bytes)
        kind = logo_type(content_type, data)
        ctx = await self._editable(session, organization_id, actor)
        logo = await session.get(OrganizationLogo, organization_id)
        if logo is None:
            session.add(OrganizationLogo(organization_id=organization_id, content_type=kind, data=data,
                                         updated_at=self.core.clock.now()))
        else:
            logo.content_type, logo.data, logo.updated_at = kind, data, self.core.clock.now()
        await session.flush()
        await self._announce(session, ctx, actor, ["logo"])

    async def logo(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID) -> OrganizationLogo:
        await self.core.context(session, organization_id, actor)
        logo = await session.get(OrganizationLogo, organization_id)
        if logo is None:
            raise NotFoundLogo()
        return logo

    async def add_billing_address(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                                  address: dict) -> BillingAddress:
        ctx = await self._editable(session, organization_id, actor)
        row = BillingAddress(organization_id=organization_id, created_at=self.core.clock.now(),
                             **{**address, "country": address["country"].upper()})
        session.add(row)
        await session.flush()
        await self._announce(session, ctx, actor, ["billing_addresses"])
        return row

    async def remove_billing_address(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                                     address_id: uuid.UUID) -> None:
        ctx = await self._editable(session, organization_id, actor)
        row = await session.get(BillingAddress, address_id)
        if row is None or row.organization_id != organization_id:
            raise NotFoundLogo("No such billing address.", code="billing_address_not_found")
        await session.delete(row)
        await session.flush()
        await self._announce(session, ctx, actor, ["billing_addresses"])

    async def billing_addresses(self, session: AsyncSession, organization_id: uuid.UUID,
                                actor: uuid.UUID) -> list[BillingAddress]:
        await self.core.context(session, organization_id, actor)
        return await repo.billing_addresses_of(session, organization_id)

    async def _announce(self, session: AsyncSession, ctx: Context, actor: uuid.UUID, changed: list[str]) -> None:
        """One OrganizationDetailsChanged per change: summary mail and billing's currency."""
        org = ctx.org
        address = PostalAddress(street=org.street, postal_code=org.postal_code, city=org.city,
                                country=org.country) if org.country else None
        billing = [BillingAddressPart(id=a.id, name=a.name, street=a.street, postal_code=a.postal_code,
                                      city=a.city, country=a.country)
                   for a in await repo.billing_addresses_of(session, org.id)]
        await self.core.emit(session, org.id, OrganizationDetailsChanged(
            organization_id=org.id, name=org.name, kind=org.kind, address=address, phone=org.phone,
            currency=org.currency, has_logo=await session.get(OrganizationLogo, org.id) is not None,
            billing_addresses=billing, changed_fields=changed, changed_by=actor,
            recipients=await self.core.recipients(session, org.id, frozenset({roles.LEGAL_REPRESENTATIVE}))))

    # -- billing's facts and deletion -------------------------------------
    async def billing_account_opened(self, session: AsyncSession, event: BillingAccountOpened) -> None:
        """A new billing account has no invoice and a zero prepaid balance."""
        if await session.get(BillingStanding, event.organization_id) is None:
            session.add(BillingStanding(organization_id=event.organization_id, currency=event.currency))

    async def billing_standing_changed(self, session: AsyncSession, event: BillingStandingChanged) -> None:
        """billing's unpaid invoices and prepaid balance (ORG-14); an older
        standing arriving late (or again) never overwrites a newer one."""
        standing = await session.get(BillingStanding, event.organization_id, with_for_update=True)
        if standing is None:
            standing = BillingStanding(organization_id=event.organization_id, currency=event.currency)
            session.add(standing)
        elif standing.standing_version >= event.standing_version:
            return
        standing.unpaid_invoices, standing.prepaid_balance_minor = event.unpaid_invoices, event.prepaid_balance_minor
        standing.currency, standing.standing_version = event.currency, event.standing_version

    async def unmet_deletion_conditions(self, session: AsyncSession, org: Organization,
                                        caller: uuid.UUID) -> list[str]:
        unmet = []
        products = (await session.execute(sa.select(sa.func.count()).select_from(Product).where(
            Product.organization_id == org.id))).scalar_one()
        if products:
            unmet.append("products_remaining")
        others = (await session.execute(sa.select(sa.func.count()).select_from(Membership).where(
            Membership.organization_id == org.id, Membership.account_id != caller))).scalar_one()
        if others:
            unmet.append("other_members_remaining")
        standing = await session.get(BillingStanding, org.id)
        if standing is None:
            unmet.append("billing_facts_unknown")
        else:
            if standing.unpaid_invoices:
                unmet.append("unpaid_invoices")
            if standing.prepaid_balance_minor:
                unmet.append("prepaid_balance_not_zero")
        return unmet

    async def delete(self, session: AsyncSession, organization_id: uuid.UUID, who: Principal, *, confirm: bool,
                     send_paid_invoices: bool) -> None:
        """ORG-14: legal representative, recent sign-in, confirmation; refused
        with the list of unmet conditions; the account itself stays."""
        self.core.require_recent_sign_in(who, self.core.settings)
        ctx = await self.core.context(session, organization_id, who.account_id, lock=True)
        roles.require_legal_representative(ctx.role)
        if not confirm:
            raise ConfirmationRequired()
        unmet = await self.unmet_deletion_conditions(session, ctx.org, who.account_id)
        if unmet:
            raise OrganizationNotDeletable(unmet=unmet)
        requester = await self.core.recipient(session, who.account_id)
        ctx.org.deleted_at = self.core.clock.now()
        await session.delete(ctx.member)
        await self.core.emit(session, organization_id, OrganizationDeleted(
            organization_id=organization_id, name=ctx.org.name, deleted_by=who.account_id, requester=requester,
            send_paid_invoices=send_paid_invoices, org_version=self.core.next_version(ctx.org)))
        BUSINESS_EVENTS.labels("organizations", "delete_organization", "deleted").inc()
        await self.organizations.ensure_an_organization(session, who.account_id)
