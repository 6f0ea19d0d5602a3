"""Billing's messages (NTF-01 for BIL-02..10): in the five languages with
amounts as written where the recipient lives, to those who handle the
organization's money (legal representatives, administrators, members with
the accounting right, ORG-08), operators for what only a person can sort
out; through the real SMTP server, on SQLite and PostgreSQL."""
from __future__ import annotations

import uuid

import pytest

from manager_shared import events as ev
from manager_shared.events import billing, invoices, subscriptions
from notifications.catalog import CATALOG, Addressee
from notifications.models import LANGUAGES, SENT
from notifications.rendering import Renderer

ORG = uuid.UUID("0e7a0000-0000-4000-8000-000000000001")
OPS = "billing-ops@example.ch"

# The field of each billing message that holds its main amount.
AMOUNT_FIELD = {
    ev.InvoiceIssued: "total_minor", ev.InvoicePaid: "total_minor", ev.InvoiceCancelled: "total_minor",
    ev.CreditNoteIssued: "amount_minor", ev.BankPaymentAssigned: "amount_minor",
    ev.PaymentFailed: "amount_minor", ev.PaymentActionRequired: "amount_minor", ev.RenewalDue: "amount_minor",
    ev.PrepaidTopUpCredited: "amount_minor", ev.PrepaidWithdrawalCompleted: "amount_minor",
    ev.PrepaidWithdrawalFailed: "credited_back_minor", ev.BankPaymentUnmatched: "amount_minor",
}
WITHOUT_AMOUNT = {ev.SubscriptionRenewed, ev.InvoicesExported}
# 1234.50 in each language, as written in the country of the recipient's time zone (CLDR via Babel).
LOCAL_AMOUNT = {
    ("de", "Europe/Zurich", "CHF"): "CHF\xa01’234.50",
    ("fr", "Europe/Paris", "EUR"): "1\u202f234,50\xa0€",
    ("fr", "Europe/Zurich", "CHF"): "1\u202f234,50\xa0CHF",
    ("it", "Europe/Zurich", "CHF"): "CHF\xa01’234.50",
    ("it", "Europe/Rome", "EUR"): "1.234,50\xa0€",
    ("en", "Europe/London", "EUR"): "€1,234.50",
    ("es", "Europe/Madrid", "EUR"): "1.234,50\xa0€",
}
# Billing's events that make no message, and why (a new event forces a decision).
DOES_NOT_NOTIFY = {
    "BillingAccountOpened": "nothing to tell: the organization was just created",
    "BillingStandingChanged": "organizations' projection (ORG-14); each change has its own message",
    "PaymentCompleted": "each invoice it paid has its own InvoicePaid message",
    "SubscriptionOpened": "the order or the provisioning service confirms a new product",
    "SubscriptionClosed": "the product's deprovisioning is told by its service",
    "SubscriptionPeriodChanged": "the member made the change in the Manager and saw it",
    "SubscriptionSettingsChanged": "the member switched it in the Manager and saw it",
}


def test_ntf_01_every_billing_event_is_classified():
    names = {e.__name__ for e in billing.EVENTS + invoices.EVENTS + subscriptions.EVENTS}
    notifying = {e.__name__ for e in CATALOG} & names
    unclassified = names - notifying - set(DOES_NOT_NOTIFY)
    assert not unclassified, f"decide whether these notify (catalog.py) or not (DOES_NOT_NOTIFY): {unclassified}"
    assert not notifying & set(DOES_NOT_NOTIFY) and set(DOES_NOT_NOTIFY) <= names
    assert set(AMOUNT_FIELD) | WITHOUT_AMOUNT == {e for e in CATALOG if e.producer_name == "billing"}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def _render(renderer, event, lang: str, time_zone: str):
    to = Addressee(key="k", address="anna@example.com", first_name="Anna", language=lang, time_zone=time_zone)
    [kind] = CATALOG[type(event)]
    return renderer.render(kind.template, lang, time_zone, event=event, to=to, organization_name="Muster AG",
                           product_name="muster-soehne.ch")


@pytest.mark.parametrize("event_type", list(AMOUNT_FIELD), ids=lambda e: e.__name__)
@pytest.mark.parametrize(("lang", "time_zone", "currency"), list(LOCAL_AMOUNT))
def test_ntf_01_ntf_02_billing_amounts_in_the_recipients_locale(renderer, events, event_type, lang, time_zone,
                                                                currency):
    event = events.sample(event_type, uuid.uuid4(), **{AMOUNT_FIELD[event_type]: 123450, "currency": currency})
    out = _render(renderer, event, lang, time_zone)
    assert out.language == lang and out.subject.strip()
    for body in (out.text, out.html):
        assert LOCAL_AMOUNT[(lang, time_zone, currency)] in body, (event_type.__name__, body)
        assert "123450" not in body and "1234.5 " not in body  # never the raw minor units or a float


@pytest.mark.parametrize("lang", LANGUAGES)
def test_ntf_01_billing_messages_render_in_every_language_with_their_facts(renderer, events, lang):
    """Each message says what it is about, in the language (different subjects per language)."""
    subjects: dict[str, set[str]] = {}
    for event_type in sorted(AMOUNT_FIELD.keys() | WITHOUT_AMOUNT, key=lambda e: e.__name__):
        event = events.sample(event_type, uuid.uuid4())
        out = _render(renderer, event, lang, "Europe/Zurich")
        subjects.setdefault(out.subject, set()).add(event_type.__name__)
        facts = [getattr(event, f) for f in ("number", "invoice_number") if getattr(event, f, None)]
        for body in (out.text, out.html):
            assert "Anna" in body and "{{" not in body and "None" not in body
            assert all(str(fact) in body for fact in facts), (event_type.__name__, facts)
    assert all(len(types) == 1 for types in subjects.values()), subjects  # no two messages look alike


def test_ntf_02_dates_in_the_recipients_zone_and_calendar_days_as_they_are(renderer, events):
    # 23:30 UTC on 31 March is already 1 April in Zurich; a due date is a day, not a moment.
    from datetime import date, datetime, timezone

    late = datetime(2026, 3, 31, 23, 30, tzinfo=timezone.utc)
    paid = events.sample(ev.InvoicePaid, uuid.uuid4(), paid_at=late)
    assert "1. April 2026" in _render(renderer, paid, "de", "Europe/Zurich").text
    assert "March 31, 2026" in _render(renderer, paid, "en", "America/New_York").text
    issued = events.sample(ev.InvoiceIssued, uuid.uuid4(), due_on=date(2026, 4, 4))
    assert "4 avril 2026" in _render(renderer, issued, "fr", "Pacific/Honolulu").text


def test_ntf_02_money_refuses_a_float(renderer):
    template = renderer.env.from_string("{{ amount|money('CHF') }}")
    with pytest.raises(TypeError):
        template.render(amount=1234.5, lang="de", time_zone="Europe/Zurich")


# --- through the service, the projections and the real SMTP server ---------------------------

def _member(account, role: str, org_version: int, accounting: bool = False) -> ev.MemberAdded:
    return ev.MemberAdded(organization_id=ORG, account_id=account.account_id, role=role, accounting=accounting,
                          org_version=org_version)


def _rights(account, accounting: bool, org_version: int) -> ev.MemberRightsChanged:
    return ev.MemberRightsChanged(organization_id=ORG, account_id=account.account_id, grants=[],
                                  category_grants=[], full_access=False, accounting=accounting,
                                  changed_by=uuid.uuid4(), org_version=org_version)


async def _delivered(harness, eventually, event) -> list:
    async def sent():
        await harness.worker.deliver_due()
        rows = [m for m in await harness.messages() if m.event_id == event.event_id]
        return rows if rows and all(m.status == SENT for m in rows) else None
    return await eventually(sent, timeout=10)


async def test_ntf_01_org_08_money_messages_reach_managers_and_accounting_holders(
        harness_for, database_url, events, mail_catcher, mails, eventually):
    harness = await harness_for(database_url, invoice_mail_delay_minutes=0)
    rep = events.registered("de", time_zone="Europe/Zurich", first_name="Jürg")
    admin = events.registered("fr", time_zone="Europe/Paris", first_name="Claire")
    bookkeeper = events.registered("it", time_zone="Europe/Zurich", first_name="Chiara")
    collaborator = events.registered("es", time_zone="Europe/Madrid", first_name="Lucía")
    external = events.registered("en", time_zone="Europe/London")
    await harness.feed(rep, admin, bookkeeper, collaborator, external,
                       ev.OrganizationCreated(organization_id=ORG, name="Muster AG", kind="company",
                                              created_by=rep.account_id, currency="CHF"),
                       _member(rep, "legal_representative", 1), _member(admin, "administrator", 2),
                       _member(bookkeeper, "collaborator", 3, accounting=True),
                       _member(collaborator, "collaborator", 4), _member(external, "external", 5))

    issued = events.sample(ev.InvoiceIssued, rep.account_id, total_minor=123450, currency="CHF")
    await harness.feed(issued)
    rows = await _delivered(harness, eventually, issued)
    assert sorted((m.address, m.language) for m in rows) == sorted(
        [(rep.email, "de"), (admin.email, "fr"), (bookkeeper.email, "it")])
    assert {m.organization_id for m in rows} == {ORG}  # in the organization's delivery log
    received = {m["to"][0]: m for m in await mails(lambda m: m["subject"] and "2026-000042" in m["subject"],
                                                   count=3)}
    assert set(received) == {rep.email, admin.email, bookkeeper.email}
    assert "CHF\xa01’234.50" in received[rep.email]["text"]  # de_CH
    assert "1\u202f234,50\xa0CHF" in received[admin.email]["text"]  # fr_FR
    assert "Chiara" in received[bookkeeper.email]["html"]

    # The right moves (ORG-08); a stale copy of the older change moves nothing back.
    await harness.feed(_rights(bookkeeper, False, 6), _rights(collaborator, True, 7),
                       _rights(collaborator, False, 4))
    paid = events.sample(ev.InvoicePaid, rep.account_id)
    await harness.feed(paid)
    rows = await _delivered(harness, eventually, paid)
    assert sorted(m.address for m in rows) == sorted([rep.email, admin.email, collaborator.email])
    [lucia] = [m for m in rows if m.address == collaborator.email]
    assert lucia.subject == "Pago recibido de la factura 2026-000042"

    # Redelivered: nothing more (NTF-04).
    assert await harness.feed(paid) == ["duplicate"]
    assert len([m for m in await harness.messages() if m.event_id == paid.event_id]) == 3


async def test_ntf_01_a_member_who_left_hears_no_more_about_money(harness_for, database_url, events):
    harness = await harness_for(database_url)
    rep, bookkeeper = events.registered("de"), events.registered("it")
    await harness.feed(rep, bookkeeper, _member(rep, "legal_representative", 1),
                       _member(bookkeeper, "collaborator", 2, accounting=True),
                       events.sample(ev.MemberRemoved, bookkeeper.account_id, org_version=3))
    top_up = events.sample(ev.PrepaidTopUpCredited, rep.account_id)
    await harness.feed(top_up)
    assert [m.address for m in await harness.messages() if m.event_id == top_up.event_id] == [rep.email]


async def test_ntf_01_unmatched_bank_payment_goes_to_the_operators_only(harness_for, database_url, events,
                                                                       mail_catcher, mails):
    harness = await harness_for(database_url, billing_operator_email=OPS, billing_operator_language="fr")
    rep = events.registered("de")
    await harness.feed(rep, _member(rep, "legal_representative", 1))
    unmatched = events.sample(ev.BankPaymentUnmatched, rep.account_id, amount_minor=123450)
    await harness.feed(unmatched)
    [row] = [m for m in await harness.messages() if m.event_id == unmatched.event_id]
    assert (row.address, row.language, row.account_id, row.organization_id) == (OPS, "fr", None, None)
    await harness.deliver_until(lambda: _all_sent(harness))
    [mail] = await mails(lambda m: m["to"] == [OPS])
    assert mail["subject"] == "Paiement bancaire à attribuer : 1 234,50 CHF"  # a subject is one plain line
    assert "le montant ne correspond pas" in mail["text"] and "21 00000 00003 13947 14300 09017" in mail["text"]


async def test_ntf_01_unmatched_bank_payment_without_operator_address_is_not_sent(harness_for, sqlite_url,
                                                                                 events):
    harness = await harness_for(sqlite_url)  # NOTIFICATIONS_BILLING_OPERATOR_EMAIL empty: the default
    unmatched = events.sample(ev.BankPaymentUnmatched, uuid.uuid4(), organization_id=None)
    assert await harness.feed(unmatched) == ["processed"]
    assert await harness.messages() == []


async def test_ntf_01_renewal_paid_automatically_names_the_product(harness_for, database_url, events, mails,
                                                                  mail_catcher):
    harness = await harness_for(database_url)
    rep = events.registered("en", time_zone="Europe/London")
    product = ev.ProductAdded(organization_id=ORG, product_id=uuid.UUID(int=42), kind="domain", category="domain",
                              name="muster-soehne.ch", org_version=2)
    unknown = events.sample(ev.SubscriptionRenewed, rep.account_id, product_id=uuid.UUID(int=43))
    renewed = events.sample(ev.SubscriptionRenewed, rep.account_id)
    await harness.feed(rep, _member(rep, "legal_representative", 1), product, renewed, unknown)
    subjects = {m.event_id: m.subject for m in await harness.messages()}
    assert subjects[renewed.event_id] == "“muster-soehne[.]ch” is renewed until March 31, 2027"
    assert subjects[unknown.event_id] == "“domain[.]ch” is renewed until March 31, 2027"  # the offer names it


async def _all_sent(harness) -> bool:
    rows = await harness.messages()
    return bool(rows) and all(m.status == SENT for m in rows)


async def test_ntf_01_bank_payment_assigned_tells_the_customer_only_for_the_prepaid_balance(harness_for, sqlite_url,
                                                                                           events):
    harness = await harness_for(sqlite_url)
    rep = events.registered("it", time_zone="Europe/Zurich")
    await harness.feed(rep, _member(rep, "legal_representative", 1))
    to_invoice = events.sample(ev.BankPaymentAssigned, rep.account_id, target="invoice", invoice_id=uuid.uuid4())
    to_prepaid = events.sample(ev.BankPaymentAssigned, rep.account_id, amount_minor=123450)
    await harness.feed(to_invoice, to_prepaid)  # the invoice's own InvoicePaid tells the first
    [message] = await harness.messages()
    assert (message.event_id, message.address) == (to_prepaid.event_id, rep.email)
    assert message.subject == "Bonifico di CHF 1’234.50 accreditato sul tuo saldo prepagato"


def test_ntf_02_money_locale_falls_back_to_the_language():
    from notifications.rendering import money_locale

    assert money_locale("de", "Europe/Zurich") == "de_CH" and money_locale("fr", "Europe/Paris") == "fr_FR"
    assert money_locale("es", "Europe/Zurich") == "es"  # CLDR has no es_CH
    assert money_locale("de", "UTC") == money_locale("de", None) == money_locale("de", "Mars/Olympus") == "de"


def test_ntf_01_payment_references_are_grouped_as_e_banking_shows_them(renderer, events):
    template = renderer.env.from_string("{{ r|reference }}")
    cases = {"210000000003139471430009017": "21 00000 00003 13947 14300 09017",
             "RF18539007547034": "RF18 5390 0754 7034", "": "", None: "", "ABC-12": "ABC-12"}
    for given, shown in cases.items():
        assert template.render(r=given, lang="en", time_zone="UTC") == shown
    issued = events.sample(ev.InvoiceIssued, uuid.uuid4(), currency="EUR", payment_reference="RF18539007547034")
    assert "RF18 5390 0754 7034" in _render(renderer, issued, "it", "Europe/Rome").html
