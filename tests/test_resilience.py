"""Database faults and shutdowns: a PostgreSQL restart under traffic, concurrent SQLite writers,
SIGTERM with a response in flight."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import migrations
from app.config import Settings
from app.db import is_sqlite, make_engine
from app.enums import Role
from app.main import create_app
from app.models import ApiKey, Study
from app.schemas.study import StudyCreate
from app.services import studies
from tests.builders import study_document
from tests.toolkit import free_port, live_server

PROBLEM = "application/problem+json"


def postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


@pytest.fixture
def postgres_only(database_url):
    if is_sqlite(database_url):
        pytest.skip("runs in the PostgreSQL pass only")


@pytest.fixture
def sqlite_only(database_url):
    if not is_sqlite(database_url):
        pytest.skip("runs in the SQLite pass only (it does not depend on the test database)")


class ThrowawayPostgres:
    """A PostgreSQL cluster of its own in a temporary directory, on a free port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="evidencedb-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 "
                   f"-c unix_socket_directories={self.root} -c fsync=off")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                 "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def throwaway_postgres(postgres_only) -> Iterator[ThrowawayPostgres]:
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run initdb as")
    cluster = ThrowawayPostgres(bindir)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


@dataclass
class Answer:
    sent: float
    received: float
    status: int | None
    content_type: str = ""


class SteadyTraffic(threading.Thread):
    """Reads a list page every 50 ms and keeps every answer (or the failure to get one)."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[Answer] = []
        self.halt = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as http:
            while not self.halt.is_set():
                sent = time.monotonic()
                try:
                    r = http.get(f"{self.url}/api/v1/studies?page_size=5")
                    status, ctype = r.status_code, r.headers.get("content-type", "")
                except httpx.HTTPError:
                    status, ctype = None, ""
                self.answers.append(Answer(sent, time.monotonic(), status, ctype))
                time.sleep(0.05)

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if a.sent >= start and a.received <= end]


def test_postgres_restart_gives_quick_503s_then_recovers(throwaway_postgres):
    pg = throwaway_postgres
    migrations.upgrade(pg.url)
    engine = make_engine(pg.url)
    with Session(engine) as session:
        studies.create(session, StudyCreate.model_validate(study_document()), actor_id=None)
    engine.dispose()

    # The response cache may answer a repeated page from memory for up to its version-check
    # interval after the database went away; this test is about the database path.
    with live_server({"EVIDENCEDB_DATABASE_URL": pg.url,
                      "EVIDENCEDB_RESPONSE_CACHE_BYTES": "0"}) as server:
        traffic = SteadyTraffic(server.url)
        traffic.start()
        try:
            time.sleep(1.0)
            healthy_until = time.monotonic()
            pg.stop("fast")
            stopped = time.monotonic()
            time.sleep(2.5)
            restarting = time.monotonic()
            pg.start()
            started = time.monotonic()
            deadline = started + 8
            while time.monotonic() < deadline and not any(
                    a.status == 200 for a in traffic.between(started, time.monotonic())):
                time.sleep(0.05)
            time.sleep(1.0)
        finally:
            traffic.halt.set()
            traffic.join(timeout=60)

    before = traffic.between(0, healthy_until)
    assert before and all(a.status == 200 for a in before)

    down = traffic.between(stopped, restarting)
    assert len(down) >= 5
    assert all(a.status == 503 and a.content_type.startswith(PROBLEM) for a in down)
    # Not a hang: each failed request is answered promptly (a generous bound).
    assert max(a.received - a.sent for a in down) < 3.0

    after = traffic.between(started, float("inf"))
    first_ok = next((a for a in after if a.status == 200), None)
    assert first_ok is not None, "the API never answered again after the restart"
    assert first_ok.received - started <= 5.0
    assert all(a.status == 200 for a in after if a.sent >= first_ok.received)
    # Nothing but answers: no 500s, no dropped connections, through the whole run.
    assert {a.status for a in traffic.answers} <= {200, 503}


def test_concurrent_sqlite_writers_wait_for_each_other(sqlite_only, tmp_path):
    """A second writer, arriving while the first holds the write lock, waits and succeeds."""
    url = f"sqlite:///{tmp_path / 'writers.sqlite3'}"
    migrations.upgrade(url)
    # Two apps, two engines: as two worker processes would.
    first_app = create_app(Settings(database_url=url))
    second_app = create_app(Settings(database_url=url))
    holding = threading.Event()
    finished: list[str] = []
    errors: list[BaseException] = []

    def first_writer() -> None:
        try:
            with first_app.state.sessionmaker() as session:
                session.add(ApiKey(name="first", prefix="first", key_hash="0" * 64,
                                   role=Role.CURATOR))
                session.flush()  # the write lock is taken here...
                holding.set()
                time.sleep(1.0)  # ...and held while the second writer arrives
                session.commit()
                finished.append("first")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            holding.set()

    def second_writer() -> None:
        holding.wait()
        try:
            with second_app.state.sessionmaker() as session:
                studies.create(session, StudyCreate.model_validate(study_document()),
                               actor_id=None)
                finished.append("second")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=first_writer), threading.Thread(target=second_writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    first_app.state.engine.dispose()
    second_app.state.engine.dispose()

    assert errors == []
    assert finished == ["first", "second"]
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.scalar(select(func.count()).select_from(ApiKey)) == 1
        assert conn.scalar(select(func.count()).select_from(Study)) == 1
    engine.dispose()


def test_sigterm_lets_requests_in_flight_finish(postgres_only, database_url, engine):
    """Reads held up by a table lock (as behind a migration) are in flight when SIGTERM comes;
    the server stops taking connections, finishes them, then exits."""
    path = "/api/v1/studies?page_size=1000&include=arms,outcomes,publications"
    # No response cache: every read must go to the database; three reads at once (two by
    # default on PostgreSQL), so that all three wait on the lock there.
    env = {"EVIDENCEDB_DATABASE_URL": database_url, "EVIDENCEDB_RESPONSE_CACHE_BYTES": "0",
           "EVIDENCEDB_READS_AT_ONCE": "3"}
    with live_server(env) as server:
        expected = httpx.get(server.url + path, timeout=30)
        assert expected.status_code == 200
        port = int(server.url.rsplit(":", 1)[1])
        answers: list[httpx.Response | BaseException] = []

        def read() -> None:
            try:
                answers.append(httpx.get(server.url + path, timeout=60))
            except BaseException as exc:  # noqa: BLE001
                answers.append(exc)

        locker = make_engine(database_url)
        with locker.connect() as conn:
            transaction = conn.begin()
            conn.exec_driver_sql("LOCK TABLE study IN ACCESS EXCLUSIVE MODE")
            readers = [threading.Thread(target=read) for _ in range(3)]
            for t in readers:
                t.start()
            waiting = 0
            for _ in range(200):  # until all three are waiting on the lock
                conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
                waiting = conn.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'").scalar()
                if waiting == 3:
                    break
                time.sleep(0.05)
            assert waiting == 3

            server.proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            # Shutting down: no new connections, but alive while requests are unfinished.
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            assert server.proc.poll() is None
            transaction.rollback()  # the lock goes; the waiting reads go on
        locker.dispose()
        for t in readers:
            t.join(timeout=60)
        returncode = server.proc.wait(timeout=30)
        output = server.output()

    assert len(answers) == 3
    for answer in answers:
        assert isinstance(answer, httpx.Response), answer
        assert answer.status_code == 200 and answer.content == expected.content
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in output


def test_an_exhausted_pool_answers_503_then_recovers(postgres_only, database_url, engine):
    app = create_app(Settings(database_url=database_url, pool_size=1, max_overflow=0,
                              pool_timeout_s=0.2, response_cache_bytes=0))
    with TestClient(app, raise_server_exceptions=False) as c:
        held = app.state.engine.connect()  # the only connection the pool may open
        try:
            response = c.get("/api/v1/studies")
            assert response.status_code == 503
            assert response.headers["content-type"].startswith(PROBLEM)
            assert response.headers["Retry-After"] == "1"
        finally:
            held.close()
        assert c.get("/api/v1/studies").status_code == 200
