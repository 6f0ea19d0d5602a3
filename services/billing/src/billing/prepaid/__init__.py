"""Prepaid account: the ledger, top-ups, withdrawals, idempotency keys, the standing per organization (BIL-02, BIL-10, ORG-14)."""
