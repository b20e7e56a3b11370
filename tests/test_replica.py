"""EVIDENCEDB_READ_DATABASE_URL: GET requests read from the replica, writes go to the primary.

Two scratch databases stand in for a primary and its replica, each with a study the other does
not have, so every answer shows which database it came from. No write route exists in this
API yet, so the write side is shown through a route the test adds that takes the same
`SessionDep` every route uses.
"""

from __future__ import annotations

import pytest
from fastapi import Response
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import migrations
from app.api.deps import SessionDep
from app.config import Settings
from app.db import make_engine
from app.enums import Role
from app.main import create_app
from app.models import ApiKey, Study
from app.schemas.study import StudyCreate
from app.services import keys, studies
from tests.builders import study_document

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/evidencedb"


def store(url: str, key: str, nct: str) -> None:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            studies.create(session, StudyCreate.model_validate(study_document(key, nct)),
                           actor_id=None)
    finally:
        engine.dispose()


def keys_in(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(Study.key)))
    finally:
        engine.dispose()


@pytest.fixture
def primary_and_replica(scratch_databases) -> tuple[str, str]:
    primary, replica = scratch_databases("primary"), scratch_databases("replica")
    migrations.upgrade(primary)
    migrations.upgrade(replica)
    store(primary, "only-on-primary", "NCT09999911")
    store(replica, "only-on-replica", "NCT09999912")
    return primary, replica


def test_reads_come_from_the_replica(primary_and_replica):
    primary, replica = primary_and_replica
    app = create_app(Settings(database_url=primary, read_database_url=replica))
    with TestClient(app) as c:
        listed = c.get("/api/v1/studies").json()["items"]
        assert [s["key"] for s in listed] == ["only-on-replica"]
        assert c.get("/api/v1/studies/only-on-replica").status_code == 200
        assert c.get("/api/v1/studies/only-on-primary").status_code == 404


def test_without_a_replica_reads_come_from_the_primary(primary_and_replica):
    primary, _ = primary_and_replica
    with TestClient(create_app(Settings(database_url=primary))) as c:
        assert [s["key"] for s in c.get("/api/v1/studies").json()["items"]] == [
            "only-on-primary"]


def test_writes_go_to_the_primary(primary_and_replica):
    primary, replica = primary_and_replica
    app = create_app(Settings(database_url=primary, read_database_url=replica))

    def write_probe(session: SessionDep) -> Response:
        doc = StudyCreate.model_validate(study_document("written-by-post", "NCT09999913"))
        studies.create(session, doc, actor_id=None)
        return Response(status_code=201)

    app.add_api_route("/write-probe", write_probe, methods=["POST"])
    with TestClient(app) as c:
        assert c.post("/write-probe").status_code == 201
        # The write landed on the primary only; reads still come from the replica.
        assert c.get("/api/v1/studies/written-by-post").status_code == 404
    assert keys_in(primary) == {"only-on-primary", "written-by-post"}
    assert keys_in(replica) == {"only-on-replica"}


def test_readyz_checks_the_primary_and_the_replica(primary_and_replica):
    primary, replica = primary_and_replica
    with TestClient(create_app(Settings(database_url=primary, read_database_url=replica))) as c:
        assert c.get("/readyz").status_code == 200
    with TestClient(create_app(Settings(database_url=UNREACHABLE,
                                        read_database_url=replica))) as c:
        response = c.get("/readyz")
        assert response.status_code == 503 and "primary" in response.json()["detail"]
        assert c.get("/api/v1/studies").status_code == 200  # reads still served
    with TestClient(create_app(Settings(database_url=primary,
                                        read_database_url=UNREACHABLE))) as c:
        response = c.get("/readyz")
        assert response.status_code == 503 and "replica" in response.json()["detail"]


def read_only(url: str) -> str:
    """The replica as a read-only database, the way a streaming replica refuses writes."""
    if url.startswith("sqlite"):
        return f"sqlite:///file:{url.split('///', 1)[1]}?mode=ro&uri=true"
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{engine.url.database}" '
                              "SET default_transaction_read_only = on"))
    finally:
        engine.dispose()
    return url


def replicated_key(primary: str, replica: str, role: Role) -> str:
    """A key made on the primary and copied to the replica, as replication would."""
    engine = make_engine(primary)
    try:
        with Session(engine) as session:
            key, token = keys.create(session, name="replicated", role=role)
            row = {c.name: getattr(key, c.name) for c in ApiKey.__table__.columns}
    finally:
        engine.dispose()
    engine = make_engine(replica)
    try:
        with engine.begin() as conn:
            conn.execute(ApiKey.__table__.insert().values(**row))
    finally:
        engine.dispose()
    return token


def last_used(url: str) -> set[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(ApiKey.last_used_at)))
    finally:
        engine.dispose()


def test_keyed_reads_work_on_a_read_only_replica(primary_and_replica):
    primary, replica = primary_and_replica
    token = replicated_key(primary, replica, Role.READER)
    settings = Settings(database_url=primary, read_database_url=read_only(replica),
                        require_read_key=True, response_cache_bytes=0)
    with TestClient(create_app(settings)) as c:
        headers = {"Authorization": f"Bearer {token}"}
        assert c.get("/api/v1/studies").status_code == 401
        for _ in range(3):
            response = c.get("/api/v1/studies", headers=headers)
            assert response.status_code == 200, response.text
            assert [s["key"] for s in response.json()["items"]] == ["only-on-replica"]
        assert c.get("/version", headers=headers).status_code == 200
    # The key's use is recorded on the primary, never through the read-only session.
    assert last_used(replica) == {None}
    assert None not in last_used(primary)
