"""The toolkit's pytest fixtures (a plugin registered by tests/conftest.py)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.toolkit.databases import scratch_database
from tests.toolkit.servers import LiveServer, live_server


@pytest.fixture
def scratch_databases(tmp_path: Path, database_url: str) -> Iterator[Callable[[str], str]]:
    """A factory of empty databases beside the test database (same kind), whose writes
    really commit; they are dropped after the test."""
    with ExitStack() as stack:
        yield lambda suffix: stack.enter_context(scratch_database(database_url, tmp_path, suffix))


@pytest.fixture
def scratch_url(scratch_databases: Callable[[str], str]) -> str:
    """One empty scratch database."""
    return scratch_databases("scratch")


@pytest.fixture
def scratch_db(scratch_databases: Callable[[str], str], request: pytest.FixtureRequest) -> str:
    """An empty scratch database named after the test."""
    return scratch_databases("cur_" + hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:8])


@pytest.fixture
def serve() -> Iterator[Callable[..., LiveServer]]:
    """Start live servers: `serve(database_url, workers=2, EVIDENCEDB_X="1")`; all are stopped
    (SIGTERM) when the test ends."""
    with ExitStack() as stack:

        def start(database_url: str, *, workers: int = 1, extra_args: tuple[str, ...] = (),
                  ready_path: str = "/healthz", **env: Any) -> LiveServer:
            settings = {"EVIDENCEDB_DATABASE_URL": database_url,
                        **{k: str(v) for k, v in env.items()}}
            return stack.enter_context(live_server(settings, workers=workers,
                                                   extra_args=extra_args, ready_path=ready_path))

        yield start
