"""e-mail keys in NFKC and case-folded (IDN-01)

Revision ID: 0015
Revises: 0014

`account.email_normalized` held `email.strip().lower()`; the key is now
`manager_shared.addresses.normalize_email` (NFKC, case folding, IDNA mapping
of the domain). ASCII addresses keep their key; only addresses with
compatibility forms (`ｚｏｅ@…`), `ß`, or a domain in A-labels change.

Two accounts whose addresses now have the same key (`zoe@…` and
`ｚｏｅ@…`, made before this revision) are not merged and the migration does
not fail: the older account (by created_at) gets the key, the newer keeps
its old one and is reported by id (never by address) in a warning on the
`alembic` logger. Sign-in by address then reaches the older account only;
support finds the other by id and decides (block it, or change its login).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from manager_shared.addresses import normalize_email

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
_accounts = sa.table('account', sa.column('id', sa.Uuid()), sa.column('email', sa.String()),
                     sa.column('email_normalized', sa.String()), sa.column('created_at', sa.DateTime()))


def _plan(rows, key: Callable[[str], str]) -> tuple[dict, list]:
    """New keys for the rows whose key changes, and the ids left as they were."""
    taken = {old for _, email, old in rows if key(email) == old}
    changes, collisions = {}, []
    for account_id, email, old in rows:  # oldest first: the older account keeps the address
        new = key(email)
        if new == old:
            continue
        if new in taken:
            collisions.append(account_id)
            continue
        taken.add(new)
        changes[account_id] = new
    return changes, collisions


def _recompute(key: Callable[[str], str]) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_accounts.c.id, _accounts.c.email, _accounts.c.email_normalized)
                        .order_by(_accounts.c.created_at, _accounts.c.id)).all()
    changes, collisions = _plan(rows, key)
    # Through a placeholder first (it has no "@", so it is no real key): a new key may be
    # another row's old one.
    for account_id in changes:
        bind.execute(_accounts.update().where(_accounts.c.id == account_id)
                     .values(email_normalized=f"migrating:{account_id}"))
    for account_id, new in changes.items():
        bind.execute(_accounts.update().where(_accounts.c.id == account_id).values(email_normalized=new))
    log.info("e-mail keys recomputed: %d changed", len(changes))
    if collisions:
        log.warning("%d account(s) kept their old e-mail key: an older account has the same address in "
                    "another form; review them by id: %s", len(collisions), ", ".join(map(str, collisions)))


def upgrade() -> None:
    _recompute(normalize_email)


def downgrade() -> None:
    _recompute(lambda email: email.strip().lower())
