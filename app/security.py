"""Who may call what: the rules behind the API's auth dependencies (app/api/auth.py) and the
rate limiter, with no HTTP framework in them.

A request carries at most one `Authorization: Bearer <key>` header. The scheme's case and the
spaces around the key do not matter; two Authorization headers, another scheme or a key that
is not printable ASCII are refused (401), never read as some other key. Keys are looked up by
digest; neither an answer nor a log line repeats one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.enums import Role
from app.errors import Unauthorized
from app.services import keys

log = logging.getLogger("evidencedb")

RANK = {Role.READER: 0, Role.CURATOR: 1, Role.ADMIN: 2}


def allows(held: Role, needed: Role) -> bool:
    return RANK[held] >= RANK[needed]


def bearer_token(values: Iterable[str]) -> str | None:
    """The key in the request's Authorization header values (None when there are none)."""
    values = list(values)
    if not values:
        return None
    if len(values) > 1:
        raise Unauthorized("a request carries one Authorization header at most")
    scheme, _, token = values[0].strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header must be 'Bearer <key>'")
    # Keys are printable ASCII; anything else (a NUL, say) is no key of ours and must not
    # reach a query.
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise Unauthorized("the key is not valid (unknown or revoked)")
    return token


def token_from_scope_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """`bearer_token` over raw ASGI headers; a malformed header counts as no key."""
    try:
        return bearer_token(value.decode("latin-1") for name, value in headers
                            if name.lower() == b"authorization")
    except Unauthorized:
        return None


class KeyIds:
    """Which live key a token is, remembered for `ttl_s` seconds (the rate limiter asks on
    every keyed request; the database is asked once per token and minute)."""

    def __init__(self, factory: sessionmaker[Session], ttl_s: float = 60.0,
                 max_entries: int = 10_000) -> None:
        self._factory = factory
        self._ttl_s = ttl_s
        self._max = max_entries
        self._known: dict[str, tuple[int | None, float]] = {}

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def cached(self, token: str) -> tuple[bool, int | None]:
        entry = self._known.get(self._digest(token))
        if entry is None or entry[1] < time.monotonic():
            return False, None
        return True, entry[0]

    def lookup(self, token: str) -> int | None:
        """Blocking: ask the database (run it off the event loop)."""
        try:
            with self._factory() as session:
                principal = keys.authenticate(session, token)
        except SQLAlchemyError:
            log.warning("key lookup for the rate limiter failed")
            return None
        if len(self._known) >= self._max:
            self._known.clear()
        key_id = principal.id if principal else None
        self._known[self._digest(token)] = (key_id, time.monotonic() + self._ttl_s)
        return key_id


class KeyUse:
    """Key use recorded on the primary database, at most once a minute per key and process,
    in a thread of its own: a read never writes through its own session (read-only on a
    replica, and on SQLite a read upgraded to a write fails when another writer is busy),
    and never waits for the write."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._last: dict[int, float] = {}
        self._lock = threading.Lock()
        self._writers: list[threading.Thread] = []

    def note(self, key_id: int) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key_id, -1e18) < keys.LAST_USED_RESOLUTION_S:
                return
            self._last[key_id] = now
            self._writers = [t for t in self._writers if t.is_alive()]
            writer = threading.Thread(target=self._write, args=(key_id,), daemon=True,
                                      name="evidencedb-key-use")
            self._writers.append(writer)
        writer.start()

    def _write(self, key_id: int) -> None:
        try:
            with self._factory() as session:
                keys.mark_used(session, key_id)
        except SQLAlchemyError:
            log.warning("recording a key's use failed")

    def wait(self, timeout_s: float = 1.0) -> None:
        """Let the writes in flight finish (at shutdown)."""
        deadline = time.monotonic() + timeout_s
        for writer in list(self._writers):
            writer.join(max(0.0, deadline - time.monotonic()))
