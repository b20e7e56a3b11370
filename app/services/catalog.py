"""Vocabulary, publication, regulatory-event and timeline lists, paged by id."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.errors import BadRequest
from app.queries import catalog as q
from app.queries.pagination import Cursor, decode_cursor, encode_cursor, keyset
from app.schemas.catalog import (
    Paging,
    PublicationParams,
    RegulatoryEventParams,
    TimepointParams,
    VocabularyParams,
)
from app.services.studies import PageResult


def _page(session: Session, stmt: Select[Any], id_col: Any, paging: Paging
          ) -> tuple[list[Any], str | None]:
    cursor = decode_cursor(paging.page_token, "id") if paging.page_token else None
    if cursor is not None and (isinstance(cursor.value, bool) or not isinstance(cursor.value, int)):
        raise BadRequest("page_token is not a token this API issued")
    rows = session.execute(keyset(stmt, id_col, id_col, False, cursor, paging.page_size)).all()
    more = len(rows) > paging.page_size
    rows = rows[: paging.page_size]
    token = encode_cursor(Cursor("id", rows[-1].id, rows[-1].id)) if more else None
    return rows, token


def interventions(session: Session, p: VocabularyParams) -> PageResult:
    stmt = q.intervention_select(p)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    return PageResult([dict(r._mapping) for r in rows], token, None)


def conditions(session: Session, p: VocabularyParams) -> PageResult:
    stmt = q.condition_select(p)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    return PageResult([dict(r._mapping) for r in rows], token, None)


def publications(session: Session, p: PublicationParams) -> PageResult:
    stmt = q.publication_select(p)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    studies: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if rows:
        for r in session.execute(q.publication_studies_select([r.id for r in rows])):
            studies[r.publication_id].append({"study": r.key, "role": r.role})
    items = [{**dict(r._mapping), "studies": studies.get(r.id, [])} for r in rows]
    return PageResult(items, token, None)


def regulatory_events(session: Session, p: RegulatoryEventParams) -> PageResult:
    stmt = q.regulatory_event_select(p)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    items = []
    for r in rows:
        item = dict(r._mapping)
        item["intervention"] = item.pop("intervention_name")
        item["condition"] = item.pop("condition_name")
        for hidden in ("intervention_id", "condition_id", "date_sort"):
            item.pop(hidden)
        items.append(item)
    return PageResult(items, token, None)


def timepoints(session: Session, p: TimepointParams) -> PageResult:
    stmt = q.timepoint_select(p, session.get_bind().dialect.name)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    items = []
    for r in rows:
        item = dict(r._mapping)
        item.pop("study_id")
        item.pop("position")
        items.append(item)
    return PageResult(items, token, None)
