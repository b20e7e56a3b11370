"""Loading the curated seed data through the same schemas and services as the write API.

Idempotent: records already stored (by study key, event key, vocabulary name) are left alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from app.models import RegulatoryEvent
from app.queries import catalog
from app.schemas.common import partial_date_sort_key
from app.schemas.study import StudyCreate
from app.schemas.vocab import RegulatoryEventsIn, VocabularyIn
from app.services import studies, vocab

M = TypeVar("M", bound=BaseModel)


class SeedError(Exception):
    """A seed file is not valid; nothing was written."""


@dataclass
class SeedReport:
    studies_created: list[str] = field(default_factory=list)
    studies_unchanged: list[str] = field(default_factory=list)
    events_created: int = 0
    events_unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.studies_created or self.events_created)


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
    session.commit()
    return report
