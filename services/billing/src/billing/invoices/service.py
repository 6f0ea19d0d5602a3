"""Invoice rules (BIL-06): issue (draft → open, numbered), pay, cancel,
refund by credit note. Records events; never commits."""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.access import OrgAccessStore
from manager_shared.clock import Clock
from manager_shared.events.invoices import CreditNoteIssued, InvoiceCancelled, InvoiceIssued, InvoicePaid
from manager_shared.outbox import Outbox

from .. import repository as account_repo
from ..config import Settings
from ..errors import BillingAccountNotFound
from ..models import BillingAccount
from ..money import CURRENCIES
from . import numbering, references, repository as repo, totals, vat
from .errors import (CurrencyNotSupported, InvalidInvoice, InvoiceAlreadyPaid, InvoiceNotFound, InvoiceNotPayable,
                     RefundTooLarge)
from .models import Invoice, InvoiceLine, NumberCounter

InvoiceHook = Callable[[AsyncSession, Invoice], Awaitable[None]]  # on_paid, on_cancelled
MAX_LINES = 200


@dataclass
class LineDraft:
    """A line to invoice, as subscriptions, orders and renewals describe it."""

    description: str
    offer_code: str | None
    product_id: uuid.UUID | None
    period_start: date | None
    period_end: date | None
    quantity: int
    unit_price_minor: int
    discount_minor: int = 0
    vat_category: str = "standard"


async def standing_changed(session: AsyncSession, outbox: Outbox, organization_id: uuid.UUID) -> None:
    """Part P's standing (unpaid invoices, balance), recomputed in this transaction."""
    from ..prepaid.standing import standing_changed as recompute

    await recompute(session, outbox, organization_id)


@dataclass
class Invoices:
    outbox: Outbox
    clock: Clock
    settings: Settings
    access: OrgAccessStore
    paid_hooks: list[InvoiceHook] = field(default_factory=list)
    cancel_hooks: list[InvoiceHook] = field(default_factory=list)

    def on_paid(self, hook: InvoiceHook) -> None:
        """`hook(session, invoice)` runs in the paying transaction (e.g. a
        subscription's term is extended when its renewal invoice is paid)."""
        self.paid_hooks.append(hook)

    def on_cancelled(self, hook: InvoiceHook) -> None:
        """`hook(session, invoice)` runs in the cancelling transaction (e.g. a
        renewal's term can be invoiced again)."""
        self.cancel_hooks.append(hook)

    async def account_for(self, session: AsyncSession, organization_id: uuid.UUID,
                          account_id: uuid.UUID) -> BillingAccount:
        """Legal representatives, administrators and accounting-right holders;
        404 for anyone else, whether or not the organization exists."""
        allowed = await self.access.check(session, account_id, organization_id, "accounting")
        account = await account_repo.billing_account(session, organization_id)
        if not allowed or account is None:
            raise BillingAccountNotFound()
        return account

    async def issue(self, session: AsyncSession, *, organization_id: uuid.UUID, currency: str,
                    lines: list[LineDraft], source_ref: str) -> Invoice:
        """Create the invoice and finalise it at once (open, numbered). The
        same `source_ref` twice gives the first invoice back, also when two
        callers race (the unique key decides; the loser re-reads)."""
        existing = await repo.by_source_ref(session, source_ref)
        if existing is not None:
            return existing
        invoice = await self._draft(session, organization_id, currency, lines, source_ref)
        try:
            async with session.begin_nested():
                session.add(invoice)
                await session.flush()
        except IntegrityError:
            existing = await repo.by_source_ref(session, source_ref)
            if existing is None:
                raise
            return existing
        await self._finalise(session, invoice)
        return invoice

    async def _draft(self, session: AsyncSession, organization_id: uuid.UUID, currency: str,
                     lines: list[LineDraft], source_ref: str) -> Invoice:
        if currency not in CURRENCIES:
            raise CurrencyNotSupported()
        if not 1 <= len(lines) <= MAX_LINES:
            raise InvalidInvoice("An invoice has between 1 and 200 lines.", field="lines")
        account = await account_repo.billing_account(session, organization_id)
        if account is None:
            raise BillingAccountNotFound()
        business = account.kind != "private"
        treatment = vat.treatment(self.settings.seller_country, account.country, account.vat_number, business)
        rows = [self._line(i, draft, treatment) for i, draft in enumerate(lines, start=1)]
        sums = totals.compute((row.net_minor, Decimal(row.vat_rate)) for row in rows)
        return Invoice(
            organization_id=organization_id, currency=currency, source_ref=source_ref, status="draft",
            net_minor=sums.net_minor, vat_minor=sums.vat_minor, total_minor=sums.total_minor,
            vat_treatment=treatment.kind, buyer_name=account.organization_name, buyer_street=account.street,
            buyer_postal_code=account.postal_code, buyer_city=account.city,
            buyer_country=account.country or self.settings.seller_country, buyer_vat_number=account.vat_number,
            buyer_is_business=business, language=account.language, created_at=self.clock.now(), lines=rows)

    @staticmethod
    def _line(position: int, draft: LineDraft, treatment: vat.Treatment) -> InvoiceLine:
        if not draft.description.strip() or len(draft.description) > 300:
            raise InvalidInvoice("A line needs a description of at most 300 characters.", field="description")
        net = totals.line_net(draft.quantity, draft.unit_price_minor, draft.discount_minor)
        return InvoiceLine(
            position=position, description=draft.description, offer_code=draft.offer_code,
            product_id=draft.product_id, period_start=draft.period_start, period_end=draft.period_end,
            quantity=draft.quantity, unit_price_minor=draft.unit_price_minor, discount_minor=draft.discount_minor,
            vat_category=draft.vat_category, vat_rate=str(treatment.rate(draft.vat_category)), net_minor=net)

    async def _finalise(self, session: AsyncSession, invoice: Invoice) -> None:
        """draft → open: the number from the year's series, in this transaction."""
        now = self.clock.now()
        invoice.number = await numbering.next_number(session, NumberCounter.__table__, "invoice", now.year)
        invoice.status, invoice.issued_at = "open", now
        invoice.due_on = now.date() + timedelta(days=self.settings.invoice_payment_days)
        invoice.payment_reference = references.reference_for(
            invoice.currency, references.INVOICE, references.invoice_value(invoice.number))
        await session.flush()
        await self.outbox.record(session, InvoiceIssued(
            organization_id=invoice.organization_id, invoice_id=invoice.id, number=invoice.number,
            issued_at=now, due_on=invoice.due_on, net_minor=invoice.net_minor, vat_minor=invoice.vat_minor,
            total_minor=invoice.total_minor, currency=invoice.currency,
            payment_reference=invoice.payment_reference))
        await standing_changed(session, self.outbox, invoice.organization_id)

    async def payable(self, session: AsyncSession, organization_id: uuid.UUID,
                      invoice_ids: list[uuid.UUID]) -> list[Invoice]:
        """The open invoices to pay together, locked until the payment's
        transaction ends; the first one that cannot be paid refuses all."""
        wanted = list(dict.fromkeys(invoice_ids))
        found = await repo.locked_invoices(session, wanted)
        result = []
        for invoice_id in wanted:
            invoice = found.get(invoice_id)
            if invoice is None or invoice.organization_id != organization_id or invoice.kind != "invoice" \
                    or invoice.status == "draft":
                raise InvoiceNotFound(invoice_id=str(invoice_id))
            self._ensure_open(invoice)
            result.append(invoice)
        return result

    @staticmethod
    def _ensure_open(invoice: Invoice) -> None:
        if invoice.status in ("paid", "refunded"):
            raise InvoiceAlreadyPaid(invoice_id=str(invoice.id))
        if invoice.status != "open":
            raise InvoiceNotPayable(invoice_id=str(invoice.id))

    async def mark_paid(self, session: AsyncSession, invoice: Invoice, *, means: str, reference: str) -> None:
        """open → paid; the paid hooks and the standing in the same transaction."""
        self._ensure_open(invoice)
        now = self.clock.now()
        invoice.status, invoice.paid_at = "paid", now
        invoice.paid_means, invoice.paid_reference = means[:32], reference[:200]
        await session.flush()
        await self.outbox.record(session, InvoicePaid(
            organization_id=invoice.organization_id, invoice_id=invoice.id, number=invoice.number,
            total_minor=invoice.total_minor, currency=invoice.currency, means=invoice.paid_means, paid_at=now))
        for hook in self.paid_hooks:
            await hook(session, invoice)
        await standing_changed(session, self.outbox, invoice.organization_id)

    async def cancel(self, session: AsyncSession, invoice_id: uuid.UUID, reason: str) -> Invoice:
        """open → cancelled (operator): the number stays taken, the series gap-free."""
        invoice = await repo.locked_invoice(session, invoice_id)
        if invoice is None or invoice.kind != "invoice" or invoice.status == "draft":
            raise InvoiceNotFound()
        self._ensure_open(invoice)
        invoice.status = "cancelled"
        for hook in self.cancel_hooks:
            await hook(session, invoice)
        await self.outbox.record(session, InvoiceCancelled(
            organization_id=invoice.organization_id, invoice_id=invoice.id, number=invoice.number,
            total_minor=invoice.total_minor, currency=invoice.currency, reason=reason[:200]))
        await standing_changed(session, self.outbox, invoice.organization_id)
        return invoice

    async def refund(self, session: AsyncSession, invoice_id: uuid.UUID, amount_minor: int, reason: str,
                     prepaid) -> Invoice:
        """A paid invoice refunded in whole or part (operator): a credit note
        with its own number, the amount credited to the prepaid balance;
        fully refunded → the invoice is `refunded`."""
        invoice = await repo.locked_invoice(session, invoice_id)
        if invoice is None or invoice.kind != "invoice" or invoice.status == "draft":
            raise InvoiceNotFound()
        if invoice.status != "paid":
            raise InvoiceNotPayable("Only a paid invoice can be refunded.", code="invoice_not_refundable")
        if not 1 <= amount_minor <= invoice.total_minor - invoice.refunded_minor:
            raise RefundTooLarge()
        note = await self._credit_note(session, invoice, amount_minor, reason)
        invoice.refunded_minor += amount_minor
        full = invoice.refunded_minor == invoice.total_minor
        if full:
            invoice.status = "refunded"
        await prepaid.credit(session, invoice.organization_id, amount_minor, invoice.currency, kind="refund",
                             cause=f"credit_note {note.number}", reference=f"credit_note:{note.id}")
        await self.outbox.record(session, CreditNoteIssued(
            organization_id=invoice.organization_id, credit_note_id=note.id, number=note.number,
            invoice_id=invoice.id, invoice_number=invoice.number, amount_minor=amount_minor,
            vat_minor=note.vat_minor, currency=invoice.currency, fully_refunded=full))
        return note

    async def _credit_note(self, session: AsyncSession, invoice: Invoice, amount_minor: int, reason: str) -> Invoice:
        """The credit note: one line per VAT rate of the invoice, stating the
        VAT refunded at that rate (totals.split_refund)."""
        now = self.clock.now()
        groups = totals.compute((line.net_minor, Decimal(line.vat_rate)) for line in invoice.lines).groups
        parts = totals.split_refund(amount_minor, groups)
        text = f"Refund of invoice {invoice.number}: {reason}"[:300]
        lines = [InvoiceLine(position=i, description=text, quantity=1, unit_price_minor=part.net_minor,
                             vat_rate=str(part.rate), net_minor=part.net_minor, vat_minor=part.vat_minor)
                 for i, part in enumerate(parts, start=1)]
        note = Invoice(
            organization_id=invoice.organization_id, kind="credit_note", status="issued", currency=invoice.currency,
            issued_at=now, net_minor=sum(p.net_minor for p in parts), vat_minor=sum(p.vat_minor for p in parts),
            total_minor=amount_minor, vat_treatment=invoice.vat_treatment, credited_invoice_id=invoice.id,
            buyer_name=invoice.buyer_name, buyer_street=invoice.buyer_street,
            buyer_postal_code=invoice.buyer_postal_code, buyer_city=invoice.buyer_city,
            buyer_country=invoice.buyer_country, buyer_vat_number=invoice.buyer_vat_number,
            buyer_is_business=invoice.buyer_is_business, language=invoice.language, created_at=now,
            number=await numbering.next_number(session, NumberCounter.__table__, "credit_note", now.year),
            lines=lines)
        session.add(note)
        await session.flush()
        return note
