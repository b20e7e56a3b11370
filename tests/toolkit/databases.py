"""Test databases: the run's own, and scratch ones beside it whose writes really commit."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from app import migrations
from app.db import is_sqlite, make_engine

ENV = "EVIDENCEDB_TEST_DATABASE_URL"


def test_database_url(directory: Path) -> str:
    """EVIDENCEDB_TEST_DATABASE_URL, or a SQLite file in `directory` when it is unset."""
    return os.environ.get(ENV) or f"sqlite:///{directory / 'test.sqlite3'}"


def reset_database(url: str) -> None:
    """An empty database: a new SQLite file, or PostgreSQL's public schema dropped."""
    if is_sqlite(url):
        path = url.split("///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
        return
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def _drop(admin: Engine, name: str) -> None:
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def scratch_database(base_url: str | None, directory: Path, suffix: str) -> Iterator[str]:
    """An empty database of `base_url`'s kind, dropped at the end.

    SQLite (or no base URL): a new file `suffix.sqlite3` in `directory`. PostgreSQL: a database
    on the same server named `<base database>_<suffix>`, created through the base URL's
    credentials and dropped (with its connections) when the block ends.
    """
    if not base_url or is_sqlite(base_url):
        yield f"sqlite:///{directory / f'{suffix}.sqlite3'}"
        return
    admin = make_engine(base_url)
    name = f"{make_url(base_url).database}_{suffix}"
    _drop(admin, name)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop(admin, name)
        admin.dispose()


def migrated(url: str, *, seed_dir: Path | None = None) -> str:
    """`url` upgraded to the newest schema, and loaded from `seed_dir` when one is given."""
    migrations.upgrade(url)
    if seed_dir is not None:
        from sqlalchemy.orm import Session

        from app.services.seed import seed

        engine = make_engine(url)
        try:
            with Session(engine) as session:
                seed(session, seed_dir)
        finally:
            engine.dispose()
    return url
