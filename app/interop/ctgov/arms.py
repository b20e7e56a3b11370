"""Record → document, the groups: arm groups and their interventions, placebo arms registered
as experimental, result groups matched to arms, and arm sizes from the participant flow."""

from __future__ import annotations

import re
from typing import Any

from app.interop.ctgov.base import MapperBase, unique_label
from app.interop.ctgov.records import (
    ARM_TYPES,
    INTERVENTION_PREFIX,
    INTERVENTION_TYPES,
    MAX_NAME,
    MAX_TEXT,
)
from app.interop.ctgov.text import clip, fold, parse_number

_INERT = re.compile(r"\b(?:placebos?|vehicle|sham)\b", re.IGNORECASE)
_COMBINED = re.compile(r"\+|&|\b(?:plus|and|with|combined|add-on)\b", re.IGNORECASE)


def _inert_kind(names: list[str]) -> str | None:
    """PLACEBO_COMPARATOR (SHAM_COMPARATOR) when every intervention named is a placebo or
    vehicle (a sham) and none is combined with something else; else None."""
    if not names or any(not _INERT.search(n) or _COMBINED.search(n) for n in names):
        return None
    if all(re.search(r"\bsham\b", n, re.IGNORECASE) for n in names):
        return "SHAM_COMPARATOR"
    return "PLACEBO_COMPARATOR"


def _named_by(group: dict[str, Any], interventions: list[dict[str, Any]],
              by_ref: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The interventions an arm group names, or that name it; each once."""
    names = [by_ref[str(ref).casefold()] for ref in group.get("interventionNames") or []
             if str(ref).casefold() in by_ref]
    names += [x for x in interventions if group["label"] in (x.get("armGroupLabels") or [])]
    return list({id(x): x for x in names}.values())


def _entry(x: dict[str, Any], notes: bool) -> dict[str, Any]:
    """An arm's intervention entry: name, type when it is one of ours, description as notes."""
    entry: dict[str, Any] = {"name": clip(str(x.get("name")), MAX_NAME)}
    if x.get("type") in INTERVENTION_TYPES:
        entry["type"] = x["type"]
    if notes and x.get("description"):
        entry["notes"] = clip(x["description"], MAX_TEXT)
    return entry


class ArmMapping(MapperBase):
    def arms(self) -> None:
        """Arm groups with the interventions each names (by "Type: name", by name, or by the
        intervention's own list of groups)."""
        m, p = self.module("armsInterventionsModule"), "protocolSection.armsInterventionsModule"
        interventions = [x for x in m.get("interventions") or [] if isinstance(x, dict)]
        by_ref: dict[str, dict[str, Any]] = {}
        for x in interventions:
            prefix = INTERVENTION_PREFIX.get(str(x.get("type")), "Other")
            by_ref[f"{prefix}: {x.get('name')}".casefold()] = x
            by_ref[str(x.get("name")).casefold()] = x
        arms: list[dict[str, Any]] = []
        linked: set[int] = set()
        paths: dict[str, str] = {}
        for i, group in enumerate(m.get("armGroups") or []):
            if not isinstance(group, dict) or not group.get("label"):
                continue
            label = unique_label(clip(str(group["label"]), MAX_NAME) or f"Group {i + 1}",
                                 self.arm_labels)
            arm_type = group.get("type") if group.get("type") in ARM_TYPES else "OTHER"
            arm: dict[str, Any] = {"label": label, "arm_type": arm_type,
                                   "interventions": []}
            if group.get("description"):
                arm["description"] = clip(group["description"], MAX_TEXT)
            for x in _named_by(group, interventions, by_ref):
                linked.add(id(x))
                arm["interventions"].append(_entry(x, notes=True))
            arms.append(arm)
            paths[label] = f"{p}.armGroups[{i}]"
            self.report.map(f"{p}.armGroups[{i}]", f"arms: {label} ({arm_type}, "
                            f"{len(arm['interventions'])} interventions)")
        self.unlinked(interventions, linked, arms)
        self.doc["arms"] = arms
        self.inert_comparators(paths)

    def unlinked(self, interventions: list[dict[str, Any]], linked: set[int],
                 arms: list[dict[str, Any]]) -> None:
        """Interventions no arm group names go to the only group, when there is one."""
        p = "protocolSection.armsInterventionsModule"
        for i, x in enumerate(interventions):
            if id(x) not in linked:
                if not arms:
                    arms.append({"label": unique_label("All participants", self.arm_labels),
                                 "arm_type": "OTHER", "interventions": []})
                if len(arms) == 1:
                    arms[0]["interventions"].append(_entry(x, notes=False))
                    self.report.map(f"{p}.interventions[{i}]",
                                    f"arms: {arms[0]['label']} (the only group)")
                else:
                    self.report.skip(f"{p}.interventions[{i}]", "linked to no arm group")
            elif x.get("otherNames"):
                self.report.skip(f"{p}.interventions[{i}].otherNames",
                                 "synonyms are curated in the vocabulary, not taken from "
                                 "registry records")

    def inert_comparators(self, paths: dict[str, str]) -> None:
        """An arm registered as EXPERIMENTAL or OTHER whose every intervention is a placebo,
        vehicle or sham is stored as the comparator it is, when another arm gives something
        else: which arm is the comparator decides the direction of every contrast."""
        arms = self.doc["arms"]
        kinds = {a["label"]: _inert_kind([x["name"] for x in a["interventions"]]) for a in arms}
        if not any(kinds[a["label"]] is None and a["interventions"] for a in arms):
            return
        for arm in arms:
            kind = kinds[arm["label"]]
            if kind is None or arm["arm_type"] not in ("EXPERIMENTAL", "OTHER"):
                continue
            registered, arm["arm_type"] = arm["arm_type"], kind
            names = ", ".join(repr(x["name"]) for x in arm["interventions"])
            note = (f"ClinicalTrials.gov registers the arm {arm['label']!r} as {registered}; "
                    f"it gives only {names}, so it is stored as {kind}")
            arm["notes"] = clip(note, MAX_TEXT)
            self.notes.append(note)
            self.report.map(f"{paths[arm['label']]}.type",
                            f"arms: {arm['label']} {kind} (registered {registered}; every "
                            "intervention is a placebo, vehicle or sham)")

    def _arm_for_group(self, title: str, description: str | None) -> str:
        """The arm a result group stands for: same label, else same letters and digits,
        else one containing the other; an unmatched group becomes an arm of its own."""
        arms = self.doc["arms"]
        for test in (lambda a: a["label"].casefold() == title.casefold(),
                     lambda a: fold(a["label"]) == fold(title),
                     lambda a: fold(a["label"]) and (fold(a["label"]) in fold(title)
                                                     or fold(title) in fold(a["label"]))):
            hits = [a for a in arms if test(a)]
            if len(hits) == 1:
                return str(hits[0]["label"])
        label = unique_label(clip(title, MAX_NAME) or "Group", self.arm_labels)
        arm: dict[str, Any] = {"label": label, "arm_type": "OTHER", "interventions": []}
        if description:
            arm["description"] = clip(description, MAX_TEXT)
        arms.append(arm)
        return label

    def participant_flow(self) -> None:
        """Arm sizes from the participant flow: STARTED in the first period as randomized,
        COMPLETED in the last period as completed."""
        results = self.record.get("resultsSection")
        flow = results.get("participantFlowModule") if isinstance(results, dict) else None
        if not isinstance(flow, dict):
            return
        base = "resultsSection.participantFlowModule"
        groups = {g["id"]: self._arm_for_group(str(g.get("title") or g["id"]),
                                               g.get("description"))
                  for g in flow.get("groups") or [] if isinstance(g, dict) and g.get("id")}
        periods = [p for p in flow.get("periods") or [] if isinstance(p, dict)]
        arms = {a["label"]: a for a in self.doc["arms"]}
        for target, kind, index in (("n_randomized", "STARTED", 0),
                                    ("n_completed", "COMPLETED", len(periods) - 1)):
            if not periods:
                break
            milestones = periods[index].get("milestones") or []
            for mi, milestone in enumerate(milestones):
                if not isinstance(milestone, dict) or milestone.get("type") != kind:
                    continue
                path = f"{base}.periods[{index}].milestones[{mi}]"
                for a in milestone.get("achievements") or []:
                    number = parse_number(a.get("numSubjects")) if isinstance(a, dict) else None
                    if a.get("groupId") not in groups or number is None or number < 0 \
                            or number != int(number):
                        continue
                    arm = arms[groups[a["groupId"]]]
                    arm[target] = int(number)
                    arm.setdefault("sources", [])
                    if not any(x["locator"] == path for x in arm["sources"]):
                        arm["sources"].append(self.source(path))
                self.report.map(path, f"arms[].{target} ({kind} in period "
                                      f"{periods[index].get('title') or index + 1!r})")
                break
