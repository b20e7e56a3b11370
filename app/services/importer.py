"""Importing ClinicalTrials.gov API v2 records: create or update our study by NCT id.

A record is mapped to a study document (app.interop.ctgov), validated by the same schema as
`POST /studies`, and written by the same code with its audit entry. A batch is all or nothing:
every record is mapped and validated before anything is written, and one commit ends it.
The raw record is kept verbatim in `study.source_record`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import Conflict, PreconditionFailed, UnprocessableContent, validation_errors
from app.interop import ctgov
from app.interop.ctgov import dump
from app.models import Publication, RegistryId, Study
from app.schemas.study import StudyCreate
from app.services import studies, vocab, writes
from app.services.writes import Answer, Performed, StudyVersion, WriteRequest


@dataclass
class ImportResult:
    nct_id: str
    study_id: int
    key: str
    action: str  # "created" or "updated"
    version: int
    report: dict[str, Any]

    @property
    def created(self) -> bool:
        return self.action == "created"

    @property
    def study(self) -> StudyVersion:
        return StudyVersion(self.study_id, self.key, self.version)

    def as_dict(self) -> dict[str, Any]:
        return {"nct_id": self.nct_id, "key": self.key, "action": self.action,
                "version": self.version, "location": studies.location_of(self.key),
                "report": self.report}


def _invalid(where: str, exc: ValidationError) -> UnprocessableContent:
    errors = validation_errors(exc.errors())
    first = errors[0] if errors else {"loc": [], "msg": "invalid"}
    loc = ".".join(str(x) for x in first["loc"])
    return UnprocessableContent(
        f"{where}: the mapped study is not valid: {loc}: {first['msg']}",
        errors=[{**e, "loc": [where, *e["loc"]]} for e in errors])


def _reconcile(session: Session, doc: dict[str, Any], report: ctgov.Report) -> None:
    """Fit the mapped document to what is already stored: secondary identifiers that another
    study holds are left out (sponsors' protocol codes are not unique across sponsors),
    conditions that the vocabulary already knows under another name are listed once,
    intervention types that disagree with the vocabulary give way to it, and publications
    already stored are used as stored."""
    own = _target(session, doc["key"])
    kept = []
    for r in doc.get("registry_ids", []):
        holder = session.scalar(
            select(Study.key).join(RegistryId)
            .where(RegistryId.registry_name == r["registry"],
                   RegistryId.identifier == r["identifier"]))
        if r["registry"] != "NCT" and holder is not None and (own is None
                                                               or holder != own.key):
            report.skip(f"registry_ids: {r['registry']} {r['identifier']}",
                        f"already the identifier of study {holder!r}")
            continue
        kept.append(r)
    doc["registry_ids"] = kept
    seen: set[int] = set()
    conditions = []
    for name in doc.get("conditions", []):
        found = vocab.find_condition(session, name)
        if found is not None and found.id in seen:
            report.skip(f"conditions: {name}", f"the same condition as {found.name!r}")
            continue
        if found is not None:
            seen.add(found.id)
        conditions.append(name)
    doc["conditions"] = conditions
    for arm in doc.get("arms", []):
        for entry in arm["interventions"]:
            known = vocab.find_intervention(session, entry["name"])
            if known is not None and entry.get("type") and known.type.value != entry["type"]:
                report.skip(f"arms: {arm['label']}: {entry['name']} type {entry['type']}",
                            f"the vocabulary has {known.name!r} as {known.type.value}")
                entry.pop("type")
    for pub in doc.get("publications", []):
        stored = None
        for column, value in ((Publication.doi, pub.get("doi")),
                              (Publication.pmid, pub.get("pmid"))):
            if value and stored is None:
                stored = session.scalar(select(Publication).where(column == value))
        if stored is not None:
            for attr in studies.PUBLICATION_ATTRS:
                value = getattr(stored, attr)
                pub[attr] = value.value if hasattr(value, "value") else value
            for attr in [a for a, v in pub.items() if v is None]:
                pub.pop(attr)
            report.map(f"publications: {pub['ref']}",
                       f"already stored as publication {stored.id}; stored description kept")


Mapped = list[tuple[dict[str, Any], dict[str, Any], ctgov.Report, str]]


def map_records(body: Any) -> Mapped:
    """Every record of a request body checked (bounds first), mapped and validated as a
    study document, without a database lookup: what is refused here never waits for, or
    holds, the write lock."""
    try:
        records = ctgov.records_of(body)
    except ctgov.NotAStudyRecord as exc:
        loc = ["body", *getattr(exc, "loc", [])]
        raise UnprocessableContent(str(exc), errors=[
            {"loc": loc, "msg": str(exc), "type": "ctgov_record"}]) from None
    seen: set[str] = set()
    out = []
    for i, record in enumerate(records):
        nct = ctgov.nct_id(record)
        if nct in seen:
            raise UnprocessableContent(f"{nct} is given twice in one import")
        seen.add(nct)
        doc, report = ctgov.to_document(record)
        where = nct if len(records) == 1 else f"studies[{i}] {nct}"
        _validated(doc, where)
        out.append((record, doc, report, where))
    return out


def _validated(doc: dict[str, Any], where: str) -> StudyCreate:
    try:
        return StudyCreate.model_validate(doc)
    except ValidationError as exc:
        raise _invalid(where, exc) from None


def prepare(session: Session, body: Any, mapped: Mapped | None = None
            ) -> list[tuple[dict[str, Any], StudyCreate, ctgov.Report]]:
    """Every record of a request body, mapped, fitted to what is stored and validated;
    nothing is written."""
    out = []
    for record, doc, report, where in mapped if mapped is not None else map_records(body):
        _reconcile(session, doc, report)
        out.append((record, _validated(doc, where), report))
    return out


def _target(session: Session, nct: str) -> Study | None:
    """The live study this NCT id already names, by registry id or by key."""
    study = session.scalar(
        select(Study).join(RegistryId)
        .where(RegistryId.registry_name == "NCT", RegistryId.identifier == nct))
    if study is None:
        study = session.scalar(select(Study).where(Study.key == nct))
    return study


# The registry's date of the last change it posted to the record a study was imported from.
_UPDATE_POSTED = Study.source_record[
    ("protocolSection", "statusModule", "lastUpdatePostDateStruct", "date")].as_string()


def unchanged(session: Session, record: Any) -> bool:
    """Whether the live study this record's NCT id names (as `_target` finds it) was imported
    from a record that the registry last updated on the same date: writing it again would
    change nothing but the version. A record without the date is never unchanged."""
    nct, posted = dump.nct_of(record), dump.last_update(record)
    if nct is None or posted is None:
        return False
    found = session.execute(
        select(Study.deleted_at, _UPDATE_POSTED).join(RegistryId)
        .where(RegistryId.registry_name == "NCT", RegistryId.identifier == nct)).first()
    if found is None:
        found = session.execute(
            select(Study.deleted_at, _UPDATE_POSTED).where(Study.key == nct)).first()
    return found is not None and found[0] is None and found[1] == posted


def import_one(session: Session, record: dict[str, Any], doc: dict[str, Any],
               report: ctgov.Report, where: str, req: WriteRequest) -> ImportResult:
    """One mapped record (from `map_records`) fitted to what is stored, validated and
    written, created or updated with its audit entry, inside the caller's transaction."""
    _reconcile(session, doc, report)
    return _write(session, record, _validated(doc, where), report, req, None)


def _write(session: Session, record: dict[str, Any], doc: StudyCreate,
           report: ctgov.Report, req: WriteRequest, if_match: str | None) -> ImportResult:
    nct = ctgov.nct_id(record)
    req = replace(req, reason=req.reason or f"imported from ClinicalTrials.gov record {nct}")
    study = _target(session, nct)
    if study is not None and study.deleted_at is not None:
        raise Conflict(f"study {study.key!r} with {nct} was deleted", existing_study=study.key)
    if study is not None and study.source_record is None:
        raise Conflict(
            f"{nct} is the curated study {study.key!r}; a registry import would replace "
            "curated evidence, so it is refused", existing_study=study.key,
            location=studies.location_of(study.key))
    if study is None:
        if if_match is not None:
            raise PreconditionFailed(f"If-Match names a version, but no study holds {nct}")
        studies.create(session, doc, actor_id=req.actor_id, reason=req.reason, commit=False,
                       record=record)
        created = _target(session, nct)
        assert created is not None
        return ImportResult(nct, created.id, created.key, "created", 1, report.as_dict())
    if doc.key != study.key:
        doc = doc.model_copy(update={"key": study.key})
    # Without If-Match the import updates the version it read, atomically (see _lock).
    row = studies._lock(session, study.key, if_match or studies.etag_of(study))
    outcome = studies._replace(session, row, doc, req, "import-update", record)
    return ImportResult(nct, row.id, row.key, "updated", outcome.body["version"],
                        report.as_dict())


def import_records(session: Session, body: Any, req: WriteRequest,
                   frame: Callable[[list[ImportResult]], Answer],
                   if_match: str | None = None) -> Performed:
    """Create or update one study per record, all in one transaction with an audit entry
    each; idempotent retries and dry runs as for every write. `frame` turns the results into
    the caller's answer (the HTTP layer chooses status, Location and ETag).

    A study that was curated by hand (it has no stored registry record) is never overwritten
    by a registry record: that is a 409. `if_match`, when given, must name the current ETag of
    the one study a single-record import updates.
    """
    mapped = map_records(body)

    def action() -> list[ImportResult]:
        prepared = prepare(session, body, mapped)
        if if_match is not None and len(prepared) != 1:
            raise UnprocessableContent("If-Match applies to an import of one record")
        return [_write(session, record, doc, report, req, if_match)
                for record, doc, report in prepared]

    return writes.run(session, req, body, action, frame)
