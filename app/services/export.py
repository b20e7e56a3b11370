"""Streamed exports: every row a filter matches, read through a server-side cursor in
batches, so memory stays flat however many rows there are.

CSV flattens list fields into one cell, items joined by " | " (registry ids as
REGISTRY:IDENTIFIER); NDJSON writes each study as its list item, one JSON object a line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.queries.outcomes import outcome_select
from app.queries.studies import study_select
from app.schemas.filters import OutcomeFilter, StudyFilter
from app.services import documents, semantics
from app.services.outcomes import ROW_FIELDS, sources_of

BATCH = 500
LIST_SEPARATOR = " | "
STUDY_COLUMNS = documents.list_item_keys()
SEMANTIC_COLUMNS = ("comparison", "direction", "favours")
OUTCOME_COLUMNS = ("id", *ROW_FIELDS, *SEMANTIC_COLUMNS, "nnt", "sources")


def _batches(session: Session, stmt: Select[Any]) -> Iterator[list[Any]]:
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    try:
        for part in result.partitions():
            yield list(part)
    finally:
        result.close()


def _cell(value: Any) -> Any:
    if isinstance(value, list) and any(isinstance(v, dict) and "registry" not in v
                                       for v in value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if isinstance(value, list):
        return LIST_SEPARATOR.join(
            f"{v['registry']}:{v['identifier']}" if isinstance(v, dict) else str(v)
            for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return "" if value is None else value


def _csv_chunk(rows: list[list[Any]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def _studies(session: Session, f: StudyFilter) -> Iterator[list[dict[str, Any]]]:
    stmt = study_select(f, session.get_bind().dialect.name)
    stmt = stmt.order_by(stmt.selected_columns.id)
    for rows in _batches(session, stmt):
        yield documents.assemble(session, rows)


def studies_csv(session: Session, f: StudyFilter) -> Iterator[bytes]:
    """The studies a filter matches as CSV, header first."""
    yield _csv_chunk([list(STUDY_COLUMNS)])
    for items in _studies(session, f):
        yield _csv_chunk([[_cell(item[c]) for c in STUDY_COLUMNS] for item in items])


def studies_ndjson(session: Session, f: StudyFilter) -> Iterator[bytes]:
    """The studies a filter matches, one JSON document a line."""
    for items in _studies(session, f):
        yield b"".join(orjson.dumps(item) + b"\n" for item in items)


def _source_cell(sources: list[dict[str, Any]]) -> str:
    parts = []
    for s in sources:
        pub = s["publication"]
        where = (f"doi:{pub['doi']}" if pub and pub["doi"] else
                 f"pmid:{pub['pmid']}" if pub and pub["pmid"] else
                 s["registry"] or s["source_url"] or "")
        parts.append(f"{where} ({s['locator']})" if s["locator"] else where)
    return LIST_SEPARATOR.join(parts)


def outcomes_csv(session: Session, f: OutcomeFilter) -> Iterator[bytes]:
    """The effect estimates a filter matches as CSV, sources flattened into one cell."""
    yield _csv_chunk([list(OUTCOME_COLUMNS)])
    stmt = outcome_select(f, session.get_bind().dialect.name)
    stmt = stmt.order_by(stmt.selected_columns.id)
    for rows in _batches(session, stmt):
        sources = sources_of(session, [r.id for r in rows])
        rendered = []
        for r in rows:
            meaning = semantics.of_row(r, r.lower_is_better)
            nnt = meaning["nnt"]
            rendered.append([
                r.id, *(_cell(getattr(r, c)) for c in ROW_FIELDS),
                *(_cell(meaning[c]) for c in SEMANTIC_COLUMNS),
                nnt.get("wording") or "" if nnt else "",
                _source_cell(sources.get(r.id, []))])
        yield _csv_chunk(rendered)
