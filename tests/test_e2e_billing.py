"""billing end to end across processes (BIL-02/03/04/05/06/10, ORG-14,
NTF-01): the five services as processes on their own broker, PostgreSQL
databases and SMTP server, driven over HTTP like the Manager would; products
arrive as a provisioning service announces them (ProductProvisioned on the
product registry's topic); the renewal scheduler runs every second and issues
renewal invoices up to 800 days ahead, so a product provisioned now (one-year
term) is invoiced at once and, once that term is paid, its next one too; an
operator is a login listed in identity's IDENTITY_BILLING_OPERATOR_EMAILS
(tokens with the `billing` scope).

What a user sees is asserted: HTTP answers, and the mails at the SMTP server.
The BIL-05 seed case (yearly paid on 1 January 2023, monthly asked for before
1 December 2023) needs a controlled clock: it is proved in-process by
services/billing/tests/catalogue/test_bil_05_period_rules.py; here, a shorter
period asked for mid-term waits for the end of the paid term."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from manager_shared.events import Event, ProductDeprovisioned, ProductProvisioned
from manager_shared.testing.kafka import TansuBroker
from manager_shared.testing.platform import SERVICES, Platform
from manager_shared.testing.polling import eventually
from manager_shared.testing.smtp import MailCatcher

pytestmark = pytest.mark.e2e

PASSWORD = "Zahltag-Bellinzona-77"
OPERATOR = "treasurer@manager.example"
IBAN = "CH9300762011623852957"


@pytest.fixture(scope="module")
def mails():
    catcher = MailCatcher().start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="module")
def billing_platform(postgres, mails, tmp_path_factory):
    """One platform for this module: a scheduler that runs every second is
    not what the other end-to-end tests want."""
    broker = TansuBroker(log_path=Path(tmp_path_factory.mktemp("tansu-billing")) / "tansu.log").start()
    p = Platform(bootstrap=broker.bootstrap, smtp_port=mails.smtp_port,
                 database_urls={n: postgres.create_database(f"bil_{n}") for n in SERVICES},
                 log_dir=tmp_path_factory.mktemp("billing-platform-logs"),
                 extra={"identity": {"billing_operator_emails": OPERATOR},
                        "billing": {"renewal_scan_interval_seconds": 1, "renewal_invoice_days_before": 800},
                        "notifications": {"billing_operator_email": "payments@manager.example"}})
    try:
        p.start()
        yield p
    finally:
        p.stop()
        broker.stop()


class Customer:
    """A person who signed up: their organization, and clients for each service."""

    def __init__(self, platform: Platform, first_name: str, language: str = "en") -> None:
        self.platform = platform
        self.email = f"{first_name.lower()}.{uuid.uuid4().hex[:6]}@example.ch"
        identity = httpx.Client(base_url=platform.url("identity"), timeout=15)
        r = identity.post("/v1/accounts", json={"email": self.email, "password": PASSWORD, "first_name": first_name,
                                                "last_name": "Muster", "language": language,
                                                "time_zone": "Europe/Zurich"})
        assert r.status_code == 202, r.text
        self.sign_in()
        self.org = eventually(lambda: self.orgs.get("/v1/organizations").json())[0]["id"]
        assert eventually(lambda: (r := self.billing.get(f"/v1/organizations/{self.org}/billing-account"))
                          .status_code == 200 and r.json())["currency"] == "CHF"

    def sign_in(self) -> None:
        tokens = httpx.post(f"{self.platform.url('identity')}/v1/sessions",
                            json={"email": self.email, "password": PASSWORD}, timeout=15).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        self.orgs = httpx.Client(base_url=self.platform.url("organizations"), timeout=15, headers=auth)
        self.billing = httpx.Client(base_url=self.platform.url("billing"), timeout=30, headers=auth)

    @property
    def base(self) -> str:
        return f"/v1/organizations/{self.org}"

    def post(self, path: str, body: dict) -> httpx.Response:
        """A request that moves money: always with a fresh Idempotency-Key."""
        return self.billing.post(f"{self.base}{path}", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    def balance(self) -> int:
        return self.billing.get(f"{self.base}/prepaid").json()["balance_minor"]

    def invoices(self, **params) -> list[dict]:
        return self.billing.get(f"{self.base}/invoices", params={"page_size": 100, **params}).json()["items"]

    def invoice(self, invoice_id: str) -> dict:
        return self.billing.get(f"{self.base}/invoices/{invoice_id}").json()

    def renewal_invoice(self, product_id: str, status: str, term: int = 1) -> dict:
        """The invoice of the product's `term`-th renewal (1: the term after the first)."""
        found = [i for i in self.invoices() if i["lines"][0]["product_id"] == product_id]
        found.sort(key=lambda i: i["lines"][0]["period_start"])
        return found[term - 1] if len(found) >= term and found[term - 1]["status"] == status else None

    def mails(self, catcher: MailCatcher, subject: str, count: int = 1) -> list[dict]:
        found = catcher.wait_for(lambda m: m["to"] == [self.email] and subject in m["subject"], count=count,
                                 timeout=45)
        assert len(found) >= count, (subject, [m["subject"] for m in catcher.messages if m["to"] == [self.email]])
        return found


def operator_client(platform: Platform) -> httpx.Client:
    identity = f"{platform.url('identity')}/v1"
    httpx.post(f"{identity}/accounts", json={"email": OPERATOR, "password": PASSWORD, "first_name": "Tina",
                                            "last_name": "Kasse", "language": "en"}, timeout=15)
    tokens = httpx.post(f"{identity}/sessions", json={"email": OPERATOR, "password": PASSWORD}, timeout=15).json()
    return httpx.Client(base_url=platform.url("billing"), timeout=30,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})


async def _publish(bootstrap: str, *events: Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(event.topic, event.to_bytes(), key=event.key.encode(),
                                         headers=[("event_type", event.type.encode()),
                                                  ("event_id", str(event.event_id).encode())])
    finally:
        await producer.stop()


def provision(platform: Platform, org: str, kind: str, name: str) -> str:
    """A provisioning service announces a product of the organization."""
    product_id = uuid.uuid4()
    asyncio.run(_publish(platform.bootstrap, ProductProvisioned(
        product_id=product_id, organization_id=uuid.UUID(org), kind=kind, name=name, producer=f"{kind}s")))
    return str(product_id)


def camt054(*credits: tuple[str, int, str]) -> bytes:
    """The bank's ISO 20022 camt.054 credit notification: (entry ref, amount in minor units, reference)."""
    def amount(minor: int) -> str:
        return f"{minor // 100}.{minor % 100:02d}"

    transactions = "".join(f"""
          <TxDtls>
            <Refs><AcctSvcrRef>{ref}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <Amt Ccy="CHF">{amount(minor)}</Amt>
            <CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties><Dbtr><Pty><Nm>Anna Muster</Nm></Pty></Dbtr></RltdPties>
            <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Prtry>QRR</Prtry></CdOrPrtry></Tp>
              <Ref>{reference}</Ref></CdtrRefInf></Strd></RmtInf>
          </TxDtls>""" for ref, minor, reference in credits)
    message_id = f"MSG-{uuid.uuid4().hex[:12]}"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>2026-03-03T06:15:42+01:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>{message_id}-N1</Id><CreDtTm>2026-03-03T06:15:42+01:00</CreDtTm>
      <Acct><Id><IBAN>CH4431999123000889012</IBAN></Id><Ccy>CHF</Ccy></Acct>
      <Ntry>
        <NtryRef>{message_id}-E1</NtryRef>
        <Amt Ccy="CHF">{amount(sum(c[1] for c in credits))}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>{dt.date.today().isoformat()}</Dt></BookgDt>
        <AcctSvcrRef>{message_id}-SVC</AcctSvcrRef>
        <NtryDtls>{transactions}
        </NtryDtls>
      </Ntry>
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>""".encode()


def test_bil_02_03_06_10_org_14_top_up_pay_with_3ds_bank_transfer_withdraw_and_delete(billing_platform, mails):
    anna = Customer(billing_platform, "Anna")
    operator = operator_client(billing_platform)
    domain = provision(billing_platform, anna.org, "domain", f"anna-{uuid.uuid4().hex[:6]}.ch")
    hosting = provision(billing_platform, anna.org, "hosting", "www.anna-muster.ch")

    # BIL-04: the scheduler issues each product's renewal invoice (the next term's), open until paid
    first = {p: eventually(lambda p=p: anna.renewal_invoice(p, "open"), timeout=45) for p in (domain, hosting)}
    assert (first[domain]["total_minor"], first[hosting]["total_minor"]) == (1189, 8108)  # 11.00 / 75.00 + 8.1 %
    total = first[domain]["total_minor"] + first[hosting]["total_minor"]
    anna.mails(mails, "Renewal of", count=2)  # RenewalDue: auto-renew is off

    # BIL-02: top up by card; a declined card credits nothing
    r = anna.post("/prepaid/top-ups", {"amount_minor": 2000, "currency": "CHF", "card_token": "tok_declined"})
    assert (r.status_code, r.json()["status"], r.json()["failure_reason"]) == (402, "failed", "declined")
    assert anna.balance() == 0
    r = anna.post("/prepaid/top-ups", {"amount_minor": 2000, "currency": "CHF", "card_token": "tok_visa"})
    assert (r.status_code, r.json()["status"]) == (201, "succeeded")
    assert anna.balance() == 2000
    [receipt] = anna.mails(mails, "CHF 20.00 credited to your prepaid balance")
    assert "card" in receipt["text"].lower()

    # BIL-06: the final PDF only once paid
    r = anna.billing.get(f"{anna.base}/invoices/{first[domain]['id']}/pdf")
    assert (r.status_code, r.json()["code"]) == (409, "invoice_not_paid")

    # BIL-03: both invoices together, the balance for a part and a card for the rest; the card
    # declines first: all or nothing, the balance is untouched and the invoices stay open
    selection = {"invoice_ids": [first[domain]["id"], first[hosting]["id"]], "use_prepaid": True}
    r = anna.post("/payments", {**selection, "card_token": "tok_insufficient_funds"})
    assert (r.status_code, r.json()["status"]) == (402, "failed")
    assert anna.balance() == 2000 and anna.invoice(first[domain]["id"])["status"] == "open"
    anna.mails(mails, "Payment failed", count=2)  # the declined top-up, the refused selection
    # 3-D Secure: nothing is paid until the cardholder completes the challenge
    r = anna.post("/payments", {**selection, "card_token": "tok_3ds"})
    assert r.status_code == 202, r.text
    payment = r.json()
    assert (payment["status"], payment["prepaid_minor"], payment["card_minor"]) == ("pending", 2000, total - 2000)
    assert [anna.invoice(i)["status"] for i in selection["invoice_ids"]] == ["open", "open"]
    assert anna.billing.get(f"{anna.base}/invoices/{first[hosting]['id']}/pdf").status_code == 409
    # the local PSP's challenge page; the PSP then calls billing's signed webhook
    r = anna.billing.post(payment["action_url"], json={"outcome": "succeeded"})
    assert (r.status_code, r.json()["status"]) == (200, "applied"), r.text
    assert anna.billing.get(f"{anna.base}/payments/{payment['id']}").json()["status"] == "succeeded"
    for invoice_id in selection["invoice_ids"]:
        paid = anna.invoice(invoice_id)
        assert paid["status"] == "paid", paid
        pdf = anna.billing.get(f"{anna.base}/invoices/{invoice_id}/pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        anna.mails(mails, f"Payment received for invoice {paid['number']}")
    assert anna.balance() == 0
    ledger = anna.billing.get(f"{anna.base}/prepaid/entries").json()["items"]
    assert [(e["kind"], e["amount_minor"], e["balance_after_minor"]) for e in ledger] == [
        ("payment", -2000, 0), ("top_up", 2000, 2000)]
    # a second payment of a paid invoice moves no money
    r = anna.post("/payments", {"invoice_ids": [first[domain]["id"]], "use_prepaid": False, "card_token": "tok_visa"})
    assert (r.status_code, r.json()["code"]) == (409, "invoice_already_paid"), r.text

    # paid: each term continues, and the next term's invoice follows (the scheduler again)
    second = {p: eventually(lambda p=p: anna.renewal_invoice(p, "open", term=2), timeout=45)
              for p in (domain, hosting)}
    assert second[domain]["lines"][0]["period_start"] == first[domain]["lines"][0]["period_end"]

    # BIL-03 by bank transfer: the domain's invoice with its QR reference, and a top-up with the
    # organization's own reference, paid by the bank's camt.054 imported by an operator
    slip = anna.billing.get(f"{anna.base}/invoices/{second[domain]['id']}/payment-slip")
    assert slip.status_code == 200 and slip.content.startswith(b"%PDF")
    top_up_ref = anna.billing.post(f"{anna.base}/prepaid/transfer-slip").json()["reference"]
    reference = second[domain]["payment_reference"]
    assert reference and len(reference) == 27
    camt = camt054((f"TX-{uuid.uuid4().hex[:8]}", second[domain]["total_minor"], reference),
                   (f"TX-{uuid.uuid4().hex[:8]}", 15000, top_up_ref))
    r = operator.post("/v1/bank/camt054", content=camt, headers={"Content-Type": "application/xml"})
    assert r.status_code == 200, r.text
    assert (r.json()["matched"], r.json()["unmatched"], r.json()["duplicate"]) == (2, 0, False)
    again = operator.post("/v1/bank/camt054", content=camt, headers={"Content-Type": "application/xml"})
    assert again.json()["duplicate"] is True  # the same file twice changes nothing
    paid = anna.invoice(second[domain]["id"])
    assert (paid["status"], paid["paid_means"]) == ("paid", "bank_transfer")
    anna.mails(mails, f"Payment received for invoice {paid['number']}")
    assert anna.balance() == 15000
    [by_bank] = anna.mails(mails, "CHF 150.00 credited to your prepaid balance")
    assert "bank transfer" in by_bank["text"]
    r = anna.billing.post(f"{anna.base}/prepaid/withdrawals", json={"amount_minor": 1, "currency": "CHF",
                                                                    "destination": "card"})
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_required")  # money moves only with a key

    # BIL-06: the CSV of the invoices, received by e-mail as an attachment
    r = anna.billing.post(f"{anna.base}/invoices/export-email", json={"status": "paid"})
    assert r.status_code == 202 and r.json()["invoice_count"] == 3
    [export] = anna.mails(mails, "Your invoice export (3)")
    [attachment] = export["attachments"]
    assert attachment["media_type"] == "text/csv" and attachment["filename"] == r.json()["filename"]
    csv = attachment["content"].decode("utf-8")
    assert all(anna.invoice(i)["number"] in csv for i in (*selection["invoice_ids"], second[domain]["id"]))
    assert second[hosting]["number"] not in csv  # still open: not in the "paid" selection

    # ORG-14: not while it has products, an unpaid invoice and a balance; the reasons are listed
    def refused() -> set[str]:
        r = anna.orgs.post(f"{anna.base}/deletion", json={"confirm": True, "send_paid_invoices": False})
        assert r.status_code == 409, r.text
        return set(r.json()["unmet"])
    assert eventually(lambda: refused() == {"products_remaining", "unpaid_invoices", "prepaid_balance_not_zero"},
                      timeout=30)

    # BIL-05: a shorter period mid-term waits for the end of the paid term; nothing is billed now
    r = anna.billing.patch(f"{anna.base}/subscriptions/{hosting}", json={"period": "monthly"})
    assert r.status_code == 200, r.text
    assert (r.json()["period"], r.json()["next_period"]) == ("yearly", "monthly")
    assert anna.invoice(second[hosting]["id"])["total_minor"] == 8108
    r = anna.billing.patch(f"{anna.base}/subscriptions/{domain}", json={"period": "monthly"})
    assert (r.status_code, r.json()["code"]) == (422, "period_not_available")  # domains are sold yearly

    # the hosting's open invoice from the balance alone, then BIL-10: the rest withdrawn to a bank account
    r = anna.post("/payments", {"invoice_ids": [second[hosting]["id"]], "use_prepaid": True})
    assert (r.status_code, r.json()["prepaid_minor"], r.json()["card_minor"]) == (201, 8108, 0), r.text
    rest = 15000 - 8108
    r = anna.post("/prepaid/withdrawals", {"amount_minor": rest + 1, "currency": "CHF", "destination": "iban",
                                           "iban": IBAN, "account_holder": "Anna Muster"})
    assert (r.status_code, r.json()["code"]) == (409, "insufficient_prepaid_balance")  # never more than the balance
    assert anna.balance() == rest
    r = anna.post("/prepaid/withdrawals", {"amount_minor": rest, "currency": "CHF", "destination": "iban",
                                           "iban": IBAN, "account_holder": "Anna Muster"})
    assert r.status_code == 202, r.text
    withdrawal = r.json()
    assert (withdrawal["status"], withdrawal["iban_last4"]) == ("pending", IBAN[-4:])
    assert anna.balance() == 0  # debited at once, paid out when the bank confirms
    [part] = withdrawal["parts"]
    r = operator.post(f"/v1/payments/local/settlements/{part['provider_ref']}", json={"outcome": "succeeded"})
    assert (r.status_code, r.json()["status"]) == (200, "applied"), r.text
    assert anna.billing.get(f"{anna.base}/prepaid/withdrawals/{withdrawal['id']}").json()["status"] == "completed"
    anna.mails(mails, f"Withdrawal of CHF {rest // 100}.{rest % 100:02d} paid out")

    # the products end; then the organization can be deleted (a fresh sign-in: IDN-19)
    asyncio.run(_publish(billing_platform.bootstrap, *(
        ProductDeprovisioned(product_id=uuid.UUID(p), organization_id=uuid.UUID(anna.org)) for p in (domain, hosting))))
    anna.sign_in()
    numbers = {anna.invoice(i["id"])["number"] for i in (*first.values(), *second.values())}
    assert eventually(lambda: anna.orgs.post(f"{anna.base}/deletion", json={"confirm": True,
                                                                            "send_paid_invoices": True})
                      .status_code == 204, timeout=30)
    assert anna.org not in [o["id"] for o in anna.orgs.get("/v1/organizations").json()]
    # her account stays, and the paid invoices reach her by e-mail
    [paid_invoices] = anna.mails(mails, "Your invoice export (4)")
    [attachment] = paid_invoices["attachments"]
    assert attachment["filename"] == "paid-invoices.csv"
    assert all(number in attachment["content"].decode("utf-8") for number in numbers)


def test_bil_04_renewal_paid_automatically_from_the_prepaid_balance(billing_platform, mails):
    bea = Customer(billing_platform, "Bea")
    name = f"bea-{uuid.uuid4().hex[:6]}.ch"
    domain = provision(billing_platform, bea.org, "domain", name)
    first = eventually(lambda: bea.renewal_invoice(domain, "open"), timeout=45)
    # BIL-04: the list shows two months ahead by default (this term ends in a year); "show all" has it
    assert bea.billing.get(f"{bea.base}/renewals").json()["items"] == []
    listed = bea.billing.get(f"{bea.base}/renewals", params={"show_all": True}).json()["items"]
    [item] = [i for i in listed if i["subscription"]["product_id"] == domain]
    assert (item["amount_minor"], item["invoice_id"]) == (1100, first["id"])

    # BIL-04: auto-renew in one switch, and a balance that covers the next terms
    r = bea.billing.patch(f"{bea.base}/subscriptions/{domain}", json={"auto_renew": True})
    assert (r.status_code, r.json()["auto_renew"]) == (200, True)
    r = bea.post("/prepaid/top-ups", {"amount_minor": 5000, "currency": "CHF", "card_token": "tok_mastercard"})
    assert r.status_code == 201, r.text
    # this term paid by the customer from the balance; the next one is then issued and paid by itself
    r = bea.post("/payments", {"invoice_ids": [first["id"]], "use_prepaid": True})
    assert (r.status_code, r.json()["status"]) == (201, "succeeded"), r.text
    second = eventually(lambda: bea.renewal_invoice(domain, "paid", term=2), timeout=45)
    assert second["paid_means"] == "prepaid" and second["total_minor"] == 1189
    assert bea.balance() == 5000 - 2 * 1189
    ledger = bea.billing.get(f"{bea.base}/prepaid/entries").json()["items"]
    assert [(e["kind"], e["amount_minor"], e["cause"]) for e in ledger][0] == ("payment", -1189, "renewal")
    sub = bea.billing.get(f"{bea.base}/subscriptions/{domain}").json()
    assert sub["term_end"] == second["lines"][0]["period_end"]
    # the customer is told each term is renewed, and sees the paid invoice
    shown = name.replace(".", "[.]")  # a domain name in a mail is never a link
    renewed = bea.mails(mails, f"“{shown}” is renewed until", count=2)
    assert {m["subject"].rpartition("until ")[2] for m in renewed} == {
        f"{d:%B} {d.day}, {d.year}" for d in (dt.date.fromisoformat(first["lines"][0]["period_end"]),
                                               dt.date.fromisoformat(second["lines"][0]["period_end"]))}
    bea.mails(mails, f"Payment received for invoice {second['number']}")
    pdf = bea.billing.get(f"{bea.base}/invoices/{second['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
