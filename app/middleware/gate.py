"""How many reads a worker works on at once (EVIDENCEDB_READS_AT_ONCE).

A read (GET or HEAD) waits here, on the event loop, until fewer than the limit are being
worked on; it counts until its response starts, so a slow client or a streamed body never
holds a place, and a long poll gives its place back when it starts waiting
(`leave_read_gate`). Writes are never held: a write waiting for SQLite's write lock must not keep
the write holding it from the threads it needs to commit (see app.main.request_threads).

A worker's reads build their answers in-process, one thread at a time under the interpreter
lock, whichever database they read; the reads past the limit wait on the event loop instead of
queueing for the lock. Measured with 2 workers on 2 cores (bench/README.md): on SQLite 4 at
once serve more than 32 (2 measured about alike); on PostgreSQL, whose server needs the same
cores, 2 at once served as much as 4 or more, with a far lower 99th percentile, and no limit
served a fifth to a third less.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import make_url
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings

READ_METHODS = {"GET", "HEAD"}
READS_AT_ONCE = {"sqlite": 4, "postgresql": 2}
_LEAVE = "evidencedb.leave_read_gate"


def reads_at_once(settings: Settings) -> int:
    """The limit: the setting when given (0: none), else the one for the database reads come
    from."""
    if settings.reads_at_once is not None:
        return settings.reads_at_once
    url = make_url(settings.read_database_url or settings.database_url)
    return READS_AT_ONCE.get(url.get_backend_name(), READS_AT_ONCE["sqlite"])


def leave_read_gate(scope: Scope) -> None:
    """Give this request's place back before it waits on something other than work (a long
    poll): it no longer counts as a read in progress. Harmless without a gate."""
    leave = scope.get(_LEAVE)
    if leave is not None:
        leave()


class ReadGate:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        # One semaphore per event loop: a test client may run each request on a loop of its own.
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.limit))
        return self._slots[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READ_METHODS:
            await self.app(scope, receive, send)
            return
        slots = self._semaphore()
        await slots.acquire()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        async def send_then_release(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        scope[_LEAVE] = release
        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()
