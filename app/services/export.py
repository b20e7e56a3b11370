"""Streamed exports: every row a filter matches, read through a server-side cursor in
batches, so memory stays flat however many rows there are.

CSV flattens list fields into one cell, items joined by " | " (registry ids as
REGISTRY:IDENTIFIER); NDJSON writes each study as its list item, one JSON object a line.
A CSV text cell that a spreadsheet would read as a formula is written with a leading quote
(see `app.spreadsheet`); NDJSON keeps every value as stored.

Each export runs its query and renders the first batch before it returns, so a filter the
database refuses is an error response, not a 200 followed by a cut-off file. A failure after
the first bytes were sent propagates, so the server drops the connection instead of ending
the chunked body cleanly: the client sees a broken download, never a short one that looks
whole.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from sqlalchemy import Select
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from app.errors import UnprocessableContent
from app.queries.outcomes import outcome_select
from app.queries.studies import study_select
from app.schemas.filters import OutcomeFilter, StudyFilter
from app.services import documents, semantics
from app.services.outcomes import ROW_FIELDS, sources_of
from app.spreadsheet import spreadsheet_safe

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
    csv.writer(buffer, lineterminator="\n").writerows(
        [spreadsheet_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue().encode()


def _csv_stream(columns: Iterable[str], batches: Iterator[list[list[Any]]]) -> Iterator[bytes]:
    """The header travels with the first batch, so nothing is sent before the query ran."""
    header = _csv_chunk([list(columns)])
    for rows in batches:
        yield header + _csv_chunk(rows)
        header = b""
    if header:
        yield header


def _started(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Produce the first chunk now (the query runs and its first batch renders) and the rest
    as the client reads them."""
    try:
        first = next(chunks, None)
    except DataError as exc:
        # A filter value the database cannot compare (out of its range, or a character its
        # text type refuses) is the caller's input, not a server fault.
        raise UnprocessableContent("a filter value is not one the database can compare") \
            from exc
    return chunks if first is None else itertools.chain((first,), chunks)


def _studies(session: Session, f: StudyFilter) -> Iterator[list[dict[str, Any]]]:
    stmt = study_select(f, session.get_bind().dialect.name)
    stmt = stmt.order_by(stmt.selected_columns.id)
    for rows in _batches(session, stmt):
        yield documents.assemble(session, rows)


def studies_csv(session: Session, f: StudyFilter) -> Iterator[bytes]:
    """The studies a filter matches as CSV, header first."""
    return _started(_csv_stream(STUDY_COLUMNS, (
        [[_cell(item[c]) for c in STUDY_COLUMNS] for item in items]
        for items in _studies(session, f))))


def studies_ndjson(session: Session, f: StudyFilter) -> Iterator[bytes]:
    """The studies a filter matches, one JSON document a line."""
    return _started(b"".join(orjson.dumps(item) + b"\n" for item in items)
                    for items in _studies(session, f))


def _source_cell(sources: list[dict[str, Any]]) -> str:
    parts = []
    for s in sources:
        pub = s["publication"]
        where = (f"doi:{pub['doi']}" if pub and pub["doi"] else
                 f"pmid:{pub['pmid']}" if pub and pub["pmid"] else
                 s["registry"] or s["source_url"] or "")
        parts.append(f"{where} ({s['locator']})" if s["locator"] else where)
    return LIST_SEPARATOR.join(parts)


def _outcome_rows(session: Session, f: OutcomeFilter) -> Iterator[list[list[Any]]]:
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
        yield rendered


def outcomes_csv(session: Session, f: OutcomeFilter) -> Iterator[bytes]:
    """The effect estimates a filter matches as CSV, sources flattened into one cell."""
    return _started(_csv_stream(OUTCOME_COLUMNS, _outcome_rows(session, f)))
