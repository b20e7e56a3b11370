"""study_condition carries its study's phase, status, enrollment and liveness, kept by
triggers: the facet counts of a condition read one index range instead of visiting every
matching study's row

Every write path (the API, bulk loads, registry imports, plain SQL) keeps the copies right,
because the database does it: inserting a link copies the study's values into it, and
changing one of them on the study copies it to every link. On PostgreSQL the triggers are
ENABLE ALWAYS, so they also fire while a bulk batch runs with the row triggers of foreign keys
off (session_replication_role = replica).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (("study_phase", sa.String(length=16)), ("study_status", sa.String(length=32)),
           ("study_enrollment", sa.Integer()), ("study_live", sa.Boolean()))
INDEX = "ix_study_condition_facets"
# In the order the counts group by, so both databases count in index order without a sort;
# the enrollment bound is checked in the index.
INDEX_COLUMNS = ["condition_id", "study_live", "study_phase", "study_status",
                 "study_enrollment"]
# (link column, the study's expression it copies)
COPIES = (("study_phase", "phase"), ("study_status", "overall_status"),
          ("study_enrollment", "enrollment"), ("study_live", "deleted_at IS NULL"))
WATCHED = "phase, overall_status, enrollment, deleted_at"

_link_columns = ", ".join(link for link, _ in COPIES)
_study_values = ", ".join(f"s.{value}" for _, value in COPIES)
_new_values = ", ".join(f"{link} = new.{value}" if value != "deleted_at IS NULL"
                        else f"{link} = (new.deleted_at IS NULL)" for link, value in COPIES)

SQLITE_TRIGGERS = [
    # SQLite cannot change NEW before the insert: the new link is updated after it.
    "CREATE TRIGGER study_condition_facets_ai AFTER INSERT ON study_condition BEGIN "
    f"UPDATE study_condition SET ({_link_columns}) = "
    f"(SELECT {_study_values} FROM study s WHERE s.id = new.study_id) "
    "WHERE id = new.id; END",
    "CREATE TRIGGER study_condition_facets_au AFTER UPDATE OF study_id ON study_condition "
    f"BEGIN UPDATE study_condition SET ({_link_columns}) = "
    f"(SELECT {_study_values} FROM study s WHERE s.id = new.study_id) "
    "WHERE id = new.id; END",
    f"CREATE TRIGGER study_facets_au AFTER UPDATE OF {WATCHED} ON study BEGIN "
    f"UPDATE study_condition SET {_new_values} WHERE study_id = new.id; END",
]
SQLITE_DROP = ["DROP TRIGGER IF EXISTS study_facets_au",
               "DROP TRIGGER IF EXISTS study_condition_facets_au",
               "DROP TRIGGER IF EXISTS study_condition_facets_ai"]

PG_TRIGGERS = [
    "CREATE FUNCTION study_condition_facets() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"SELECT {_study_values} INTO {', '.join(f'NEW.{link}' for link, _ in COPIES)} "
    "FROM study s WHERE s.id = NEW.study_id; RETURN NEW; END $$",
    "CREATE TRIGGER study_condition_facets_biu BEFORE INSERT OR UPDATE OF study_id "
    "ON study_condition FOR EACH ROW EXECUTE FUNCTION study_condition_facets()",
    "ALTER TABLE study_condition ENABLE ALWAYS TRIGGER study_condition_facets_biu",
    "CREATE FUNCTION study_facets() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"UPDATE study_condition SET {_new_values} WHERE study_id = NEW.id; RETURN NULL; END $$",
    f"CREATE TRIGGER study_facets_au AFTER UPDATE OF {WATCHED} ON study FOR EACH ROW "
    "WHEN (OLD.phase IS DISTINCT FROM NEW.phase "
    "OR OLD.overall_status IS DISTINCT FROM NEW.overall_status "
    "OR OLD.enrollment IS DISTINCT FROM NEW.enrollment "
    "OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)) "
    "EXECUTE FUNCTION study_facets()",
    "ALTER TABLE study ENABLE ALWAYS TRIGGER study_facets_au",
]
PG_DROP = ["DROP TRIGGER IF EXISTS study_facets_au ON study",
           "DROP FUNCTION IF EXISTS study_facets()",
           "DROP TRIGGER IF EXISTS study_condition_facets_biu ON study_condition",
           "DROP FUNCTION IF EXISTS study_condition_facets()"]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("study_condition") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    if postgres:
        op.execute(f"UPDATE study_condition sc SET ({_link_columns}) = ({_study_values}) "
                   "FROM study s WHERE s.id = sc.study_id")
    else:
        op.execute(f"UPDATE study_condition SET ({_link_columns}) = "
                   f"(SELECT {_study_values} FROM study s "
                   "WHERE s.id = study_condition.study_id)")
    op.create_index(INDEX, "study_condition", INDEX_COLUMNS, unique=False)
    for statement in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_DROP if postgres else SQLITE_DROP:
        op.execute(statement)
    op.drop_index(INDEX, table_name="study_condition")
    with op.batch_alter_table("study_condition") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
