"""Interventions and conditions found by any of their names (folded aliases)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, select

from app.models import Condition, ConditionAlias, Intervention, InterventionAlias

# A select of any columns (the return type of every builder here).
AnySelect = Select[*tuple[Any, ...]]


def intervention_by_alias(alias: str) -> AnySelect:
    """The intervention a folded name or synonym denotes."""
    return select(Intervention).join(InterventionAlias).where(InterventionAlias.alias == alias)


def intervention_name_by_alias(alias: str) -> AnySelect:
    """The id and canonical name of the intervention a folded name or synonym denotes."""
    return (select(Intervention.id, Intervention.name).join(InterventionAlias)
            .where(InterventionAlias.alias == alias))


def intervention_aliases_taken(aliases: Iterable[str]) -> AnySelect:
    """Which of these folded names already denote an intervention."""
    return select(InterventionAlias.alias).where(InterventionAlias.alias.in_(list(aliases)))


def condition_by_alias(alias: str) -> AnySelect:
    """The condition a folded name or synonym denotes."""
    return select(Condition).join(ConditionAlias).where(ConditionAlias.alias == alias)


def condition_id_by_alias(alias: str) -> AnySelect:
    """The id of the condition a folded name or synonym denotes."""
    return select(ConditionAlias.condition_id).where(ConditionAlias.alias == alias)
