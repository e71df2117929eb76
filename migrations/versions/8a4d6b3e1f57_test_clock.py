"""test clock: the frozen business time every process reads (TEST_CLOCK=1 only)

Revision ID: 8a4d6b3e1f57
Revises: 5c8e2d7f4a21
Create Date: 2026-12-02 19:42:00

"""
from alembic import op
import sqlalchemy as sa

import peerloop.db


# revision identifiers, used by Alembic.
revision = '8a4d6b3e1f57'
down_revision = '5c8e2d7f4a21'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('test_clock',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('frozen_at', peerloop.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_test_clock'))
    )


def downgrade():
    op.drop_table('test_clock')
