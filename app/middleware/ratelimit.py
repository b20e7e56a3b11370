"""Rate limits that hold across workers and replicas.

Every request but the health probes costs something: 1, plus 1 per 100 rows a page asks for
(`page_size`, `pageSize`, `_count`), and EXPORT_COST for a whole export. A request with a live
key is counted against that key (by its id: how the header is spelled never makes a new
bucket); any other request against its client address, which is the connection's peer unless
that peer is one of EVIDENCEDB_TRUSTED_PROXIES (see headers.py).

The counts live in a shared store (the database by default: one row per identity and window),
claimed in leases (doubling from one request's cost up to a fiftieth of the limit): a worker
answers most requests from the lease it holds and writes to the store once per lease, off the
event loop. No more than the limit is
ever granted in a window; a worker may refuse up to one lease early while another worker
still holds unspent budget. When the store cannot be reached, requests are let through.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qsl

import anyio.to_thread
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.db import make_engine, writer
from app.errors import problem_response
from app.security import KeyIds, token_from_scope_headers

log = logging.getLogger("evidencedb")

EXPORT_COST = 20
SIZE_PARAMETERS = frozenset({"page_size", "pageSize", "_count"})
EXEMPT_PATHS = frozenset({"/healthz", "/readyz"})
# Operational counts, not evidence: on PostgreSQL they live in a schema of their own (created
# by the migrations), so the data schema holds only what the API serves; on SQLite, in a file
# beside the database.
RUNTIME_SCHEMA = "evidencedb_runtime"
_TABLE = Table(
    "rate_limit_bucket", MetaData(schema=RUNTIME_SCHEMA),
    Column("identity", String(100), primary_key=True),
    Column("window_index", BigInteger, primary_key=True, autoincrement=False),
    Column("used", Integer, nullable=False),
)


def request_cost(scope: Scope) -> int:
    """What a request costs: more for the pages that make more work."""
    if "/export/" in scope["path"]:
        return EXPORT_COST
    rows = 0
    query = scope.get("query_string", b"")
    if query:
        for name, value in parse_qsl(query.decode("latin-1")):
            if name in SIZE_PARAMETERS and value.isdigit() and len(value) < 8:
                rows = max(rows, int(value))
    return 1 + rows // 100


class Buckets(Protocol):
    def claim(self, identity: str, window: int, amount: int) -> int:
        """Add `amount` to the identity's count in `window`; the count after it."""


class MemoryBuckets:
    """Counts in this process only (EVIDENCEDB_RATE_LIMIT_STORE=memory)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def claim(self, identity: str, window: int, amount: int) -> int:
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            used = self._counts.get((identity, window), 0) + amount
            self._counts[(identity, window)] = used
            return used


class DatabaseBuckets:
    """Counts in the rate_limit_bucket table, one atomic upsert per claim."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
        self._swept = -1

    def claim(self, identity: str, window: int, amount: int) -> int:
        values = self._insert(_TABLE).values(identity=identity, window_index=window,
                                             used=amount)
        stmt = values.on_conflict_do_update(
            index_elements=[_TABLE.c.identity, _TABLE.c.window_index],
            set_={"used": _TABLE.c.used + values.excluded.used},
        ).returning(_TABLE.c.used)
        with self.engine.begin() as conn:
            used = int(conn.execute(stmt).scalar_one())
            if window != self._swept:
                self._swept = window
                conn.execute(delete(_TABLE).where(_TABLE.c.window_index < window - 1))
        return used


@dataclass
class _Lease:
    window: int
    left: int = 0
    claims: int = 0
    spent: bool = False  # the store granted less than asked: nothing more this window


class SharedLimiter:
    """At most `limit` cost per identity and window, summed over every worker."""

    def __init__(self, store: Buckets, limit: int, window_s: float) -> None:
        self.store, self.limit, self.window_s = store, limit, window_s
        self.lease_size = max(1, limit // 50)
        self._leases: dict[str, _Lease] = {}

    async def take(self, identity: str, cost: int) -> float | None:
        """None when allowed, else the seconds until the window ends."""
        now = time.time()
        window = int(now // self.window_s)
        retry_after = (window + 1) * self.window_s - now
        lease = self._leases.get(identity)
        if lease is None or lease.window != window:
            if len(self._leases) > 50_000:
                self._leases = {k: v for k, v in self._leases.items() if v.window == window}
            lease = self._leases[identity] = _Lease(window)
        if lease.left >= cost:
            lease.left -= cost
            return None
        if lease.spent:
            return retry_after
        # What the lease holds is this request's before it waits for the store: a request
        # answered meanwhile must not spend the part this one counts on.
        held, lease.left = lease.left, 0
        # Leases double from 1 up to the full size: a worker that sees an identity rarely
        # holds back little of its budget from the others.
        size = min(self.lease_size, 1 << min(lease.claims, 30))
        wanted = max(size, cost - held)
        lease.claims += 1
        granted = await self._claim(identity, window, wanted)
        if granted < wanted:
            lease.spent = True
        held += granted
        if held >= cost:
            lease.left += held - cost
            return None
        lease.left += held  # granted, so still there for a cheaper request
        return retry_after

    async def _claim(self, identity: str, window: int, wanted: int) -> int:
        try:
            used = await anyio.to_thread.run_sync(self.store.claim, identity, window, wanted)
        except SQLAlchemyError:
            log.warning("the rate limit store is not reachable; requests are let through")
            return wanted
        return max(0, min(wanted, self.limit - (used - wanted)))


class RateLimits:
    """ASGI middleware: 429 problem with Retry-After once an identity's budget is spent."""

    def __init__(self, app: ASGIApp, *, settings: Settings, store: Buckets,
                 key_ids: KeyIds) -> None:
        self.app = app
        self.key_ids = key_ids
        window = settings.rate_limit_window_s
        self.by_address = (SharedLimiter(store, settings.rate_limit_per_address, window)
                           if settings.rate_limit_per_address > 0 else None)
        self.by_key = (SharedLimiter(store, settings.rate_limit_per_key, window)
                       if settings.rate_limit_per_key > 0 else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        identity, limiter, what = await self._identity(scope)
        wait = None if limiter is None else await limiter.take(identity, request_cost(scope))
        if limiter is None or wait is None:
            await self.app(scope, receive, send)
            return
        refusal = problem_response(
            429, "Too Many Requests",
            f"rate limit of {limiter.limit} per {limiter.window_s:g} s for this {what} "
            f"reached", headers={"Retry-After": str(max(1, math.ceil(wait)))})
        await refusal(scope, receive, send)

    async def _identity(self, scope: Scope) -> tuple[str, SharedLimiter | None, str]:
        token = token_from_scope_headers(scope.get("headers", ()))
        if token is not None:
            known, key_id = self.key_ids.cached(token)
            if not known:
                key_id = await anyio.to_thread.run_sync(self.key_ids.lookup, token)
            if key_id is not None:
                return f"key:{key_id}", self.by_key, "key"
        client = scope.get("client")
        address = client[0] if client else "unknown"
        return f"addr:{address}"[:100], self.by_address, "client address"


def shared_store(settings: Settings) -> tuple[Buckets, Engine | None]:
    """The store the settings name, and its engine (to dispose of at shutdown).

    On PostgreSQL the counts live in the primary database. On SQLite they live in a file
    beside it (`<database>-limits`), so that counting never waits for the database's write
    lock, which a long write can hold for seconds."""
    if settings.rate_limit_store == "memory":
        return MemoryBuckets(), None
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        engine = make_engine(settings.database_url, pool_size=1, max_overflow=2,
                             pool_timeout=settings.pool_timeout_s,
                             connect_timeout=settings.connect_timeout_s)
        return DatabaseBuckets(engine), engine
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        return MemoryBuckets(), None
    engine = writer(make_engine(url.set(database=f"{url.database}-limits").render_as_string(
        hide_password=False), busy_timeout_ms=settings.sqlite_busy_timeout_ms)).execution_options(
        schema_translate_map={RUNTIME_SCHEMA: None})
    with contextlib.suppress(SQLAlchemyError):  # another worker made it at the same moment
        _TABLE.create(engine, checkfirst=True)
    return DatabaseBuckets(engine), engine
