"""Importing ClinicalTrials.gov API v2 records: create or update our study by NCT id.

A record is mapped to a study document (app.interop.ctgov), validated by the same schema as
`POST /studies`, and written by the same code with its audit entry. A batch is all or nothing:
every record is mapped and validated before anything is written, and one commit ends it.
The raw record is kept verbatim in `study.source_record`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from pydantic import ValidationError
from sqlalchemy import literal, select, union_all
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


class Stored(Protocol):
    """What fitting a mapped record to the database asks of what is stored: the single write
    asks the session (`InSession`); a batch of new studies (app.services.import_batch) also
    sees what the batch planned before the record."""

    def own_key(self, nct: str) -> str | None:
        """The key of the study this NCT id already names."""

    def registry_holder(self, registry: str, identifier: str) -> str | None:
        """The key of the study that holds a registry id."""

    def condition(self, name: str) -> tuple[Any, str] | None:
        """The id and name of the condition a name denotes."""

    def intervention(self, name: str) -> tuple[str, str] | None:
        """The name and type of the intervention a name denotes."""

    def publication(self, column: str, value: Any) -> Any:
        """The stored publication with this DOI or PMID (its id and described columns)."""


class InSession:
    """What is stored, asked of the session one question at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def own_key(self, nct: str) -> str | None:
        own = _target(self.session, nct)
        return None if own is None else own.key

    def registry_holder(self, registry: str, identifier: str) -> str | None:
        holder: str | None = self.session.scalar(
            select(Study.key).join(RegistryId)
            .where(RegistryId.registry_name == registry, RegistryId.identifier == identifier))
        return holder

    def condition(self, name: str) -> tuple[Any, str] | None:
        found = vocab.find_condition(self.session, name)
        return None if found is None else (found.id, found.name)

    def intervention(self, name: str) -> tuple[str, str] | None:
        known = vocab.find_intervention(self.session, name)
        return None if known is None else (known.name, known.type.value)

    def publication(self, column: str, value: Any) -> Any:
        return self.session.scalar(
            select(Publication).where(getattr(Publication, column) == value))


def reconcile(stored: Stored, doc: dict[str, Any], report: ctgov.Report) -> None:
    """Fit the mapped document to what is already stored: secondary identifiers that another
    study holds are left out (sponsors' protocol codes are not unique across sponsors),
    conditions that the vocabulary already knows under another name are listed once,
    intervention types that disagree with the vocabulary give way to it, and publications
    already stored are used as stored."""
    own = stored.own_key(doc["key"])
    kept = []
    for r in doc.get("registry_ids", []):
        holder = stored.registry_holder(r["registry"], r["identifier"])
        if r["registry"] != "NCT" and holder is not None and (own is None or holder != own):
            report.skip(f"registry_ids: {r['registry']} {r['identifier']}",
                        f"already the identifier of study {holder!r}")
            continue
        kept.append(r)
    doc["registry_ids"] = kept
    seen: set[Any] = set()
    conditions = []
    for name in doc.get("conditions", []):
        found = stored.condition(name)
        if found is not None and found[0] in seen:
            report.skip(f"conditions: {name}", f"the same condition as {found[1]!r}")
            continue
        if found is not None:
            seen.add(found[0])
        conditions.append(name)
    doc["conditions"] = conditions
    for arm in doc.get("arms", []):
        for entry in arm["interventions"]:
            known = stored.intervention(entry["name"])
            if known is not None and entry.get("type") and known[1] != entry["type"]:
                report.skip(f"arms: {arm['label']}: {entry['name']} type {entry['type']}",
                            f"the vocabulary has {known[0]!r} as {known[1]}")
                entry.pop("type")
    for pub in doc.get("publications", []):
        found_pub = None
        for column in ("doi", "pmid"):
            if pub.get(column) and found_pub is None:
                found_pub = stored.publication(column, pub[column])
        if found_pub is not None:
            for attr in studies.PUBLICATION_ATTRS:
                value = getattr(found_pub, attr)
                pub[attr] = value.value if hasattr(value, "value") else value
            for attr in [a for a, v in pub.items() if v is None]:
                pub.pop(attr)
            report.map(f"publications: {pub['ref']}",
                       f"already stored as publication {found_pub.id}; stored description kept")


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
        validated(doc, where)
        out.append((record, doc, report, where))
    return out


def validated(doc: dict[str, Any], where: str) -> StudyCreate:
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
        reconcile(InSession(session), doc, report)
        out.append((record, validated(doc, where), report))
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


# What is stored for an NCT id: whether its study is live, and the date above.
Dates = dict[str, tuple[bool, str | None]]


def stored_dates(session: Session, ncts: Iterable[str]) -> Dates:
    """For each of these NCT ids that names a study (by registry id, else by key, as `_target`
    finds it), whether the study is live and the registry's date of the record it was imported
    from; one statement for them all."""
    wanted = sorted(set(ncts))
    if not wanted:
        return {}
    by_id = (select(RegistryId.identifier.label("nct"), literal(0).label("by_key"),
                    Study.deleted_at, _UPDATE_POSTED.label("posted"))
             .join(RegistryId)
             .where(RegistryId.registry_name == "NCT", RegistryId.identifier.in_(wanted)))
    by_key = select(Study.key.label("nct"), literal(1).label("by_key"), Study.deleted_at,
                    _UPDATE_POSTED.label("posted")).where(Study.key.in_(wanted))
    out: Dates = {}
    for row in sorted(session.execute(union_all(by_id, by_key)).all(), key=lambda r: -r[1]):
        out[row[0]] = (row[2] is None, row[3])  # a registry id wins over a key
    return out


def unchanged(dates: Dates, record: Any) -> bool:
    """Whether the live study this record's NCT id names (`dates`, from `stored_dates`) was
    imported from a record that the registry last updated on the same date: writing it again
    would change nothing but the version. A record without the date is never unchanged."""
    nct, posted = dump.nct_of(record), dump.last_update(record)
    if nct is None or posted is None:
        return False
    return dates.get(nct) == (True, posted)


def import_one(session: Session, record: dict[str, Any], doc: dict[str, Any],
               report: ctgov.Report, where: str, req: WriteRequest) -> ImportResult:
    """One mapped record (from `map_records`) fitted to what is stored, validated and
    written, created or updated with its audit entry, inside the caller's transaction."""
    reconcile(InSession(session), doc, report)
    return _write(session, record, validated(doc, where), report, req, None)


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
