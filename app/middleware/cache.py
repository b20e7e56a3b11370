"""A response cache for public reads, keyed on the data version and the full URL: scheme, Host
header, path and query. An answer can carry its own URL (a `Link: rel="next"` header), so a
request with a foreign Host must never fill the entry other clients are served.

Every write appends an audit entry in the same transaction as the change, so the newest
audit entry id is a version of everything the API can answer: a cached answer is served only
while that version is unchanged. Each worker keeps its own bounded cache and one shared
version, read from the database off the event loop at most every
EVIDENCEDB_CACHE_VERSION_INTERVAL_MS. A write request through any worker on the same host makes
the next read in every worker there ask again at once (a signal file they share), so a client
never reads a write stale through another worker; writes through other hosts or processes
(the command line) are seen within the interval.

An answer is stored at its URL's second miss among the URLs missed lately (or when other
requests waited for its first computation): a URL asked for once never takes memory or pushes
out one that is asked for again.

Exports (streams) and the change feed are never cached: a feed answer that is empty must wait
for the next change (long polling), not be replayed while nothing changes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from app.models import AuditEntry

Scope = dict[str, Any]
Message = dict[str, Any]
ASGIApp = Callable[..., Any]

UNCACHEABLE_HEADERS = (b"authorization", b"if-none-match", b"if-match", b"cookie")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class DataVersion:
    """The newest audit entry id, read on a connection kept for this purpose, in a worker
    thread, at most once per interval (one read at a time; the others use its answer)."""

    def __init__(self, engine: Engine, interval_s: float = 0.5,
                 signal: Path | None = None) -> None:
        self._engine = engine
        self._interval_s = interval_s
        # Workers on one host share this file: a write through any of them touches it, and
        # the others see its size change at their next request (one stat, no database).
        self._signal = signal
        self._seen = self._signal_state()
        self._stmt = select(func.max(AuditEntry.id))
        self._conn: Connection | None = None
        self._value: int | None = None
        self._read_at = -1e18
        self._stale = True
        self._reading: asyncio.Future[int | None] | None = None

    def invalidate(self) -> None:
        """A write went through this worker: the next request here, and in every worker that
        shares the signal file, reads the version again."""
        self._stale = True
        if self._signal is not None:
            try:
                with self._signal.open("ab") as f:
                    f.write(b".")
                    if f.tell() > 1 << 20:
                        f.truncate(0)
            except OSError:
                pass

    def _signal_state(self) -> tuple[int, int] | None:
        if self._signal is None:
            return None
        try:
            stat = self._signal.stat()
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns

    async def current(self) -> int | None:
        seen = self._signal_state()
        if seen != self._seen:
            self._seen, self._stale = seen, True
        if not self._stale and time.monotonic() - self._read_at < self._interval_s:
            return self._value
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._refresh())
        reading = self._reading
        try:
            return await asyncio.shield(reading)
        finally:
            if self._reading is reading and reading.done():
                self._reading = None

    async def _refresh(self) -> int | None:
        self._stale = False
        started = time.monotonic()
        value = await anyio.to_thread.run_sync(self._read)
        if value is None:
            self._stale = True
        self._value, self._read_at = value, started
        return value

    def _read(self) -> int | None:
        conn = self._conn
        try:
            if conn is None:
                conn = self._engine.connect()
                if self._engine.dialect.name == "postgresql":
                    # One round trip per read, and no snapshot held between reads.
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                self._conn = conn
            version = conn.execute(self._stmt).scalar()
            if conn.in_transaction():
                conn.rollback()
            return version or 0
        except SQLAlchemyError:
            self.reset()
            return None

    def reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except SQLAlchemyError:
                pass


def _key(scope: Scope) -> bytes:
    host = next((value for name, value in scope["headers"] if name == b"host"), b"")
    return b" ".join((scope.get("scheme", "http").encode(), host, scope["path"].encode(),
                      scope.get("query_string", b"")))


class _Computing:
    """A URL's answer being computed: the requests for it that wait, and whether it is to be
    stored."""

    __slots__ = ("done", "wanted_again")

    def __init__(self) -> None:
        self.done = asyncio.Event()
        self.wanted_again = False


class ResponseCache:
    """Pure ASGI middleware: answers repeated GETs of `prefixes` from memory."""

    def __init__(self, app: ASGIApp, *, version: DataVersion, max_bytes: int,
                 prefixes: tuple[str, ...] = ("/api/v1/",),
                 excluded: tuple[str, ...] = ("/api/v1/export/", "/api/v1/changes")
                 ) -> None:
        self.app = app
        self.version = version
        self.max_bytes = max_bytes
        self.prefixes = prefixes
        self.excluded = excluded
        self._entries: OrderedDict[bytes, tuple[int, int, list[tuple[bytes, bytes]], bytes]] = \
            OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._inflight: dict[tuple[bytes, int], _Computing] = {}
        # The URLs missed lately (their hashes, oldest first): an answer is stored only for a
        # URL asked for again (see `_asked_before`).
        self._missed: OrderedDict[int, None] = OrderedDict()
        self._missed_max = max(1024, max_bytes // 2048)
        self.hits = 0
        self.misses = 0

    def _cacheable(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        path: str = scope["path"]
        if not path.startswith(self.prefixes) or path.startswith(self.excluded):
            return False
        return not any(name in UNCACHEABLE_HEADERS for name, _ in scope["headers"])

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            await self._write(scope, receive, send)
            return
        if self.max_bytes <= 0 or not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        version = await self.version.current()
        if version is None:
            await self.app(scope, receive, send)
            return
        key = _key(scope)
        if await self._answer_from_cache(key, version, send):
            return
        # One computation per key at a time: the others wait for it instead of crowding the
        # database with the same query (a dashboard's first load sends many at once).
        pending = self._inflight.get((key, version))
        if pending is not None:
            pending.wanted_again = True
            await pending.done.wait()
            if await self._answer_from_cache(key, version, send):
                return
        computing = self._inflight.setdefault((key, version), _Computing())
        computing.wanted_again |= self._asked_before(key)
        try:
            await self._compute(scope, receive, send, key, version, computing)
        finally:
            computing.done.set()
            self._inflight.pop((key, version), None)

    def _asked_before(self, key: bytes) -> bool:
        """Whether this URL missed lately; it is remembered as missed now. Most reads of
        varied traffic (a script reading studies by id, a dashboard paging through filters) ask
        for a URL once: storing each of their answers would only push out the answers that are
        asked for again, and hold the memory of a full cache for nothing. A URL is therefore
        stored at its second miss among the last `_missed_max` (or when requests for it waited
        on its first computation)."""
        h = hash(key)
        with self._lock:
            before = h in self._missed
            if before:
                self._missed.move_to_end(h)
            else:
                self._missed[h] = None
                if len(self._missed) > self._missed_max:
                    self._missed.popitem(last=False)
        return before

    async def _write(self, scope: Scope, receive: Any, send: Any) -> None:
        """A write commits before its answer starts: from then on, reads ask for the version
        again (before the client can see the answer and read its own write)."""

        async def send_after_commit(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.version.invalidate()
            await send(message)

        try:
            await self.app(scope, receive, send_after_commit)
        finally:
            self.version.invalidate()

    async def _answer_from_cache(self, key: bytes, version: int, send: Any) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                return False
            self._entries.move_to_end(key)
            self.hits += 1
        _, status, headers, body = entry
        await send({"type": "http.response.start", "status": status,
                    "headers": [*headers, (b"x-cache", b"hit")]})
        await send({"type": "http.response.body", "body": body})
        return True

    async def _compute(self, scope: Scope, receive: Any, send: Any, key: bytes,
                       version: int, computing: _Computing) -> None:
        self.misses += 1
        captured: dict[str, Any] = {"body": []}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    captured["done"] = True
            await send(message)

        await self.app(scope, receive, capture)
        if captured.get("status") == 200 and captured.get("done") and computing.wanted_again:
            self._store(key, version, captured["status"], captured["headers"],
                        b"".join(captured["body"]))

    def _store(self, key: bytes, version: int, status: int,
               headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        size = len(body) + len(key)
        if size > self.max_bytes // 8:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old[3]) + len(key)
            self._entries[key] = (version, status, headers, body)
            self._size += size
            while self._size > self.max_bytes and self._entries:
                old_key, old = self._entries.popitem(last=False)
                self._size -= len(old[3]) + len(old_key)
