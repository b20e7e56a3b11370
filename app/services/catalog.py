"""Vocabulary, publication, regulatory-event and timeline lists, paged by id."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.queries import catalog as q
from app.queries import pagination
from app.queries.pagination import Page
from app.schemas.catalog import (
    Paging,
    PublicationParams,
    RegulatoryEventParams,
    TimepointParams,
    VocabularyParams,
)


def _page(session: Session, stmt: Select[Any], id_col: Any, paging: Paging | TimepointParams
          ) -> tuple[list[Any], str | None]:
    fetched = session.execute(pagination.by_id(stmt, id_col, paging.page_token,
                                               paging.page_size)).all()
    return pagination.page_of(fetched, paging.page_size)


def interventions(session: Session, p: VocabularyParams) -> Page[dict[str, Any]]:
    stmt = q.intervention_select(p)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    return Page([dict(r._mapping) for r in rows], token, None)


def conditions(session: Session, p: VocabularyParams) -> Page[dict[str, Any]]:
    stmt = q.condition_select(p)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    return Page([dict(r._mapping) for r in rows], token, None)


def publications(session: Session, p: PublicationParams) -> Page[dict[str, Any]]:
    stmt = q.publication_select(p)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    studies: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if rows:
        for r in session.execute(q.publication_studies_select([r.id for r in rows])):
            studies[r.publication_id].append({"study": r.key, "role": r.role})
    items = [{**dict(r._mapping), "studies": studies.get(r.id, [])} for r in rows]
    return Page(items, token, None)


def regulatory_events(session: Session, p: RegulatoryEventParams) -> Page[dict[str, Any]]:
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
    return Page(items, token, None)


def timepoints(session: Session, p: TimepointParams) -> Page[dict[str, Any]]:
    stmt = q.timepoint_select(p, session.get_bind().dialect.name)
    rows, token = _page(session, stmt, stmt.selected_columns.id, p)
    items = []
    for r in rows:
        item = dict(r._mapping)
        item.pop("study_id")
        item.pop("position")
        items.append(item)
    return Page(items, token, None)
