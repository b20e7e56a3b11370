"""Body limits applied before any route runs: size, read time and JSON nesting depth.

A body over EVIDENCEDB_MAX_BODY_BYTES is refused as soon as the count of received bytes passes
it (413, chunked bodies included, without reading the rest); a client that leaves more than
EVIDENCEDB_BODY_READ_TIMEOUT_S between two pieces of its body gets a 408 and its connection
back; a JSON body's nesting depth is scanned before anything parses it (400).
"""

from __future__ import annotations

import asyncio
import re

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.errors import problem_response

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_STRUCTURE = re.compile(rb'["\\\[\]{}]')


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


class BodyLimits:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        refusal, receive = await self._read_body(headers, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _read_body(self, headers: dict[str, str],
                         receive: Receive) -> tuple[Response | None, Receive]:
        limit = self.settings.max_body_bytes
        too_large = problem_response(413, "Content Too Large",
                                     f"the request body is larger than {limit} bytes")
        declared = headers.get("content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    return too_large, receive
            except ValueError:
                return problem_response(400, "Bad Request",
                                        "Content-Length is not a number"), receive
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(),
                                                 self.settings.body_read_timeout_s)
            except TimeoutError:
                return problem_response(
                    408, "Request Timeout",
                    f"the request body did not arrive within "
                    f"{self.settings.body_read_timeout_s:g} s",
                    headers={"Connection": "close"}), receive
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
            return problem_response(400, "Bad Request",
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
