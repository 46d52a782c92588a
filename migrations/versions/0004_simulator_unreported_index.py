"""simulator: partial index on reports still to send

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('simulator_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_simulator_submissions_report_due_at'))
        batch_op.create_index('ix_simulator_submissions_unreported', ['report_due_at'], unique=False,
                              postgresql_where=sa.text('reported_at IS NULL'),
                              sqlite_where=sa.text('reported_at IS NULL'))


def downgrade():
    with op.batch_alter_table('simulator_submissions', schema=None) as batch_op:
        batch_op.drop_index('ix_simulator_submissions_unreported',
                            postgresql_where=sa.text('reported_at IS NULL'),
                            sqlite_where=sa.text('reported_at IS NULL'))
        batch_op.create_index(batch_op.f('ix_simulator_submissions_report_due_at'), ['report_due_at'], unique=False)
