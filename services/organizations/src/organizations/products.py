"""The product registry (ORG-05), product locks and mail maintenance (ORG-10)."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.events import (ProductAdded, ProductDeprovisioned, ProductLocked, ProductMaintenanceChanged,
                                   ProductProvisioned, ProductRemoved, ProductUnlocked)
from manager_shared.metrics import BUSINESS_EVENTS

from . import repository as repo
from . import roles
from .core import Core, dumps, loads
from .errors import ProductNotFound, Unprocessable
from .kinds import spec_of
from .models import Organization, Product

log = logging.getLogger(__name__)


@dataclass
class ProductsService:
    core: Core

    async def provisioned(self, session: AsyncSession, event: ProductProvisioned) -> None:
        """A provisioning service says a product exists: register it once."""
        org = await session.get(Organization, event.organization_id, with_for_update=True)
        if org is None or org.deleted_at is not None:
            log.warning("product %s of unknown organization %s ignored", event.product_id, event.organization_id)
            return
        if await session.get(Product, event.product_id) is not None:
            return
        spec = spec_of(event.kind)
        product = Product(id=event.product_id, organization_id=org.id, kind=event.kind,
                          category=event.category or spec.category, name=event.name, created_at=self.core.clock.now())
        session.add(product)
        await self.core.emit(session, org.id, ProductAdded(
            organization_id=org.id, product_id=product.id, kind=product.kind, category=product.category,
            name=product.name, org_version=self.core.next_version(org)))
        BUSINESS_EVENTS.labels("organizations", "product_added", product.kind).inc()

    async def deprovisioned(self, session: AsyncSession, event: ProductDeprovisioned) -> None:
        product = await session.get(Product, event.product_id)
        if product is None or product.organization_id != event.organization_id:
            return
        org = await session.get(Organization, event.organization_id, with_for_update=True)
        await session.delete(product)
        # grants on it go too (the projections drop them with the product itself)
        key = str(event.product_id)
        for holder in [*await repo.members_of(session, org.id), *await repo.teams_of(session, org.id)]:
            grants = loads(holder.grants)
            if grants.pop(key, None) is not None:
                holder.grants = dumps(grants)
        await self.core.emit(session, org.id, ProductRemoved(
            organization_id=org.id, product_id=event.product_id, org_version=self.core.next_version(org)))

    async def visible(self, session: AsyncSession, organization_id: uuid.UUID,
                      account_id: uuid.UUID) -> list[tuple[Product, list[str]]]:
        """Products the caller reaches, with the caller's rights on each:
        every product for full roles, granted ones for limited roles (ORG-06)."""
        await self.core.context(session, organization_id, account_id)
        state = await self.core.access.load(session, organization_id)
        out = []
        for product in await repo.products_of(session, organization_id):
            rights = state.rights_of(account_id, product.id) if state else frozenset()
            if rights is None:
                out.append((product, list(spec_of(product.kind).rights)))
            elif rights:
                out.append((product, sorted(rights)))
        return out

    async def _managed(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                       product_id: uuid.UUID):
        ctx = await self.core.context(session, organization_id, actor, lock=True)
        roles.require_manager(ctx.role)  # lock/unlock: administrators and legal representatives only
        product = await session.get(Product, product_id)
        if product is None or product.organization_id != organization_id:
            raise ProductNotFound()
        return ctx, product

    async def set_locked(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                         product_id: uuid.UUID, locked: bool) -> Product:
        """ORG-10: while locked, nobody with limited rights can manage the
        product; every member is told. A mail service gets maintenance instead."""
        ctx, product = await self._managed(session, organization_id, actor, product_id)
        if not spec_of(product.kind).lockable:
            raise Unprocessable("A mail service cannot be locked; put it into maintenance instead.",
                                code="product_not_lockable")
        if product.locked == locked:
            return product
        product.locked = locked
        recipients = await self.core.recipients(session, organization_id)
        version = self.core.next_version(ctx.org)
        if locked:
            event = ProductLocked(organization_id=organization_id, product_id=product.id, product_name=product.name,
                                  kind=product.kind, locked_by=actor,
                                  locked_by_name=await self.core.name_of(session, actor),
                                  organization_name=ctx.org.name, recipients=recipients, org_version=version)
        else:
            event = ProductUnlocked(organization_id=organization_id, product_id=product.id,
                                    product_name=product.name, unlocked_by=actor, organization_name=ctx.org.name,
                                    recipients=recipients, org_version=version)
        await self.core.emit(session, organization_id, event)
        return product

    async def set_maintenance(self, session: AsyncSession, organization_id: uuid.UUID, actor: uuid.UUID,
                              product_id: uuid.UUID, maintenance: bool) -> Product:
        """ORG-10 for mail services: mail is still received, reading is impossible."""
        ctx, product = await self._managed(session, organization_id, actor, product_id)
        if spec_of(product.kind).lockable:
            raise Unprocessable("Only mail services have a maintenance mode; lock this product instead.",
                                code="maintenance_not_available")
        if product.maintenance == maintenance:
            return product
        product.maintenance = maintenance
        await self.core.emit(session, organization_id, ProductMaintenanceChanged(
            organization_id=organization_id, product_id=product.id, product_name=product.name,
            maintenance=maintenance, changed_by=actor, organization_name=ctx.org.name,
            recipients=await self.core.recipients(session, organization_id),
            org_version=self.core.next_version(ctx.org)))
        return product
