"""study flags: the registry-versus-publication flags each study raises, stored when the study
is written, so that a filter, a facet and the flag list find flagged studies by index

The rows are computed by the application from each study; `evidencedb migrate` (app.migrations)
fills them for the studies already stored when it applies this revision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FLAG_TYPE = sa.Enum("PRIMARY_OUTCOME_NOT_REPORTED", "NEW_PRIMARY_OUTCOME", "TIMEPOINT_CHANGED",
                    "ENROLLMENT_DIFFERS", name="flag_type", native_enum=False,
                    create_constraint=True, length=28)


def upgrade() -> None:
    op.create_table(
        "study_flag",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.String(length=200), nullable=False),
        sa.Column("flag_type", FLAG_TYPE, nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"],
                                name=op.f("fk_study_flag_study_id_study"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("study_id", "flag_id", name=op.f("pk_study_flag")),
    )
    with op.batch_alter_table("study_flag") as batch_op:
        batch_op.create_index("ix_study_flag_flag_type_study_id", ["flag_type", "study_id"])


def downgrade() -> None:
    with op.batch_alter_table("study_flag") as batch_op:
        batch_op.drop_index("ix_study_flag_flag_type_study_id")
    op.drop_table("study_flag")
