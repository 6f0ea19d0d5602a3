"""ORG-14: when an organization is deleted, its legal representative may ask
for the paid invoices; billing sends their CSV (as InvoicesExported) to the
`requester`. Invoices themselves are kept: bookkeeping law (CO art. 958f, ten
years) outlives the organization's account."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.events import OrganizationDeleted
from manager_shared.events.invoices import MAX_EXPORT_CSV_BYTES, InvoicesExported
from manager_shared.outbox import Outbox

from . import csv_export, repository as repo
from .repository import InvoiceFilter

# The mail's event id is derived from the organization: the same deletion
# delivered again (even as another event) finds it recorded and sends nothing.
_NAMESPACE = uuid.UUID("5b0c7f8e-4d0a-4c55-9a5e-1f2f4a6f0e21")
SETTLED = ("paid", "refunded")


def export_event_id(organization_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"paid-invoices:{organization_id}")


def bounded_csv(invoices: list) -> tuple[str, int]:
    """The CSV of as many invoices as fit MAX_EXPORT_CSV_BYTES, newest first
    kept (the list comes newest first); (csv, rows)."""
    rows = list(invoices)
    while True:
        content = csv_export.text(rows)
        if len(content.encode()) <= MAX_EXPORT_CSV_BYTES or not rows:
            return content, len(rows)
        rows = rows[:min(len(rows) - 1, len(rows) * 9 // 10)]  # drop the oldest tenth, at least one


async def mail_paid_invoices(session: AsyncSession, outbox: Outbox, event: OrganizationDeleted) -> bool:
    """Record the paid invoices' CSV for the requester, once; True if recorded."""
    if not event.send_paid_invoices:
        return False
    event_id = export_event_id(event.organization_id)
    seen = await session.execute(sa.select(outbox.table.c.id).where(outbox.table.c.event_id == event_id))
    if seen.first() is not None:
        return False
    invoices, _ = await repo.list_invoices(session, event.organization_id, InvoiceFilter(kind="invoice"))
    content, count = bounded_csv([i for i in invoices if i.status in SETTLED])
    await outbox.record(session, InvoicesExported(
        event_id=event_id, organization_id=event.organization_id, requested_by=event.requester.account_id,
        invoice_count=count, filename="paid-invoices.csv", csv=content))
    return True
