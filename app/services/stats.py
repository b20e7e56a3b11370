"""Facet counts for the current study filter, from the same WHERE clause as the list."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session

from app.queries.facets import FACET_PARAMS, crosstab_select, facet_select, is_study_column
from app.queries.studies import count_select
from app.schemas.filters import StudyFilter
from app.schemas.stats import FACETS, FacetParams


def facets(session: Session, params: FacetParams) -> dict[str, Any]:
    """Per facet, how many matching studies have each value.

    A facet ignores the filter's own parameter (multi-select faceting): its counts say what
    the list would hold with `<param>=<value>` in place of that parameter's current values,
    so a dashboard can offer the other phases while one is selected. Each count equals the
    `/studies` total for that query.

    Facets on study columns whose parameter is not set share the filter as it is: they are
    counted together, with the total, from one grouped pass over the matching studies."""
    dialect = session.get_bind().dialect.name
    f = StudyFilter.model_validate(
        params.model_dump(include=set(StudyFilter.model_fields), exclude_unset=True))
    names = list(dict.fromkeys(params.facet or FACETS))
    shared = [n for n in names if is_study_column(n) and _unset(f, FACET_PARAMS[n])]
    out: dict[str, Any] = {}
    total = None
    if shared:
        counts: dict[str, Counter[Any]] = {n: Counter() for n in shared}
        total = 0
        for row in session.execute(crosstab_select(shared, f, dialect)):
            studies: int = row._mapping["count"]  # the column, not tuple.count
            total += studies
            for n in shared:
                value = getattr(row, n)
                if value is not None:
                    counts[n][value] += studies
        for n in shared:
            ranked = sorted(counts[n].items(), key=lambda item: (-item[1], item[0]))
            out[n] = [{"value": v, "count": c} for v, c in ranked[: params.facet_limit]]
    for name in names:
        if name in out:
            continue
        param = FACET_PARAMS.get(name)
        own = f if param is None else f.model_copy(
            update={param: StudyFilter.model_fields[param].get_default()})
        rows = session.execute(facet_select(name, own, dialect)
                               .limit(params.facet_limit)).all()
        out[name] = [{"value": r.value, "count": r.count} for r in rows]
    if total is None:
        total = session.scalar(count_select(f, dialect))
    return {"total": total, "facets": {n: out[n] for n in names},
            "params": {n: FACET_PARAMS[n] for n in names if n in FACET_PARAMS}}


def _unset(f: StudyFilter, param: str) -> bool:
    return bool(getattr(f, param) == StudyFilter.model_fields[param].get_default())
