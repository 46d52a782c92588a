"""webhook attempts by time: what /metrics and the status page count over the last minutes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24 00:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_attempts_attempted_at', ['attempted_at'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_attempts_attempted_at')
