"""login sessions replace the auth epoch: logout ends a login server-side

Revision ID: 3b1f0c2a9d10
Revises: c7df498c9a69
Create Date: 2026-12-02 19:40:00

"""
from alembic import op
import sqlalchemy as sa

import peerloop.db


# revision identifiers, used by Alembic.
revision = '3b1f0c2a9d10'
down_revision = 'c7df498c9a69'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_sessions',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('expires_at', peerloop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', peerloop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', peerloop.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)

    # Cookies issued under the epoch scheme name no login session: everyone logs in once more.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('auth_epoch')


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auth_epoch', sa.INTEGER(), nullable=False, server_default='0'))

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))

    op.drop_table('login_sessions')
