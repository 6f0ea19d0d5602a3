"""Bank transfers (BIL-03): top-up references, the camt.054 import that
matches credits to open invoices and top-up references, and the queue of
credits a person assigns. Records events; never commits."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from manager_shared.clock import Clock
from manager_shared.db import insert_if_absent
from manager_shared.events.billing import PrepaidTopUpCredited
from manager_shared.events.invoices import BankPaymentAssigned, BankPaymentUnmatched
from manager_shared.outbox import Outbox

from .. import repository as account_repo
from ..errors import BillingAccountNotFound
from . import numbering, references, repository as repo
from .camt import Credit, parse
from .errors import (AssignmentMismatch, BankPaymentAlreadyAssigned, BankPaymentNotFound, InvoiceNotFound)
from .models import BankImport, BankPayment, Invoice, NumberCounter, TopUpReference
from .service import Invoices

TOP_UP_SERIES = "TOPUP"


@dataclass(frozen=True)
class ImportResult:
    import_id: uuid.UUID
    duplicate: bool
    credits: int
    matched: int
    unmatched: int
    already_known: int


@dataclass
class BankTransfers:
    invoices: Invoices
    outbox: Outbox
    clock: Clock

    async def top_up_reference(self, session: AsyncSession, organization_id: uuid.UUID) -> TopUpReference:
        """The organization's own transfer reference for top-ups in its
        currency, made once (QR reference in CHF, RF creditor reference in EUR)."""
        account = await account_repo.billing_account(session, organization_id)
        if account is None:
            raise BillingAccountNotFound()
        existing = await repo.topup_reference(session, organization_id, account.currency)
        if existing is not None:
            return existing
        value = await numbering.take(session, NumberCounter.__table__, TOP_UP_SERIES)
        row = TopUpReference(reference=references.reference_for(account.currency, references.TOP_UP, value),
                             organization_id=organization_id, currency=account.currency, created_at=self.clock.now())
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:  # a concurrent request made it first
            return await repo.topup_reference(session, organization_id, account.currency)
        return row

    async def import_camt054(self, session: AsyncSession, body: bytes, operator_id: uuid.UUID,
                             prepaid) -> ImportResult:
        """Read the whole file first (malformed → 422, nothing applied); the
        same file again (SHA-256) or an entry seen before (the bank's entry
        reference) changes nothing."""
        notification = parse(body)
        previous = await repo.bank_import_by_hash(session, notification.file_hash)
        import_id = uuid.uuid4()
        inserted = previous is None and await insert_if_absent(session, BankImport.__table__, {
            "id": import_id, "file_hash": notification.file_hash, "message_id": notification.message_id,
            "entries": len(notification.credits), "matched": 0, "imported_by": operator_id,
            "imported_at": self.clock.now()})
        if not inserted:
            previous = previous or await repo.bank_import_by_hash(session, notification.file_hash)
            return ImportResult(previous.id, True, previous.entries, previous.matched,
                                previous.entries - previous.matched, 0)
        unique = {credit.entry_ref: credit for credit in notification.credits}
        known = await repo.known_entry_refs(session, list(unique))
        matched = unmatched = 0
        for credit in unique.values():
            if credit.entry_ref in known:
                continue
            if await self._apply(session, import_id, credit, prepaid):
                matched += 1
            else:
                unmatched += 1
        record = await session.get(BankImport, import_id)
        record.matched = matched
        return ImportResult(import_id, False, len(notification.credits), matched, unmatched, len(known))

    async def _apply(self, session: AsyncSession, import_id: uuid.UUID, credit: Credit, prepaid) -> bool:
        payment = BankPayment(entry_ref=credit.entry_ref, import_id=import_id, amount_minor=credit.amount_minor,
                              currency=credit.currency, reference=credit.reference, debtor_name=credit.debtor_name,
                              booked_on=credit.booked_on, status="unmatched", created_at=self.clock.now())
        session.add(payment)
        await session.flush()
        reason = await self._match(session, payment, prepaid)
        if reason is None:
            payment.status = "matched"
            return True
        payment.reason = reason
        await self.outbox.record(session, BankPaymentUnmatched(
            bank_payment_id=payment.id, organization_id=payment.organization_id, amount_minor=payment.amount_minor,
            currency=payment.currency, reference=payment.reference, reason=reason, booked_on=payment.booked_on,
            key=str(payment.organization_id or payment.id)))
        return False

    async def _match(self, session: AsyncSession, payment: BankPayment, prepaid) -> str | None:
        """None when applied; else why it waits for a person."""
        if not payment.reference:
            return "unknown_reference"
        invoice = await repo.invoice_by_reference(session, payment.reference)
        if invoice is not None:
            payment.organization_id = invoice.organization_id
            reason = _invoice_mismatch(invoice, payment)
            if reason is None:
                await self.invoices.mark_paid(session, invoice, means="bank_transfer", reference=payment.entry_ref)
                payment.invoice_id = invoice.id
            return reason
        top_up = await repo.topup_by_reference(session, payment.reference)
        if top_up is None:
            return "unknown_reference"
        payment.organization_id = top_up.organization_id
        if top_up.currency != payment.currency:
            return "currency_mismatch"
        entry = await self._credit_prepaid(session, payment, prepaid)
        # the customer's receipt, as for a card top-up (one assigned by a person has BankPaymentAssigned's)
        await self.outbox.record(session, PrepaidTopUpCredited(
            organization_id=payment.organization_id, top_up_id=payment.id, amount_minor=payment.amount_minor,
            currency=payment.currency, balance_minor=entry.balance_after_minor, means="bank_transfer"))
        return None

    async def _credit_prepaid(self, session: AsyncSession, payment: BankPayment, prepaid):
        return await prepaid.credit(session, payment.organization_id, payment.amount_minor, payment.currency,
                                    kind="top_up", cause="bank_transfer", reference=f"bank:{payment.entry_ref}"[:200])

    async def assign(self, session: AsyncSession, payment_id: uuid.UUID, operator_id: uuid.UUID, prepaid, *,
                     invoice_id: uuid.UUID | None = None, organization_id: uuid.UUID | None = None) -> BankPayment:
        """A queued credit assigned by a person: to an open invoice of the
        same currency and exact amount, or to an organization's prepaid
        balance in the same currency (what a mismatched amount becomes)."""
        payment = await repo.locked_bank_payment(session, payment_id)
        if payment is None:
            raise BankPaymentNotFound()
        if payment.status != "unmatched":
            raise BankPaymentAlreadyAssigned()
        if invoice_id is not None:
            invoice = await repo.locked_invoice(session, invoice_id)
            if invoice is None or invoice.kind != "invoice" or invoice.status == "draft":
                raise InvoiceNotFound()
            if invoice.currency != payment.currency or invoice.total_minor != payment.amount_minor:
                raise AssignmentMismatch()
            await self.invoices.mark_paid(session, invoice, means="bank_transfer", reference=payment.entry_ref)
            payment.invoice_id, payment.organization_id = invoice.id, invoice.organization_id
        else:
            account = await account_repo.billing_account(session, organization_id)
            if account is None:
                raise BillingAccountNotFound()
            if account.currency != payment.currency:
                raise AssignmentMismatch("The prepaid account is in another currency.")
            payment.organization_id = organization_id
            await self._credit_prepaid(session, payment, prepaid)
        payment.status, payment.assigned_by, payment.assigned_at = "assigned", operator_id, self.clock.now()
        await self.outbox.record(session, BankPaymentAssigned(
            bank_payment_id=payment.id, organization_id=payment.organization_id,
            target="invoice" if invoice_id else "prepaid", invoice_id=invoice_id, amount_minor=payment.amount_minor,
            currency=payment.currency, assigned_by=operator_id))
        return payment


def _invoice_mismatch(invoice: Invoice, payment: BankPayment) -> str | None:
    if invoice.kind != "invoice" or invoice.status != "open":
        return "not_open"
    if invoice.currency != payment.currency:
        return "currency_mismatch"
    if invoice.total_minor != payment.amount_minor:
        return "amount_mismatch"
    return None
