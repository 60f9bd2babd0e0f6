"""named kinds: solve jobs, round artifacts and outbox messages take their kind from an enumeration

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: (table, enumeration name, values, former length of the free-text column)
KINDS = (
    ("solve_job", "jobkind", ("initial", "incremental"), 20),
    ("round_artifact", "artifactkind", ("instance", "result"), 20),
    (
        "outbox_message",
        "mailkind",
        (
            "verify_email",
            "window_open",
            "school_reminder",
            "employer_reminder",
            "round_published",
            "round_auto_run",
            "placement_confirmed",
            "placements_released",
            "weekly_digest",
        ),
        50,
    ),
)


def upgrade() -> None:
    for table, name, values, length in KINDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "kind",
                existing_type=sa.String(length=length),
                type_=sa.Enum(*values, name=name, native_enum=False, create_constraint=True),
                existing_nullable=False,
            )


def downgrade() -> None:
    for table, name, values, length in KINDS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "kind",
                existing_type=sa.Enum(*values, name=name, native_enum=False, create_constraint=True),
                type_=sa.String(length=length),
                existing_nullable=False,
            )
