"""Running the Alembic migrations from code (CLI, tests, readiness)."""

from __future__ import annotations

from functools import lru_cache

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from alembic import command
from app.config import PROJECT_ROOT


def alembic_config(database_url: str) -> Config:
    cfg = Config(toml_file=str(PROJECT_ROOT / "pyproject.toml"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["database_url"] = database_url
    return cfg


# The revision that creates `study_flag`. Its rows are computed by the application's flag
# rules, so `evidencedb migrate` fills them after the schema reaches head (see
# `needs_study_flags`), not the migration itself.
STUDY_FLAGS_REVISION = "0009"


def upgrade(database_url: str, revision: str = "head") -> str | None:
    """Apply the migrations up to `revision`; answer the revision the database had before
    (None for a new database)."""
    from app.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            before = current_revision(conn)
    finally:
        engine.dispose()
    command.upgrade(alembic_config(database_url), revision)
    return before


def needs_study_flags(before: str | None) -> bool:
    """Whether an upgrade from `before` to head created the stored flags' table over studies
    already stored (a new database has none)."""
    if before is None:
        return False
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return not any(r.revision == STUDY_FLAGS_REVISION
                   for r in script.iterate_revisions(before, "base"))


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


@lru_cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def at_head(engine: Engine) -> bool:
    with engine.connect() as conn:
        return current_revision(conn) == head_revision()
