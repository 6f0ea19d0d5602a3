"""BIL-06: gap-free invoice numbers per yearly series, taken at finalisation
from a locked counter row, never reused; pro forma and credit notes in their
own series; references for bank transfers."""
from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given, strategies as st

from billing.invoices import numbering, references
from billing.invoices.models import Invoice, NumberCounter

from .conftest import line


def test_bil_06_number_format():
    assert numbering.format_number("2026", 1) == "2026-000001"
    assert numbering.format_number("PF-2026", 42) == "PF-2026-000042"
    assert numbering.format_number("2026", 999999) == "2026-999999"
    assert numbering.format_number("2026", 1000000) == "2026-1000000"
    with pytest.raises(ValueError):
        numbering.format_number("2026", 0)
    assert numbering.sequence_of("PF-2026-000042") == 42
    assert numbering.series_for("invoice", 2026) == "2026"
    assert numbering.series_for("credit_note", 2026) == "CN-2026"
    assert numbering.series_for("proforma", 2027) == "PF-2027"


@given(st.integers(1, 10**9))
def test_bil_06_number_round_trips(value):
    assert numbering.sequence_of(numbering.format_number("2026", value)) == value


@given(st.integers(1, 10**12))
def test_bil_03_references_are_valid_and_distinct_per_purpose(value):
    qr_invoice, qr_top_up = references.qr_reference("1", value), references.qr_reference("2", value)
    assert len(qr_invoice) == 27 and qr_invoice.isdigit() and qr_invoice != qr_top_up
    assert references.is_valid(qr_invoice) and references.is_valid(qr_top_up)
    rf = references.creditor_reference("1", value)
    assert rf.startswith("RF") and references.is_valid(rf) and len(rf) <= 25
    assert rf != references.creditor_reference("2", value)


def test_bil_03_references_refuse_values_that_do_not_fit():
    assert len(references.qr_reference("1", 10**25 - 1)) == 27
    with pytest.raises(ValueError):
        references.qr_reference("1", 10**25)
    assert len(references.creditor_reference("1", 10**18 - 1)) == 25
    with pytest.raises(ValueError):
        references.creditor_reference("1", 10**18)
    assert references.reference_for("CHF", "2", 7).isdigit()
    assert references.reference_for("EUR", "2", 7).startswith("RF") and "TOP7" in references.reference_for("EUR", "2", 7)


def test_bil_03_known_references():
    # check digits computed independently (stdnum.ch.esr, ISO 11649 examples)
    assert references.qr_reference("1", 2026000001) == "100000000000000020260000019"
    assert references.creditor_reference("1", 2026000001) == "RF94INV2026000001"
    assert references.is_valid("RF18 5390 0754 7034")
    assert not references.is_valid("RF19 5390 0754 7034")
    assert references.normalize(" rf18 5390\t0754 7034 ") == "RF18539007547034"
    assert references.invoice_value("2026-000042") == 2026000042


async def test_bil_06_numbers_are_sequential_per_year_and_restart_each_year(world):
    org, _ = await world.organization()
    first = await world.issue(org)
    second = await world.issue(org)
    world.clock._now = datetime(2027, 1, 1, 0, 0, tzinfo=timezone.utc)
    third = await world.issue(org)
    assert [first.number, second.number, third.number] == ["2026-000001", "2026-000002", "2027-000001"]
    assert first.status == "open" and first.issued_at is not None


async def test_bil_06_a_rolled_back_finalisation_gives_its_number_back(world):
    """No gap: the number is taken in the issuing transaction; if that fails
    the next invoice gets the same number."""
    org, _ = await world.organization()
    with pytest.raises(RuntimeError):
        async with world.app.state.runtime.db.transaction() as session:
            await world.app.state.invoices.issue(session, organization_id=org, currency="CHF", lines=[line()],
                                                 source_ref="will-fail")
            raise RuntimeError("the caller's transaction fails after issuing")
    invoice = await world.issue(org)
    assert invoice.number == "2026-000001"
    async with world.app.state.runtime.db.transaction() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(Invoice))).scalar_one() == 1


async def test_bil_06_issue_is_idempotent_by_source_ref(world):
    org, _ = await world.organization()
    first = await world.issue(org, source_ref="renewal:abc:2026-03-01")
    again = await world.issue(org, line(99999), source_ref="renewal:abc:2026-03-01")
    assert again.id == first.id and again.number == first.number and again.total_minor == first.total_minor
    assert (await world.issue(org)).number == "2026-000002"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_bil_06_twenty_parallel_issues_get_numbers_1_to_20(world):
    """Real concurrency on PostgreSQL: 20 finalisations at once, each in its
    own transaction → exactly 2026-000001 .. 2026-000020, no gap, no twice."""
    org, _ = await world.organization()
    invoices = await asyncio.gather(*(world.issue(org) for _ in range(20)))
    numbers = sorted(i.number for i in invoices)
    assert numbers == [f"2026-{n:06d}" for n in range(1, 21)]
    async with world.app.state.runtime.db.transaction() as session:
        counter = await session.get(NumberCounter, "2026")
        assert counter.last_value == 20


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_bil_06_parallel_issues_with_one_source_ref_make_one_invoice(world):
    org, _ = await world.organization()
    invoices = await asyncio.gather(*(world.issue(org, source_ref="renewal:same") for _ in range(8)))
    assert len({i.id for i in invoices}) == 1
    async with world.app.state.runtime.db.transaction() as session:
        assert (await session.execute(sa.select(sa.func.count()).select_from(Invoice))).scalar_one() == 1
        assert (await session.get(NumberCounter, "2026")).last_value == 1
    assert (await world.issue(org)).number == "2026-000002"


async def test_bil_06_unique_numbers_are_enforced_by_the_database(world):
    org, _ = await world.organization()
    invoice = await world.issue(org)
    with pytest.raises(sa.exc.IntegrityError):
        async with world.app.state.runtime.db.transaction() as session:
            session.add(Invoice(organization_id=uuid.uuid4(), number=invoice.number, currency="CHF",
                                status="open", created_at=world.clock.now()))
