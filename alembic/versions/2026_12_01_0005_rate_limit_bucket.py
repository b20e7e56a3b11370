"""rate limit buckets: request counts per identity and window, shared by every worker

On PostgreSQL they live in the schema evidencedb_runtime, apart from the data: operational
counts, not evidence (a refused request changes no table of the data schema). On SQLite the
service keeps them in a file beside the database, so this revision changes nothing there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "evidencedb_runtime"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    op.create_table(
        "rate_limit_bucket",
        sa.Column("identity", sa.String(100), nullable=False),
        sa.Column("window_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", "window_index", name="pk_rate_limit_bucket"),
        schema=SCHEMA,
        if_not_exists=True,
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table("rate_limit_bucket", schema=SCHEMA, if_exists=True)
    op.execute(f"DROP SCHEMA IF EXISTS {SCHEMA}")
