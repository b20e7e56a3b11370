"""The schema exists only through migrations, and they match the models."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from alembic import command
from app import migrations
from app.db import Base, make_engine


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
