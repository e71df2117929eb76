"""notification dedupe keys: a step that runs twice notifies once

Revision ID: 5c8e2d7f4a21
Revises: 3b1f0c2a9d10
Create Date: 2026-12-02 19:41:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c8e2d7f4a21'
down_revision = '3b1f0c2a9d10'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedupe_key', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_notifications_user_id_dedupe_key'), ['user_id', 'dedupe_key'])


def downgrade():
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_notifications_user_id_dedupe_key'), type_='unique')
        batch_op.drop_column('dedupe_key')
