"""The schema exists only through migrations, and they match the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from alembic import command
from app import migrations
from app.db import Base, is_sqlite, make_engine


@pytest.fixture
def scratch_url(tmp_path, database_url) -> Iterator[str]:
    """A second, empty database beside the test database."""
    if is_sqlite(database_url):
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    admin = make_engine(database_url)
    name = f"{admin.url.database}_scratch"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_models_and_migrations_do_not_drift(scratch_url):
    migrations.upgrade(scratch_url)
    command.check(migrations.alembic_config(scratch_url))


def test_upgrade_downgrade_upgrade(scratch_url):
    migrations.upgrade(scratch_url)
    engine = make_engine(scratch_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        migrations.downgrade(scratch_url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(scratch_url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_schema_is_created_only_by_migrations():
    app_dir = Path(__file__).resolve().parent.parent / "app"
    offenders = [p.name for p in app_dir.rglob("*.py") if "create_all(" in p.read_text()]
    assert offenders == []
