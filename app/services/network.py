"""Network meta-analysis of the between-arm contrasts a filter chooses.

Nodes are arm treatments (intervention sets, merged where the caller says so), edges the
contrasts between arms of different nodes. Each study gives one set of independent contrasts
(a contrast its other contrasts already imply is left out); a multi-arm study's contrasts that
share an arm are correlated through that arm's variance, known from the arm-level counts the
estimates were computed from (otherwise the study is refused). The fit is
`app.services.network_model`; the answer is shaped by `app.services.network_answer`.
Retracted estimates are left out unless `include_retracted` is true (DESIGN §2), and with
`max_risk_of_bias` those judged above it or not assessed (app.services.bias).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.enums import EffectType
from app.errors import UnprocessableContent
from app.queries.network import network_estimates_select, study_arms_select
from app.schemas.network import NetworkParams, NetworkSelection
from app.services import network_answer
from app.services.network_model import Contrast, StudyBlock
from app.services.network_nodes import (
    ArmInfo,
    Node,
    arms_from_rows,
    components,
    node_names,
    transitivity_warnings,
)
from app.services.pooling import (
    base,
    on_pooling_scale,
    reported_first,
    retracted_sources,
    retraction_reason,
)

MAX_ESTIMATES = 2000
MAX_TREATMENTS = 60
# τ² estimators whose answers the test fixtures check against R (tests/fixtures/netma)
CHECKED_TAU_METHODS = ("REML", "DL")


@dataclass
class Entry:
    """One usable contrast: the estimate's row, its arms, y on the pooling scale and SE."""

    row: Any
    arm_e: ArmInfo
    arm_c: ArmInfo
    y: float
    se: float
    se_source: str
    first: str = ""
    second: str = ""


def chosen(session: Session, params: NetworkSelection) -> tuple[list[Any], dict[int, list[Any]]]:
    rows = list(session.execute(network_estimates_select(
        params, session.get_bind().dialect.name).limit(MAX_ESTIMATES + 1)))
    if len(rows) > MAX_ESTIMATES:
        raise UnprocessableContent(
            f"the filter chooses more than {MAX_ESTIMATES} estimates; narrow it")
    return rows, retracted_sources(session, rows)


def study_arms(session: Session, rows: list[Any]) -> dict[tuple[int, str], ArmInfo]:
    """The arms of the estimates' studies, by (study id, label)."""
    if not rows:
        return {}
    return arms_from_rows(list(session.execute(study_arms_select(
        sorted({r.study_id for r in rows})))))


def _reason(row: Any, params: NetworkSelection, details: dict[int, list[Any]],
            arms: dict[tuple[int, str], ArmInfo]) -> dict[str, Any] | None:
    if row.retracted and not params.include_retracted:
        return {**retraction_reason(details[row.id]), "include_with": "include_retracted=true"}
    if row.comparator_arm is None:
        return {"reason": "within-arm change (no comparator arm): a network reads between-arm "
                          "contrasts only"}
    if row.value is None:
        return {"reason": "reported by its p-value alone: no effect size"}
    if (row.study_id, row.experimental_arm) not in arms or \
            (row.study_id, row.comparator_arm) not in arms:
        return {"reason": "an arm of this contrast is not in the study"}
    return None


def usable(rows: list[Any], params: NetworkSelection, details: dict[int, list[Any]],
            arms: dict[tuple[int, str], ArmInfo], excluded: list[dict[str, Any]]
            ) -> list[Entry]:
    entries = []
    for row in rows:
        reason = _reason(row, params, details, arms)
        if reason is None:
            scaled = on_pooling_scale(row, "analysed")
            if scaled.y is not None and scaled.se is not None and scaled.se > 0:
                entries.append(Entry(row, arms[(row.study_id, row.experimental_arm)],
                                     arms[(row.study_id, row.comparator_arm)], scaled.y,
                                     scaled.se, scaled.how))
                continue
            reason = {"reason": scaled.reason or "no usable standard error"}
        excluded.append({**base(row), **reason})
    return entries


def _one_type(entries: list[Entry], excluded: list[dict[str, Any]]) -> EffectType:
    types = Counter(e.row.effect_type for e in entries)
    if not types:
        raise UnprocessableContent(
            f"no estimate of this selection can join a network ({len(excluded)} left out; "
            "`excluded` says why)", effect_types={}, excluded=excluded)
    if len(types) != 1:
        mix = ", ".join(f"{t} ({n})" for t, n in sorted(types.items()))
        raise UnprocessableContent(
            f"a network reads one effect type; the estimates are {mix}: choose "
            "one with effect_type", effect_types=dict(types), excluded=excluded)
    return EffectType(next(iter(types)))


def assign_nodes(entries: list[Entry], params: NetworkSelection, excluded: list[dict[str, Any]],
                  warnings: list[str]) -> tuple[list[Entry], dict[str, Node]]:
    """Each contrast's two nodes; a contrast between arms of one node is left out."""
    arms = {e.arm_e.id: e.arm_e for e in entries} | {e.arm_c.id: e.arm_c for e in entries}
    node_of, unknown = node_names(list(arms.values()), params.merge)
    if unknown:
        warnings.append("merge names no treatment or arm of the chosen contrasts: "
                        + ", ".join(unknown))
    nodes: dict[str, Node] = {}
    kept = []
    for e in entries:
        e.first, e.second = node_of[e.arm_e.treatment], node_of[e.arm_c.treatment]
        if e.first == e.second:
            excluded.append({**base(e.row), "reason": f"both arms are the node '{e.first}' "
                             "(a node is an intervention set: doses and schedules are not "
                             "told apart)"})
            continue
        kept.append(e)
        for arm in (e.arm_e, e.arm_c):
            node = nodes.setdefault(node_of[arm.treatment], Node(node_of[arm.treatment]))
            if arm.treatment not in node.treatments:
                node.treatments.append(arm.treatment)
            if all(a.id != arm.id for _, a in node.arms):
                node.arms.append((e.row.study_key, arm))
    return kept, nodes


def _arm_variance(e: Entry, arm: ArmInfo) -> float | None:
    """The variance an arm contributes to a contrast, from the counts it was computed from."""
    inputs = e.row.inputs or {}
    side = inputs.get("experimental" if arm.id == e.arm_e.id else "comparator") or {}
    events, total = side.get("events"), side.get("total")
    if events is None or not total:
        return None
    add = inputs.get("zero_cell_correction") or 0.0
    a, n = events + add, total + 2 * add
    if e.row.effect_type == EffectType.RISK_RATIO:
        return 1 / a - 1 / n if a > 0 else None
    if e.row.effect_type == EffectType.ODDS_RATIO:
        return 1 / a + 1 / (n - a) if 0 < a < n else None
    if e.row.effect_type == EffectType.RISK_DIFFERENCE:
        p = float(a) / float(n)
        return p * (1 - p) / float(n)
    return None


def _covariance(key: str, entries: list[Entry]) -> list[list[float]]:
    """Within-study covariance: a shared arm's variance, signed by the arm's side in each."""
    cov = [[0.0] * len(entries) for _ in entries]
    for i, e in enumerate(entries):
        cov[i][i] = e.se ** 2
        for j in range(i):
            f = entries[j]
            shared = {e.arm_e.id, e.arm_c.id} & {f.arm_e.id, f.arm_c.id}
            for arm_id in shared:
                arm = e.arm_e if e.arm_e.id == arm_id else e.arm_c
                v1, v2 = _arm_variance(e, arm), _arm_variance(f, arm)
                if v1 is None or v2 is None:
                    raise UnprocessableContent(
                        f"study {key}: its contrasts share the arm '{arm.label}' and their "
                        "covariance is unknown (they were not computed from the arms' counts); "
                        "select one of its contrasts (study, outcome, effect_type)",
                        estimates=[base(x.row) for x in (e, f)])
                sign = (1 if e.arm_e.id == arm_id else -1) * (1 if f.arm_e.id == arm_id else -1)
                cov[i][j] = cov[j][i] = sign * math.sqrt(v1 * v2)
    return cov


def _independent(group: list[Entry], excluded: list[dict[str, Any]]) -> list[Entry]:
    """The study's contrasts that no earlier one implies (a spanning forest of its nodes)."""
    parent: dict[str, str] = {}

    def root(n: str) -> str:
        while parent.setdefault(n, n) != n:
            n = parent[n]
        return n

    kept = []
    for e in group:
        if root(e.first) == root(e.second):
            excluded.append({**base(e.row), "reason": "implied by the study's other contrasts "
                             "(a study gives one independent set)"})
            continue
        parent[root(e.first)] = root(e.second)
        kept.append(e)
    return kept


def _blocks(entries: list[Entry], excluded: list[dict[str, Any]]
            ) -> list[tuple[StudyBlock, list[Entry]]]:
    """One block per study: one contrast per pair of nodes, independent ones only."""
    by_study: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_study[e.row.study_key].append(e)
    out = []
    for key, group in by_study.items():
        group.sort(key=lambda e: (e.row.outcome_position, e.row.effect_position, e.row.id))
        pairs = Counter(frozenset((e.first, e.second)) for e in group)
        several = [e for e in group if pairs[frozenset((e.first, e.second))] > 1]
        if several:
            raise UnprocessableContent(
                f"study {key} gives several estimates of one comparison; narrow the selection "
                "(instrument, outcome, timepoint_months_*, study)",
                estimates=[base(e.row) for e in several])
        kept = _independent(group, excluded)
        block = StudyBlock(key, [Contrast(e.first, e.second, e.y) for e in kept],
                           _covariance(key, kept))
        out.append((block, kept))
    return out


def _connected(blocks: list[tuple[StudyBlock, list[Entry]]], names: list[str]) -> list[Any]:
    edges = [(c.first, c.second) for b, _ in blocks for c in b.contrasts]
    parts = components(edges, names)
    described = [{"treatments": part, "studies": sorted(
        {b.study for b, _ in blocks if set(b.nodes) <= set(part)})} for part in parts]
    if len(parts) > 1:
        named = "; ".join(f"{{{', '.join(p['treatments'])}}}" for p in described)
        raise UnprocessableContent(
            f"the network is disconnected: {len(parts)} sub-networks ({named}); merge nodes "
            "that are the same treatment (merge=) or narrow the selection to one of them",
            components=described)
    return described


def network_meta_analysis(session: Session, params: NetworkParams) -> dict[str, Any]:
    """Fit the network of the contrasts the filter chooses; 422 when it is disconnected,
    mixes effect types, has fewer than two treatments, or a study gives one comparison
    twice. Every estimate left out is listed with its reason."""
    if params.method_tau not in CHECKED_TAU_METHODS:
        raise UnprocessableContent(f"method_tau={params.method_tau} is not checked against R")
    rows, details = chosen(session, params)
    arms = study_arms(session, rows)
    excluded: list[dict[str, Any]] = []
    entries = reported_first(usable(rows, params, details, arms, excluded), excluded,
                             params.max_risk_of_bias)
    effect_type = _one_type(entries, excluded)
    warnings: list[str] = []
    entries, nodes = assign_nodes(entries, params, excluded, warnings)
    blocks = _blocks(entries, excluded)
    if len(nodes) < 2 or not blocks:
        raise UnprocessableContent("a network needs contrasts between at least two treatments",
                                   excluded=excluded)
    if len(nodes) > MAX_TREATMENTS:
        raise UnprocessableContent(
            f"the network has {len(nodes)} treatments, more than {MAX_TREATMENTS}; narrow it")
    connectivity = _connected(blocks, sorted(nodes, key=str.casefold))
    return network_answer.answer(
        params, effect_type, nodes, blocks, excluded,
        warnings + transitivity_warnings(nodes), connectivity)
