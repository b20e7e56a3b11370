"""The HTTP server's protocol: uvicorn's httptools protocol with a bound on header time.

uvicorn closes an idle keep-alive connection, and the API bounds the pauses in a request body
(EVIDENCEDB_BODY_READ_TIMEOUT_S), but nothing bounds how long a client may take over a
request's line and headers: one that sends them a byte at a time holds its connection open for
as long as it likes. Here a connection whose request line and headers are not complete within
EVIDENCEDB_HEADER_READ_TIMEOUT_S of its first byte (or of the connection, before any byte)
gets a 408 and is closed. `evidencedb serve` runs uvicorn with this protocol.

When a graceful shutdown begins, the change feed's long polls answer at once.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings
from app.services import feed

_BODY = orjson.dumps({"type": "about:blank", "title": "Request Timeout", "status": 408,
                      "detail": "the request line and headers took too long to arrive"})
_TIMEOUT_ANSWER = (b"HTTP/1.1 408 Request Timeout\r\n"
                   b"content-type: application/problem+json\r\n"
                   b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
                   b"connection: close\r\n\r\n" + _BODY)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """httptools' HTTP/1.1 protocol, with a deadline for each request's headers."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def shutdown(self) -> None:
        # A graceful shutdown waits for the requests in flight: long polls of the change
        # feed answer now rather than at the end of their wait.
        feed.stop_waiting()
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        seconds = get_settings().header_read_timeout_s
        if seconds > 0:
            self._header_timer = self.loop.call_later(seconds, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered; its headers were complete
        if not self.transport.is_closing():
            self.transport.write(_TIMEOUT_ANSWER)
            self.transport.close()


# glibc's mallopt() parameter for the number of malloc arenas.
_M_ARENA_MAX = -8


def limit_malloc_arenas(default: int = 2) -> bool:
    """Bound glibc's malloc arenas in this process (MALLOC_ARENA_MAX, 2 unless set).

    glibc gives each thread that allocates an arena of its own, up to eight per core, and
    keeps what is freed in them. The request threads build large documents in turn, so a
    worker's memory kept growing with arenas it barely reuses: after 1,200 study pages on
    10,000 studies, one worker held 344 MB, and 262 MB with two arenas (the Python
    interpreter holds the GIL, so threads seldom allocate at once). True when set; False on a
    C library without mallopt() or when MALLOC_ARENA_MAX is not a number."""
    value = os.environ.setdefault("MALLOC_ARENA_MAX", str(default))
    if not value.isdigit():
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_ARENA_MAX, int(value)))
