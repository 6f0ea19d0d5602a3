"""the prepaid ledger is append-only in the database too (BIL-02)

Revision ID: 0010
Revises: 0009

No schema change the models describe: triggers that refuse UPDATE and DELETE
of ledger entries, so a bug, a script or a hand-typed statement cannot rewrite
the history the balance is the sum of.
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

MESSAGE = "prepaid ledger entries are immutable"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION prepaid_ledger_entry_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$""")
        op.execute("""
            CREATE TRIGGER prepaid_ledger_entry_immutable BEFORE UPDATE OR DELETE ON prepaid_ledger_entry
            FOR EACH ROW EXECUTE FUNCTION prepaid_ledger_entry_immutable()""")
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(f"""
            CREATE TRIGGER prepaid_ledger_entry_no_{action.lower()} BEFORE {action} ON prepaid_ledger_entry
            BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER prepaid_ledger_entry_immutable ON prepaid_ledger_entry")
        op.execute("DROP FUNCTION prepaid_ledger_entry_immutable()")
        return
    for action in ("update", "delete"):
        op.execute(f"DROP TRIGGER prepaid_ledger_entry_no_{action}")
