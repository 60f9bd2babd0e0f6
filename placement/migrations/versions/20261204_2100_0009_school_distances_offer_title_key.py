"""stored school-workplace distances; offers' Swedish sort key

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 21:00:00
"""
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geopy.distance import geodesic

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rule of placement.collation.swedish_key at the time of this migration.
_AFTER_Z = {"å": "{", "ä": "|", "æ": "|", "ö": "}", "ø": "}"}


def _swedish_key(text: str) -> str:
    key: list[str] = []
    for char in unicodedata.normalize("NFC", text).casefold():
        if char in _AFTER_Z:
            key.append(_AFTER_Z[char])
        else:
            key.extend(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return "".join(key)[:200]


def upgrade() -> None:
    op.create_table('school_distance',
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('workplace_id', sa.Integer(), nullable=False),
    sa.Column('km', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], name=op.f('fk_school_distance_school_id_school'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workplace_id'], ['workplace.id'], name=op.f('fk_school_distance_workplace_id_workplace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('school_id', 'workplace_id', name=op.f('pk_school_distance'))
    )
    with op.batch_alter_table('school_distance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_distance_workplace_id'), ['workplace_id'], unique=False)
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_key', sa.String(length=200), server_default='', nullable=False))

    connection = op.get_bind()
    offer = sa.table('offer', sa.column('id', sa.Integer), sa.column('title', sa.String), sa.column('title_key', sa.String))
    for offer_id, title in connection.execute(sa.select(offer.c.id, offer.c.title)).all():
        connection.execute(offer.update().where(offer.c.id == offer_id).values(title_key=_swedish_key(title)))
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.alter_column('title_key', server_default=None, existing_type=sa.String(length=200), existing_nullable=False)
    located = "SELECT id, lat, lon FROM {} WHERE lat IS NOT NULL AND lon IS NOT NULL"
    schools = connection.exec_driver_sql(located.format("school")).all()
    workplaces = connection.exec_driver_sql(located.format("workplace")).all()
    distance = sa.table('school_distance', sa.column('school_id'), sa.column('workplace_id'), sa.column('km'))
    rows = [
        {"school_id": s, "workplace_id": w, "km": round(float(geodesic((slat, slon), (wlat, wlon)).kilometers), 3)}
        for s, slat, slon in schools
        for w, wlat, wlon in workplaces
    ]
    for start in range(0, len(rows), 5000):
        connection.execute(distance.insert(), rows[start : start + 5000])


def downgrade() -> None:
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_column('title_key')
    with op.batch_alter_table('school_distance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_distance_workplace_id'))
    op.drop_table('school_distance')
