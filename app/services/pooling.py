"""Meta-analysis of a chosen set of effect estimates: one per study, every estimate left out
named with its reason, pooled by inverse variance (DL or REML, app.services.evidence) or by
Mantel–Haenszel from counts (app.services.binary).

Retracted estimates are left out unless `include_retracted` is true (DESIGN §2), and with
`max_risk_of_bias` so are the estimates judged above it or not assessed (app.services.bias).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy.orm import Session

from app.enums import (
    RATIO_EFFECTS,
    Direction,
    EffectType,
    Origin,
    RetractionStatus,
    RiskOfBiasLevel,
)
from app.errors import UnprocessableContent
from app.queries.appraisal import with_risk_of_bias
from app.queries.outcomes import effect_sources_select, outcome_select
from app.schemas.filters import MetaAnalysisParams
from app.services import aggregation, bias, binary, evidence, semantics
from app.services.distributions import normal_quantile

MAX_POOLED = 5000


def _label(row: Any, estimates: int) -> str:
    name = row.study_acronym or row.study_key
    label = f"{name} ({row.study_key})" if row.study_acronym else name
    if estimates > 1:
        label += f" · {estimates} estimates aggregated"
    return label


def retraction_reason(details: list[Any]) -> dict[str, Any]:
    pubs = [d for d in details if d.retraction_status == RetractionStatus.RETRACTED]
    return {
        "reason": "retracted: every source of this estimate is a retracted publication",
        "retracted_publications": [
            {"doi": d.doi, "title": d.publication_title, "retraction_date": d.retraction_date,
             "retraction_reason": d.retraction_reason} for d in pubs],
    }


def direction(effect_type: EffectType, lower_is_better: set[bool | None]) -> dict[str, Any]:
    """Which side of the null favours the experimental arm of the pooled estimate: the
    outcomes' shared direction (`semantics.direction`), unknown when they disagree."""
    side = semantics.direction(effect_type, next(iter(lower_is_better))
                               if len(lower_is_better) == 1 else None)
    return {"null_value": semantics.null_value(effect_type),
            "favours_experimental": None if side is None else {
                Direction.HIGHER_FAVOURS_EXPERIMENTAL: "higher",
                Direction.LOWER_FAVOURS_EXPERIMENTAL: "lower"}.get(side),
            "scale": "log" if effect_type in RATIO_EFFECTS else "identity"}


class HasRow(Protocol):
    @property
    def row(self) -> Any: ...


E = TypeVar("E", bound=HasRow)

@dataclass
class _Entry:
    """One study's contribution to a pooling: one estimate, or several aggregated."""

    rows: list[Any]
    y: float
    se: float
    se_source: str
    n1: int | None
    n2: int | None

    @property
    def row(self) -> Any:
        return self.rows[0]


def base(row: Any) -> dict[str, Any]:
    return {"id": row.id, "study_key": row.study_key, "outcome": row.outcome,
            "instrument": row.instrument, "timepoint": row.timepoint,
            "experimental_arm": row.experimental_arm, "comparator_arm": row.comparator_arm,
            "effect_type": row.effect_type, "value": row.value, "origin": row.origin,
            "retracted": row.retracted}


def _one_per_study(entries: list[_Entry], params: MetaAnalysisParams,
                   excluded: list[dict[str, Any]]) -> tuple[list[_Entry], list[str]]:
    """One entry per study (DESIGN: a pooled answer never counts a study twice): a 422 naming
    the studies that give several, unless the caller chose a rule."""
    by_study: dict[str, list[_Entry]] = defaultdict(list)
    for entry in entries:
        by_study[entry.row.study_key].append(entry)
    several = {key: group for key, group in by_study.items() if len(group) > 1}
    if not several:
        return entries, []
    if params.per_study is None:
        named = "; ".join(
            f"{key}: {len(group)} estimates ("
            + ", ".join(sorted({f"{e.row.instrument or e.row.outcome}" for e in group})) + ")"
            for key, group in sorted(several.items()))
        raise UnprocessableContent(
            f"a pooled estimate counts each study once, but {named}; narrow the selection "
            "(instrument, timepoint_months_*, study) or choose per_study=first_listed or "
            "per_study=aggregate",
            studies=[{"study_key": key, "estimates": [base(e.row) for e in group]}
                     for key, group in sorted(several.items())])
    out: list[_Entry] = []
    notes: list[str] = []
    for key, group in by_study.items():
        if len(group) == 1:
            out.extend(group)
            continue
        group.sort(key=lambda e: (e.row.outcome_position, e.row.effect_position, e.row.id))
        if params.per_study == "first_listed":
            out.append(group[0])
            excluded.extend({**base(e.row), "reason": "per_study=first_listed: another "
                             f"estimate of {key} is listed first"} for e in group[1:])
            notes.append(f"study {key}: the first listed of {len(group)} estimates is pooled")
            continue
        y, v = aggregation.aggregate([e.y for e in group], [e.se ** 2 for e in group], params.rho)
        out.append(_Entry([r for e in group for r in e.rows], y, math.sqrt(v), "aggregated",
                          group[0].n1, group[0].n2))
        notes.append(f"study {key}: {len(group)} estimates aggregated into one assuming a "
                     f"within-study correlation of {params.rho} (compound symmetry)")
    return out, notes


def reported_first(entries: list[E], excluded: list[dict[str, Any]],
                   max_risk_of_bias: RiskOfBiasLevel | None = None) -> list[E]:
    """One comparison (outcome, timepoint, arms) reported by its source and also computed by
    us from its arms' results is the same evidence twice, whatever effect type each is
    expressed in: the reported estimate is pooled, the computed one is listed as left out.
    Then, with `max_risk_of_bias`, the estimates judged above it or not assessed are left out
    (so each estimate left out is named by the first rule that drops it)."""
    def comparison(e: E) -> tuple[Any, ...]:
        r = e.row
        return (r.study_key, r.outcome, r.timepoint, r.experimental_arm, r.comparator_arm)

    reported = {comparison(e) for e in entries if e.row.origin == Origin.REPORTED}
    kept = []
    for e in entries:
        if e.row.origin == Origin.COMPUTED and comparison(e) in reported:
            excluded.append({**base(e.row), "reason": "computed from the arms' results of a "
                             "comparison its source reports: the reported estimate is pooled"})
        elif (judged := bias.row_left_out(e.row, max_risk_of_bias)) is not None:
            excluded.append({**base(e.row), **judged})
        else:
            kept.append(e)
    return kept


def _counts(row: Any) -> tuple[int, int, int, int] | None:
    inputs = row.inputs or {}
    e, c = inputs.get("experimental") or {}, inputs.get("comparator") or {}
    if None in (e.get("events"), e.get("total"), c.get("events"), c.get("total")):
        return None
    return e["events"], e["total"], c["events"], c["total"]


def _mantel_haenszel(entries: list[_Entry], params: MetaAnalysisParams,
                     effect_type: EffectType) -> dict[str, Any]:
    """The Mantel–Haenszel fixed-effect pooling of estimates computed from counts."""
    if effect_type not in RATIO_EFFECTS:
        raise UnprocessableContent("method=MH pools risk ratios and odds ratios only")
    tables = [_counts(e.row) if len(e.rows) == 1 else None for e in entries]
    if any(t is None for t in tables):
        raise UnprocessableContent(
            "method=MH needs every pooled estimate computed from counts (events and totals "
            "per arm), one per study; use DL or REML",
            estimates=[base(e.row) for e, t in zip(entries, tables, strict=True) if t is None])
    measure = "RR" if effect_type == EffectType.RISK_RATIO else "OR"
    counted = cast(list[tuple[int, int, int, int]], tables)  # none is None (checked above)
    mh = binary.mantel_haenszel(measure, counted, level=params.ci_level)
    if mh["estimate"] is None:
        raise UnprocessableContent("the Mantel–Haenszel estimate is undefined for these counts")
    weights = []
    for a, n1, c, n2 in tables:  # type: ignore[misc]
        total = n1 + n2
        weights.append((n1 - a) * c / total if measure == "OR" else c * n1 / total)
    total_w = sum(weights)
    pooled = {"estimate": mh["estimate"], "se": mh["se"], "ci_low": mh["ci_low"],
              "ci_high": mh["ci_high"], "z": mh["z"], "t": None, "t_df": None,
              "p_value": mh["p_value"]}
    share = [100 * w / total_w if total_w > 0 else 100 / len(weights) for w in weights]
    return {"k": len(entries), "random": pooled, "fixed": pooled, "q": mh["q"], "df": mh["df"],
            "p_q": mh["p_q"], "i2": mh["i2"], "h2": mh["h2"], "tau2": None, "tau": None,
            "prediction_interval": None, "weights_fixed": share, "weights_random": share}


def _chosen(session: Session, params: MetaAnalysisParams
            ) -> tuple[list[Any], dict[int, list[Any]]]:
    """The estimates the filter chooses (retracted, within-arm and too biased ones too, to
    name them as left out) with their risk of bias, and the retracted publications behind
    each retracted one."""
    stmt = with_risk_of_bias(outcome_select(params, session.get_bind().dialect.name,
                                            keep_retracted=True, keep_within_arm=True,
                                            keep_any_risk=True))
    rows = session.execute(stmt.order_by(stmt.selected_columns.study_key,
                                         stmt.selected_columns.id).limit(MAX_POOLED + 1)).all()
    if len(rows) > MAX_POOLED:
        raise UnprocessableContent(
            f"the filter chooses more than {MAX_POOLED} estimates; narrow it")
    return list(rows), retracted_sources(session, rows)


def retracted_sources(session: Session, rows: Sequence[Any]) -> dict[int, list[Any]]:
    """The sources behind each retracted estimate among `rows`, to name what was left out."""
    details: dict[int, list[Any]] = defaultdict(list)
    retracted_ids = [r.id for r in rows if r.retracted]
    if retracted_ids:
        for d in session.execute(effect_sources_select(retracted_ids)):
            details[d.effect_estimate_id].append(d)
    return details


def _left_out(row: Any, params: MetaAnalysisParams, details: dict[int, list[Any]]
              ) -> dict[str, Any] | None:
    """Why an estimate cannot be pooled whatever its numbers (None when it may be)."""
    if row.retracted and not params.include_retracted:
        return retraction_reason(details[row.id])
    if row.comparator_arm is None:
        return {"reason": "within-arm change (no comparator arm): pooling reads between-arm "
                          "contrasts only"}
    if row.value is None:
        return {"reason": "reported by its p-value alone: no effect size to pool"}
    return None


def _poolable(rows: list[Any], params: MetaAnalysisParams, details: dict[int, list[Any]],
              excluded: list[dict[str, Any]]) -> list[_Entry]:
    """The estimates that can be pooled, on the pooling scale with a standard error; the
    others go to `excluded` with their reason."""
    entries: list[_Entry] = []
    for row in rows:
        reason = _left_out(row, params, details)
        if reason is None:
            scaled = on_pooling_scale(row, "pooled")
            if scaled.y is not None and scaled.se is not None:
                entries.append(_Entry([row], scaled.y, scaled.se, scaled.how, scaled.n1,
                                      scaled.n2))
                continue
            reason = {"reason": scaled.reason}
        excluded.append({**base(row), **reason})
    return entries


@dataclass(frozen=True)
class Scaled:
    """An estimate on the pooling scale (log for ratios) with its standard error and how it
    was found, and its arms' sizes; `reason` says why there is no value or no error."""

    y: float | None
    se: float | None
    how: str
    n1: int | None
    n2: int | None
    reason: str | None


def on_pooling_scale(row: Any, verb: str) -> Scaled:
    """A between-arm estimate as pooling and networks read it (`verb`: what cannot be done
    with a ratio of zero or less)."""
    n1 = row.experimental_n_randomized or row.experimental_result_n
    n2 = row.comparator_n_randomized or row.comparator_result_n
    y = evidence.pooling_scale(row.effect_type, row.value)
    if y is None:
        return Scaled(None, None, "", n1, n2, f"a ratio of zero or less cannot be {verb}")
    se = evidence.standard_error(row.effect_type, row.value, row.se, row.ci_low, row.ci_high,
                                 row.ci_level, n1, n2)
    return Scaled(y, se.se, se.how or "reported", n1, n2, se.reason)


def _one_type(entries: list[_Entry], excluded: list[dict[str, Any]]) -> None:
    """A pooling reads one effect type: a 422 naming the types of a mixed selection."""
    types = Counter(e.row.effect_type for e in entries)
    if len(types) > 1:
        mix = ", ".join(f"{t} ({n})" for t, n in sorted(types.items()))
        raise UnprocessableContent(
            f"the estimates are of different effect types: {mix}; choose one with effect_type",
            effect_types=dict(types), excluded=excluded)


def _study_row(entry: _Entry, weights: tuple[float, float], effect_type: EffectType,
               z: float) -> dict[str, Any]:
    """One pooled study as the answer lists it, with its weights."""
    row = entry.row
    aggregated = len(entry.rows) > 1
    return {
        "id": row.id, "label": _label(row, len(entry.rows)),
        "study_key": row.study_key, "study_title": row.study_title,
        "outcome": row.outcome, "instrument": row.instrument, "timepoint": row.timepoint,
        "experimental_arm": row.experimental_arm, "comparator_arm": row.comparator_arm,
        "value": math.exp(entry.y) if effect_type in RATIO_EFFECTS and aggregated
        else entry.y if aggregated else row.value,
        "ci_low": None if aggregated else row.ci_low,
        "ci_high": None if aggregated else row.ci_high,
        "yi": entry.y, "se": entry.se, "se_source": entry.se_source,
        "se_derived": entry.se_source != "reported",
        "pooled_ci_low": entry.y - z * entry.se, "pooled_ci_high": entry.y + z * entry.se,
        "n_experimental": entry.n1, "n_comparator": entry.n2,
        "origin": row.origin, "retracted": any(r.retracted for r in entry.rows),
        "aggregated_from": [r.id for r in entry.rows] if aggregated else None,
        "risk_of_bias": bias.most_severe(entry.rows),
        "weight_fixed": weights[0], "weight_random": weights[1],
    }


def _summary(result: dict[str, Any], params: MetaAnalysisParams,
             effect_type: EffectType) -> dict[str, Any]:
    """The pooled estimate's members of the answer, in the order clients read them."""
    random = result["random"]
    return {
        "k": result["k"], "effect_type": effect_type,
        "model": "mantel_haenszel" if params.method == "MH" else "random_effects",
        "method": params.method, "per_study": params.per_study,
        "rho": params.rho if params.per_study == "aggregate" else None,
        "hartung_knapp": params.hartung_knapp, "ci_level": params.ci_level,
        **{k: random[k] for k in ("estimate", "se", "ci_low", "ci_high", "z", "t", "t_df",
                                  "p_value")},
        **{k: result[k] for k in ("q", "df", "p_q", "i2", "h2", "tau2", "tau",
                                  "prediction_interval")},
        "fixed_effect": {k: v for k, v in result["fixed"].items() if k not in ("t", "t_df")},
    }


def _exponentiated(result: dict[str, Any]) -> dict[str, Any]:
    """A ratio's pooled estimate back on its own scale."""
    random, pi = result["random"], result["prediction_interval"]
    return {"estimate": math.exp(random["estimate"]), "ci_low": math.exp(random["ci_low"]),
            "ci_high": math.exp(random["ci_high"]),
            "prediction_interval": {"low": math.exp(pi["low"]), "high": math.exp(pi["high"])}
            if pi else None}


def meta_analysis(session: Session, params: MetaAnalysisParams) -> dict[str, Any]:
    """Pool the between-arm contrasts the filter chooses, one per study; 422 when fewer than
    two can be pooled, when they are of different effect types, or when a study gives
    several and no `per_study` rule was chosen. Every estimate left out is listed with its
    reason. `sensitivity=risk_of_bias` adds the pooling without the estimates above
    SOME_CONCERNS or not assessed (`sensitivity`)."""
    rows, details = _chosen(session, params)
    out, entries = _pool(rows, details, params)
    if params.sensitivity == "risk_of_bias":
        out["sensitivity"] = bias.sensitivity(entries, params.max_risk_of_bias, lambda level: (
            _pool(rows, details, params.model_copy(
                update={"max_risk_of_bias": level, "sensitivity": None}))[0]))
        out["warnings"].append(bias.SENSITIVITY_NOTE)
    return out


def _pool(rows: list[Any], details: dict[int, list[Any]], params: MetaAnalysisParams
          ) -> tuple[dict[str, Any], list[_Entry]]:
    """The answer pooling `rows` as `params` say, and the entries it pooled."""
    excluded: list[dict[str, Any]] = []
    entries = reported_first(_poolable(rows, params, details, excluded), excluded,
                             params.max_risk_of_bias)
    _one_type(entries, excluded)
    entries, warnings = _one_per_study(entries, params, excluded)
    if len(entries) < 2:
        raise UnprocessableContent(
            f"{len(entries)} estimate(s) can be pooled; a meta-analysis needs at least two",
            k=len(entries), excluded=excluded)
    effect_type = entries[0].row.effect_type
    if params.method == "MH":
        result = _mantel_haenszel(entries, params, effect_type)
    else:
        result = evidence.meta_analyse(
            [e.y for e in entries], [e.se ** 2 for e in entries], method=params.method,
            hartung_knapp=params.hartung_knapp, level=params.ci_level)
    z = normal_quantile(0.5 + params.ci_level / 2)
    studies = [_study_row(e, (result["weights_fixed"][i], result["weights_random"][i]),
                          effect_type, z) for i, e in enumerate(entries)]
    if any(s["se_derived"] for s in studies):
        warnings.append("some standard errors are derived, not reported (see se_source)")
    out = {**_summary(result, params, effect_type),
           "direction": direction(effect_type, {e.row.lower_is_better for e in entries}),
           "include_retracted": bool(params.include_retracted),
           "studies": studies, "excluded": excluded, "warnings": warnings}
    if effect_type in RATIO_EFFECTS:
        out["exponentiated"] = _exponentiated(result)
    return out, entries
