"""The HTTP middleware, outermost first: request log and metrics, security headers, trusted
proxies, rate limits, body limits, the public origin, CORS, the response cache and the bound
on reads worked on at once."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.middleware.cors import CORSMiddleware

from app.config import Settings
from app.middleware.cache import DataVersion, ResponseCache
from app.middleware.gate import ReadGate, reads_at_once
from app.middleware.headers import PublicOrigin, SecurityHeaders, TrustedProxies
from app.middleware.limits import BodyLimits
from app.middleware.logs import RequestObservability
from app.middleware.ratelimit import Buckets, RateLimits
from app.security import KeyIds


def _signal_file(settings: Settings) -> Path:
    """One file per database on this host, shared by the workers serving it."""
    digest = hashlib.sha256(settings.database_url.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"evidencedb-writes-{digest}"


def install(app: FastAPI, settings: Settings, *, side_engine: Engine, store: Buckets,
            key_ids: KeyIds) -> None:
    """Add every middleware (Starlette runs the last added first)."""
    if limit := reads_at_once(settings):
        # Inside the cache: an answer the cache holds never waits for a place.
        app.add_middleware(ReadGate, limit=limit)
    if settings.response_cache_bytes > 0 and not settings.require_read_key:
        # Cached reads are keyed on the version of the database reads come from.
        app.add_middleware(ResponseCache, version=DataVersion(
            side_engine, settings.cache_version_interval_ms / 1000, signal=_signal_file(settings)),
            max_bytes=settings.response_cache_bytes)
    if settings.cors_origins:
        # Outside the cache, which would otherwise replay one origin's grant to another. Keys
        # travel in the Authorization header, never in cookies: no credentials mode, so a
        # wildcard origin can never be combined with credentials.
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=False,
            allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match",
                           "Idempotency-Key"],
            expose_headers=["ETag", "Link", "Location", "Retry-After", "x-next-page-token",
                            "x-total-count"])
    if settings.public_base_url:
        app.add_middleware(PublicOrigin, base_url=settings.public_base_url)
    app.add_middleware(BodyLimits, settings=settings)
    # Limits apply to every request, cached answers included; outermost of all, the request
    # log and metrics see every answer, refusals by the limits too.
    app.add_middleware(RateLimits, settings=settings, store=store, key_ids=key_ids)
    if settings.trusted_proxies:
        app.add_middleware(TrustedProxies, networks=settings.trusted_proxies)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestObservability)
