"""Effect estimates as flat rows, and the meta-analysis of a chosen set of them.

Everything pooled or listed here leaves retracted results out unless `include_retracted`
is true, and a meta-analysis names each estimate it left out and why.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy.orm import Session

from app.enums import RATIO_EFFECTS, STANDARDIZED_EFFECTS, EffectType, RetractionStatus
from app.errors import BadRequest, UnprocessableContent
from app.queries.outcomes import effect_sources_select, outcome_select
from app.queries.pagination import Cursor, decode_cursor, encode_cursor, keyset
from app.schemas.filters import MetaAnalysisParams, OutcomeListParams
from app.services import evidence
from app.services.studies import PageResult

MAX_POOLED = 5000
ROW_FIELDS = (
    "study_key", "study_title", "outcome", "instrument", "role", "unit", "lower_is_better",
    "timepoint", "timepoint_months", "experimental_arm", "comparator_arm", "effect_type",
    "value", "ci_low", "ci_high", "ci_level", "se", "p_value", "p_value_relation",
    "analysis_population", "origin", "retracted", "notes",
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
    return {"id": row.id, **{f: getattr(row, f) for f in ROW_FIELDS}, "sources": sources}


def list_page(session: Session, params: OutcomeListParams) -> PageResult:
    """One keyset page (by estimate id) of the effect estimates the filter matches."""
    cursor = decode_cursor(params.page_token, "id") if params.page_token else None
    if cursor is not None and (isinstance(cursor.value, bool) or not isinstance(cursor.value, int)):
        raise BadRequest("page_token is not a token this API issued")
    stmt = outcome_select(params, _dialect(session))
    id_col = stmt.selected_columns.id
    rows = session.execute(keyset(stmt, id_col, id_col, False, cursor, params.page_size)).all()
    more = len(rows) > params.page_size
    rows = rows[: params.page_size]
    sources = sources_of(session, [r.id for r in rows])
    token = encode_cursor(Cursor("id", rows[-1].id, rows[-1].id)) if more else None
    return PageResult([row_document(r, sources.get(r.id, [])) for r in rows], token, None)


# ------------------------------------------------------------------ meta-analysis


def _label(row: Any, repeated: bool) -> str:
    name = row.study_acronym or row.study_key
    label = f"{name} ({row.study_key})" if row.study_acronym else name
    if repeated:
        label += f" · {row.experimental_arm} vs {row.comparator_arm}, {row.timepoint}"
    return label


def _retraction_reason(details: list[Any]) -> dict[str, Any]:
    pubs = [d for d in details if d.retraction_status == RetractionStatus.RETRACTED]
    return {
        "reason": "retracted: every source of this estimate is a retracted publication",
        "retracted_publications": [
            {"doi": d.doi, "title": d.publication_title, "retraction_date": d.retraction_date,
             "retraction_reason": d.retraction_reason} for d in pubs],
    }


def direction(effect_type: EffectType, lower_is_better: set[bool | None]) -> dict[str, Any]:
    """Which side of the null favours the experimental arm (see docs/evidence.md)."""
    null = 1.0 if effect_type in RATIO_EFFECTS else 0.0
    if effect_type in STANDARDIZED_EFFECTS:
        side = "higher"
    elif lower_is_better == {True}:
        side = "lower"
    elif lower_is_better == {False}:
        side = "higher"
    else:
        side = None
    return {"null_value": null, "favours_experimental": side,
            "scale": "log" if effect_type in RATIO_EFFECTS else "identity"}


def meta_analysis(session: Session, params: MetaAnalysisParams) -> dict[str, Any]:
    """Pool the estimates the filter chooses; 422 when fewer than two can be pooled or they
    are of different effect types. Every estimate left out is listed with its reason."""
    stmt = outcome_select(params, _dialect(session), keep_retracted=True)
    rows = session.execute(stmt.order_by(stmt.selected_columns.study_key,
                                         stmt.selected_columns.id).limit(MAX_POOLED + 1)).all()
    if len(rows) > MAX_POOLED:
        raise UnprocessableContent(
            f"the filter chooses more than {MAX_POOLED} estimates; narrow it")
    retraction_details: dict[int, list[Any]] = defaultdict(list)
    retracted_ids = [r.id for r in rows if r.retracted]
    if retracted_ids:
        for d in session.execute(effect_sources_select(retracted_ids)):
            retraction_details[d.effect_estimate_id].append(d)

    included: list[tuple[Any, float, evidence.StandardError, int | None, int | None]] = []
    excluded: list[dict[str, Any]] = []
    for row in rows:
        base = {"id": row.id, "study_key": row.study_key, "outcome": row.outcome,
                "timepoint": row.timepoint, "experimental_arm": row.experimental_arm,
                "comparator_arm": row.comparator_arm, "effect_type": row.effect_type,
                "value": row.value, "origin": row.origin, "retracted": row.retracted}
        if row.retracted and not params.include_retracted:
            excluded.append({**base, **_retraction_reason(retraction_details[row.id])})
            continue
        if row.comparator_arm is None:
            excluded.append({**base, "reason": "within-group effect (no comparator arm): "
                                               "not comparable with between-arm effects"})
            continue
        y = evidence.pooling_scale(row.effect_type, row.value)
        if y is None:
            excluded.append({**base, "reason": "a ratio of zero or less cannot be pooled"})
            continue
        n1 = row.experimental_n_randomized or row.experimental_result_n
        n2 = row.comparator_n_randomized or row.comparator_result_n
        se = evidence.standard_error(row.effect_type, row.value, row.se, row.ci_low,
                                     row.ci_high, row.ci_level, n1, n2)
        if se.se is None:
            excluded.append({**base, "reason": se.reason})
            continue
        included.append((row, y, se, n1, n2))

    types = Counter(row.effect_type for row, *_ in included)
    if len(types) > 1:
        mix = ", ".join(f"{t} ({n})" for t, n in sorted(types.items()))
        raise UnprocessableContent(
            f"the estimates are of different effect types: {mix}; choose one with effect_type",
            effect_types=dict(types), excluded=excluded)
    if len(included) < 2:
        raise UnprocessableContent(
            f"{len(included)} estimate(s) can be pooled; a meta-analysis needs at least two",
            k=len(included), excluded=excluded)

    effect_type = included[0][0].effect_type
    result = evidence.meta_analyse(
        [y for _, y, *_ in included], [se.se ** 2 for _, _, se, *_ in included],
        method=params.method, hartung_knapp=params.hartung_knapp, level=params.ci_level)
    per_study = Counter(row.study_key for row, *_ in included)
    z = evidence.normal_quantile(0.5 + params.ci_level / 2)
    studies = []
    for i, (row, y, se, n1, n2) in enumerate(included):
        studies.append({
            "id": row.id, "label": _label(row, per_study[row.study_key] > 1),
            "study_key": row.study_key, "study_title": row.study_title,
            "outcome": row.outcome, "instrument": row.instrument, "timepoint": row.timepoint,
            "experimental_arm": row.experimental_arm, "comparator_arm": row.comparator_arm,
            "value": row.value, "ci_low": row.ci_low, "ci_high": row.ci_high,
            "yi": y, "se": se.se, "se_source": se.how,
            "se_derived": se.how != "reported",
            "pooled_ci_low": y - z * se.se, "pooled_ci_high": y + z * se.se,
            "n_experimental": n1, "n_comparator": n2,
            "origin": row.origin, "retracted": row.retracted,
            "weight_fixed": result["weights_fixed"][i],
            "weight_random": result["weights_random"][i],
        })
    random = result["random"]
    warnings = [f"study {key} contributes {n} estimates; they are pooled as if independent"
                for key, n in sorted(per_study.items()) if n > 1]
    if any(s["se_derived"] for s in studies):
        warnings.append("some standard errors are derived, not reported (see se_source)")
    out: dict[str, Any] = {
        "k": result["k"], "effect_type": effect_type,
        "model": "random_effects", "method": params.method,
        "hartung_knapp": params.hartung_knapp, "ci_level": params.ci_level,
        "estimate": random["estimate"], "se": random["se"],
        "ci_low": random["ci_low"], "ci_high": random["ci_high"],
        "z": random["z"], "t": random["t"], "t_df": random["t_df"],
        "p_value": random["p_value"],
        "q": result["q"], "df": result["df"], "p_q": result["p_q"],
        "i2": result["i2"], "h2": result["h2"], "tau2": result["tau2"], "tau": result["tau"],
        "prediction_interval": result["prediction_interval"],
        "fixed_effect": {k: v for k, v in result["fixed"].items() if k not in ("t", "t_df")},
        "direction": direction(effect_type, {row.lower_is_better for row, *_ in included}),
        "include_retracted": bool(params.include_retracted),
        "studies": studies, "excluded": excluded, "warnings": warnings,
    }
    if effect_type in RATIO_EFFECTS:
        pi = result["prediction_interval"]
        out["exponentiated"] = {
            "estimate": math.exp(random["estimate"]), "ci_low": math.exp(random["ci_low"]),
            "ci_high": math.exp(random["ci_high"]),
            "prediction_interval": {"low": math.exp(pi["low"]), "high": math.exp(pi["high"])}
            if pi else None,
        }
    return out
