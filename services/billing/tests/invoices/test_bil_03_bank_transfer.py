"""BIL-03 bank side: transfer references, the camt.054 import (matched,
unmatched, duplicate file, malformed), the queue an operator assigns, and
top-ups by transfer."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from billing.invoices import camt
from billing.invoices.errors import CamtMalformed
from billing.invoices.models import BankPayment
from manager_shared.testing.fixtures import recorded

from .camt_samples import DEBIT_ENTRY, camt054, credit
from .conftest import line

XML = {"Content-Type": "application/xml"}


async def _import(world, body: bytes, headers=None):
    return await world.c.post("/v1/bank/camt054", content=body, headers={**(headers or world.op), **XML})


async def _invoice(world, owner, org, invoice_id):
    r = await world.c.get(f"/v1/organizations/{org}/invoices/{invoice_id}", headers=world.h(owner))
    return r.json()


def test_bil_03_camt_parser_reads_credits_and_skips_debits_and_pending():
    body = camt054(credit("TX-1", 10810, "10 00000 00000 00002 02600 00019"), credit("TX-2", 500, None),
                   extra_entries=DEBIT_ENTRY)
    notification = camt.parse(body)
    assert notification.message_id == "MSG-20260303-0001" and len(notification.file_hash) == 64
    assert [(c.entry_ref, c.amount_minor, c.currency, c.reference, c.debtor_name) for c in notification.credits] == [
        ("TX-1", 10810, "CHF", "100000000000000020260000019", "Muster AG"), ("TX-2", 500, "CHF", None, "Muster AG")]
    assert str(notification.credits[0].booked_on) == "2026-03-03"
    assert camt.parse(camt054(credit("TX-3", 100, None), status="PDNG")).credits == ()


def test_bil_03_camt_parser_reads_older_versions_and_bare_entries():
    """camt.054.001.04 writes the status as text and the debtor without Pty;
    an entry without transaction details is one credit with the entry's ref."""
    body = (camt054(credit("TX-1", 1234, "RF18 5390 0754 7034"))
            .replace(b"camt.054.001.08", b"camt.054.001.04").replace(b"<Sts><Cd>BOOK</Cd></Sts>", b"<Sts>BOOK</Sts>")
            .replace(b"<Dbtr><Pty><Nm>Muster AG</Nm>", b"<Dbtr><Nm>Muster AG</Nm><Pty>"))
    [c] = camt.parse(body).credits
    assert (c.entry_ref, c.amount_minor, c.reference, c.debtor_name) == ("TX-1", 1234, "RF18539007547034", "Muster AG")
    bare = camt054(credit("TX-1", 500, None))
    start, end = bare.index(b"<NtryDtls>"), bare.index(b"</NtryDtls>") + len(b"</NtryDtls>")
    [c] = camt.parse(bare[:start] + bare[end:]).credits
    assert (c.entry_ref, c.amount_minor, c.reference) == ("MSG-20260303-0001-E1-SVC", 500, None)


def test_bil_03_camt_parser_fallback_references_dates_and_debit_transactions(monkeypatch):
    import re

    two = camt054(credit("TX-1", 100, None), credit("TX-2", 200, None))
    no_refs = re.sub(rb"<Refs>.*?</Refs>", b"", two, flags=re.S)
    assert [c.entry_ref for c in camt.parse(no_refs).credits] == ["MSG-20260303-0001-E1-SVC/1",
                                                                  "MSG-20260303-0001-E1-SVC/2"]
    one = re.sub(rb"<Refs>.*?</Refs>", b"", camt054(credit("TX-1", 100, None)), flags=re.S)
    assert [c.entry_ref for c in camt.parse(one).credits] == ["MSG-20260303-0001-E1-SVC"]
    bare = re.sub(rb"<AcctSvcrRef>[^<]*</AcctSvcrRef>", b"", one)
    assert [c.entry_ref for c in camt.parse(bare).credits] == ["MSG-20260303-0001/1"]
    timed = two.replace(b"<BookgDt><Dt>2026-03-03</Dt></BookgDt>",
                        b"<BookgDt><DtTm>2026-03-04T10:00:00+01:00</DtTm></BookgDt>")
    assert str(camt.parse(timed).credits[0].booked_on) == "2026-03-04"
    reversal = two.replace(b"<CdtDbtInd>CRDT</CdtDbtInd>\n            <RltdPties>", b"<CdtDbtInd>DBIT</CdtDbtInd>\n"
                           b"            <RltdPties>", 1)
    assert [c.entry_ref for c in camt.parse(reversal).credits] == ["TX-2"]
    monkeypatch.setattr(camt, "MAX_CREDITS", 2)
    assert len(camt.parse(two).credits) == 2
    with pytest.raises(CamtMalformed):
        camt.parse(camt054(credit("A", 1, None), credit("B", 1, None), credit("C", 1, None)))


@pytest.mark.parametrize("body", [
    b"", b"not xml", b"<Document/>",
    b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">&x;</Document>',
    b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt/></Document>',
    camt054(credit("TX-1", 100, None)).replace(b"<MsgId>MSG-20260303-0001</MsgId>", b""),
    camt054(credit("TX-1", 100, None)).replace(b">1.00<", b">1.005<"),
    camt054(credit("TX-1", 100, None)).replace(b">1.00<", b">-1.00<"),
    camt054(credit("TX-1", 100, None)).replace(b">1.00<", b">0.00<"),
    camt054(credit("TX-1", 100, None)).replace(b"<Dt>2026-03-03</Dt></BookgDt>", b"<Dt>2026-02-30</Dt></BookgDt>"),
    camt054(credit("TX-1", 100, None)).replace(b">1.00<", b">abc<"),
    camt054(credit("TX-1", 100, None)).replace(b'<Amt Ccy="CHF">1.00</Amt>', b"<Amt>1.00</Amt>"),
    camt054(credit("TX-1", 100, None)).replace(b"<CdtDbtInd>CRDT</CdtDbtInd>\n        <RvslInd>", b"<RvslInd>"),
])
def test_bil_03_malformed_files_are_refused_whole(body):
    with pytest.raises(CamtMalformed):
        camt.parse(body)


async def test_bil_03_matching_credit_pays_the_invoice_and_the_same_file_twice_changes_nothing(world):
    org, owner = await world.organization()
    invoice = await world.issue(org, line(10000))
    other = await world.issue(org, line(5000))
    body = camt054(credit("TX-1", 10810, "10 00000 00000 00002 02600 00019"),
                   credit("TX-2", 5000, other.payment_reference),  # 5000 + VAT was due: a mismatch
                   credit("TX-3", 2500, None, debtor="Unknown Payer"))
    r = await _import(world, body)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("duplicate", "credits", "matched", "unmatched")} == {
        "duplicate": False, "credits": 3, "matched": 1, "unmatched": 2}
    paid = await _invoice(world, owner, org, invoice.id)
    assert (paid["status"], paid["paid_means"]) == ("paid", "bank_transfer")
    assert (await _invoice(world, owner, org, other.id))["status"] == "open"
    unmatched = await recorded(world.app, "BankPaymentUnmatched")
    assert sorted((e.reason, e.amount_minor, e.organization_id) for e in unmatched) == [
        ("amount_mismatch", 5000, org), ("unknown_reference", 2500, None)]
    assert [e.invoice_id for e in await recorded(world.app, "InvoicePaid")] == [invoice.id]
    again = await _import(world, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["import_id"] == r.json()["import_id"]
    assert len(await recorded(world.app, "InvoicePaid")) == 1
    assert len(await recorded(world.app, "BankPaymentUnmatched")) == 2
    # another file repeating an entry already imported does not apply it twice
    overlap = await _import(world, camt054(credit("TX-1", 10810, invoice.payment_reference), msg_id="MSG-2"))
    assert {k: overlap.json()[k] for k in ("duplicate", "matched", "unmatched", "already_known")} == {
        "duplicate": False, "matched": 0, "unmatched": 0, "already_known": 1}


async def test_bil_03_malformed_import_is_422_and_applies_nothing(world):
    org, _ = await world.organization()
    invoice = await world.issue(org, line(10000))
    good = camt054(credit("TX-1", 10810, invoice.payment_reference))
    broken = good.replace(b"</BkToCstmrDbtCdtNtfctn>", b"")
    r = await _import(world, broken)
    assert (r.status_code, r.json()["code"]) == (422, "camt_malformed")
    r = await _import(world, b"")
    assert (r.status_code, r.json()["code"]) == (422, "camt_malformed")
    bad_amount = camt054(credit("TX-1", 10810, invoice.payment_reference), credit("TX-2", 1, None)).replace(
        b">0.01<", b">0.001<")
    r = await _import(world, bad_amount)
    assert (r.status_code, r.json()["code"]) == (422, "camt_malformed")
    async with world.app.state.runtime.db.transaction() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(BankPayment))).scalar_one() == 0
    assert await recorded(world.app, "InvoicePaid") == []
    assert (await _import(world, good)).json()["matched"] == 1  # the good file still imports afterwards


async def test_bil_03_import_and_queue_need_the_operator_scope(world):
    org, owner = await world.organization()
    r = await _import(world, camt054(credit("TX-1", 100, None)), headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (403, "operator_scope_required")
    r = await world.c.get("/v1/bank/unmatched", headers=world.h(owner))
    assert (r.status_code, r.json()["code"]) == (403, "operator_scope_required")


async def test_bil_03_operator_assigns_queued_credits(world):
    org, owner = await world.organization()
    invoice = await world.issue(org, line(10000))
    await _import(world, camt054(credit("TX-1", 10810, None), credit("TX-2", 777, "RF18539007547034"),
                                 credit("TX-3", 10000, invoice.payment_reference)))
    r = await world.c.get("/v1/bank/unmatched", headers=world.op)
    assert r.status_code == 200 and r.json()["total"] == 3
    queue = {p["entry_ref"]: p for p in r.json()["items"]}
    assert queue["TX-3"]["reason"] == "amount_mismatch" and queue["TX-2"]["reason"] == "unknown_reference"
    url = "/v1/bank/payments/{}/assign"
    r = await world.c.post(url.format(queue["TX-3"]["id"]), json={"invoice_id": str(invoice.id)}, headers=world.op)
    assert (r.status_code, r.json()["code"]) == (409, "bank_payment_mismatch")
    r = await world.c.post(url.format(queue["TX-1"]["id"]), json={"invoice_id": str(invoice.id)}, headers=world.op)
    assert r.status_code == 200 and r.json()["status"] == "assigned"
    assert (await _invoice(world, owner, org, invoice.id))["status"] == "paid"
    r = await world.c.post(url.format(queue["TX-1"]["id"]), json={"organization_id": str(org)}, headers=world.op)
    assert (r.status_code, r.json()["code"]) == (409, "bank_payment_already_assigned")
    r = await world.c.post(url.format(queue["TX-3"]["id"]), json={"organization_id": str(org)}, headers=world.op)
    assert r.status_code == 200
    r = await world.c.post(url.format(queue["TX-2"]["id"]), json={}, headers=world.op)
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    r = await world.c.post(url.format(uuid.uuid4()), json={"organization_id": str(org)}, headers=world.op)
    assert (r.status_code, r.json()["code"]) == (404, "bank_payment_not_found")
    balance = (await world.c.get(f"/v1/organizations/{org}/prepaid", headers=world.h(owner))).json()
    assert balance["balance_minor"] == 10000
    assert [p["entry_ref"] for p in (await world.c.get("/v1/bank/unmatched", headers=world.op)).json()["items"]] \
        == ["TX-2"]
    assigned = await recorded(world.app, "BankPaymentAssigned")
    assert [(e.target, e.amount_minor) for e in assigned] == [("invoice", 10810), ("prepaid", 10000)]


async def test_bil_03_top_up_by_transfer_credits_the_prepaid_balance(world):
    org, owner = await world.organization()
    r = await world.c.post(f"/v1/organizations/{org}/prepaid/transfer-slip", headers=world.h(owner))
    assert r.status_code == 200
    slip = r.json()
    assert slip["currency"] == "CHF" and len(slip["reference"]) == 27 and slip["reference"].startswith("2")
    assert "<svg" in slip["qr_bill_svg"] and slip["iban"] == "CH4431999123000889012"
    again = await world.c.post(f"/v1/organizations/{org}/prepaid/transfer-slip", headers=world.h(owner))
    assert again.json()["reference"] == slip["reference"]  # the organization's one reference
    r = await _import(world, camt054(credit("TX-9", 25000, slip["reference"])))
    assert r.json()["matched"] == 1
    balance = (await world.c.get(f"/v1/organizations/{org}/prepaid", headers=world.h(owner))).json()
    assert balance["balance_minor"] == 25000
    stranger = uuid.uuid4()
    r = await world.c.post(f"/v1/organizations/{org}/prepaid/transfer-slip", headers=world.h(stranger))
    assert (r.status_code, r.json()["code"]) == (404, "billing_account_not_found")


async def test_bil_03_eur_top_up_reference_is_a_creditor_reference(world):
    org, owner = await world.organization("DE")
    slip = (await world.c.post(f"/v1/organizations/{org}/prepaid/transfer-slip", headers=world.h(owner))).json()
    assert slip["reference"].startswith("RF") and slip["qr_bill_svg"] is None and slip["currency"] == "EUR"
    r = await _import(world, camt054(credit("TX-E", 5000, slip["reference"], currency="CHF")))
    assert r.json()["unmatched"] == 1  # a CHF credit for a EUR account waits for a person
    [event] = await recorded(world.app, "BankPaymentUnmatched")
    assert (event.reason, event.organization_id) == ("currency_mismatch", org)


async def test_bil_03_a_second_payment_of_a_paid_invoice_waits_in_the_queue(world):
    org, _ = await world.organization()
    invoice = await world.issue(org, line(10000))
    await world.pay(org, invoice.id)
    r = await _import(world, camt054(credit("TX-1", 10810, invoice.payment_reference)))
    assert (r.json()["matched"], r.json()["unmatched"]) == (0, 1)
    [event] = await recorded(world.app, "BankPaymentUnmatched")
    assert event.reason == "not_open"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_bil_03_parallel_imports_of_one_file_apply_it_once(world):
    """Four operators upload the same file at the same moment: one import
    applies it, the others see a duplicate; the invoice is paid once."""
    import asyncio

    org, owner = await world.organization()
    invoice = await world.issue(org, line(10000))
    body = camt054(credit("TX-1", 10810, invoice.payment_reference), credit("TX-2", 100, None))
    responses = await asyncio.gather(*(_import(world, body) for _ in range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True, True]
    assert len({r.json()["import_id"] for r in responses}) == 1
    assert len(await recorded(world.app, "InvoicePaid")) == 1
    assert len(await recorded(world.app, "BankPaymentUnmatched")) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_bil_03_parallel_transfer_slips_make_one_reference(world):
    import asyncio

    org, owner = await world.organization()
    url = f"/v1/organizations/{org}/prepaid/transfer-slip"
    responses = await asyncio.gather(*(world.c.post(url, headers=world.h(owner)) for _ in range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    assert len({r.json()["reference"] for r in responses}) == 1
