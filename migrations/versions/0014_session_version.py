"""session version: a number in every dashboard session's token, raised to end all of a user's
sessions (deactivation, password change, sign-out, "sign out everywhere else")

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 03:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    # server_default: the users that exist start at version 0, which keeps their sessions valid.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
