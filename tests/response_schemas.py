"""Every answer a test receives is checked against what the OpenAPI document says of it.

A response whose status the route does not document, or whose JSON body does not match the
schema documented for that status and media type, fails the test that received it. The
schemas are the application's own `/openapi.json` (JSON Schema 2020-12), so the document
clients generate types from is the one the suite holds the server to.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

import httpx
from jsonschema import Draft202012Validator

JSON_TYPES = ("application/json", "application/problem+json", "application/fhir+json",
              "application/merge-patch+json")
# Answers the framework gives before a route runs (unknown path or method, a request the
# server refuses whole) are documented once for the whole API, not per route.
FRAMEWORK_STATUSES = {413, 414, 415, 429, 431, 503}


class ResponseChecker:
    """Matches a response to its operation and validates it; one per application."""

    def __init__(self, app: Any) -> None:
        self.app = app

    @cached_property
    def spec(self) -> dict[str, Any]:
        return self.app.openapi()

    @cached_property
    def paths(self) -> list[tuple[re.Pattern[str], str]]:
        """Each documented path as a pattern, static paths before templated ones."""
        def pattern(template: str) -> re.Pattern[str]:
            parts = re.split(r"(\{[^}]+\})", template)
            return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p)
                                      for p in parts) + "$")
        return sorted(((pattern(t), t) for t in self.spec["paths"]),
                      key=lambda item: item[1].count("{"))

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for regex, template in self.paths:
            if regex.match(path):
                op: dict[str, Any] | None = self.spec["paths"][template].get(method.lower())
                return op
        return None

    def problems(self, response: httpx.Response) -> list[str]:
        request = response.request
        op = self.operation(request.method, request.url.path)
        if op is None:
            return []
        status = str(response.status_code)
        documented = op["responses"].get(status)
        if documented is None:
            if response.status_code in FRAMEWORK_STATUSES or response.status_code >= 500:
                return []
            return [f"{request.method} {request.url.path} answered {status}, which its "
                    f"operation does not document ({sorted(op['responses'])})"]
        media = response.headers.get("content-type", "").split(";")[0].strip()
        if media not in JSON_TYPES or not response.content:
            return []
        content = documented.get("content", {})
        schema = (content.get(media) or {}).get("schema")
        if schema is None:
            if content and media not in content:
                return [f"{request.method} {request.url.path} {status} answered {media}, "
                        f"documented as {sorted(content)}"]
            return []
        validator = Draft202012Validator({**schema, "components": self.spec["components"]})
        return [f"{request.method} {request.url.path} {status}: {'/'.join(map(str, e.path))}: "
                f"{e.message[:300]}" for e in validator.iter_errors(response.json())][:5]


def check_every_answer(client: httpx.Client, app: Any) -> ResponseChecker:
    """Make `client` fail any test that receives an answer its route does not document."""
    checker = ResponseChecker(app)

    def hook(response: httpx.Response) -> None:
        response.read()
        found = checker.problems(response)
        if found:
            raise AssertionError("answer does not match the OpenAPI document:\n"
                                 + "\n".join(found))

    client.event_hooks["response"] = [*client.event_hooks["response"], hook]
    return checker
