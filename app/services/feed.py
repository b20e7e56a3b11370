"""The change feed: every committed change, in commit order, for clients that follow it.

A write notes its audit entries as it makes them (`note`, called by `audit.record`; the bulk
loader notes its studies with `note_rows`). When the writing transaction commits, the noted
changes are numbered and stored in `change` under a lock held until that commit (an advisory
transaction lock on PostgreSQL; SQLite's single write lock, which every write transaction
holds from its start). Numbers therefore follow commit order with no gap: a reader that has
seen change n has seen every change before it, under any number of concurrent writers. A
sequence would not do: on PostgreSQL a transaction that draws a smaller number may commit
after one that drew a larger. A write that rolls back (or a savepoint that does) leaves no
change behind, and the webhook deliveries owed for a change are written with it."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element, SubElement, tostring

from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.orm import Session, SessionTransaction, aliased
from sqlalchemy.sql import Select

from app.errors import BadRequest, Gone
from app.models import AuditEntry, Change, Study
from app.queries.study_filter import study_conditions
from app.schemas.feed import AtomParams, ChangeParams
from app.schemas.filters import StudyFilter
from app.types import utcnow

# The audit trail's entities that the feed leaves out: keys are operations, not evidence.
PRIVATE_ENTITIES = frozenset({"api_key"})
# The advisory lock that orders the feed on PostgreSQL (any constant the application owns).
FEED_LOCK = 0x45564442  # "EVDB"
CURSOR_PREFIX = "c1."
NOT_ISSUED = "since is not a cursor this feed issued"
_PENDING, _ROWS, _STORED = "feed.pending", "feed.rows", "feed.stored"

# Called with the session and the rows just stored, inside the committing transaction (the
# webhook outbox registers itself here).
on_stored: list[Callable[[Session, list[dict[str, Any]]], None]] = []


def note(session: Session, entry: AuditEntry) -> None:
    """The feed will carry this audit entry's change if its transaction commits."""
    if entry.entity not in PRIVATE_ENTITIES:
        session.info.setdefault(_PENDING, []).append(entry)


def note_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Changes written without an ORM audit entry (the bulk loader's), as `change` rows
    without their `seq`."""
    session.info.setdefault(_ROWS, []).extend(rows)


def row_of(entry: AuditEntry) -> dict[str, Any]:
    return {"audit_entry_id": entry.id, "at": entry.at, "actor_id": entry.actor_id,
            "entity": entry.entity, "entity_key": entry.entity_key,
            "study_key": entry.entity_key if entry.entity == "study" else None,
            "action": entry.action, "version": entry.version,
            "summary": sorted(entry.changes or {})}


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FEED_LOCK})


def _store(session: Session) -> None:
    entries: list[AuditEntry] = session.info.pop(_PENDING, [])
    rows: list[dict[str, Any]] = session.info.pop(_ROWS, [])
    if not entries and not rows:
        return
    session.flush()
    # An entry whose savepoint rolled back is no longer persistent: its change never was.
    rows = [row_of(e) for e in entries if inspect(e).persistent] + rows
    if not rows:
        return
    _lock(session)
    last = session.execute(select(func.coalesce(func.max(Change.seq), 0))).scalar_one()
    for offset, row in enumerate(rows, start=1):
        row["seq"] = last + offset
    session.execute(insert(Change), rows)
    session.info[_STORED] = True
    for hook in on_stored:
        hook(session, rows)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_ROWS, None)


# Long polls of this process waiting for a change: each (loop, event) is set when any session
# of this process commits changes. Other processes' changes are found by polling.
_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
_waiters_lock = threading.Lock()


def _committed(session: Session) -> None:
    if not session.info.pop(_STORED, False):
        return
    with _waiters_lock:
        waiting = list(_waiters)
    for loop, event in waiting:
        with contextlib.suppress(RuntimeError):  # its loop has closed
            loop.call_soon_threadsafe(event.set)


# Set when the server begins a graceful shutdown: long polls answer at once instead of
# holding the shutdown up until their wait runs out.
stopping = threading.Event()


def stop_waiting() -> None:
    """End every long poll of this process now (their answers are empty pages)."""
    stopping.set()
    with _waiters_lock:
        waiting = list(_waiters)
    for loop, event in waiting:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(event.set)


async def wait_for_commit(timeout: float) -> None:
    """Return when a session of this process commits a change, or after `timeout` s."""
    event = asyncio.Event()
    waiter = (asyncio.get_running_loop(), event)
    with _waiters_lock:
        _waiters.add(waiter)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
    finally:
        with _waiters_lock:
            _waiters.discard(waiter)


def install() -> None:
    """Store noted changes when any session commits (idempotent)."""
    from sqlalchemy import event

    if not event.contains(Session, "before_commit", _store):
        event.listen(Session, "before_commit", _store)
        event.listen(Session, "after_transaction_end", _forget)
        event.listen(Session, "after_commit", _committed)


install()


# --- reading ---------------------------------------------------------------------------------

def encode_cursor(seq: int) -> str:
    raw = f"{CURSOR_PREFIX}{seq}".encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> int:
    """The seq a cursor stands after (0: from the first change)."""
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest(NOT_ISSUED) from None
    number = raw.removeprefix(CURSOR_PREFIX)
    if not raw.startswith(CURSOR_PREFIX) or not number.isdigit() or len(number) > 18:
        raise BadRequest(NOT_ISSUED)
    return int(number)


def is_filtered(f: StudyFilter) -> bool:
    """Whether any study filter is set (a subclass's own parameters do not count)."""
    return bool(f.model_dump(exclude_defaults=True, include=set(StudyFilter.model_fields)))


def changes_select(f: StudyFilter, dialect: str, after: int) -> Select[Any]:
    """The changes after `after`, in order; with a study filter, the changes to the studies
    it matches now (a deleted study matches no filter)."""
    stmt = select(Change).where(Change.seq > after).order_by(Change.seq)
    if is_filtered(f):
        stmt = stmt.join(Study, Study.key == Change.study_key).where(
            *study_conditions(f, dialect))
    return stmt


def oldest_kept(session: Session) -> int | None:
    """The first seq still stored, when older changes have been pruned; None otherwise."""
    first = session.execute(select(func.min(Change.seq))).scalar_one()
    return None if first is None or first <= 1 else int(first)


@dataclass
class FeedPage:
    items: list[dict[str, Any]]
    next_cursor: str


def item(change: Change) -> dict[str, Any]:
    """A change as the feed serves it."""
    return {"id": change.seq, "at": change.at, "entity": change.entity,
            "key": change.entity_key, "study": change.study_key, "action": change.action,
            "version": change.version, "audit_entry": change.audit_entry_id,
            "actor": change.actor_id, "changed": change.summary}


def read_tail(session: Session, f: StudyFilter, count: int) -> FeedPage:
    """The newest `count` changes the filter matches, in commit order, and the cursor of
    the feed's head: following on from it skips nothing that committed after this read."""
    head = session.execute(select(func.coalesce(func.max(Change.seq), 0))).scalar_one()
    dialect = session.get_bind().dialect.name
    stmt = changes_select(f, dialect, 0).where(Change.seq <= head).order_by(None) \
        .order_by(Change.seq.desc()).limit(count)
    changes: list[Change] = list(session.execute(stmt).scalars())
    return FeedPage([item(c) for c in reversed(changes)], encode_cursor(head))


def check_kept(session: Session, after: int) -> None:
    """A cursor before the oldest change the feed keeps is a 410 naming the oldest cursor
    (the one just before that change, which is still whole).

    Called after the read it guards: a prune that ran before the read has moved the oldest
    change by the time of this check, so a read that missed pruned changes never passes."""
    first = oldest_kept(session)
    if first is not None and after < first - 1:
        raise Gone("this cursor is older than the changes the feed keeps; start again from "
                   "the oldest cursor", oldest_cursor=encode_cursor(first - 1))


def read_page(session: Session, f: StudyFilter, since: str | None, limit: int) -> FeedPage:
    """The changes after `since` (without it, from the oldest change the feed keeps)."""
    after = decode_cursor(since)
    if since is None:
        first = oldest_kept(session)
        after = 0 if first is None else first - 1
    dialect = session.get_bind().dialect.name
    changes: list[Change] = list(
        session.execute(changes_select(f, dialect, after).limit(limit)).scalars())
    check_kept(session, after)
    items = [item(c) for c in changes]
    last = changes[-1].seq if changes else after
    return FeedPage(items, encode_cursor(last))


def anything_after(session: Session, f: StudyFilter, after: int) -> bool:
    dialect = session.get_bind().dialect.name
    stmt = changes_select(f, dialect, after).with_only_columns(Change.seq).limit(1)
    return session.execute(stmt).first() is not None


def look(session: Session, params: ChangeParams) -> FeedPage:
    """One look at the feed for a request, on a transaction of its own: the connection goes
    back to the pool after it, so a long poll holds none while it waits."""
    try:
        if params.tail is not None:
            return read_tail(session, params, params.tail)
        return read_page(session, params, params.since, params.limit)
    finally:
        session.close()


# --- the Atom view ---------------------------------------------------------------------------

ATOM_MEDIA_TYPE = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry, even escaped (most C0 controls, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def read_recent(session: Session, f: StudyFilter, since: str | None,
                count: int) -> list[dict[str, Any]]:
    """The newest `count` changes the filter matches (of those after `since` when given),
    newest first, each with the current title of the study it is to."""
    after = decode_cursor(since)
    named = aliased(Study)
    title = select(named.title).where(named.key == Change.study_key) \
        .correlate(Change).scalar_subquery()
    dialect = session.get_bind().dialect.name
    stmt = changes_select(f, dialect, after).add_columns(title.label("study_title")) \
        .order_by(None).order_by(Change.seq.desc()).limit(count)
    rows = session.execute(stmt).all()
    if since is not None:
        check_kept(session, after)
    return [{**item(row[0]), "study_title": row[1]} for row in rows]


def _xml(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def _text(parent: Element, tag: str, value: str, **attributes: str) -> Element:
    element = SubElement(parent, tag, {k: _xml(v) for k, v in attributes.items()})
    element.text = _xml(value)
    return element


def _empty(parent: Element, tag: str, **attributes: str) -> None:
    SubElement(parent, tag, {k: _xml(v) for k, v in attributes.items()})


def _timestamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _entry_title(change: dict[str, Any]) -> str:
    version = "" if change["version"] is None else f" (version {change['version']})"
    return f"{change['entity']} {change['key']}: {change['action']}{version}"


def _entry_summary(change: dict[str, Any]) -> str:
    changed = ", ".join(change["changed"]) or "nothing listed"
    title = change["study_title"]
    return f"{title}. Changed: {changed}" if title else f"Changed: {changed}"


def atom(session: Session, params: AtomParams, *, self_url: str, changes_url: str,
         studies_url: str) -> bytes:
    """The newest changes as an Atom feed (RFC 4287), newest first. Each entry links to
    the study it changed (while the study is not deleted), else to the change itself in the
    JSON feed. Every text is escaped by the XML writer, never pasted into markup."""
    entries = read_recent(session, params, params.since, params.tail)
    filters = params.model_dump(mode="json", exclude_defaults=True,
                                include=set(StudyFilter.model_fields))
    described = "; ".join(
        f"{name}={','.join(map(str, v)) if isinstance(v, list) else v}"
        for name, v in sorted(filters.items()))
    digest = hashlib.sha256(json.dumps(filters, sort_keys=True).encode()).hexdigest()[:16]
    if entries:
        updated = entries[0]["at"]
    else:
        updated = session.execute(
            select(Change.at).order_by(Change.seq.desc()).limit(1)).scalar() or utcnow()
    feed = Element("feed", {"xmlns": ATOM_NS})
    _text(feed, "id", f"urn:evidencedb:changes:{digest}" if filters else "urn:evidencedb:changes")
    _text(feed, "title", f"evidencedb changes to studies matching {described}" if filters
          else "evidencedb changes")
    _text(feed, "updated", _timestamp(updated))
    _text(SubElement(feed, "author"), "name", "evidencedb")
    _empty(feed, "link", rel="self", type=ATOM_MEDIA_TYPE, href=self_url)
    for change in entries:
        entry = SubElement(feed, "entry")
        _text(entry, "id", f"urn:evidencedb:change:{change['id']}")
        _text(entry, "title", _entry_title(change))
        _text(entry, "updated", _timestamp(change["at"]))
        if change["entity"] == "study" and change["action"] != "delete":
            href = f"{studies_url}/{quote(change['key'], safe='')}"
        else:
            query = urlencode({"since": encode_cursor(change["id"] - 1), "limit": 1})
            href = f"{changes_url}?{query}"
        # No media type: readers take an alternate link without one as the entry's page.
        _empty(entry, "link", rel="alternate", href=href)
        _empty(entry, "category", term=change["action"])
        _text(entry, "summary", _entry_summary(change), type="text")
    body: bytes = tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


from app.services import outbox  # noqa: E402,F401  (the webhook outbox registers its hook)
