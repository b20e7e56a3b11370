"""Facet counts for the current study filter, from the same WHERE clause as the list."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.queries.facets import FACET_PARAMS, facet_select
from app.queries.studies import count_select
from app.schemas.filters import StudyFilter
from app.schemas.stats import FACETS, FacetParams


def facets(session: Session, params: FacetParams) -> dict[str, Any]:
    """Per facet, how many matching studies have each value.

    A facet ignores the filter's own parameter (multi-select faceting): its counts say what
    the list would hold with `<param>=<value>` in place of that parameter's current values,
    so a dashboard can offer the other phases while one is selected. Each count equals the
    `/studies` total for that query."""
    dialect = session.get_bind().dialect.name
    f = StudyFilter.model_validate(
        params.model_dump(include=set(StudyFilter.model_fields), exclude_unset=True))
    out: dict[str, Any] = {}
    for name in dict.fromkeys(params.facet or FACETS):
        param = FACET_PARAMS[name]
        own = f.model_copy(update={param: StudyFilter.model_fields[param].get_default()})
        rows = session.execute(facet_select(name, own, dialect)
                               .limit(params.facet_limit)).all()
        out[name] = {"param": param,
                     "values": [{"value": r.value, "count": r.count} for r in rows]}
    return {"total": session.scalar(count_select(f, dialect)), "facets": out}
