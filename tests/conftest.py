"""Test database, app and client.

The database comes from EVIDENCEDB_TEST_DATABASE_URL (a temporary SQLite file by default).
It is built once per run through the migrations and loaded with the seed data; each test then
runs inside an outer transaction that is rolled back, the services' commits becoming
savepoints, so tests see the seed data and never each other's writes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app import migrations
from app.api.deps import get_session
from app.config import Settings
from app.db import is_sqlite, make_engine
from app.main import create_app
from app.services.seed import seed

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["tests.authkit", "tests.interop_support"]


def _test_url(tmp_dir: Path) -> str:
    return os.environ.get("EVIDENCEDB_TEST_DATABASE_URL") or f"sqlite:///{tmp_dir / 'test.sqlite3'}"


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


@pytest.fixture(scope="session")
def tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="evidencedb-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def database_url(tmp_dir: Path) -> str:
    url = _test_url(tmp_dir)
    reset_database(url)
    migrations.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    with Session(eng) as session:
        seed(session, ROOT / "seed_data")
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def dialect(engine: Engine) -> str:
    return engine.dialect.name


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    try:
        yield conn
    finally:
        if outer.is_active:
            outer.rollback()
        conn.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    # The response cache reads the committed data version, which the rolled-back test
    # transactions never change: it is tested on its own database in test_cache.py.
    return Settings(database_url=database_url, seed_dir=ROOT / "seed_data",
                    response_cache_bytes=0)


@pytest.fixture
def db_session(connection: Connection) -> Iterator[Session]:
    with Session(bind=connection, join_transaction_mode="create_savepoint",
                 expire_on_commit=False, autoflush=False) as session:
        yield session


@pytest.fixture
def app(settings: Settings, connection: Connection) -> Iterator[Any]:
    application = create_app(settings)

    def _session() -> Iterator[Session]:
        with Session(bind=connection, join_transaction_mode="create_savepoint",
                     expire_on_commit=False, autoflush=False) as session:
            yield session

    application.dependency_overrides[get_session] = _session
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def scratch_databases(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """A factory of empty databases beside the test database (same kind), whose writes
    really commit; they are dropped after the test."""
    made: list[str] = []
    admin = None if is_sqlite(database_url) else make_engine(database_url)

    def make(suffix: str) -> str:
        if admin is None:
            return f"sqlite:///{tmp_path / f'{suffix}.sqlite3'}"
        name = f"{admin.url.database}_{suffix}"
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return admin.url.set(database=name).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def scratch_url(scratch_databases: Any) -> str:
    """One empty scratch database."""
    return scratch_databases("scratch")


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            self.statements.append(statement)


@pytest.fixture
def count_statements(connection: Connection) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(connection, "before_cursor_execute", counter)
    yield counter
    event.remove(connection, "before_cursor_execute", counter)
