"""conversation indexes: messages to and from one number of an account

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 23:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        # Outbound only: inbound rows have their own index, and queries over them must not wander here.
        batch_op.create_index('ix_messages_account_to', ['account_id', 'to_number', 'created_at'], unique=False,
                              postgresql_where=sa.text("direction = 'OUTBOUND'"),
                              sqlite_where=sa.text("direction = 'OUTBOUND'"))
        batch_op.create_index('ix_messages_account_from_received', ['account_id', 'from_number', 'received_at'],
                              unique=False, postgresql_where=sa.text('received_at IS NOT NULL'),
                              sqlite_where=sa.text('received_at IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_account_from_received', postgresql_where=sa.text('received_at IS NOT NULL'),
                            sqlite_where=sa.text('received_at IS NOT NULL'))
        batch_op.drop_index('ix_messages_account_to', postgresql_where=sa.text("direction = 'OUTBOUND'"),
                            sqlite_where=sa.text("direction = 'OUTBOUND'"))
