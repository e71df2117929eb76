"""webhook events: store, then process (unique on provider and event id)

Revision ID: 5466076b755c
Revises: 8a4d6b3e1f57
Create Date: 2026-12-02 20:23:34.131226

"""
from alembic import op
import sqlalchemy as sa

import peerloop.db


# revision identifiers, used by Alembic.
revision = '5466076b755c'
down_revision = '8a4d6b3e1f57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_events',
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('received', 'processed', 'ignored', 'failed', name='webhook_event_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('received_at', peerloop.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_attempt_at', peerloop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('processed_at', peerloop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', peerloop.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('provider', 'event_id', name=op.f('uq_webhook_events_provider_event_id'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_events_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_status_next_attempt_at')

    op.drop_table('webhook_events')
