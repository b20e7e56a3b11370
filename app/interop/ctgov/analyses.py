"""Record → document, a registry analysis as an effect in our direction."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.interop.ctgov.base import MapperBase
from app.interop.ctgov.records import MAX_TEXT
from app.interop.ctgov.text import clip, effect_type_of, parse_number, parse_p_value

# ------------------------------------------------------------------ registry analyses
#
# The direction of a registry analysis. ClinicalTrials.gov gives an analysis the groups it
# compares (`groupIds`) and the estimate (`paramType`, `paramValue`), but no field for which
# group was subtracted from (or divided by) which: `groupIds` follow the order of the groups in
# the measure, not the direction of the estimate (NCT02210780 lists placebo first and prints
# dupilumab minus placebo), and the registry asks submitters to state the direction in words,
# in the estimate comment ("Dupilumab 300 mg qw vs. Placebo qw"). The rule:
#
# 1. Roles. The comparator is the arm typed as one (placebo, active or sham comparator, no
#    intervention), else the one named like a control (placebo, vehicle, sham, control, usual
#    or standard care, waitlist, no treatment); the other arm is experimental.
# 2. The printed order. The first statement that names both groups on either side of "vs",
#    "versus", "minus", "over", "against", "compared to/with", "relative to", "divided by",
#    " - " or " / ", read in the estimate comment, then the group description, the
#    non-inferiority comment, the statistical comment, the other analysis description and the
#    p-value comment. The group named first is the minuend (the numerator of a ratio). A group
#    is named by its title or arm label, else by a word of it (4 letters or more) that the other
#    group's title lacks. A text naming both orders says nothing.
# 3. Without such a statement, the group values of the measure (means, change means, counts or
#    percentages) decide when they give the printed estimate one way (within a quarter of its
#    size; ratios on the log scale) and not the other.
# 4. When neither arm is a comparator by (1), the group printed first is stored as experimental.
# 5. Printed comparator first: stored re-expressed, with the printed estimate in `as_reported`
#    and the statement that tells it as the reason. When nothing tells the direction, the value
#    is kept as printed and the notes say so.
#
# Every analysis keeps the registry's wording (parameter, estimate comment, group description,
# method, hypothesis) in its notes.

STANDARDIZED = ("COHENS_D", "HEDGES_G", "SMD")
_COMPARATOR_WORDS = ("placebo", "vehicle", "sham", "control", "usual care", "standard care",
                     "standard of care", "waitlist", "wait-list", "wait list", "no treatment",
                     "no intervention")
_COMPARATOR_TYPES = ("PLACEBO_COMPARATOR", "ACTIVE_COMPARATOR", "SHAM_COMPARATOR",
                     "NO_INTERVENTION")
_ANALYSIS_TEXTS = (("estimateComment", "estimate comment"),
                   ("groupDescription", "group description"),
                   ("nonInferiorityComment", "non-inferiority comment"),
                   ("statisticalComment", "statistical comment"),
                   ("otherAnalysisDescription", "analysis description"),
                   ("pValueComment", "p-value comment"))
_CONNECTOR = re.compile(
    r"(?:^|[\s(\[])(?:vs\.?|v\.|versus|minus|over|against|compared\s+(?:to|with)|"
    r"relative\s+to|divided\s+by)(?=$|[\s)\]])|(?:^|\s)[-\u2013\u2212/\u00f7](?:\s|$)",
    re.IGNORECASE)
# A gap that holds another clause cannot join two names into one statement.
_CLAUSE_BREAK = re.compile(r"[;=]|(?<!vs)(?<!\bv)\.\s", re.IGNORECASE)
MAX_GAP = 40


def _roles(first: str, second: str, arms: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(experimental, comparator) of two arms by type, else by a control-like name; None when
    that does not single out one comparator."""
    types = {a["label"]: a["arm_type"] for a in arms}
    tests: tuple[Callable[[str], bool], ...] = (
        lambda label: types.get(label) in _COMPARATOR_TYPES,
        lambda label: any(w in label.lower() for w in _COMPARATOR_WORDS))
    for test in tests:
        one, two = test(first), test(second)
        if one != two:
            return (second, first) if one else (first, second)
        if one and two:
            return None
    return None


def _spans(text: str, names: list[str], others: list[str]) -> list[tuple[int, int]]:
    """Where `text` names a group: its title or label, else a word of them the other lacks."""
    low = text.casefold()
    spans = {m.span() for n in names if n for m in re.finditer(re.escape(n.casefold()), low)}
    if not spans:
        taken = {w for o in others for w in re.findall(r"\w+", o.casefold())}
        words = {w for n in names for w in re.findall(r"\w+", n.casefold())
                 if len(w) >= 4 and not w.isdigit() and w not in taken}
        spans = {m.span() for w in words for m in re.finditer(rf"\b{re.escape(w)}\b", low)}
    return sorted(spans)


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(s[0] <= span[0] and span[1] <= s[1] and s != span for s in spans)


def stated_order(text: str, a: list[str], b: list[str]) -> tuple[bool, str] | None:
    """Whether `text` prints group `a` before group `b` around a connector ("A vs. B"): True
    for a first, False for b first, with the words that say it; None when it says neither or
    both. `a` and `b` are the names of each group (title, arm label)."""
    in_a, in_b = _spans(text, a, b), _spans(text, b, a)
    in_a, in_b = ([s for s in in_a if not _inside(s, in_b)],
                  [s for s in in_b if not _inside(s, in_a)])
    found: dict[bool, str] = {}
    for a_first, before, after in ((True, in_a, in_b), (False, in_b, in_a)):
        for s in before:
            for t in after:
                gap = text[s[1]:t[0]]
                if (s[1] <= t[0] and len(gap) <= MAX_GAP and _CONNECTOR.search(gap)
                        and not _CLAUSE_BREAK.search(gap)):
                    found.setdefault(a_first, text[s[0]:t[1]])
    if len(found) != 1:
        return None
    [(a_first, words)] = found.items()
    return a_first, words


def _printed_order(a: dict[str, Any], names: tuple[list[str], list[str]]
                   ) -> tuple[bool, str, str] | None:
    """The first analysis text that states the order of its two groups: (first group printed
    first, which text, the words)."""
    for key, label in _ANALYSIS_TEXTS:
        text = a.get(key)
        if isinstance(text, str) and text.strip():
            found = stated_order(text, *names)
            if found is not None:
                return found[0], label, found[1]
    return None


def _proportion(r: dict[str, Any] | None) -> float | None:
    if r is None:
        return None
    if r.get("count") is not None and r.get("denominator"):
        return float(r["count"]) / float(r["denominator"])
    if r.get("percent") is not None:
        return float(r["percent"]) / 100
    return None


def _group_contrast(effect_type: str, e: dict[str, Any] | None, c: dict[str, Any] | None
                    ) -> float | None:
    """The contrast of two group results, first minus (log: over) second; None without one."""
    if e is None or c is None:
        return None
    if effect_type == "MEAN_DIFFERENCE":
        for key in ("change_mean", "mean"):
            if e.get(key) is not None and c.get(key) is not None:
                return float(e[key]) - float(c[key])
        return None
    pe, pc = _proportion(e), _proportion(c)
    if pe is None or pc is None:
        return None
    if effect_type == "RISK_DIFFERENCE":
        return pe - pc
    if effect_type == "RISK_RATIO":
        return math.log(pe / pc) if pe > 0 and pc > 0 else None
    if 0 < pe < 1 and 0 < pc < 1:
        return math.log(pe / (1 - pe)) - math.log(pc / (1 - pc))
    return None


def _agrees(effect_type: str, printed: float, contrast: float | None) -> bool | None:
    """True when the printed estimate is the group contrast as given, False when it is the
    contrast the other way round, None when the group values cannot tell."""
    if contrast is None or contrast == 0:
        return None
    if effect_type in ("RISK_RATIO", "ODDS_RATIO"):
        printed = math.log(printed)
    if printed == 0:
        return None
    for as_given, target in ((True, contrast), (False, -contrast)):
        if abs(printed - target) <= 0.25 * abs(target):
            return as_given
    return None


@dataclass
class _Estimate:
    """A registry analysis's printed numbers: its effect type, the factor that brings them to
    our scale, and whether its CI is usable."""

    param: str
    effect_type: str
    scale: float
    value: float | None
    low: float | None
    high: float | None
    level: float
    has_ci: bool
    p: tuple[float, str] | None

    @property
    def ratio(self) -> bool:
        return self.effect_type in ("RISK_RATIO", "ODDS_RATIO")

    def ours(self) -> tuple[float | None, float | None, float | None]:
        """Value and CI limits on our scale (no limits without a usable CI)."""
        def scaled(x: float | None, keep: bool) -> float | None:
            return x * self.scale if keep and x is not None else None
        return (scaled(self.value, True), scaled(self.low, self.has_ci),
                scaled(self.high, self.has_ci))


@dataclass
class _Direction:
    """Which group an analysis is stored as experimental, and what told us."""

    experimental: str
    comparator: str
    minuend: str | None  # the group printed first (subtracted from, or divided), when known
    how: str
    printed: tuple[bool, str, str] | None
    by_values: str | None


def _effect_kind(a: dict[str, Any], results: dict[str, dict[str, Any]]
                 ) -> tuple[str | None, float, str]:
    """Our effect type for an analysis and its scale, or None and why not."""
    param = str(a.get("paramType") or "")
    effect_type, scale = effect_type_of(param)
    if effect_type is None:
        return None, 1, (f"parameter {param!r} is not an effect measure we store"
                         if param else "the analysis states no parameter")
    if scale != 1 and results and all(
            _proportion(r) is None and (r.get("mean") is not None
                                        or r.get("change_mean") is not None)
            for r in results.values()):
        # A percentage difference between group means (of a measure in percent) is a
        # mean difference, not a difference of proportions.
        effect_type, scale = "MEAN_DIFFERENCE", 1
    if effect_type in STANDARDIZED:
        return None, 1, (f"parameter {param!r} is a standardized difference: ours is positive "
                         "when it favours the experimental arm, and the registry does not say "
                         "which direction of the outcome is better")
    return effect_type, scale, ""


def _estimate(a: dict[str, Any], effect_type: str, scale: float) -> tuple[_Estimate | None, str]:
    """The printed numbers of an analysis, or None and why they cannot be stored."""
    param = str(a.get("paramType") or "")
    value = parse_number(a.get("paramValue"))
    p = parse_p_value(a.get("pValue"))
    if value is None and p is None:
        return None, (f"parameter value {a.get('paramValue')!r} is not a number and no "
                      "p-value is given")
    low, high = parse_number(a.get("ciLowerLimit")), parse_number(a.get("ciUpperLimit"))
    level = parse_number(a.get("ciPctValue")) or 0
    has_ci = (value is not None and low is not None and high is not None and low <= high
              and a.get("ciNumSides") != "ONE_SIDED" and 0 < level < 100)
    if effect_type == "RISK_DIFFERENCE" and scale == 1 and any(
            x is not None and abs(x) > 1 for x in (value, low, high)):
        scale = 0.01  # a difference of proportions beyond ±1 is in percentage points
    est = _Estimate(param, effect_type, scale, value, low, high, level, has_ci, p)
    limits = (value, low, high) if has_ci else (value,)
    if est.ratio and any(x is not None and x <= 0 for x in limits):
        return None, f"a {param} and its CI must be greater than 0"
    return est, ""


def _direction(a: dict[str, Any], est: _Estimate, pair: tuple[str, str],
               titles: tuple[str, str], results: dict[str, dict[str, Any]],
               arms: list[dict[str, Any]]) -> _Direction:
    """Steps 1–4 of the rule above for the two groups an analysis compares (as arm labels,
    in the analysis's order)."""
    first, second = pair
    roles = _roles(first, second, arms)
    printed = _printed_order(a, ([titles[0], first], [titles[1], second]))
    guess = roles or (first, second)
    agrees = None if est.value is None else _agrees(
        est.effect_type, est.value * est.scale,
        _group_contrast(est.effect_type, results.get(guess[0]), results.get(guess[1])))
    by_values = None if agrees is None else guess[0] if agrees else guess[1]
    minuend, how = None, ""
    if printed is not None:
        minuend = first if printed[0] else second
        how = f"the registry's {printed[1]} says {printed[2]!r}"
    elif by_values is not None:
        minuend = by_values
        how = "the group values of this measure give the printed estimate only that way"
    if roles is not None:
        experimental, comparator = roles
    elif minuend is not None:
        experimental, comparator = minuend, second if minuend == first else first
    else:
        experimental, comparator = first, second
    return _Direction(experimental, comparator, minuend, how, printed, by_values)


def _place_value(effect: dict[str, Any], a: dict[str, Any], est: _Estimate,
                 d: _Direction) -> tuple[str, str]:
    """Put the estimate in `effect` (re-expressed when printed comparator first, step 5):
    the words on its direction for the notes, and a few words on it for the report."""
    ours = est.ours()
    op = "over" if est.ratio else "minus"
    ci = {"ci_low": ours[1], "ci_high": ours[2]} if est.has_ci else {}
    if ours[0] is None:
        return "only a p-value was reported", f"p {a.get('pValue')} (no estimate)"
    if d.minuend == d.comparator:
        reason = (f"ClinicalTrials.gov printed {est.param} {a.get('paramValue')} as "
                  f"{d.comparator} {op} {d.experimental}: {d.how}")
        effect["as_reported"] = {"orientation": "COMPARATOR_VS_EXPERIMENTAL", "value": ours[0],
                                 **ci, "reason": clip(reason, MAX_TEXT)}
        return (f"printed as {d.comparator} {op} {d.experimental} ({d.how}); stored as "
                f"{d.experimental} {op} {d.comparator}",
                f"{a.get('paramValue')} as printed, stored re-expressed")
    effect["value"] = ours[0]
    effect.update(ci)
    direction = (f"{d.experimental} {op} {d.comparator}, as {d.how}" if d.minuend is not None
                 else f"the registry does not say which group is {op} which, and the "
                      "group values do not settle it: the value is kept as printed "
                      f"(it may be {d.comparator} {op} {d.experimental})")
    return direction, f"{ours[0]:g}"


def _notes(a: dict[str, Any], est: _Estimate, d: _Direction, direction: str) -> str | None:
    """The registry's wording of an analysis, and how its direction was read."""
    notes = [f"Registry analysis: {est.param} {a.get('paramValue')}"
             + (f" ({a.get('ciPctValue')}% CI {a.get('ciLowerLimit')} to "
                f"{a.get('ciUpperLimit')})" if a.get("ciLowerLimit") is not None else "")
             + (f", p {a.get('pValue')}" if a.get("pValue") else "")]
    for key, label in (("statisticalMethod", "method"),
                       ("estimateComment", "estimate comment"),
                       ("groupDescription", "group description"),
                       ("nonInferiorityType", "hypothesis"),
                       ("nonInferiorityComment", "non-inferiority comment")):
        if a.get(key):
            notes.append(f"{label}: {a[key]}")
    notes.append(f"direction: {direction}")
    if d.printed is not None and d.by_values is not None and d.by_values != d.minuend:
        notes.append("the group values of this measure give the estimate the other way "
                     "round; the registry's words are followed")
    if est.scale != 1:
        notes.append("percentage points converted to a proportion")
    if est.ratio and a.get("dispersionValue") is not None:
        notes.append(f"{a.get('dispersionType')} {a['dispersionValue']} is kept here only: "
                     "the registry does not say on which scale")
    return clip("; ".join(notes), MAX_TEXT)


class AnalysisMapping(MapperBase):
    def effect(self, a: Any, groups: dict[str, str], titles: dict[str, str],
               results: dict[str, dict[str, Any]], tp: str, path: str
               ) -> tuple[dict[str, Any] | None, str]:
        """One registry analysis as a contrast in our direction (the rule is stated above
        `_roles`): the effect and a few words on it for the report, or None and why not."""
        if not isinstance(a, dict):
            return None, "not an analysis object"
        effect_type, scale, why = _effect_kind(a, results)
        if effect_type is None:
            return None, why
        ids = [g for g in dict.fromkeys(a.get("groupIds") or []) if g in groups]
        if len(ids) != 2:
            return None, "an effect estimate compares exactly two groups"
        est, why = _estimate(a, effect_type, scale)
        if est is None:
            return None, why
        pair = (groups[ids[0]], groups[ids[1]])
        d = _direction(a, est, pair, (titles.get(ids[0], pair[0]), titles.get(ids[1], pair[1])),
                       results, self.doc["arms"])
        effect: dict[str, Any] = {
            "experimental_arm": d.experimental, "comparator_arm": d.comparator,
            "timepoint": tp, "effect_type": effect_type, "sources": [self.source(path)]}
        if est.has_ci:
            effect["ci_level"] = est.level / 100
        direction, described = _place_value(effect, a, est, d)
        if str(a.get("dispersionType")) == "STANDARD_ERROR_OF_MEAN" and not est.ratio:
            se = parse_number(a.get("dispersionValue"))
            if se is not None and se >= 0:
                effect["se"] = se * est.scale
        if est.p is not None:
            effect["p_value"], effect["p_value_relation"] = est.p
        effect["notes"] = _notes(a, est, d, direction)
        return effect, described
