"""Request limits applied before any route runs: rate, body size and JSON nesting depth.

One ASGI middleware: it counts requests per client address and per key in fixed windows
(429 with Retry-After), refuses a body over EVIDENCEDB_MAX_BODY_BYTES as soon as the count of
received bytes passes it (413, chunked bodies included, without reading the rest), and scans a
JSON body's nesting depth before anything parses it (400).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import PROBLEM_MEDIA_TYPE

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_STRUCTURE = re.compile(rb'["\\\[\]{}]')


class FixedWindowLimiter:
    """At most `limit` hits per identity per window; thread-safe, in process memory."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._hits: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, identity: str, now: float | None = None) -> float | None:
        """Count one hit; None when allowed, else the seconds until the window resets."""
        now = time.monotonic() if now is None else now
        with self._lock:
            start, count = self._hits.get(identity, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            if count >= self.limit:
                return start + self.window_s - now
            self._hits[identity] = (start, count + 1)
            if len(self._hits) > 100_000:
                self._hits = {k: v for k, v in self._hits.items()
                              if now - v[0] < self.window_s}
        return None


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit` (brackets inside strings ignored)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = skip_to = 0
    in_string = False
    for match in _STRUCTURE.finditer(body):
        if match.start() < skip_to:
            continue
        char = match.group()
        if in_string:
            if char == b"\\":
                skip_to = match.end() + 1  # the escaped byte is text, whatever it is
            elif char == b'"':
                in_string = False
        elif char == b'"':
            in_string = True
        elif char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


def _problem(status: int, title: str, detail: str,
             headers: dict[str, str] | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = orjson.dumps({"type": "about:blank", "title": title, "status": status,
                         "detail": detail})
    raw = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
           (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return status, raw, body


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        window = settings.rate_limit_window_s
        self.by_address = (FixedWindowLimiter(settings.rate_limit_per_address, window)
                           if settings.rate_limit_per_address > 0 else None)
        self.by_key = (FixedWindowLimiter(settings.rate_limit_per_key, window)
                       if settings.rate_limit_per_key > 0 else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        refusal = self._rate_limit(scope, headers)
        if refusal is None and scope["method"] in BODY_METHODS:
            refusal, receive = await self._read_body(headers, receive)
        if refusal is not None:
            await _send(send, *refusal)
            return
        await self.app(scope, receive, send)

    def _rate_limit(self, scope: Scope, headers: dict[str, str]) -> Any:
        if not scope.get("path", "").startswith("/api/"):
            return None
        checks = []
        if self.by_address is not None:
            client = scope.get("client")
            checks.append((self.by_address, "client address",
                           "addr:" + (client[0] if client else "unknown")))
        auth = headers.get("authorization")
        if self.by_key is not None and auth:
            # The limiter never holds the key itself, only a digest of the header.
            checks.append((self.by_key, "key",
                           "key:" + hashlib.sha256(auth.encode()).hexdigest()[:32]))
        for limiter, what, identity in checks:
            wait = limiter.hit(identity)
            if wait is not None:
                seconds = max(1, math.ceil(wait))
                return _problem(429, "Too Many Requests",
                                f"rate limit of {limiter.limit} requests per "
                                f"{limiter.window_s:g} s for this {what} reached",
                                {"Retry-After": str(seconds)})
        return None

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> tuple[Any, Receive]:
        limit = self.settings.max_body_bytes
        too_large = _problem(413, "Content Too Large",
                             f"the request body is larger than {limit} bytes")
        declared = headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    return too_large, receive
            except ValueError:
                return _problem(400, "Bad Request", "Content-Length is not a number"), receive
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return too_large, receive
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        # Media types are case-insensitive (RFC 9110 §8.3.1): APPLICATION/JSON is JSON too.
        if "json" in headers.get("content-type", "").lower() and json_depth_exceeds(
                body, self.settings.max_json_depth):
            return _problem(400, "Bad Request",
                            f"the JSON body nests deeper than "
                            f"{self.settings.max_json_depth} levels"), receive
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return None, replay


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]],
                body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
