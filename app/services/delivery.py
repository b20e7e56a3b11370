"""The webhook delivery worker: sends what the outbox owes, signed, and retries with
backoff until the retry window closes.

A worker claims the deliveries that are due by writing a claim expiry on them and commits
the claim before it sends anything (on PostgreSQL the due rows are locked and rows another
worker is claiming are skipped; on SQLite the claim holds the write lock). A worker killed
mid-run loses nothing: its claims expire and another run takes them. Only the oldest
pending delivery of each saved search can be claimed, so a receiver gets its changes in
commit order; a delivery is sent again until the receiver answers 2xx or the window of
`webhook_retry_hours` after the delivery was written closes, and then it is `failed`.

Each request follows the Standard Webhooks specification: `webhook-id` (the same on every
try of one delivery), `webhook-timestamp` (Unix seconds) and `webhook-signature`
(`v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the secret's key)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
from sqlalchemy import insert, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker, writer
from app.models import DeliveryAttempt, WebhookDelivery
from app.queries import deliveries as q
from app.queries import pagination
from app.queries.pagination import Page
from app.services import feed, retention, subscriptions, webhook_urls
from app.types import utcnow

log = logging.getLogger("evidencedb.webhooks")

EVENT_TYPE = "evidencedb.change"
SECRET_PREFIX = "whsec_"
# Retry delays as multiples of `webhook_backoff_s`: 5 s, 30 s, 2 min, 10 min, then 1 h for
# every later try with the default base.
BACKOFF_STEPS = (1, 6, 24, 120, 720)
# Deliveries claimed at once (at most one per saved search).
BATCH = 5
# Longest error text kept for an attempt.
ERROR_CHARS = 500
DEFAULT_PORTS = {"http": 80, "https": 443}
# The delivery log's page tokens (newest first, by delivery id).
LOG_SORT = "id"


@dataclass
class Outgoing:
    """One claimed delivery, ready to send."""

    id: int
    subscription_id: int
    seq: int
    url: str | None
    secret: str | None
    active: bool
    created_at: dt.datetime
    attempts: int
    change: dict[str, Any]
    claimed_until: dt.datetime


@dataclass
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: float | None

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def message_id(subscription_id: int, seq: int) -> str:
    """The `webhook-id` of a delivery: the same on every try."""
    return f"msg_{subscription_id}_{seq}"


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header of a message: `v1,` and the base64 HMAC-SHA256 of
    `{id}.{timestamp}.{body}` keyed with the base64-decoded secret after `whsec_`."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def backoff(settings: Settings, attempts: int) -> dt.timedelta:
    """The delay before the try after `attempts` failed ones."""
    step = BACKOFF_STEPS[min(attempts, len(BACKOFF_STEPS)) - 1]
    return dt.timedelta(seconds=settings.webhook_backoff_s * step)


def lease(settings: Settings, count: int) -> dt.timedelta:
    """How long a claim of `count` deliveries holds them: each request may take the timeout
    three times over (to connect, to send, to be answered), and one timeout more covers the
    address check and the bookkeeping."""
    return dt.timedelta(seconds=settings.webhook_timeout_s * (3 * count + 1))


def claim(sessions: sessionmaker[Session], settings: Settings) -> list[Outgoing]:
    """Take the deliveries that are due, committing the claim before anything is sent."""
    with sessions() as session:
        now = utcnow()
        locks = session.get_bind().dialect.name == "postgresql"
        ids: list[int] = list(session.execute(q.due(now, BATCH, lock=locks)).scalars())
        if not ids:
            session.rollback()
            return []
        until = now + lease(settings, len(ids))
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                        .values(claimed_until=until))
        taken = [Outgoing(d.id, d.subscription_id, d.change_seq, s.url, s.secret, s.active,
                          d.created_at, d.attempts, feed.item(c), until)
                 for d, s, c in session.execute(q.to_send(ids)).tuples()]
        session.commit()
    return taken


def payload(out: Outgoing, now: dt.datetime) -> bytes:
    return orjson.dumps({"type": EVENT_TYPE, "timestamp": now,
                         "data": {**out.change, "subscription": out.subscription_id}})


@dataclass
class Target:
    """Where one try connects: the URL with its host replaced by an address that was
    checked, and the host the request still names (Host header, TLS server name)."""

    url: str
    host_header: str
    server_name: str


def targets(url: str, settings: Settings) -> list[Target] | str:
    """The checked addresses of the URL's host, in the resolver's order, or why it may not
    be sent to now. The request connects to an address checked here, never to one a second
    resolution might give (a name can be made to resolve elsewhere between the two)."""
    refused = webhook_urls.refusal(url, settings)
    if refused is not None:
        return refused
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = webhook_urls.resolve(host, parts.port or DEFAULT_PORTS[parts.scheme])
    except webhook_urls.RefusedUrl as problem:
        return str(problem)
    found: list[Target] = []
    for address in dict.fromkeys(addresses):
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        pinned = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        refused = webhook_urls.refusal(pinned, settings)
        if refused is not None:
            return refused
        found.append(Target(pinned, parts.netloc, host))
    return found


def send(client: httpx.Client, settings: Settings, out: Outgoing) -> Outcome:
    """One try: the URL's address rules checked again (what its host resolves to may have
    changed since it was saved), then one POST to a checked address, redirects not
    followed; the next address is tried only when the connection itself failed."""
    if not out.active or not out.url or not out.secret:
        return Outcome(None, "the saved search no longer has an active webhook", None)
    found = targets(out.url, settings)
    if isinstance(found, str):
        return Outcome(None, f"not sent: {found}", None)
    now = utcnow()
    body = payload(out, now)
    msg_id, timestamp = message_id(out.subscription_id, out.seq), int(now.timestamp())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(out.secret, msg_id, timestamp, body),
               "content-type": "application/json", "user-agent": "evidencedb-webhooks"}
    started = time.perf_counter()
    error = "the host has no address"
    for target in found:
        try:
            # Only the status counts: the receiver's body is never read.
            with client.stream("POST", target.url, content=body,
                               headers={**headers, "host": target.host_header},
                               extensions={"sni_hostname": target.server_name}) as response:
                status = response.status_code
        except httpx.ConnectError as problem:
            error = f"{type(problem).__name__}: {problem}"[:ERROR_CHARS]
            continue
        except httpx.HTTPError as problem:
            error = f"{type(problem).__name__}: {problem}"[:ERROR_CHARS]
            break
        elapsed = (time.perf_counter() - started) * 1000
        if 200 <= status < 300:
            return Outcome(status, None, elapsed)
        return Outcome(status, f"the receiver answered {status}", elapsed)
    return Outcome(None, error, (time.perf_counter() - started) * 1000)


def record(sessions: sessionmaker[Session], settings: Settings, out: Outgoing,
           outcome: Outcome) -> None:
    """Keep the try, and mark the delivery delivered, due again after its backoff, or
    failed once the retry window has closed (at once when its saved search was deactivated
    or lost its URL). A claim that expired and was taken by another worker meanwhile
    keeps the try but leaves the delivery to that worker."""
    now = utcnow()
    attempts = out.attempts + 1
    values: dict[str, Any] = {"attempts": attempts, "claimed_until": None,
                              "last_status_code": outcome.status_code,
                              "last_error": outcome.error}
    if outcome.delivered:
        values.update(status=q.DELIVERED, delivered_at=now)
    else:
        retry_at = now + backoff(settings, attempts)
        window_end = out.created_at + dt.timedelta(hours=settings.webhook_retry_hours)
        if retry_at > window_end or not out.active or not out.url:
            values.update(status=q.FAILED)
        else:
            values.update(next_attempt_at=retry_at)
    with sessions() as session:
        session.execute(insert(DeliveryAttempt).values(
            delivery_id=out.id, at=now, status_code=outcome.status_code, error=outcome.error,
            duration_ms=outcome.duration_ms))
        session.execute(update(WebhookDelivery)
                        .where(WebhookDelivery.id == out.id,
                               WebhookDelivery.status == q.PENDING,
                               WebhookDelivery.claimed_until == out.claimed_until)
                        .values(**values))
        session.commit()


def release(sessions: sessionmaker[Session], taken: list[Outgoing]) -> None:
    """Give back claims that were not sent (the worker is stopping)."""
    if not taken:
        return
    with sessions() as session:
        for out in taken:
            session.execute(update(WebhookDelivery)
                            .where(WebhookDelivery.id == out.id,
                                   WebhookDelivery.claimed_until == out.claimed_until)
                            .values(claimed_until=None))
        session.commit()


def deliver_due(sessions: sessionmaker[Session], client: httpx.Client, settings: Settings,
                stop: threading.Event) -> int | None:
    """Claim and send one batch; how many were tried (None when nothing was due)."""
    taken = claim(sessions, settings)
    if not taken:
        return None
    tried = 0
    for position, out in enumerate(taken):
        if stop.is_set():
            release(sessions, taken[position:])
            break
        record(sessions, settings, out, send(client, settings, out))
        tried += 1
    return tried


def run(settings: Settings, *, once: bool = False, stop: threading.Event | None = None) -> int:
    """Deliver what is due until `stop` is set (or, with `once`, until nothing is due);
    the number of deliveries attempted."""
    stop = stop or threading.Event()
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=1,
                         pool_timeout=settings.pool_timeout_s,
                         busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                         connect_timeout=settings.connect_timeout_s)
    sessions = make_sessionmaker(writer(engine))
    tried = 0
    try:
        # No connection is kept between requests: each goes to an address checked for it,
        # under the server name of its own URL.
        with httpx.Client(timeout=settings.webhook_timeout_s, follow_redirects=False,
                          trust_env=False,
                          limits=httpx.Limits(max_keepalive_connections=0)) as client:
            next_prune = time.monotonic()
            while not stop.is_set():
                if settings.prune_interval_s > 0 and time.monotonic() >= next_prune:
                    _prune(sessions, settings)
                    next_prune = time.monotonic() + settings.prune_interval_s
                try:
                    done = deliver_due(sessions, client, settings, stop)
                except Exception:
                    # A database that is away for a while must not end the worker: it tries
                    # again after the interval, and unsent claims expire meanwhile.
                    log.exception("the delivery worker could not deliver; it tries again")
                    done = None
                    if once:
                        raise
                if done is None:
                    if once:
                        break
                    stop.wait(settings.delivery_interval_s)
                else:
                    tried += done
    finally:
        engine.dispose()
    return tried


def _prune(sessions: sessionmaker[Session], settings: Settings) -> None:
    """What the retention settings no longer keep (idempotency records, finished deliveries,
    old changes when a feed retention is set), so a service needs no scheduled job for it."""
    try:
        with sessions() as session:
            counts = retention.prune(session, settings, utcnow())
            session.commit()
    except Exception:
        log.exception("the delivery worker could not prune; it tries again later")
        return
    if any(counts.values()):
        log.info("pruned %s", ", ".join(f"{n} {what}" for what, n in counts.items()))


# --- the delivery log ------------------------------------------------------------------------

def history(session: Session, owner_id: int, subscription_id: int, page_size: int,
            page_token: str | None) -> Page[dict[str, Any]]:
    """A saved search's deliveries, newest first, each with its tries; only its owner sees
    them (to anyone else the saved search does not exist)."""
    subscriptions.owned(session, subscription_id, owner_id)
    cursor = pagination.decode_cursor(page_token, LOG_SORT) if page_token else None
    stmt = pagination.keyset(q.log_select(subscription_id), q.delivery_id(), q.delivery_id(),
                             True, cursor, page_size)
    rows, token = pagination.page_of(session.execute(stmt).all(), page_size, LOG_SORT)
    tries: dict[int, list[dict[str, Any]]] = {r.id: [] for r in rows}
    if rows:
        for a in session.execute(q.attempts_of(list(tries))):
            tries[a.delivery_id].append({"at": a.at, "status_code": a.status_code,
                                         "error": a.error, "duration_ms": a.duration_ms})
    items = [{"id": r.id, "change": r.change_seq, "webhook_id": message_id(subscription_id,
                                                                            r.change_seq),
              "status": r.status, "attempts": r.attempts, "created_at": r.created_at,
              "next_attempt_at": r.next_attempt_at if r.status == q.PENDING else None,
              "delivered_at": r.delivered_at, "last_status_code": r.last_status_code,
              "last_error": r.last_error, "tries": tries[r.id]} for r in rows]
    return Page(items, token)
