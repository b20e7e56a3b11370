"""What a bulk load does beside and after its batches: render each committed batch's studies
in a worker process (the machine's other core) while the next batches load, then refresh the
planner's statistics.

A render is a copy (app.services.rendered): a load stopped before its renders are stored
leaves the studies to be assembled live, and the next load of the file, or `evidencedb
render`, renders them.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.services import workers

# Batches handed over and not yet rendered, at most: the loader waits beyond that, so a
# slower renderer never piles up work.
AHEAD = 3
_engines: dict[str, Any] = {}


def render_committed(url: str, ids: list[int]) -> int:
    """(In the worker) render these committed studies (`rendered.store_apart`), so on SQLite
    the loader's batches are not held up."""
    from app.db import make_engine, make_sessionmaker
    from app.services import rendered

    # On SQLite the loader holds the write lock for a whole batch: wait for it that long.
    engine = _engines.get(url) or _engines.setdefault(url, make_engine(
        url, busy_timeout_ms=120_000))
    with make_sessionmaker(engine)() as session:
        rendered.store_apart(session, ids)
    return len(ids)


class Renderer:
    """Renders the studies of committed batches in one worker process (started with the
    first batch)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pool: ProcessPoolExecutor | None = None
        self.pending: deque[Future[int]] = deque()
        self.failed: list[BaseException] = []

    def __call__(self, ids: list[int]) -> None:
        if self.pool is None:
            self.pool = workers.pool()
        self.pending.append(self.pool.submit(render_committed, self.url, ids))
        while len(self.pending) > AHEAD:
            self._wait()

    def _wait(self) -> None:
        try:
            self.pending.popleft().result()
        except Exception as exc:  # noqa: BLE001 - a render is a copy: reported, then redone
            self.failed.append(exc)

    def close(self) -> list[BaseException]:
        """Wait for every render handed over; what failed (the caller renders it again)."""
        while self.pending:
            self._wait()
        if self.pool is not None:
            self.pool.shutdown()
        return self.failed


def refresh_statistics(session: Session) -> None:
    """Planner statistics after a load: without them both databases pick plans (an ordered
    scan of every study, say) that are orders of magnitude slower at registry scale. On
    PostgreSQL a VACUUM as well: rows just COPY'd have no visibility map, so no index-only scan
    (the facet counts) can skip the table until autovacuum comes by. VACUUM runs outside any
    transaction, so on a connection of its own."""
    engine = session.connection().engine
    if engine.dialect.name != "postgresql":
        session.execute(text("ANALYZE"))
        session.commit()
        return
    session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
