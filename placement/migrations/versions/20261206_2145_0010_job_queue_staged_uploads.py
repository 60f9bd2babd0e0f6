"""for several hosts: solve jobs on a job queue (the attempt that holds a job, the queue's job id); staged uploads in the database

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:45:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import placement.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('solve_job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attempt', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('queue_job_id', sa.Integer(), nullable=True))
    op.create_table('staged_upload',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('scope_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', placement.db.UTCDateTime(timezone=True), server_default=sa.text('(CURRENT_TIMESTAMP)'), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_staged_upload_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staged_upload')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_staged_upload_token_hash'))
    )
    with op.batch_alter_table('staged_upload', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staged_upload_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staged_upload_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('staged_upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staged_upload_user_id'))
        batch_op.drop_index(batch_op.f('ix_staged_upload_created_at'))
    op.drop_table('staged_upload')
    with op.batch_alter_table('solve_job', schema=None) as batch_op:
        batch_op.drop_column('queue_job_id')
        batch_op.drop_column('attempt')
