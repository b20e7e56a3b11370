"""evidence profiles: a saved question (labels and /meta-analysis parameters) with its study
design, the five GRADE domains with their reasons, the certainty they give, its sources and
who created it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
DESIGN = sa.Enum("RANDOMIZED", "OBSERVATIONAL", name="profile_study_design",
                 native_enum=False, create_constraint=True, length=13)
CERTAINTY = sa.Enum("HIGH", "MODERATE", "LOW", "VERY_LOW", name="profile_certainty",
                    native_enum=False, create_constraint=True, length=8)


def upgrade() -> None:
    op.create_table(
        "evidence_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question", JSONType, nullable=False),
        sa.Column("study_design", DESIGN, nullable=False),
        sa.Column("certainty", CERTAINTY, nullable=False),
        sa.Column("domains", JSONType, nullable=False),
        sa.Column("sources", JSONType, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["api_key.id"],
                                name=op.f("fk_evidence_profile_created_by_api_key"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_profile")),
    )
    with op.batch_alter_table("evidence_profile") as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_profile_certainty"), ["certainty"])
        batch_op.create_index(batch_op.f("ix_evidence_profile_created_by"), ["created_by"])


def downgrade() -> None:
    with op.batch_alter_table("evidence_profile") as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_profile_created_by"))
        batch_op.drop_index(batch_op.f("ix_evidence_profile_certainty"))
    op.drop_table("evidence_profile")
