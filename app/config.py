"""Settings, read from the environment (prefix EVIDENCEDB_)."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVIDENCEDB_", extra="ignore")

    database_url: str = "sqlite:///./evidencedb.sqlite3"
    read_database_url: str | None = None
    seed_dir: Path = PROJECT_ROOT / "seed_data"
    pool_size: int = 5
    max_overflow: int = 5
    # Threads that run a worker's requests at once (sync routes and dependencies); see
    # app.main.request_threads before lowering it on SQLite.
    request_threads: int = Field(40, ge=1, le=1000)
    # Reads (GET, HEAD) a worker works on at once; unset: 4 when reads come from SQLite, no
    # limit on PostgreSQL; 0: no limit (app/middleware/gate.py).
    reads_at_once: int | None = Field(None, ge=0, le=1000)
    pool_timeout_s: float = 5.0
    connect_timeout_s: int = 2
    sqlite_busy_timeout_ms: int = 5000
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 64
    # Request cost per window for a client address (unkeyed requests) and for a key, on every
    # route; a page of n rows costs 1 + n // 100, an export 20. 0 switches a limit off.
    rate_limit_per_address: int = 6000
    rate_limit_per_key: int = 6000
    rate_limit_window_s: float = 60.0
    # Where the counts live, shared by every worker and replica: "database" (PostgreSQL: the
    # primary; SQLite: a file beside it) or "memory" (one process only).
    rate_limit_store: Literal["database", "memory"] = "database"
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses or networks
    # ("10.0.0.0/8,127.0.0.1"). None by default: the peer address is the client.
    trusted_proxies: Annotated[list[str], NoDecode] = []
    # Seconds a client may take between two pieces of a request body before a 408.
    body_read_timeout_s: float = 30.0
    # Longest a request's line and headers may take to arrive under `evidencedb serve`
    # (app/server.py); 0 turns the bound off.
    header_read_timeout_s: float = 10.0
    max_page_size: int = 1000
    default_page_size: int = 50
    require_read_key: bool = False
    # With require_read_key, whether /metrics, /version, /openapi.json and /docs need a key too.
    protect_operations: bool = True
    # API docs at /docs and /redoc (served from the package); false removes them.
    docs_enabled: bool = True
    # Browser origins allowed to read the API from their pages (CORS); none by default.
    cors_origins: list[str] = []
    # Scheme and host the service is reached at ("https://evidence.example.org"): links the API
    # writes (Link: rel="next", FHIR fullUrl) use it whatever Host header a request carries.
    # Unset, they use the request's own scheme and host.
    public_base_url: str | None = None
    log_sql: bool = False
    log_level: str = "INFO"
    # Per-worker memory for cached read responses; 0 turns the cache off.
    response_cache_bytes: int = 32 * 1024 * 1024
    # How often (ms) a worker asks the database for the data version; writes through any
    # worker on the same host are seen at once, writes elsewhere within this interval.
    cache_version_interval_ms: int = 500
    # Living evidence (docs/changes.md). The feed keeps every change unless this many days is
    # set; a cursor older than what is kept is then a 410 naming the oldest cursor.
    feed_retention_days: float | None = None
    # Idempotency records (a keyed write's first answer, replayed on retries) and delivered or
    # failed webhook deliveries are pruned after these many hours / days.
    idempotency_retention_hours: float = 24.0 * 7
    delivery_retention_days: float = 30.0
    # Webhook URLs: HTTPS to public addresses only, unless an address falls in one of these
    # networks ("10.0.0.0/8,127.0.0.1"); plain HTTP is allowed for loopback addresses only.
    webhook_allowed_networks: Annotated[list[str], NoDecode] = []
    # A delivery is retried with backoff for this long after its change, then marked failed.
    webhook_retry_hours: float = 24.0
    webhook_timeout_s: float = 10.0
    # How often the delivery worker looks for due deliveries; `serve` runs one unless false.
    delivery_interval_s: float = 1.0
    deliver_in_serve: bool = True
    # The first retry's delay; later ones grow from it (x6, x24, x120, then x720 at most:
    # 5 s, 30 s, 2 min, 10 min, 1 h, then hourly by default).
    webhook_backoff_s: float = 5.0
    # The delivery worker (`evidencedb deliver`, and the one inside `serve`) prunes by the
    # retention settings above when it starts and then every this many seconds; 0: never
    # (run `evidencedb prune` instead).
    prune_interval_s: float = 3600.0

    @field_validator("trusted_proxies", "webhook_allowed_networks", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies", "webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("public_base_url")
    @classmethod
    def _origin_only(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname \
                or parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError("public_base_url is a scheme and host, such as https://example.org")
        return f"{parts.scheme}://{parts.netloc}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
