"""Effect estimates as flat rows (`/outcomes`), with what the defaults left out.

Retracted estimates and within-arm changes are left out unless asked for, and the first page
counts what was left out. Their meta-analysis is app.services.pooling.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, cast

from sqlalchemy.orm import Session

from app.enums import (
    Comparison,
)
from app.queries import pagination
from app.queries.appraisal import with_risk_of_bias
from app.queries.outcomes import effect_sources_select, left_out_select, outcome_select
from app.queries.pagination import Page
from app.schemas.appraisal import status as rob_status
from app.schemas.appraisal import summary
from app.schemas.filters import OutcomeFilter, OutcomeListParams
from app.services import semantics

ROW_FIELDS = (
    "study_key", "study_title", "outcome", "instrument", "role", "unit", "lower_is_better",
    "timepoint", "timepoint_role", "timepoint_months", "timepoint_months_after_treatment",
    "experimental_arm", "comparator_arm", "effect_type", "value", "ci_low", "ci_high",
    "ci_level", "se", "p_value", "p_value_relation", "analysis_population", "origin",
    "as_reported", "inputs", "retracted", "notes",
)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def sources_of(session: Session, effect_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not effect_ids:
        return out
    for r in session.execute(effect_sources_select(effect_ids)):
        publication = None
        if r.publication_id is not None:
            publication = {"doi": r.doi, "pmid": r.pmid, "title": r.publication_title,
                           "citation": r.citation, "retraction_status": r.retraction_status}
        out[r.effect_estimate_id].append({
            "publication": publication, "registry": r.registry_record,
            "source_url": r.source_url, "locator": r.locator})
    return out


def row_document(row: Any, sources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": row.id, **{f: getattr(row, f) for f in ROW_FIELDS},
            **semantics.of_row(row, row.lower_is_better), "sources": sources,
            "risk_of_bias": summary(row.rob_tool, row.rob_overall, row.rob_domains),
            "risk_of_bias_status": rob_status(row.rob_tool)}


def excluded_counts(session: Session, params: OutcomeFilter) -> dict[str, Any]:
    """What the defaults leave out of a selection: retracted estimates (unless
    include_retracted) and within-arm changes (unless comparison asks for them). Each count
    is what its parameter alone would bring back."""
    kept = set(params.comparison) or set(Comparison)
    retracted, within, between = session.execute(
        left_out_select(params, _dialect(session), kept)).one()
    both = "comparison=BETWEEN_ARMS,WITHIN_ARM"
    out: dict[str, Any] = {}
    for reason, n, left_out, how in (
            ("retracted", retracted, not params.include_retracted, "include_retracted=true"),
            ("within_arm", within, Comparison.WITHIN_ARM not in kept, both),
            ("between_arms", between, Comparison.BETWEEN_ARMS not in kept, both)):
        if left_out and n:
            out[reason] = {"count": int(cast(Any, n)), "include_with": how}
    return out


def list_page(session: Session, params: OutcomeListParams) -> Page[dict[str, Any]]:
    """One keyset page (by estimate id) of the effect estimates the filter matches; the
    first page also counts what the defaults left out (`excluded_counts`)."""
    stmt = with_risk_of_bias(outcome_select(params, _dialect(session)))
    fetched = session.execute(pagination.by_id(stmt, stmt.selected_columns.id,
                                               params.page_token, params.page_size)).all()
    rows, token = pagination.page_of(fetched, params.page_size)
    sources = sources_of(session, [r.id for r in rows])
    excluded = None if params.page_token else excluded_counts(session, params)
    return Page([row_document(r, sources.get(r.id, [])) for r in rows], token, None,
                {"excluded": excluded})
