"""Record → document, the results: time frames as timepoints, outcome measures with their
per-group results, analyses as effects, and adverse events as SAFETY outcomes."""

from __future__ import annotations

from typing import Any

from app.interop.ctgov.analyses import AnalysisMapping
from app.interop.ctgov.arms import ArmMapping
from app.interop.ctgov.base import unique_label
from app.interop.ctgov.records import MAX_NAME, MAX_SHORT, MAX_TEXT, OUTCOME_ROLES
from app.interop.ctgov.text import (
    PERCENT_UNIT,
    anchor_of,
    clip,
    fold,
    is_percent_of_participants,
    parse_number,
    parse_time_frame,
    printed_percent,
    timepoint_role,
)
from app.schemas.study import count_from_percent


def _denoms(denoms: Any) -> dict[str, int]:
    """Participants per group from a denoms list (the 'Participants' unit first)."""
    out: dict[str, int] = {}
    for d in denoms or []:
        if not isinstance(d, dict) or str(d.get("units", "")).lower() != "participants":
            continue
        for c in d.get("counts") or []:
            value = parse_number(c.get("value")) if isinstance(c, dict) else None
            if value is not None and value >= 0 and value == int(value):
                out[c["groupId"]] = int(value)
    return out

def _result(meas: dict[str, Any], param: str, dispersion: str, change: bool,
            unit: Any, n: int | None, percentages: bool = False) -> dict[str, Any]:
    value = parse_number(meas.get("value"))
    spread = parse_number(meas.get("spread"))
    low, high = parse_number(meas.get("lowerLimit")), parse_number(meas.get("upperLimit"))
    raw = str(meas.get("value", ""))
    if meas.get("spread") is not None:
        raw += f" ± {meas['spread']}"
    if meas.get("lowerLimit") is not None or meas.get("upperLimit") is not None:
        raw += f" ({meas.get('lowerLimit')} to {meas.get('upperLimit')})"
    if unit:
        raw += f" {unit}"
    if meas.get("comment"):
        raw += f" [{meas['comment']}]"
    result: dict[str, Any] = {"raw": raw.strip()[:MAX_TEXT] or "not given"}
    if n is not None:
        result["n"] = n
    param, disp, unit_text = param.upper(), dispersion.lower(), str(unit or "").lower()
    if param in ("MEAN", "LEAST_SQUARES_MEAN", "GEOMETRIC_MEAN") and value is not None:
        result["change_mean" if change else "mean"] = value
        if spread is not None and spread >= 0:
            if "standard deviation" in disp:
                result["change_sd" if change else "sd"] = spread
            elif "standard error" in disp:
                result["change_se" if change else "se"] = spread
        if "confidence interval" in disp and low is not None and high is not None and low <= high:
            result["ci_low"], result["ci_high"] = low, high
    elif percentages:
        # The count is never computed here: with the group's analysed number the write derives
        # it, when exactly one integer prints as this percentage.
        percent = printed_percent(meas.get("value"))
        if percent is not None:
            result["percent"] = percent
            if n is not None:
                result["denominator"] = n
    elif (param in ("NUMBER", "COUNT_OF_PARTICIPANTS", "COUNT_OF_UNITS") and value is not None
          and value >= 0 and value == int(value) and not PERCENT_UNIT.search(unit_text)
          and ("participant" in unit_text or param == "COUNT_OF_PARTICIPANTS")):
        result["count"] = int(value)
        if n is not None and n >= value:
            result["denominator"] = n
    return result


class OutcomeMapping(ArmMapping, AnalysisMapping):
    def timepoint(self, time_frame: str | None, path: str) -> str:
        text = (time_frame or "").strip() or "time frame not stated"
        label = clip(text, MAX_NAME) or "time frame not stated"
        if label.casefold() in self.timepoints:
            return str(self.timepoints[label.casefold()]["label"])
        tp: dict[str, Any] = {"label": label, "sources": [self.source(path)]}
        parsed = parse_time_frame(text)
        anchor = anchor_of(text)
        if anchor:
            tp["anchor"] = anchor
        if parsed is not None:
            tp["months"] = parsed[0]
            # A registry time frame counts from the start of the study (baseline), unless it
            # says that it counts from the end of treatment.
            if anchor != "END_OF_TREATMENT":
                tp["months_since_baseline"] = parsed[0]
            self.report.map(path, f"timepoints: {label!r} ({parsed[1]} = {parsed[0]} months"
                                  + (" since baseline)" if anchor != "END_OF_TREATMENT"
                                     else " after the end of treatment)"))
        else:
            self.report.skip(path, f"time frame {label!r} states no duration: "
                                   "timepoint kept without months")
        self.timepoints[label.casefold()] = tp
        return label

    def timepoint_roles(self, primary_frames: set[str]) -> None:
        """Roles of the timepoints (`timepoint_role`), once every time frame is known."""
        primary = [self.timepoints[f] for f in primary_frames if f in self.timepoints]
        primary_months = {t["months_since_baseline"] for t in primary
                          if t.get("months_since_baseline") is not None}
        for key, tp in self.timepoints.items():
            found = timepoint_role(tp["label"], tp.get("months_since_baseline"),
                                   key in primary_frames, primary_months)
            if found is None:
                continue
            tp["role"], why = found
            if tp["role"] == "BASELINE":
                tp["months_since_baseline"] = 0
            self.report.map(tp["sources"][0]["locator"],
                            f"timepoints: {tp['label']!r} role {tp['role']} ({why})")

    def outcomes(self) -> None:
        measures: list[dict[str, Any]] = []
        results = self.record.get("resultsSection")
        om_module = results.get("outcomeMeasuresModule") if isinstance(results, dict) else None
        result_measures = (om_module or {}).get("outcomeMeasures") or []
        covered: set[str] = set()
        primary = [om for om in result_measures
                   if isinstance(om, dict) and om.get("type") == "PRIMARY"]
        primary += self.module("outcomesModule").get("primaryOutcomes") or []
        primary_frames = {(clip(str(o["timeFrame"]), MAX_NAME) or "").casefold()
                          for o in primary if isinstance(o, dict) and o.get("timeFrame")}
        for i, om in enumerate(result_measures):
            if isinstance(om, dict) and om.get("title"):
                covered.add(fold(om["title"]))
                measures.extend(self.result_measure(i, om))
        if isinstance(results, dict) and isinstance(results.get("adverseEventsModule"), dict):
            measures.extend(self.adverse_events(results["adverseEventsModule"]))
        m, p = self.module("outcomesModule"), "protocolSection.outcomesModule"
        for key, role in (("primaryOutcomes", "PRIMARY"), ("secondaryOutcomes", "SECONDARY"),
                          ("otherOutcomes", "OTHER")):
            for i, o in enumerate(m.get(key) or []):
                path = f"{p}.{key}[{i}]"
                if not isinstance(o, dict) or not o.get("measure"):
                    continue
                if fold(o["measure"]) in covered:
                    self.report.map(path, "outcome_measures (with the posted results)")
                    continue
                name = unique_label(clip(o["measure"], MAX_NAME) or "Outcome",
                                     self.outcome_names)
                measure: dict[str, Any] = {"name": name, "role": role}
                if o.get("description"):
                    measure["description"] = clip(o["description"], MAX_TEXT)
                if o.get("timeFrame"):
                    self.timepoint(o["timeFrame"], f"{path}.timeFrame")
                    measure["notes"] = clip(f"Time frame: {o['timeFrame']}", MAX_TEXT)
                measures.append(measure)
                self.report.map(path, f"outcome_measures: {name} ({role})")
        self.doc["outcome_measures"] = measures
        self.timepoint_roles(primary_frames)
        self.doc["timepoints"] = list(self.timepoints.values())
        if isinstance(results, dict):
            for key in ("baselineCharacteristicsModule", "moreInfoModule"):
                if results.get(key):
                    self.report.skip(f"resultsSection.{key}",
                                     "kept in the stored record; not mapped to evidence tables")

    def adverse_events(self, ae: dict[str, Any]) -> list[dict[str, Any]]:
        """Participants with deaths, serious and other adverse events per group: SAFETY
        outcomes with a count and denominator per arm."""
        base = "resultsSection.adverseEventsModule"
        groups = [g for g in ae.get("eventGroups") or [] if isinstance(g, dict) and g.get("id")]
        if not groups:
            return []
        tp = self.timepoint(ae.get("timeFrame"), f"{base}.timeFrame")
        arms = {g["id"]: self._arm_for_group(str(g.get("title") or g["id"]),
                                             g.get("description")) for g in groups}
        out = []
        for prefix, title in (("deaths", "All-cause mortality"),
                              ("serious", "Participants with serious adverse events"),
                              ("other", "Participants with other (not serious) adverse "
                                        "events")):
            results = []
            for i, g in enumerate(groups):
                affected = parse_number(g.get(f"{prefix}NumAffected"))
                at_risk = parse_number(g.get(f"{prefix}NumAtRisk"))
                if (affected is None or at_risk is None or affected < 0
                        or affected != int(affected) or at_risk != int(at_risk)
                        or affected > at_risk):
                    continue
                results.append({
                    "arm": arms[g["id"]], "timepoint": tp, "count": int(affected),
                    "denominator": int(at_risk), "n": int(at_risk),
                    "raw": f"{g.get(f'{prefix}NumAffected')}/{g.get(f'{prefix}NumAtRisk')}",
                    "sources": [self.source(f"{base}.eventGroups[{i}].{prefix}NumAffected")]})
            if not results:
                continue
            name = unique_label(title, self.outcome_names)
            out.append({"name": name, "role": "SAFETY", "unit": "participants",
                        "lower_is_better": True, "results": results})
            self.report.map(f"{base}.eventGroups[].{prefix}NumAffected",
                            f"outcome_measures: {name!r} (SAFETY, {len(results)} results)")
        for key in ("seriousEvents", "otherEvents"):
            if ae.get(key):
                self.report.skip(f"{base}.{key}", "events by term are kept in the stored "
                                                  "record; the counts per group are mapped")
        return out

    def result_measure(self, i: int, om: dict[str, Any]) -> list[dict[str, Any]]:
        base = f"resultsSection.outcomeMeasuresModule.outcomeMeasures[{i}]"
        role = OUTCOME_ROLES.get(str(om.get("type")), "OTHER")
        tp = self.timepoint(om.get("timeFrame"), f"{base}.timeFrame")
        groups = {g["id"]: self._arm_for_group(str(g.get("title") or g["id"]),
                                               g.get("description"))
                  for g in om.get("groups") or [] if isinstance(g, dict) and g.get("id")}
        unit = om.get("unitOfMeasure")
        change = "change" in str(om.get("title", "")).lower()
        param = str(om.get("paramType") or "")
        dispersion = str(om.get("dispersionType") or "")
        denoms = _denoms(om.get("denoms"))
        percentages = is_percent_of_participants(param, str(unit or ""), str(om.get("title")))
        classes = [c for c in om.get("classes") or [] if isinstance(c, dict)]
        cells = [(ci, c, ki, k) for ci, c in enumerate(classes)
                 for ki, k in enumerate(c.get("categories") or []) if isinstance(k, dict)]
        split = len(cells) > 1
        out: list[dict[str, Any]] = []
        for ci, cls, ki, cat in cells or [(0, {}, 0, {})]:
            title = str(om["title"])
            if split:
                extra = " — ".join(x for x in (cls.get("title"), cat.get("title")) if x)
                title = f"{title} — {extra or f'class {ci + 1}, category {ki + 1}'}"
            name = unique_label(clip(title, MAX_NAME) or "Outcome", self.outcome_names)
            measure: dict[str, Any] = {"name": name, "role": role, "results": [],
                                       "effects": []}
            if unit:
                measure["unit"] = clip(str(unit), MAX_SHORT)
            if om.get("description"):
                measure["description"] = clip(om["description"], MAX_TEXT)
            note = [f"Registry parameter: {param}" + (f", dispersion: {dispersion}"
                                                     if dispersion else "")]
            if om.get("populationDescription"):
                note.append(f"Analysis population: {om['populationDescription']}")
            measure["notes"] = clip("\n".join(note), MAX_TEXT)
            class_denoms = _denoms(cls.get("denoms")) or denoms
            for mi, meas in enumerate(cat.get("measurements") or []):
                if not isinstance(meas, dict) or meas.get("groupId") not in groups:
                    continue
                loc = f"{base}.classes[{ci}].categories[{ki}].measurements[{mi}]"
                result = _result(meas, param, dispersion, change, unit,
                                 class_denoms.get(meas["groupId"]), percentages)
                result.update(arm=groups[meas["groupId"]], timepoint=tp,
                              sources=[self.source(loc)])
                measure["results"].append(result)
                if percentages:
                    self.percentage_report(result, meas, loc)
            out.append(measure)
        target = f"outcome_measures: {str(om['title'])!r}"
        if split:
            target += ", one per class and category: " + ", ".join(repr(x["name"]) for x in out)
        self.report.map(base, f"{target} ({role}, "
                              f"{sum(len(x['results']) for x in out)} results)")
        self.analyses(base, om, out, groups, tp)
        return out

    def analyses(self, base: str, om: dict[str, Any], out: list[dict[str, Any]],
                 groups: dict[str, str], tp: str) -> None:
        """A measure's analyses as effects of its one measure (none when it was split)."""
        for ai, analysis in enumerate(om.get("analyses") or []):
            path = f"{base}.analyses[{ai}]"
            if len(out) > 1:
                self.report.skip(path, "the measure has several classes or categories and the "
                                       "analysis does not say which one it compares")
                continue
            titles = {g["id"]: str(g.get("title") or g["id"]) for g in om.get("groups") or []
                      if isinstance(g, dict) and g.get("id")}
            by_arm = {r["arm"]: r for r in out[0]["results"]}
            effect, reason = self.effect(analysis, groups, titles, by_arm, tp, path)
            if effect is None:
                self.report.skip(path, reason)
            else:
                out[0]["effects"].append(effect)
                self.report.map(path, f"effects: {effect['effect_type']} {reason} "
                                      f"in {out[0]['name']!r}")

    def percentage_report(self, result: dict[str, Any], meas: dict[str, Any],
                          loc: str) -> None:
        """Say what became of a percentage of participants that gives no count."""
        percent, n = result.get("percent"), result.get("denominator")
        if percent is None:
            self.report.skip(f"{loc}.value", f"{meas.get('value')!r} is not a percentage "
                                              "from 0 to 100: kept in raw")
        elif n is None:
            self.report.skip(f"{loc}.value", f"{percent}% without the group's analysed "
                                              "number: no count")
        elif count_from_percent(percent, n) is None:
            self.report.skip(f"{loc}.value", f"{percent}% of {n}: no single count prints as "
                                              "it, so none is derived")
