"""Reading an ISO 20022 camt.054 bank-to-customer debit/credit notification
(BIL-03): the booked credits with their structured reference.

Parsed with defusedxml (no DTDs, no entities, no network) and namespace-
agnostic over the camt.054 versions banks send (001.02 to 001.08). A file
that cannot be read whole is refused: nothing of it is applied."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from .errors import CamtMalformed
from .references import normalize

NAMESPACE_PREFIX = "{urn:iso:std:iso:20022:tech:xsd:camt.054."
MAX_CREDITS = 10_000


@dataclass(frozen=True)
class Credit:
    entry_ref: str
    amount_minor: int
    currency: str
    reference: str | None
    debtor_name: str | None
    booked_on: date | None


@dataclass(frozen=True)
class Notification:
    message_id: str
    file_hash: str
    credits: tuple[Credit, ...]


def _text(element: Element | None, path: str) -> str | None:
    found = element.find(path) if element is not None else None
    return found.text.strip() if found is not None and found.text and found.text.strip() else None


def _amount(element: Element | None, where: str) -> tuple[int, str]:
    if element is None or not element.get("Ccy"):
        raise CamtMalformed(f"{where}: amount or currency missing.")
    try:
        value = Decimal((element.text or "").strip())
    except InvalidOperation:
        raise CamtMalformed(f"{where}: amount is not a number.") from None
    minor = value * 100
    if value <= 0 or minor != minor.to_integral_value():
        raise CamtMalformed(f"{where}: amount must be positive with at most 2 decimals.")
    return int(minor), element.get("Ccy").upper()


def _date(entry: Element, where: str) -> date | None:
    raw = _text(entry, "{*}BookgDt/{*}Dt") or (_text(entry, "{*}BookgDt/{*}DtTm") or "")[:10] or None
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        raise CamtMalformed(f"{where}: booking date is not a date.") from None


def _booked(entry: Element) -> bool:
    status = _text(entry, "{*}Sts/{*}Cd") or _text(entry, "{*}Sts")
    return status in (None, "BOOK")


def parse(body: bytes) -> Notification:
    """The file's credits (debits and pending entries are left out)."""
    try:
        root = ElementTree.fromstring(body, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise CamtMalformed("The file is not well-formed XML.") from None
    if not root.tag.startswith(NAMESPACE_PREFIX):
        raise CamtMalformed("The file is not a camt.054 notification.")
    message = root.find("{*}BkToCstmrDbtCdtNtfctn")
    message_id = _text(message, "{*}GrpHdr/{*}MsgId")
    if message is None or message_id is None:
        raise CamtMalformed("The group header's message id is missing.")
    credits: list[Credit] = []
    for n, entry in enumerate(message.iterfind("{*}Ntfctn/{*}Ntry"), start=1):
        credits += _entry_credits(entry, f"{message_id}/{n}")
    if len(credits) > MAX_CREDITS:
        raise CamtMalformed("Too many credits in one file; split it.")
    return Notification(message_id[:200], hashlib.sha256(body).hexdigest(), tuple(credits))


def _entry_credits(entry: Element, where: str) -> list[Credit]:
    indicator = _text(entry, "{*}CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise CamtMalformed(f"{where}: credit/debit indicator missing.")
    entry_amount = _amount(entry.find("{*}Amt"), where)
    if indicator == "DBIT" or not _booked(entry):
        return []
    booked_on = _date(entry, where)
    entry_ref = _text(entry, "{*}AcctSvcrRef") or where
    details = list(entry.iterfind("{*}NtryDtls/{*}TxDtls"))
    if not details:
        return [Credit(entry_ref[:200], *entry_amount, None, None, booked_on)]
    credits = []
    for i, tx in enumerate(details, start=1):
        tx_where = f"{where}/{i}"
        amount = tx.find("{*}Amt") if tx.find("{*}Amt") is not None else tx.find("{*}AmtDtls/{*}TxAmt/{*}Amt")
        minor, currency = _amount(amount, tx_where) if amount is not None else entry_amount
        if (_text(tx, "{*}CdtDbtInd") or "CRDT") != "CRDT":
            continue
        ref = _text(tx, "{*}RmtInf/{*}Strd/{*}CdtrRefInf/{*}Ref")
        debtor = _text(tx, "{*}RltdPties/{*}Dbtr/{*}Nm") or _text(tx, "{*}RltdPties/{*}Dbtr/{*}Pty/{*}Nm")
        tx_ref = _text(tx, "{*}Refs/{*}AcctSvcrRef") or (entry_ref if len(details) == 1 else f"{entry_ref}/{i}")
        credits.append(Credit(tx_ref[:200], minor, currency, normalize(ref)[:40] if ref else None,
                              debtor[:200] if debtor else None, booked_on))
    return credits
