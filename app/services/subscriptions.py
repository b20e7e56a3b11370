"""Saved searches: a key saves a study filter (and optionally a meta-analysis question and a
webhook URL) and asks what changed since it last acknowledged.

A subscription belongs to the key that saved it; any other key is told it does not exist.
It starts acknowledged at the feed's head, with its question's pooled estimate as it is
then. Its changes are the feed's changes to the studies its filter matches after the
acknowledged cursor; with a question, the pooled estimate stored at the acknowledgement is
set beside the estimate now, with the inputs added, removed and changed between them.

Subscriptions are the owner's reading state, not evidence: they are not audited, so they
never appear in the change feed. A webhook's signing secret is answered once, when the
subscription is created.
"""

from __future__ import annotations

import base64
import math
import secrets
from collections import defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.config import Settings
from app.errors import BadRequest, Gone, NotFound, UnprocessableContent
from app.models import Change, Subscription
from app.queries import subscriptions as q
from app.queries.pagination import Page, by_id, page_of
from app.schemas.filters import MetaAnalysisParams, StudyFilter
from app.schemas.subscriptions import Acknowledge, SubscriptionCreate
from app.services import feed, pooling, webhook_urls
from app.types import utcnow

SECRET_BYTES = 24
# Two pooled values closer than this (relatively) are the same estimate read twice.
TOLERANCE = 1e-9
SNAPSHOT_KEYS = ("estimate", "ci_low", "ci_high", "k", "tau2", "effect_type")
INPUT_KEYS = ("value", "ci_low", "ci_high", "se")
MAX_CHANGES = 1000


def new_secret() -> str:
    """A webhook signing secret in the Standard Webhooks format."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _hold_feed(session: Session) -> None:
    """Wait for the feed's writers that are committing, and keep new ones from committing
    until this transaction ends, so the feed's head and the estimate read after it agree
    (SQLite's write transaction already excludes every other writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": feed.FEED_LOCK})


def head(session: Session) -> int:
    return int(session.execute(q.head()).scalar_one())


# --- the question's pooled estimate -----------------------------------------------------------

def _input(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "study_key": row["study_key"], "value": row.get("value"),
            "ci_low": row.get("ci_low"), "ci_high": row.get("ci_high"), "se": row.get("se")}


def pooled(session: Session, question: dict[str, Any]
           ) -> tuple[dict[str, Any], dict[int, str]]:
    """The question's pooled estimate now, as a compact snapshot (estimate, CI, k, τ², the
    pooled inputs), and why each estimate the pooling left out was left out."""
    params = MetaAnalysisParams.model_validate(question)
    try:
        answer = pooling.meta_analysis(session, params)
    except UnprocessableContent as problem:
        excluded = problem.extra.get("excluded") or []
        failed: dict[str, Any] = {
            "estimate": None, "ci_low": None, "ci_high": None,
            "k": int(problem.extra.get("k") or 0), "tau2": None, "effect_type": None,
            "problem": problem.detail, "inputs": []}
        return failed, {e["id"]: e["reason"] for e in excluded}
    snapshot: dict[str, Any] = {key: answer.get(key) for key in SNAPSHOT_KEYS}
    snapshot["effect_type"] = None if answer["effect_type"] is None \
        else str(answer["effect_type"])
    snapshot["problem"] = None
    snapshot["inputs"] = [_input(s) for s in answer["studies"]]
    return snapshot, {e["id"]: e["reason"] for e in answer["excluded"]}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return bool(a == b)


def compare(before: dict[str, Any] | None, after: dict[str, Any],
            reasons: dict[int, str]) -> dict[str, Any]:
    """The estimate then and now, whether it moved, and its inputs added, removed (with why
    the pooling leaves them out now) and changed. A pooling takes one estimate per study, so
    inputs are matched by study: a study's estimate rewritten under a new id is a change."""
    old = {i["study_key"]: i for i in (before or {}).get("inputs", [])}
    new = {i["study_key"]: i for i in after["inputs"]}
    added = [new[k] for k in new if k not in old]
    removed = [{**old[k], "reason": reasons.get(old[k]["id"])} for k in old if k not in new]
    changed = [{"id": new[k]["id"], "study_key": k, "before": old[k], "after": new[k]}
               for k in new if k in old
               and not all(_same(old[k].get(f), new[k].get(f)) for f in ("id", *INPUT_KEYS))]
    moved = before is None or bool(added or removed or changed) or not all(
        _same(before.get(f), after.get(f)) for f in SNAPSHOT_KEYS)
    return {"before": before, "after": after, "moved": moved,
            "inputs": {"added": added, "removed": removed, "changed": changed}}


# --- reading and writing ------------------------------------------------------------------------

def describe(sub: Subscription) -> dict[str, Any]:
    """A subscription as the API shows it (never its secret)."""
    return {"id": sub.id, "filter": sub.filter, "question": sub.question, "url": sub.url,
            "created_at": sub.created_at,
            "acknowledged": {"cursor": feed.encode_cursor(sub.acknowledged_seq),
                             "at": sub.acknowledged_at}}


def create(session: Session, data: SubscriptionCreate, owner_id: int,
           settings: Settings) -> dict[str, Any]:
    """Save a search, acknowledged at the feed's head with its question's estimate now; with
    a URL (checked first: 422 when it may not receive webhooks), a new signing secret, which
    only this answer holds."""
    if data.url is not None:
        webhook_urls.check(data.url, settings)
    _hold_feed(session)
    question = None if data.question is None \
        else data.question.model_dump(mode="json", exclude_defaults=True)
    now = utcnow()
    sub = Subscription(
        owner_id=owner_id, filter=data.filter.model_dump(mode="json", exclude_defaults=True),
        question=question, url=data.url, secret=None if data.url is None else new_secret(),
        active=True, created_at=now, acknowledged_seq=head(session), acknowledged_at=now,
        acknowledged_estimate=None if question is None else pooled(session, question)[0])
    session.add(sub)
    session.flush()
    shown = describe(sub)
    if sub.secret is not None:
        shown["secret"] = sub.secret
    session.commit()
    return shown


def list_page(session: Session, owner_id: int, page_size: int,
              page_token: str | None) -> Page[dict[str, Any]]:
    """The owner's subscriptions in the order they were saved, one keyset page at a time."""
    stmt = by_id(q.owned(owner_id), Subscription.__table__.c.id, page_token, page_size)
    rows, token = page_of(list(session.execute(stmt).scalars()), page_size)
    return Page([describe(s) for s in rows], token)


def owned(session: Session, subscription_id: int, owner_id: int) -> Subscription:
    """The owner's subscription; 404 for one that does not exist or is another key's."""
    sub: Subscription | None = session.execute(
        q.one(subscription_id, owner_id)).scalar_one_or_none()
    if sub is None:
        raise NotFound(f"no subscription {subscription_id} of this key")
    return sub


def read(session: Session, subscription_id: int, owner_id: int) -> dict[str, Any]:
    return describe(owned(session, subscription_id, owner_id))


def delete(session: Session, subscription_id: int, owner_id: int) -> None:
    """Delete the owner's subscription, with the webhook deliveries it is owed."""
    owned(session, subscription_id, owner_id)
    session.execute(q.remove(subscription_id, owner_id))
    session.commit()


def _study_changes(session: Session, sub: Subscription, last: int, limit: int
                   ) -> tuple[list[Change], bool]:
    """The changes to the studies the saved filter matches after the acknowledged seq, up
    to `last`, at most `limit`; and whether more follow."""
    first = feed.oldest_kept(session)
    if first is not None and sub.acknowledged_seq < first - 1:
        raise Gone("changes after this subscription's acknowledged cursor were pruned from "
                   "the feed; acknowledge to start again from its head",
                   oldest_cursor=feed.encode_cursor(first - 1))
    f = StudyFilter.model_validate(sub.filter)
    stmt = feed.changes_select(f, session.get_bind().dialect.name, sub.acknowledged_seq) \
        .where(Change.seq <= last, Change.study_key.is_not(None)).limit(limit + 1)
    changes: list[Change] = list(session.execute(stmt).scalars())
    return changes[:limit], len(changes) > limit


def changes(session: Session, subscription_id: int, owner_id: int,
            limit: int = MAX_CHANGES) -> dict[str, Any]:
    """What changed for the owner's subscription since it was last acknowledged: the changed
    studies with their changes (at most `limit` changes), the cursor to acknowledge them
    with, and with a question its pooled estimate at the acknowledgement beside the
    estimate now."""
    sub = owned(session, subscription_id, owner_id)
    last = head(session)
    found, more = _study_changes(session, sub, last, limit)
    by_study: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for change in found:
        by_study[str(change.study_key)].append(feed.item(change))
    cursor = found[-1].seq if more else max(last, sub.acknowledged_seq)
    answer: dict[str, Any] = {
        "studies": [{"study": key, "changes": items} for key, items in by_study.items()],
        "cursor": feed.encode_cursor(cursor), "more": more, "estimate": None}
    if sub.question is not None:
        after, reasons = pooled(session, sub.question)
        answer["estimate"] = compare(sub.acknowledged_estimate, after, reasons)
    return answer


def acknowledge(session: Session, subscription_id: int, owner_id: int,
                body: Acknowledge | None) -> dict[str, Any]:
    """Mark the changes up to a cursor read (default: the feed's head), and keep the
    question's estimate as it is now; 400 for a cursor past the feed's head."""
    sub = owned(session, subscription_id, owner_id)
    _hold_feed(session)
    last = head(session)
    seq = last if body is None or body.cursor is None else feed.decode_cursor(body.cursor)
    if seq > last:
        raise BadRequest("cursor is past the newest change: acknowledge a cursor a changes "
                         "answer gave")
    sub.acknowledged_seq = seq
    sub.acknowledged_at = utcnow()
    if sub.question is not None:
        sub.acknowledged_estimate = pooled(session, sub.question)[0]
    session.flush()
    shown = describe(sub)
    session.commit()
    return shown
