"""A realistic camt.054.001.08 credit notification (Swiss Payment Standards
style: QR references in CdtrRefInf, one entry per batch with its
transactions), built per test from (entry ref, amount, currency, reference)."""
from __future__ import annotations

from xml.sax.saxutils import escape

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
          xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr>
      <MsgId>{msg_id}</MsgId>
      <CreDtTm>2026-03-03T06:15:42+01:00</CreDtTm>
      <MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn>
    </GrpHdr>
    <Ntfctn>
      <Id>{msg_id}-N1</Id>
      <CreDtTm>2026-03-03T06:15:42+01:00</CreDtTm>
      <Acct>
        <Id><IBAN>CH4431999123000889012</IBAN></Id>
        <Ccy>CHF</Ccy>
        <Ownr><Nm>Manager Hosting SA</Nm></Ownr>
      </Acct>
{entries}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>
"""

ENTRY = """      <Ntry>
        <NtryRef>{ntry_ref}</NtryRef>
        <Amt Ccy="{currency}">{amount}</Amt>
        <CdtDbtInd>{indicator}</CdtDbtInd>
        <RvslInd>false</RvslInd>
        <Sts><Cd>{status}</Cd></Sts>
        <BookgDt><Dt>2026-03-03</Dt></BookgDt>
        <ValDt><Dt>2026-03-03</Dt></ValDt>
        <AcctSvcrRef>{ntry_ref}-SVC</AcctSvcrRef>
        <BkTxCd>
          <Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>VCOM</SubFmlyCd></Fmly></Domn>
        </BkTxCd>
        <NtryDtls>
{transactions}
        </NtryDtls>
      </Ntry>"""

TX = """          <TxDtls>
            <Refs>
              <AcctSvcrRef>{ref}</AcctSvcrRef>
              <EndToEndId>NOTPROVIDED</EndToEndId>
            </Refs>
            <Amt Ccy="{currency}">{amount}</Amt>
            <CdtDbtInd>CRDT</CdtDbtInd>
            <RltdPties>
              <Dbtr><Pty><Nm>{debtor}</Nm>
                <PstlAdr><StrtNm>Bahnhofstrasse</StrtNm><BldgNb>1</BldgNb><PstCd>8001</PstCd><TwnNm>Zürich</TwnNm><Ctry>CH</Ctry></PstlAdr>
              </Pty></Dbtr>
              <DbtrAcct><Id><IBAN>CH5604835012345678009</IBAN></Id></DbtrAcct>
            </RltdPties>
            <RmtInf>
              {remittance}
            </RmtInf>
          </TxDtls>"""

STRUCTURED = """<Strd>
                <CdtrRefInf>
                  <Tp><CdOrPrtry><Prtry>{kind}</Prtry></CdOrPrtry></Tp>
                  <Ref>{reference}</Ref>
                </CdtrRefInf>
              </Strd>"""


def credit(ref: str, amount_minor: int, reference: str | None, currency: str = "CHF",
           debtor: str = "Muster AG") -> dict:
    return {"ref": ref, "amount_minor": amount_minor, "reference": reference, "currency": currency,
            "debtor": debtor}


def _amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def camt054(*credits: dict, msg_id: str = "MSG-20260303-0001", status: str = "BOOK",
            extra_entries: str = "") -> bytes:
    """One entry (a batch) holding every credit as a transaction."""
    transactions = []
    for c in credits:
        if c["reference"] is None:
            remittance = "<Ustrd>Thanks for the service</Ustrd>"
        else:
            kind = "QRR" if c["reference"].isdigit() else "SCOR"
            remittance = STRUCTURED.format(kind=kind, reference=escape(c["reference"]))
        transactions.append(TX.format(ref=c["ref"], currency=c["currency"], amount=_amount(c["amount_minor"]),
                                      debtor=escape(c["debtor"]), remittance=remittance))
    total = sum(c["amount_minor"] for c in credits)
    entry = ENTRY.format(ntry_ref=f"{msg_id}-E1", currency=credits[0]["currency"] if credits else "CHF",
                         amount=_amount(total), indicator="CRDT", status=status,
                         transactions="\n".join(transactions))
    return HEADER.format(msg_id=msg_id, entries=entry + extra_entries).encode()


DEBIT_ENTRY = """      <Ntry>
        <Amt Ccy="CHF">12.50</Amt>
        <CdtDbtInd>DBIT</CdtDbtInd>
        <Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-03-03</Dt></BookgDt>
        <AcctSvcrRef>FEE-0001</AcctSvcrRef>
      </Ntry>"""
