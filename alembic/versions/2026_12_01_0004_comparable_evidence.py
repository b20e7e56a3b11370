"""comparable evidence: timepoint roles and two clocks, percentages and derived counts,
contrasts reported by p-value alone, re-expressed contrasts, computed-effect inputs,
treatment end and source conflicts of a study

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
ROLE = sa.Enum("BASELINE", "PRIMARY_ENDPOINT", "END_OF_TREATMENT", "FOLLOW_UP",
               name="timepoint_role", native_enum=False, create_constraint=True, length=16)


def _clock_source(name: str) -> sa.Enum:
    return sa.Enum("SOURCE", "ANCHOR", "SCHEDULE", name=name, native_enum=False,
                   create_constraint=True, length=8)


# As the timepoint table reads when this revision was written: which anchors sit on which clock.
ON_BASELINE_CLOCK = ("BASELINE", "RANDOMIZATION")
ON_TREATMENT_CLOCK = ("LAST_TREATMENT_SESSION", "END_OF_TREATMENT")


def upgrade() -> None:
    with op.batch_alter_table("study") as batch_op:
        batch_op.add_column(sa.Column("treatment_end_months", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("conflicts", JSONType, nullable=True))

    with op.batch_alter_table("timepoint") as batch_op:
        batch_op.add_column(sa.Column("role", ROLE, nullable=True))
        batch_op.add_column(sa.Column("months_since_baseline", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("months_after_treatment", sa.Float(), nullable=True))
        for clock in ("baseline", "treatment"):
            batch_op.add_column(sa.Column(f"{clock}_clock", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column(f"{clock}_clock_min", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column(f"{clock}_clock_max", sa.Float(), nullable=True))
            batch_op.add_column(sa.Column(f"{clock}_clock_source",
                                          _clock_source(f"{clock}_clock_source"), nullable=True))
            batch_op.create_index(f"ix_timepoint_{clock}_clock", [f"{clock}_clock"])
        batch_op.drop_index("ix_timepoint_follow_up_months")
        batch_op.drop_column("follow_up_months")

    with op.batch_alter_table("outcome_result") as batch_op:
        batch_op.add_column(sa.Column("percent", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("count_derived", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))

    with op.batch_alter_table("effect_estimate") as batch_op:
        batch_op.alter_column("value", existing_type=sa.Float(), nullable=True)
        batch_op.add_column(sa.Column("as_reported", JSONType, nullable=True))
        batch_op.add_column(sa.Column("inputs", JSONType, nullable=True))

    # Existing timepoints: a role where the old columns say it (a follow-up flag, a baseline at
    # month 0); each clock from the months its anchor measures (point, else mean, else lower
    # bound); the study's longest follow-up read again from the after-treatment clock.
    tp = sa.table("timepoint", *(sa.column(c) for c in (
        "anchor", "months", "months_min", "months_max", "months_mean", "is_follow_up", "role",
        "baseline_clock", "baseline_clock_min", "baseline_clock_max", "baseline_clock_source",
        "treatment_clock", "treatment_clock_min", "treatment_clock_max",
        "treatment_clock_source", "study_id")))
    op.execute(tp.update().where(tp.c.is_follow_up == sa.true()).values(role="FOLLOW_UP"))
    op.execute(tp.update().where(tp.c.anchor == "BASELINE", tp.c.months == 0,
                                 tp.c.is_follow_up == sa.false()).values(role="BASELINE"))
    value = sa.func.coalesce(tp.c.months, tp.c.months_mean, tp.c.months_min)
    has_value = value.is_not(None)
    for clock, anchors in (("baseline", ON_BASELINE_CLOCK), ("treatment", ON_TREATMENT_CLOCK)):
        op.execute(tp.update().where(tp.c.anchor.in_(anchors), has_value).values({
            f"{clock}_clock": value,
            f"{clock}_clock_min": sa.func.coalesce(tp.c.months_min, tp.c.months),
            f"{clock}_clock_max": sa.func.coalesce(tp.c.months_max, tp.c.months),
            f"{clock}_clock_source": "ANCHOR"}))
    study = sa.table("study", sa.column("id"), sa.column("follow_up_months_max"),
                     sa.column("notes", sa.Text), sa.column("search_text", sa.Text))
    longest = (sa.select(sa.func.max(tp.c.treatment_clock))
               .where(tp.c.study_id == study.c.id, tp.c.role == "FOLLOW_UP")
               .scalar_subquery())
    op.execute(study.update().values(follow_up_months_max=longest))
    # Free text now reaches a study's notes too (the other notes join on its next write).
    op.execute(study.update().where(study.c.notes.is_not(None)).values(
        search_text=study.c.search_text + " " + study.c.notes))


def downgrade() -> None:
    effect = sa.table("effect_estimate", sa.column("value"))
    # A contrast reported by its p-value alone has no place in the older schema.
    op.execute(effect.delete().where(effect.c.value.is_(None)))
    with op.batch_alter_table("effect_estimate") as batch_op:
        batch_op.drop_column("inputs")
        batch_op.drop_column("as_reported")
        batch_op.alter_column("value", existing_type=sa.Float(), nullable=False)

    with op.batch_alter_table("outcome_result") as batch_op:
        batch_op.drop_column("count_derived")
        batch_op.drop_column("percent")

    with op.batch_alter_table("timepoint") as batch_op:
        batch_op.add_column(sa.Column("follow_up_months", sa.Float(), nullable=True))
        batch_op.create_index("ix_timepoint_follow_up_months", ["follow_up_months"])
    tp = sa.table("timepoint", sa.column("follow_up_months"), sa.column("months"),
                  sa.column("months_mean"), sa.column("study_id"))
    op.execute(tp.update().values(follow_up_months=sa.func.coalesce(tp.c.months,
                                                                    tp.c.months_mean)))
    study = sa.table("study", sa.column("id"), sa.column("follow_up_months_max"))
    op.execute(study.update().values(follow_up_months_max=(
        sa.select(sa.func.max(tp.c.follow_up_months)).where(tp.c.study_id == study.c.id)
        .scalar_subquery())))
    with op.batch_alter_table("timepoint") as batch_op:
        batch_op.drop_constraint(op.f("ck_timepoint_timepoint_role"), type_="check")
        for clock in ("treatment", "baseline"):
            batch_op.drop_constraint(op.f(f"ck_timepoint_{clock}_clock_source"), type_="check")
            batch_op.drop_index(f"ix_timepoint_{clock}_clock")
            for suffix in ("_source", "_max", "_min", ""):
                batch_op.drop_column(f"{clock}_clock{suffix}")
        batch_op.drop_column("months_after_treatment")
        batch_op.drop_column("months_since_baseline")
        batch_op.drop_column("role")

    with op.batch_alter_table("study") as batch_op:
        batch_op.drop_column("conflicts")
        batch_op.drop_column("treatment_end_months")
