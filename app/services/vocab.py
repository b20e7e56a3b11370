"""Interventions and conditions, found by name or synonym (case-insensitive)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.enums import InterventionType
from app.errors import UnprocessableContent
from app.models import Condition, ConditionAlias, Intervention, InterventionAlias
from app.queries import vocab as q


def fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _aliases(name: str, synonyms: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(fold(x) for x in [name, *synonyms]))


def find_intervention(session: Session, name: str) -> Intervention | None:
    found: Intervention | None = session.scalar(q.intervention_by_alias(fold(name)))
    return found


def find_condition(session: Session, name: str) -> Condition | None:
    found: Condition | None = session.scalar(q.condition_by_alias(fold(name)))
    return found


def upsert_intervention(session: Session, name: str, type_: InterventionType | None,
                        synonyms: Iterable[str] = (), description: str | None = None
                        ) -> Intervention:
    """The intervention a name or synonym denotes, created (type OTHER unless given) if new."""
    found = find_intervention(session, name)
    if found is not None:
        if type_ is not None and found.type != type_:
            raise UnprocessableContent(
                f"intervention {name!r} is stored as {found.type.value}, not {type_.value}")
        wanted = _aliases(name, synonyms)
        taken: set[str] = set(session.scalars(q.intervention_aliases_taken(wanted)))
        session.add_all(InterventionAlias(intervention_id=found.id, alias=alias)
                        for alias in wanted if alias not in taken)
        return found
    created = Intervention(name=name, type=type_ or InterventionType.OTHER,
                           synonyms=list(synonyms), description=description)
    created.aliases = [InterventionAlias(alias=a) for a in _aliases(name, synonyms)]
    if _created(session, created, lambda: find_intervention(session, name)):
        return created
    return upsert_intervention(session, name, type_, synonyms, description)


def upsert_condition(session: Session, name: str, synonyms: Iterable[str] = (),
                     mesh_term: str | None = None) -> Condition:
    """The condition a name or synonym denotes, created if new."""
    found = find_condition(session, name)
    if found is not None:
        return found
    created = Condition(name=name, mesh_term=mesh_term, synonyms=list(synonyms))
    created.aliases = [ConditionAlias(alias=a) for a in _aliases(name, synonyms)]
    if _created(session, created, lambda: find_condition(session, name)):
        return created
    return upsert_condition(session, name, synonyms, mesh_term)


def _created(session: Session, entry: Intervention | Condition,
             find: Callable[[], Intervention | Condition | None]) -> bool:
    """Store a new vocabulary entry in a savepoint. False when a concurrent transaction
    committed the same name first (its unique alias refused this one, and `find` now finds
    it): the caller then uses that entry rather than failing the whole write with a
    conflict. Any other refusal is raised as it was."""
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        if find() is None:
            raise
        return False
    return True
