"""risk of bias: one RoB 2 or ROBINS-I assessment per effect estimate, with the judgement and
support of each domain, the overall judgement, its sources and who judged

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
TOOL = sa.Enum("ROB2", "ROBINS_I", name="rob_tool", native_enum=False, create_constraint=True,
               length=8)
OVERALL = sa.Enum("LOW", "SOME_CONCERNS", "HIGH", "MODERATE", "SERIOUS", "CRITICAL",
                  "NO_INFORMATION", name="rob_overall", native_enum=False,
                  create_constraint=True, length=14)


def upgrade() -> None:
    op.create_table(
        "risk_of_bias",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("effect_estimate_id", sa.Integer(), nullable=False),
        sa.Column("tool", TOOL, nullable=False),
        sa.Column("overall", OVERALL, nullable=False),
        sa.Column("domains", JSONType, nullable=False),
        sa.Column("sources", JSONType, nullable=False),
        sa.Column("published_assessment", sa.Boolean(), nullable=False),
        sa.Column("judged_by", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["effect_estimate_id"], ["effect_estimate.id"],
                                name=op.f("fk_risk_of_bias_effect_estimate_id_effect_estimate"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["judged_by"], ["api_key.id"],
                                name=op.f("fk_risk_of_bias_judged_by_api_key"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_of_bias")),
        sa.UniqueConstraint("effect_estimate_id",
                            name=op.f("uq_risk_of_bias_effect_estimate_id")),
    )
    with op.batch_alter_table("risk_of_bias") as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_of_bias_judged_by"), ["judged_by"])
        batch_op.create_index(batch_op.f("ix_risk_of_bias_overall"), ["overall"])


def downgrade() -> None:
    with op.batch_alter_table("risk_of_bias") as batch_op:
        batch_op.drop_index(batch_op.f("ix_risk_of_bias_overall"))
        batch_op.drop_index(batch_op.f("ix_risk_of_bias_judged_by"))
    op.drop_table("risk_of_bias")
