"""living evidence: the change feed (every committed change numbered in commit order),
saved searches, and the outbox of their webhook deliveries with each attempt

The feed starts empty: changes committed before this revision stay in the audit trail only.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "change",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("audit_entry_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(length=50), nullable=False),
        sa.Column("entity_key", sa.String(length=200), nullable=False),
        sa.Column("study_key", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("summary", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["audit_entry_id"], ["audit_entry.id"],
                                name=op.f("fk_change_audit_entry_id_audit_entry"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_change")),
    )
    with op.batch_alter_table("change") as batch_op:
        batch_op.create_index(batch_op.f("ix_change_audit_entry_id"), ["audit_entry_id"])
        batch_op.create_index("ix_change_study_key_seq", ["study_key", "seq"])

    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("filter", JSONType, nullable=False),
        sa.Column("question", JSONType, nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_seq", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_estimate", JSONType, nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["api_key.id"],
                                name=op.f("fk_subscription_owner_id_api_key"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription")),
    )
    with op.batch_alter_table("subscription") as batch_op:
        batch_op.create_index(batch_op.f("ix_subscription_owner_id"), ["owner_id"])

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["change_seq"], ["change.seq"],
                                name=op.f("fk_webhook_delivery_change_seq_change"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscription.id"],
                                name=op.f("fk_webhook_delivery_subscription_id_subscription"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("subscription_id", "change_seq",
                            name=op.f("uq_webhook_delivery_subscription_id_change_seq")),
    )
    with op.batch_alter_table("webhook_delivery") as batch_op:
        batch_op.create_index("ix_webhook_delivery_status_next_attempt_at",
                              ["status", "next_attempt_at"])

    op.create_table(
        "delivery_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["webhook_delivery.id"],
                                name=op.f("fk_delivery_attempt_delivery_id_webhook_delivery"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempt")),
    )
    with op.batch_alter_table("delivery_attempt") as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_attempt_delivery_id"), ["delivery_id"])


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempt") as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_attempt_delivery_id"))
    op.drop_table("delivery_attempt")
    with op.batch_alter_table("webhook_delivery") as batch_op:
        batch_op.drop_index("ix_webhook_delivery_status_next_attempt_at")
    op.drop_table("webhook_delivery")
    with op.batch_alter_table("subscription") as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_owner_id"))
    op.drop_table("subscription")
    with op.batch_alter_table("change") as batch_op:
        batch_op.drop_index("ix_change_study_key_seq")
        batch_op.drop_index(batch_op.f("ix_change_audit_entry_id"))
    op.drop_table("change")
