"""Fixtures for curation tests: keys, a database snapshot, leak guards.

Every key a test creates is kept in the toolkit's KEYRING; `no_key_leaks` fails a test when
any of them shows up in a log record or in any response the test received.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.api.deps import get_session
from app.config import Settings
from app.db import Base
from app.enums import Role
from app.main import create_app
from app.services import keys
from tests.toolkit import KEYRING, bearer, leaked

API = "/api/v1"


@pytest.fixture
def make_key(db_session: Session) -> Callable[..., str]:
    def make(role: str = "curator", name: str = "test curator") -> str:
        _, token = keys.create(db_session, name=name, role=Role(role.upper()))
        KEYRING.append(token)
        return token

    return make


@pytest.fixture
def curator(make_key: Callable[..., str]) -> dict[str, str]:
    return bearer(make_key("curator", "curator one"))


@pytest.fixture
def revoke(db_session: Session) -> Callable[[str], None]:
    def do(token: str) -> None:
        keys.revoke(db_session, token[:keys.PREFIX_LENGTH])

    return do


@pytest.fixture
def response_log() -> list[str]:
    """The headers and bodies of every response this test's clients received."""
    return []


def recorder(log: list[str]) -> Callable[[Any], None]:
    def record(response: Any) -> None:
        response.read()
        log.append(str(response.headers))
        log.append(response.text)

    return record


@pytest.fixture
def no_key_leaks(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture,
                 response_log: list[str]) -> Iterator[None]:
    """Fail when a created key appears in the logs or in a response of this test."""
    caplog.set_level(logging.DEBUG)
    if "client" in request.fixturenames:
        request.getfixturevalue("client").event_hooks["response"].append(recorder(response_log))
    yield
    assert not leaked(caplog.text), "a key was logged"
    assert not leaked("\n".join(response_log)), "a key was sent back in a response"


@pytest.fixture
def client_with(settings: Settings, connection: Connection,
                response_log: list[str]) -> Iterator[Callable[..., TestClient]]:
    """A client for an app built with changed settings, on the test's transaction."""
    made: list[tuple[Any, TestClient]] = []

    def make(**changes: Any) -> TestClient:
        application = create_app(settings.model_copy(update=changes))

        def _session() -> Iterator[Session]:
            with Session(bind=connection, join_transaction_mode="create_savepoint",
                         expire_on_commit=False, autoflush=False) as session:
                yield session

        application.dependency_overrides[get_session] = _session
        c = TestClient(application, raise_server_exceptions=False)
        c.event_hooks["response"].append(recorder(response_log))
        c.__enter__()
        made.append((application, c))
        return c

    yield make
    for application, c in made:
        c.__exit__(None, None, None)
        application.state.engine.dispose()


def db_state(connection: Connection) -> dict[str, Any]:
    """Every table's row count and a digest of its content."""
    state: dict[str, Any] = {}
    for table in Base.metadata.sorted_tables:
        rows = connection.execute(select(table).order_by(*table.primary_key.columns)).all()
        digest = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()
        state[table.name] = (len(rows), digest)
    return state


@pytest.fixture
def snapshot(connection: Connection) -> Callable[[], dict[str, Any]]:
    return lambda: db_state(connection)
