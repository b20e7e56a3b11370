"""the start-date indexes also hold enrollment (and, by phase, deletion): a page sorted by
start date checks those filters in the index instead of reading each candidate study's row

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = {"ix_study_live_start": ["deleted_at", "start_date_sort", "id"],
          "ix_study_phase_start": ["phase", "start_date_sort", "id"]}
AFTER = {"ix_study_live_start": ["deleted_at", "start_date_sort", "id", "enrollment"],
         "ix_study_phase_start": ["phase", "start_date_sort", "id", "enrollment", "deleted_at"]}


def _replace(columns: dict[str, list[str]]) -> None:
    for name, cols in columns.items():
        op.drop_index(name, table_name="study")
        op.create_index(name, "study", cols, unique=False)


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    _replace(BEFORE)
