"""The answer of a network meta-analysis: the fit, the league table, P-scores, the Q
decomposition and direct against indirect evidence, in the order clients read them."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from app.enums import RATIO_EFFECTS, Direction, EffectType
from app.errors import UnprocessableContent
from app.schemas.network import NetworkParams
from app.services import semantics
from app.services.distributions import chi2_sf, normal_quantile, normal_two_sided_p
from app.services.network_linalg import SingularMatrix
from app.services.network_model import (
    GlsFit,
    Model,
    StudyBlock,
    p_scores,
    study_contrast,
    within_design_q,
)
from app.services.network_nodes import Node

if TYPE_CHECKING:
    from app.services.network import Entry

# proportions of direct evidence this close to 1 leave no indirect evidence to speak of
ALL_DIRECT = 1 - 1e-10


def _reference(params: NetworkParams, nodes: dict[str, Node],
               blocks: list[StudyBlock]) -> str:
    """The caller's reference (a node name or an arm label), else the node in most studies."""
    if params.reference:
        key = params.reference.casefold()
        for name, node in nodes.items():
            if name.casefold() == key or any(a.label.casefold() == key for _, a in node.arms):
                return name
        raise UnprocessableContent(f"reference '{params.reference}' is no node of the network",
                                   treatments=sorted(nodes, key=str.casefold))
    count = {n: sum(n in b.nodes for b in blocks) for n in nodes}
    return sorted(nodes, key=lambda n: (-count[n], n.casefold()))[0]


def _interval(est: float, var: float, z: float, ratio: bool) -> dict[str, Any]:
    se = math.sqrt(var)
    low, high = est - z * se, est + z * se
    out: dict[str, Any] = {"estimate": est, "se": se, "ci_low": low, "ci_high": high,
                           "p_value": normal_two_sided_p(est / se) if se > 0 else None}
    if ratio:
        out["exponentiated"] = {"estimate": math.exp(est), "ci_low": math.exp(low),
                                "ci_high": math.exp(high)}
    return out


def _higher_better(effect_type: EffectType, blocks: list[tuple[StudyBlock, list[Entry]]]
                   ) -> bool | None:
    lower = {e.row.lower_is_better for _, group in blocks for e in group}
    side = semantics.direction(effect_type, next(iter(lower)) if len(lower) == 1 else None)
    return None if side is None else side == Direction.HIGHER_FAVOURS_EXPERIMENTAL


def _q(q: float, df: int) -> dict[str, Any]:
    return {"q": q, "df": df, "p_value": chi2_sf(q, df) if df > 0 else None}


def _heterogeneity(model: Model, blocks: list[StudyBlock]) -> dict[str, Any]:
    q_total = model.fit(0.0).quad
    q_within, df_within = within_design_q(blocks)
    return {**_q(q_total, model.df),
            "i2": max(0.0, (q_total - model.df) / q_total) * 100 if q_total > 0 else 0.0,
            "within_designs": _q(q_within, df_within),
            "between_designs": _q(max(q_total - q_within, 0.0), model.df - df_within)}


def _split(model: Model, fit: GlsFit, blocks: list[StudyBlock], z: float,
           ratio: bool) -> list[dict[str, Any]]:
    """Direct against indirect evidence by back-calculation, for each compared pair."""
    out = []
    names = model.treatments
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            own = [c for c in (study_contrast(blk, a, b) for blk in blocks) if c is not None]
            if not own:
                continue
            weights = [1 / (v + fit.tau2) for _, v in own]
            v_dir = 1 / sum(weights)
            direct = sum(w * y for w, (y, _) in zip(weights, own, strict=True)) * v_dir
            net, v_net = model.effect(fit, a, b)
            share = min(v_net / v_dir, 1.0)
            entry: dict[str, Any] = {
                "treatment": a, "comparator": b, "k": len(own),
                "direct": _interval(direct, v_dir, z, ratio),
                "network": _interval(net, v_net, z, ratio),
                "direct_proportion": share, "indirect": None, "difference": None}
            if share < ALL_DIRECT:
                ind = (net - share * direct) / (1 - share)
                v_ind = 1 / (1 / v_net - 1 / v_dir)
                entry["indirect"] = _interval(ind, v_ind, z, ratio)
                entry["difference"] = _interval(direct - ind, v_dir + v_ind, z, False)
            out.append(entry)
    return out


def _nodes(nodes: dict[str, Node], scores: dict[str, float] | None) -> list[dict[str, Any]]:
    return [{"name": node.name, "treatments": node.treatments,
             "studies": sorted({key for key, _ in node.arms}),
             "arms": [{"study_key": key, "arm": arm.label, "arm_type": arm.arm_type,
                       "description": arm.description, "interventions": list(arm.interventions)}
                      for key, arm in node.arms],
             "p_score": None if scores is None else scores[node.name]}
            for node in sorted(nodes.values(), key=lambda n: n.name.casefold())]


def _edges(blocks: list[StudyBlock]) -> list[dict[str, Any]]:
    studies: dict[tuple[str, str], set[str]] = defaultdict(set)
    for b in blocks:
        nodes = sorted(b.nodes, key=str.casefold)
        for i, a in enumerate(nodes):
            for c in nodes[i + 1:]:
                studies[(a, c)].add(b.study)
    return [{"treatment1": a, "treatment2": c, "k": len(keys), "studies": sorted(keys)}
            for (a, c), keys in sorted(studies.items())]


def _studies(blocks: list[tuple[StudyBlock, list[Entry]]]) -> list[dict[str, Any]]:
    return [{"study_key": b.study, "design": list(b.design), "covariance": b.cov,
             "contrasts": [{"id": e.row.id, "treatment": e.first, "comparator": e.second,
                            "experimental_arm": e.row.experimental_arm,
                            "comparator_arm": e.row.comparator_arm, "outcome": e.row.outcome,
                            "instrument": e.row.instrument, "timepoint": e.row.timepoint,
                            "value": e.row.value, "yi": e.y, "se": e.se,
                            "se_source": e.se_source, "origin": e.row.origin,
                            "retracted": e.row.retracted} for e in group]}
            for b, group in blocks]


def fit_network(model: Model, params: NetworkParams) -> GlsFit:
    """The fit at the chosen model's τ²."""
    try:
        if params.model == "fixed":
            return model.fit(0.0)
        tau2 = model.tau2_reml() if params.method_tau == "REML" else model.tau2_dl()
        return model.fit(tau2)
    except SingularMatrix as exc:
        raise UnprocessableContent("the network's contrasts do not identify every treatment "
                                   "effect (a singular system)") from exc


def answer(params: NetworkParams, effect_type: EffectType, nodes: dict[str, Node],
           blocks: list[tuple[StudyBlock, list[Entry]]], excluded: list[dict[str, Any]],
           warnings: list[str], connectivity: list[Any]) -> dict[str, Any]:
    """The whole answer of a connected network."""
    plain = [b for b, _ in blocks]
    reference = _reference(params, nodes, plain)
    treatments = [reference] + sorted((n for n in nodes if n != reference), key=str.casefold)
    model = Model(plain, treatments)
    fit = fit_network(model, params)
    z = normal_quantile(0.5 + params.ci_level / 2)
    ratio = effect_type in RATIO_EFFECTS
    higher = _higher_better(effect_type, blocks)
    scores = None if higher is None else p_scores(model, fit, higher)
    if scores is None:
        warnings.append("P-scores need to know which direction favours a treatment; the "
                        "outcomes do not say (lower_is_better)")
    league = [{"treatment": a, "comparator": b,
               **_interval(*model.effect(fit, a, b), z, ratio)}
              for a in treatments for b in treatments if a != b]
    return {
        "effect_type": effect_type, "model": params.model,
        "method_tau": params.method_tau if params.model == "random" else None,
        "ci_level": params.ci_level, "reference": reference,
        "scale": "log" if ratio else "identity",
        "higher_favours": higher, "include_retracted": bool(params.include_retracted),
        "k": len(plain), "n_contrasts": sum(len(b.contrasts) for b in plain),
        "n_treatments": len(treatments), "treatments": treatments,
        "tau2": fit.tau2, "tau": math.sqrt(fit.tau2),
        "heterogeneity": _heterogeneity(model, plain),
        "connectivity": {"connected": True, "components": connectivity},
        "league": league,
        "p_scores": sorted(({"treatment": t, "p_score": s} for t, s in scores.items()),
                           key=lambda r: (-r["p_score"], r["treatment"]))
        if scores else None,
        "direct_indirect": _split(model, fit, plain, z, ratio),
        "nodes": _nodes(nodes, scores), "edges": _edges(plain),
        "studies": _studies(blocks), "excluded": excluded, "warnings": warnings,
    }
