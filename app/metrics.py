"""Prometheus metrics: requests by route template and status, latency, database pool usage.

With several uvicorn workers each worker is its own process with its own counters. Set
`PROMETHEUS_MULTIPROC_DIR` to an empty directory writable by every worker (before they start)
and `/metrics` adds up the values of all workers, whichever worker answers the scrape.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter(
    "evidencedb_http_requests", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "evidencedb_http_request_duration_seconds",
    "Time from receiving a request to the end of its response, by route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
# Pool gauges are refreshed after every request and at every scrape; with several workers the
# values of the live workers are added up.
POOL_IN_USE = Gauge(
    "evidencedb_db_pool_connections_in_use", "Database connections checked out of the pool.",
    ["database"], multiprocess_mode="livesum",
)
POOL_IDLE = Gauge(
    "evidencedb_db_pool_connections_idle", "Open database connections waiting in the pool.",
    ["database"], multiprocess_mode="livesum",
)
POOL_CAPACITY = Gauge(
    "evidencedb_db_pool_capacity",
    "Most connections the pool may open (pool size plus overflow).",
    ["database"], multiprocess_mode="livesum",
)


def observe_request(method: str, route: str, status: int, duration_s: float) -> None:
    labels = {"method": method, "route": route, "status": str(status)}
    REQUESTS.labels(**labels).inc()
    LATENCY.labels(**labels).observe(duration_s)


def update_pool_gauges(engines: dict[str, Any]) -> None:
    """Read each engine's pool (`{"primary": engine, "replica": engine}`) into the gauges."""
    for name, engine in engines.items():
        pool = engine.pool
        checked_out = getattr(pool, "checkedout", None)
        if checked_out is None:  # pools without counters (in-memory SQLite)
            continue
        POOL_IN_USE.labels(database=name).set(checked_out())
        POOL_IDLE.labels(database=name).set(pool.checkedin())
        overflow = max(getattr(pool, "_max_overflow", 0), 0)
        POOL_CAPACITY.labels(database=name).set(pool.size() + overflow)


def render() -> bytes:
    """The Prometheus text exposition of every metric (of every worker in multiprocess mode)."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_exit() -> None:
    """Drop this worker's live gauges from the sums (multiprocess mode)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
