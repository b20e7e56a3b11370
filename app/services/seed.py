"""Loading the curated seed data through the same schemas and services as the write API.

Idempotent: records already stored (by study key, event key, vocabulary name) are left alone,
and so is an effect that already has a risk-of-bias assessment. Published assessments
(seed_data/risk_of_bias.json) are stored after the studies; one naming an effect its study
does not have makes the seed fail with the reason, and nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.models import RegulatoryEvent
from app.queries import appraisal as rob_queries
from app.queries import catalog
from app.schemas.appraisal import EffectRef, RiskOfBiasSeedIn
from app.schemas.common import partial_date_sort_key
from app.schemas.study import StudyCreate
from app.schemas.vocab import RegulatoryEventsIn, VocabularyIn
from app.services import appraisal, rendered, studies, vocab

M = TypeVar("M", bound=BaseModel)


class SeedError(Exception):
    """A seed file is not valid; nothing was written."""


@dataclass
class SeedReport:
    studies_created: list[str] = field(default_factory=list)
    studies_unchanged: list[str] = field(default_factory=list)
    events_created: int = 0
    events_unchanged: int = 0
    assessments_created: int = 0
    assessments_unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.studies_created or self.events_created or self.assessments_created)


def _load(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SeedError(f"{path.name}: {exc}") from None


def _validate(model: type[M], path: Path) -> M:
    try:
        return model.model_validate(_load(path))
    except ValidationError as exc:
        raise SeedError(f"{path.name}: {exc}") from None


def read_seed(seed_dir: Path) -> tuple[VocabularyIn, list[StudyCreate], RegulatoryEventsIn]:
    """Every seed file, validated; studies ordered so relation targets come first."""
    vocabulary = _validate(VocabularyIn, seed_dir / "vocabulary.json")
    events = _validate(RegulatoryEventsIn, seed_dir / "regulatory_events.json")
    docs = [_validate(StudyCreate, p) for p in sorted((seed_dir / "studies").glob("*.json"))]
    by_key = {d.key: d for d in docs}
    ordered: list[StudyCreate] = []
    placed: set[str] = set()

    def place(doc: StudyCreate, trail: tuple[str, ...]) -> None:
        if doc.key in placed:
            return
        if doc.key in trail:
            raise SeedError(f"relation cycle through {doc.key}")
        for rel in doc.relations:
            if rel.target in by_key:
                place(by_key[rel.target], (*trail, doc.key))
        placed.add(doc.key)
        ordered.append(doc)

    for doc in docs:
        place(doc, ())
    return vocabulary, ordered, events


def read_risk_of_bias(seed_dir: Path) -> RiskOfBiasSeedIn:
    """The published risk-of-bias assessments of the seed (none without the file)."""
    path = seed_dir / "risk_of_bias.json"
    return _validate(RiskOfBiasSeedIn, path) if path.exists() else RiskOfBiasSeedIn()


def _describe(study: str, ref: EffectRef) -> str:
    versus = f" vs {ref.comparator_arm!r}" if ref.comparator_arm else ""
    return (f"{study}: {ref.effect_type.value} of {ref.outcome!r} at {ref.timepoint!r}, "
            f"{ref.experimental_arm!r}{versus}")


def _seed_risk_of_bias(session: Session, seed_dir: Path, report: SeedReport) -> None:
    for entry in read_risk_of_bias(seed_dir).assessments:
        effects = session.execute(rob_queries.study_effects_by_key(entry.study)).all()
        doc = entry.assessment()
        for ref in entry.effects:
            found = [e for e in effects
                     if (e.outcome, e.timepoint, e.experimental_arm, e.comparator_arm,
                         e.effect_type) == (ref.outcome, ref.timepoint, ref.experimental_arm,
                                            ref.comparator_arm, ref.effect_type)]
            if len(found) != 1:
                what = "no such effect" if not found else f"{len(found)} such effects"
                raise SeedError(f"risk_of_bias.json: {_describe(entry.study, ref)}: the study "
                                f"has {what}; an assessment must name exactly one")
            if found[0].assessment_id is not None:
                report.assessments_unchanged += 1
                continue
            appraisal.store_published(session, found[0].id, doc, reason="seed")
            report.assessments_created += 1


def seed(session: Session, seed_dir: Path) -> SeedReport:
    """Store whatever of the seed data is not stored yet, in one transaction."""
    vocabulary, docs, events = read_seed(seed_dir)
    report = SeedReport()
    for i in vocabulary.interventions:
        vocab.upsert_intervention(session, i.name, i.type, i.synonyms, i.description)
    for c in vocabulary.conditions:
        vocab.upsert_condition(session, c.name, c.synonyms, c.mesh_term)
    existing = set(session.scalars(catalog.study_keys()))
    for doc in docs:
        if doc.key in existing:
            report.studies_unchanged.append(doc.key)
            continue
        studies.create(session, doc, actor_id=None, reason="seed", commit=False)
        report.studies_created.append(doc.key)
    known_events = set(session.scalars(catalog.regulatory_event_keys()))
    for e in events.events:
        if e.key in known_events:
            report.events_unchanged += 1
            continue
        intervention = vocab.upsert_intervention(session, e.intervention, None) \
            if e.intervention else None
        condition = vocab.upsert_condition(session, e.condition) if e.condition else None
        session.add(RegulatoryEvent(
            key=e.key, date=e.date, date_sort=partial_date_sort_key(e.date),
            intervention_id=intervention.id if intervention else None,
            condition_id=condition.id if condition else None,
            **e.model_dump(mode="json",
                           exclude={"key", "date", "intervention", "condition"})))
        report.events_created += 1
    try:
        _seed_risk_of_bias(session, seed_dir, report)
    except SeedError:
        session.rollback()
        raise
    rendered.fill(session, commit=False)
    session.commit()
    return report
