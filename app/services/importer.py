"""Importing ClinicalTrials.gov API v2 records: create or update our study by NCT id.

A record is mapped to a study document (app.interop.ctgov), validated by the same schema as
`POST /studies`, and written by the same code with its audit entry. A batch is all or nothing:
every record is mapped and validated before anything is written, and one commit ends it.
The raw record is kept verbatim in `study.source_record`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.errors import Conflict, PreconditionFailed, UnprocessableContent, validation_errors
from app.interop import ctgov
from app.models import (
    Arm,
    ArmIntervention,
    EffectEstimate,
    OutcomeMeasure,
    OutcomeResult,
    Provenance,
    Publication,
    RegistryId,
    Study,
    StudyCondition,
    StudyCountry,
    StudyKeyword,
    StudyPublication,
    StudyRelation,
    Timepoint,
)
from app.schemas.study import StudyCreate
from app.services import audit, studies, vocab
from app.types import utcnow


@dataclass
class ImportResult:
    nct_id: str
    study_id: int
    key: str
    action: str  # "created" or "updated"
    version: int
    report: dict[str, Any]

    @property
    def etag(self) -> str:
        return f'"{self.study_id}-{self.version}"'

    def as_dict(self) -> dict[str, Any]:
        return {"nct_id": self.nct_id, "key": self.key, "action": self.action,
                "version": self.version, "location": f"/api/v1/studies/{self.key}",
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
            found = vocab.find_intervention(session, entry["name"])
            if found is not None and entry.get("type") and found.type.value != entry["type"]:
                report.skip(f"arms: {arm['label']}: {entry['name']} type {entry['type']}",
                            f"the vocabulary has {found.name!r} as {found.type.value}")
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


def prepare(session: Session, body: Any) -> list[tuple[dict[str, Any], StudyCreate,
                                                       ctgov.Report]]:
    """Every record of a request body, mapped and validated; nothing is written."""
    try:
        records = ctgov.records_of(body)
    except ctgov.NotAStudyRecord as exc:
        raise UnprocessableContent(str(exc), errors=[
            {"loc": ["body"], "msg": str(exc), "type": "ctgov_record"}]) from None
    seen: set[str] = set()
    out = []
    for i, record in enumerate(records):
        nct = ctgov.nct_id(record)
        if nct in seen:
            raise UnprocessableContent(f"{nct} is given twice in one import")
        seen.add(nct)
        doc, report = ctgov.to_document(record)
        _reconcile(session, doc, report)
        try:
            validated = StudyCreate.model_validate(doc)
        except ValidationError as exc:
            raise _invalid(nct if len(records) == 1 else f"studies[{i}] {nct}", exc) from None
        out.append((record, validated, report))
    return out


def _target(session: Session, nct: str) -> Study | None:
    """The live study this NCT id already names, by registry id or by key."""
    study = session.scalar(
        select(Study).join(RegistryId)
        .where(RegistryId.registry_name == "NCT", RegistryId.identifier == nct))
    if study is None:
        study = session.scalar(select(Study).where(Study.key == nct))
    return study


def _clear_children(session: Session, study_id: int) -> None:
    """Delete every row the study document owns, so `populate` can build it anew."""
    measures = select(OutcomeMeasure.id).where(OutcomeMeasure.study_id == study_id)
    session.execute(delete(Provenance).where(Provenance.study_id == study_id))
    session.execute(delete(EffectEstimate).where(EffectEstimate.study_id == study_id))
    session.execute(delete(OutcomeResult).where(OutcomeResult.outcome_measure_id.in_(measures)))
    for model in (OutcomeMeasure, Timepoint, ArmIntervention, Arm, StudyPublication,
                  StudyKeyword, StudyCountry, StudyCondition, RegistryId):
        session.execute(delete(model).where(model.study_id == study_id))
    session.execute(delete(StudyRelation).where(StudyRelation.study_id == study_id))
    session.flush()


def _update(session: Session, study: Study, record: dict[str, Any], doc: StudyCreate,
            actor_id: int | None) -> int:
    before = studies.read(session, study.key)
    studies._check_unique(session, doc, own_id=study.id)
    _clear_children(session, study.id)
    session.expire(study)
    studies.apply_scalars(study, doc)
    study.source_record = record
    study.version = study.version + 1
    study.updated_at = utcnow()
    session.flush()
    studies.populate(session, study, doc)
    session.flush()
    after = studies.read(session, doc.key)
    audit.record(session, actor_id=actor_id, action="import-update", entity="study",
                 entity_key=doc.key, version=study.version, before=before, after=after,
                 reason=f"imported from ClinicalTrials.gov record {ctgov.nct_id(record)}")
    return study.version


def import_records(session: Session, body: Any, *, actor_id: int | None,
                   if_match: str | None = None) -> list[ImportResult]:
    """Create or update one study per record, in one transaction with an audit entry each.

    A study that was curated by hand (it has no stored registry record) is never overwritten
    by a registry record: that is a 409. `if_match`, when given, must name the current ETag of
    the one study a single-record import updates.
    """
    prepared = prepare(session, body)
    results: list[ImportResult] = []
    for record, doc, report in prepared:
        nct = ctgov.nct_id(record)
        study = _target(session, nct)
        if study is not None and study.deleted_at is not None:
            raise Conflict(f"study {study.key!r} with {nct} was deleted; restore it first",
                           existing_study=study.key)
        if study is not None and study.source_record is None:
            raise Conflict(
                f"{nct} is the curated study {study.key!r}; a registry import would replace "
                "curated evidence, so it is refused", existing_study=study.key,
                location=f"/api/v1/studies/{study.key}")
        if study is not None and study.key != doc.key:
            doc = doc.model_copy(update={"key": study.key})
        if if_match is not None and len(prepared) == 1:
            current = studies.etag_of(study) if study is not None else None
            if current is None or current not in [t.strip() for t in if_match.split(",")]:
                raise PreconditionFailed("If-Match does not name the study's current ETag",
                                         current_etag=current)
        if study is None:
            created = studies.create(session, doc, actor_id=actor_id, commit=False,
                                     reason=f"imported from ClinicalTrials.gov record {nct}")
            stored = _target(session, nct)
            assert stored is not None
            stored.source_record = record
            results.append(ImportResult(nct, stored.id, created["key"], "created", 1,
                                        report.as_dict()))
        else:
            version = _update(session, study, record, doc, actor_id)
            results.append(ImportResult(nct, study.id, study.key, "updated", version,
                                        report.as_dict()))
    session.commit()
    return results


def status_of(results: list[ImportResult]) -> int:
    """201 when the import created a study, 200 when it only updated."""
    return 201 if any(r.action == "created" for r in results) else 200


def headers_of(results: list[ImportResult]) -> dict[str, str]:
    """Location and ETag of the study a single-record import wrote."""
    if len(results) != 1:
        return {}
    return {"Location": f"/api/v1/studies/{results[0].key}", "ETag": results[0].etag}
