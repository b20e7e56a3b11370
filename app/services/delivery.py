"""The webhook delivery worker: sends what the outbox owes, signed, and retries with
backoff until the retry window closes."""

from __future__ import annotations

import threading

from app.config import Settings


def run(settings: Settings, *, once: bool = False, stop: threading.Event | None = None) -> int:
    """Deliver what is due until `stop` is set (or, with `once`, until nothing is due);
    the number of deliveries attempted."""
    raise NotImplementedError
