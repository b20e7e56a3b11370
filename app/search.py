"""Free-text search objects: SQLite FTS5 over study.search_text, PostgreSQL tsvector + GIN.

They live outside the ORM metadata (dialect-specific DDL), are created by migrations, and
Alembic's comparison skips them.
"""

from __future__ import annotations

import re

FTS_TABLE = "study_fts"
PG_INDEX = "ix_study_search_text_tsv"
# A stored tsvector (PostgreSQL only): a GIN match must recheck its rows, and recomputing
# to_tsvector for each of thousands of candidates costs seconds.
PG_COLUMN = "search_vector"
PG_VECTOR_INDEX = "ix_study_search_vector"
PG_CONFIG = "english"

SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5("
    "search_text, content='study', content_rowid='id', tokenize='porter unicode61')",
    f"CREATE TRIGGER study_fts_ai AFTER INSERT ON study BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
    f"CREATE TRIGGER study_fts_ad AFTER DELETE ON study BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    f"VALUES ('delete', old.id, old.search_text); END",
    f"CREATE TRIGGER study_fts_au AFTER UPDATE OF search_text ON study BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_text) "
    f"VALUES ('delete', old.id, old.search_text); "
    f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (new.id, new.search_text); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS study_fts_au",
    "DROP TRIGGER IF EXISTS study_fts_ad",
    "DROP TRIGGER IF EXISTS study_fts_ai",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]
PG_DDL = [
    f"CREATE INDEX {PG_INDEX} ON study USING gin (to_tsvector('{PG_CONFIG}', search_text))",
]
PG_DROP = [f"DROP INDEX IF EXISTS {PG_INDEX}"]


PG_VECTOR_DDL = [
    f"ALTER TABLE study ADD COLUMN {PG_COLUMN} tsvector GENERATED ALWAYS AS "
    f"(to_tsvector('{PG_CONFIG}', search_text)) STORED",
    f"CREATE INDEX {PG_VECTOR_INDEX} ON study USING gin ({PG_COLUMN})",
    f"DROP INDEX IF EXISTS {PG_INDEX}",
]
PG_VECTOR_DROP = [
    f"DROP INDEX IF EXISTS {PG_VECTOR_INDEX}",
    f"ALTER TABLE study DROP COLUMN IF EXISTS {PG_COLUMN}",
    *PG_DDL,
]


def is_search_object(name: str | None, type_: str) -> bool:
    if name is None:
        return False
    return (name in (PG_INDEX, PG_VECTOR_INDEX)
            or (type_ == "column" and name == PG_COLUMN)
            or (type_ == "table" and name.startswith(FTS_TABLE)))


_WORD = re.compile(r"\w+", re.UNICODE)


def fts5_query(text: str) -> str:
    """Every word of the user's text, each quoted (so no FTS5 syntax leaks), combined by AND;
    the last word matches as a prefix."""
    words = _WORD.findall(text)
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " AND ".join(quoted)
