"""Test database, app and client.

The database comes from EVIDENCEDB_TEST_DATABASE_URL (a temporary SQLite file by default).
It is built once per run through the migrations and loaded with the seed data; each test then
runs inside an outer transaction that is rolled back, the services' commits becoming
savepoints, so tests see the seed data and never each other's writes. Scratch databases,
live servers and keys in committed databases come from the toolkit (tests/toolkit/).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from app import migrations
from app.api.deps import get_session
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.services.seed import seed
from tests.response_schemas import check_every_answer
from tests.toolkit import reset_database, test_database_url

ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.toolkit.fixtures", "tests.authkit", "tests.interop_support"]


@pytest.fixture(scope="session")
def tmp_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="evidencedb-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def database_url(tmp_dir: Path) -> str:
    url = test_database_url(tmp_dir)
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
        check_every_answer(c, app)
        yield c


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
