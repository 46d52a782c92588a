"""budgets: an account's monthly spending limit, a campaign's spending cap, and the committed
figure per account and month that the limit is held to

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24 01:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('account_spend',
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('committed', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_spend_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'month', name=op.f('pk_account_spend'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('monthly_spend_limit', sa.Numeric(precision=12, scale=2), nullable=True))
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spend_cap', sa.Numeric(precision=12, scale=2), nullable=True))


def downgrade():
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('spend_cap')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('monthly_spend_limit')
    op.drop_table('account_spend')
