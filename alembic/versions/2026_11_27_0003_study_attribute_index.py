"""a narrow index of the study's short attributes by id, for counts and facets

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As the model declares them when this revision was written.
COLUMNS = ["id", "deleted_at", "phase", "overall_status", "study_type", "allocation", "masking",
           "has_results", "retracted", "follow_up_months_max", "enrollment", "start_date_sort"]


def upgrade() -> None:
    op.create_index("ix_study_id_attributes", "study", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_study_id_attributes", table_name="study")
