"""a page of one phase in key order (the lists' default) walks the phase's studies by key and
checks the enrollment and deletion filters in the index, instead of walking every study by key
and reading each one's row

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_study_phase_key", "study",
                    ["phase", "key", "id", "enrollment", "deleted_at"], unique=False)
    # Without statistics SQLite takes a new index for very selective, and would walk it for a
    # page sorted by start date too (sorting what it reads) instead of ix_study_phase_start.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ANALYZE ix_study_phase_key")


def downgrade() -> None:
    op.drop_index("ix_study_phase_key", table_name="study")
