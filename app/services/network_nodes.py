"""The nodes of a network: each arm's treatment is its set of interventions, and the caller
may declare several nodes the same treatment (`merge`). Transitivity is the caller's
judgement: every node lists the studies and arms it holds, and a warning names each node that
holds different treatments or comparators of different kinds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ArmInfo:
    id: int
    study_id: int
    label: str
    arm_type: str
    description: str | None
    interventions: tuple[str, ...]

    @property
    def treatment(self) -> str:
        """The arm's intervention set as a node name, e.g. "MDMA + Psychotherapy"."""
        return " + ".join(self.interventions) if self.interventions else self.label


def arms_from_rows(rows: list[Any]) -> dict[tuple[int, str], ArmInfo]:
    """Arms by (study id, label) from one row per arm and intervention."""
    names: dict[int, list[str]] = defaultdict(list)
    first: dict[int, Any] = {}
    for r in rows:
        first.setdefault(r.id, r)
        if r.intervention and r.intervention not in names[r.id]:
            names[r.id].append(r.intervention)
    return {(r.study_id, r.label): ArmInfo(
        r.id, r.study_id, r.label, str(r.arm_type), r.description,
        tuple(sorted(names[arm_id], key=str.casefold))) for arm_id, r in first.items()}


@dataclass
class Node:
    name: str
    treatments: list[str] = field(default_factory=list)
    arms: list[tuple[str, ArmInfo]] = field(default_factory=list)


def merge_groups(merge: list[str]) -> list[list[str]]:
    """Each `merge` value is one group of names separated by commas."""
    groups = [[n.strip() for n in value.split(",") if n.strip()] for value in merge]
    return [g for g in groups if len(g) > 1]


def node_names(arms: list[ArmInfo], merge: list[str]) -> tuple[dict[str, str], list[str]]:
    """Each treatment (intervention set) → the node it belongs to, and the merge names that
    match no chosen arm. A merge group names treatments or arm labels (case-insensitively);
    the node takes the first one's treatment name."""
    treatments = {a.treatment.casefold(): a.treatment for a in arms}
    by_label: dict[str, set[str]] = defaultdict(set)
    for a in arms:
        by_label[a.label.casefold()].add(a.treatment)
    out = {t: t for t in treatments.values()}
    unknown: list[str] = []
    for group in merge_groups(merge):
        members: list[str] = []
        for name in group:
            key = name.casefold()
            found = ([treatments[key]] if key in treatments
                     else sorted(by_label.get(key, set())))
            if not found:
                unknown.append(name)
            members.extend(t for t in found if t not in members)
        if members:
            target = out[members[0]]
            for t in members[1:]:
                for other, node in list(out.items()):
                    if node == out[t] and other != t:
                        out[other] = target
                out[t] = target
    return out, unknown


PLACEBO_KINDS = ("PLACEBO_COMPARATOR", "SHAM_COMPARATOR")


def transitivity_warnings(nodes: dict[str, Node]) -> list[str]:
    """A node that holds several treatments, or comparators of different kinds; and placebo
    or sham comparators kept apart in several nodes (different treatments unless merged)."""
    warnings = []
    placebos = sorted((n.name for n in nodes.values()
                       if any(a.arm_type in PLACEBO_KINDS for _, a in n.arms)), key=str.casefold)
    if len(placebos) > 1:
        warnings.append("placebo or sham comparators are in different nodes ("
                        + "; ".join(placebos) + "): they are different treatments unless "
                        "merged, e.g. merge=" + ",".join(placebos))
    for node in nodes.values():
        if len(node.treatments) > 1:
            warnings.append(
                f"node '{node.name}' merges different treatments ("
                + "; ".join(node.treatments) + "): the merge is the caller's judgement that "
                "they are the same treatment")
        kinds = sorted({a.arm_type for _, a in node.arms if a.arm_type != "EXPERIMENTAL"})
        if len(kinds) > 1:
            warnings.append(f"node '{node.name}' merges comparators of different kinds ("
                            + ", ".join(kinds) + ")")
    return warnings


def components(edges: list[tuple[str, str]], nodes: list[str]) -> list[list[str]]:
    """The connected sub-networks, largest first."""
    parent = {n: n for n in nodes}

    def root(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = defaultdict(list)
    for n in nodes:
        groups[root(n)].append(n)
    return sorted((sorted(g, key=str.casefold) for g in groups.values()),
                  key=lambda g: (-len(g), g[0].casefold()))
