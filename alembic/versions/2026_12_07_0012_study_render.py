"""study_render: each study's nested parts as the JSON a list page serves, written with the
study and used while its version and format are current

A later migration that changes what a study's rows hold without moving its version must
empty this table (`DELETE FROM study_render`): the parts are then read live until
`evidencedb render` builds them again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTS = ("registry_ids", "conditions", "interventions", "publications", "arms", "timepoints",
         "outcome_measures", "effects")


def upgrade() -> None:
    op.create_table(
        "study_render",
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        *(sa.Column(part, sa.LargeBinary(), nullable=False) for part in PARTS),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"],
                                name=op.f("fk_study_render_study_id_study"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("study_id", name=op.f("pk_study_render")),
    )


def downgrade() -> None:
    op.drop_table("study_render")
