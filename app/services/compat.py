"""The familiar dialects: ClinicalTrials.gov API v2 records and FHIR R5 resources.

Both read through the one study filter (`StudyListParams` → `studies.list_page`) and render
whole documents assembled with a constant number of queries per page. Imported studies are
served in the ClinicalTrials.gov dialect from their stored record, verbatim; curated studies
are rendered from our schema.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.errors import BadRequest, Gone, NotFound
from app.interop import ctgov, fhir
from app.interop.ctgov import fields as registry_fields
from app.queries import interop as q
from app.queries.pagination import Cursor, decode_cursor, encode_cursor
from app.schemas.filters import StudyListParams
from app.schemas.interop import CtgovQuery, FhirEvidenceQuery, FhirStudyQuery
from app.services import documents, studies

# The registry's API version whose answers these follow (its /version says the same).
CTGOV_API_VERSION = "2.0.5"

@dataclass
class Page:
    items: list[dict[str, Any]]
    next_token: str | None
    total: int | None


def _documents(session: Session, column: str, values: list[Any]
               ) -> list[tuple[dict[str, Any], Any]]:
    """Whole documents with their rows, in the order of `values`."""
    if not values:
        return []
    rows = [r for r in session.execute(q.studies_by(column, values)).all()
            if r.deleted_at is None]
    docs = documents.assemble(session, rows, detail=True)
    by = {getattr(r, column): (d, r) for d, r in zip(docs, rows, strict=True)}
    return [by[v] for v in values if v in by]


def _page_keys(session: Session, data: dict[str, Any]) -> tuple[list[str], str | None,
                                                                 int | None]:
    params = StudyListParams.model_validate({**data, "fields": ["key"], "sort": "key"})
    page = studies.list_page(session, params)
    return [item["key"] for item in page.items], page.next_page_token, page.total_count


# ------------------------------------------------------------------ ClinicalTrials.gov v2


def check_fields(fields: list[str], fmt: str = "json") -> list[str]:
    """Refuse `fields` that name no part of a record (400); for CSV, the columns asked for."""
    try:
        if fmt == "csv":
            return ctgov.columns_for(fields)
        registry_fields.check(fields)
    except ctgov.UnknownField as exc:
        raise BadRequest(str(exc), errors=[{"loc": ["query", "fields"], "msg": str(exc),
                                            "type": "unknown_field"}]) from None
    return []


def select_fields(record: dict[str, Any], fields: list[str], fmt: str = "json"
                  ) -> dict[str, Any]:
    """Only the requested parts of a record (CSV rows pick their columns later)."""
    return record if fmt == "csv" else registry_fields.select(record, fields)


def _record(doc: dict[str, Any], row: Any) -> dict[str, Any]:
    return row.source_record if row.source_record is not None else ctgov.from_document(doc)


def ctgov_page(session: Session, query: CtgovQuery) -> Page:
    """One page of `/ctgov/api/v2/studies`: studies with an NCT id, in NCT id order."""
    check_fields(query.fields, query.format)
    keys, token, total = _page_keys(session, {
        "condition": [query.cond] if query.cond else [],
        "intervention": [query.intr] if query.intr else [],
        "q": query.term, "status": query.overall_status, "registry_id": query.ids,
        "registry": ["NCT"], "page_size": query.page_size, "page_token": query.page_token,
        "count_total": query.count_total})
    records = [select_fields(_record(d, r), query.fields, query.format)
               for d, r in _documents(session, "key", keys)]
    return Page(records, token, total)


def ctgov_study(session: Session, nct: str, fields: list[str], fmt: str = "json"
                ) -> dict[str, Any]:
    """One study in the v2 record shape, by NCT id."""
    if not ctgov.NCT_ID.match(nct):
        raise BadRequest(f"{nct!r} is not an NCT number (NCT followed by 8 digits)")
    check_fields(fields, fmt)
    row = session.execute(q.study_by_nct(nct)).first()
    if row is None:
        raise NotFound(f"no study with NCT id {nct}")
    if row.deleted_at is not None:
        raise Gone(f"study {nct} was deleted")
    doc, row = _documents(session, "key", [row.key])[0]
    return select_fields(_record(doc, row), fields, fmt)


def ctgov_csv(records: list[dict[str, Any]], fields: list[str]) -> str:
    """Records as the registry's CSV download, with the columns `fields` asks for."""
    columns = check_fields(fields, "csv")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow(ctgov.csv_row(record, columns))
    return out.getvalue()


def ctgov_version(session: Session) -> dict[str, str]:
    """The registry's /version answer: the API version we follow, and when our data last
    changed (UTC, `yyyy-MM-ddTHH:mm:ss`, as the registry writes it)."""
    changed = session.scalar(q.data_timestamp())
    if changed is None:
        stamp = "1970-01-01T00:00:00"
    else:
        if changed.tzinfo is not None:
            changed = changed.astimezone(dt.UTC).replace(tzinfo=None)
        stamp = changed.replace(microsecond=0).isoformat()
    return {"apiVersion": CTGOV_API_VERSION, "dataTimestamp": stamp}


# ------------------------------------------------------------------ FHIR R5


def fhir_studies(session: Session, query: FhirStudyQuery) -> Page:
    """One page of ResearchStudy resources, in key order."""
    keys, token, total = _page_keys(session, {
        "registry_id": query.identifier, "condition": query.condition, "q": query.keyword,
        "status": query.status, "phase": query.phase, "page_size": query.count,
        "page_token": query.cursor, "count_total": query.total == "accurate"})
    items = [fhir.research_study(d) for d, _ in _documents(session, "key", keys)]
    return Page(items, token, total)


def fhir_study(session: Session, ident: str) -> dict[str, Any]:
    row = studies.get_row(session, ident)
    doc, _ = _documents(session, "key", [row.key])[0]
    return fhir.research_study(doc)


def _evidence(session: Session, pairs: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Evidence resources for (effect id, study id) pairs, in that order."""
    study_ids = list(dict.fromkeys(s for _, s in pairs))
    docs = {row.id: doc for doc, row in _documents(session, "id", study_ids)}
    effect_of: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
    ordered: dict[int, list[int]] = {}
    for row in session.execute(q.effect_ids(study_ids)).all():
        ordered.setdefault(row.study_id, []).append(row.id)
    for sid, ids in ordered.items():
        reported = [e for e in docs[sid]["effects"] if e["origin"] != "COMPUTED"]
        for eid, effect in zip(ids, reported, strict=True):
            effect_of[eid] = (docs[sid], effect)
    return [fhir.evidence(*effect_of[eid], eid) for eid, _ in pairs]


def _effect_number(ident: str) -> int | None:
    number = ident.removeprefix("effect-")
    return int(number) if number.isascii() and number.isdigit() and len(number) < 18 else None


def fhir_evidence_page(session: Session, query: FhirEvidenceQuery) -> Page:
    """One page of Evidence resources, in effect id order."""
    ids = [_effect_number(x) for x in query.id]
    if any(i is None for i in ids):
        raise BadRequest("_id must name Evidence ids such as effect-12")
    wanted = [i for i in ids if i is not None]
    after = None
    if query.cursor:
        cursor = decode_cursor(query.cursor, "id")
        if not isinstance(cursor.value, int):
            raise BadRequest("_cursor is not a token this API issued")
        after = cursor.value
    rows = session.execute(q.evidence_page(query.study, wanted, after, query.count)).all()
    more = len(rows) > query.count
    rows = rows[: query.count]
    token = encode_cursor(Cursor("id", rows[-1].id, rows[-1].id)) if more else None
    total = (session.scalar(q.evidence_count(query.study, wanted))
             if query.total == "accurate" else None)
    return Page(_evidence(session, [(r.id, r.study_id) for r in rows]), token, total)


def fhir_evidence(session: Session, ident: str) -> dict[str, Any]:
    number = _effect_number(ident)
    rows = (session.execute(q.evidence_page([], [number], None, 1)).all()
            if number is not None else [])
    if not rows:
        raise NotFound(f"no Evidence with id {ident!r}")
    return _evidence(session, [(rows[0].id, rows[0].study_id)])[0]
