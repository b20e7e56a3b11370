"""flag explanations: a curator's reason why a registry-versus-publication flag of a study is
not a problem, keyed by the flag's stable id, with the values it compared and who explained it

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
FLAG_TYPE = sa.Enum("PRIMARY_OUTCOME_NOT_REPORTED", "NEW_PRIMARY_OUTCOME", "TIMEPOINT_CHANGED",
                    "ENROLLMENT_DIFFERS", name="flag_type", native_enum=False,
                    create_constraint=True, length=28)


def upgrade() -> None:
    op.create_table(
        "flag_explanation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.String(length=200), nullable=False),
        sa.Column("flag_type", FLAG_TYPE, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("compared", JSONType, nullable=False),
        sa.Column("explained_by", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["study.id"],
                                name=op.f("fk_flag_explanation_study_id_study"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["explained_by"], ["api_key.id"],
                                name=op.f("fk_flag_explanation_explained_by_api_key"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flag_explanation")),
        sa.UniqueConstraint("study_id", "flag_id",
                            name=op.f("uq_flag_explanation_study_id_flag_id")),
    )
    with op.batch_alter_table("flag_explanation") as batch_op:
        batch_op.create_index(batch_op.f("ix_flag_explanation_explained_by"), ["explained_by"])
        batch_op.create_index(batch_op.f("ix_flag_explanation_study_id"), ["study_id"])


def downgrade() -> None:
    with op.batch_alter_table("flag_explanation") as batch_op:
        batch_op.drop_index(batch_op.f("ix_flag_explanation_study_id"))
        batch_op.drop_index(batch_op.f("ix_flag_explanation_explained_by"))
    op.drop_table("flag_explanation")
