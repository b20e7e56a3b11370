"""The registry-versus-publication rules: pure functions from a study document (and its stored
registry record, when it was imported) to the flags it raises.

The registry side is the stored ClinicalTrials.gov record (its primary outcomes with their
time frames, and its enrollment) or, for a curated study, the PRIMARY outcome measures with
numbers sourced to a registry record and the study's enrollment when the study's sources name
a registry record. The publication side is every outcome measure with a result or effect
sourced to a publication of the study, the timepoints of those numbers, and the arms'
randomized counts sourced to a publication.

Matching an outcome is conservative: a registered and a published measure are the same only
when their names are the same words (case, punctuation and spacing ignored), or when the
published measure's instrument appears, as whole words in order, in the registered measure.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from app.enums import FlagType
from app.interop.ctgov.text import anchor_of, fold, parse_time_frame

# A timepoint has changed when no published primary timepoint is within this many months of a
# registered time frame on the same clock (a registry week is 12/52 months; 0.1 is 3 days).
TIMEPOINT_TOLERANCE_MONTHS = 0.1
# Enrollment differs when |published - registered| is more than a tenth of the registered.
ENROLLMENT_TOLERANCE_TENTHS = 1
SINCE_BASELINE, AFTER_TREATMENT = "MONTHS_SINCE_BASELINE", "MONTHS_AFTER_TREATMENT"
CLOCKS = ((SINCE_BASELINE, "since_baseline"), (AFTER_TREATMENT, "after_treatment"))
NAME_RULE = ("same name: the words of the two names are the same, case, punctuation and "
             "spacing ignored")
INSTRUMENT_RULE = ("same instrument: the published measure's instrument appears as whole "
                   "words, in order, in the registered measure")
MATCH_RULES = f"{NAME_RULE}; or {INSTRUMENT_RULE}"


@dataclass
class Frame:
    """A time frame on the two clocks (months), as registered or as published."""

    label: str
    clocks: dict[str, float]
    role: str | None = None


@dataclass
class Measure:
    """An outcome measure on one side: its name, instrument, time frames and sources."""

    name: str
    instrument: str | None = None
    role: str | None = None
    frames: list[Frame] = field(default_factory=list)
    sources: list[dict[str, Any]] = field(default_factory=list)


def words(text: str) -> list[str]:
    """A name as its words: case-folded runs of letters and digits ("CAPS-5" → caps, 5)."""
    return re.findall(r"[0-9a-z]+", text.casefold())


def _contains(seq: list[str], part: list[str]) -> bool:
    n = len(part)
    return n > 0 and any(seq[i:i + n] == part for i in range(len(seq) - n + 1))


def match(registered: str, published: Measure) -> str | None:
    """Why a published measure is the registered one, or None when it is not."""
    reg = words(registered)
    if reg and reg == words(published.name):
        return f"{NAME_RULE} ({' '.join(reg)})"
    if published.instrument and _contains(reg, words(published.instrument)):
        return f"{INSTRUMENT_RULE} ({published.instrument})"
    return None


def flag_id(kind: FlagType, name: str | None = None) -> str:
    """A flag's stable id in its study: the type, and an outcome's folded name."""
    if name is None:
        return kind.value
    folded = fold(name)
    if not folded or len(folded) > 80:
        digest = hashlib.sha256(name.casefold().encode()).hexdigest()[:10]
        folded = folded[:70] + digest
    return f"{kind.value}.{folded}"


def _dedup(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for s in sources:
        key = tuple(sorted(s.items()))
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _has(sources: list[dict[str, Any]], kind: str) -> bool:
    return any(s.get(kind) for s in sources)


def _frame(timepoint: dict[str, Any]) -> Frame:
    clocks = timepoint.get("clocks") or {}
    return Frame(timepoint["label"], {name: c["months"] for name, key in CLOCKS
                                      if (c := clocks.get(key)) is not None},
                 timepoint.get("role"))


def _record_source(nct: str, locator: str) -> dict[str, Any]:
    return {"publication": None, "registry": nct,
            "source_url": f"https://clinicaltrials.gov/study/{nct}", "locator": locator}


def _protocol(record: dict[str, Any]) -> dict[str, Any]:
    protocol = record.get("protocolSection")
    return protocol if isinstance(protocol, dict) else {}


def _nct(record: dict[str, Any]) -> str:
    return str(_protocol(record).get("identificationModule", {}).get("nctId", ""))


def registered_from_record(record: dict[str, Any]) -> list[Measure]:
    """The record's primary outcomes, one per measure name (its time frames together), each
    time frame parsed as the importer parses it and put on its clock."""
    nct = _nct(record)
    out: dict[str, Measure] = {}
    primaries = (_protocol(record).get("outcomesModule") or {}).get("primaryOutcomes") or []
    for i, item in enumerate(primaries):
        name = str(item.get("measure") or "").strip() if isinstance(item, dict) else ""
        if not name:
            continue
        measure = out.setdefault(fold(name) or name, Measure(name, role="PRIMARY"))
        measure.sources.append(
            _record_source(nct, f"protocolSection.outcomesModule.primaryOutcomes[{i}]"))
        text = str(item.get("timeFrame") or "")
        parsed = parse_time_frame(text) if text else None
        if parsed is not None:
            clock = AFTER_TREATMENT if anchor_of(text) == "END_OF_TREATMENT" else SINCE_BASELINE
            measure.frames.append(Frame(text, {clock: parsed[0]}))
    return list(out.values())


def _sourced_measures(doc: dict[str, Any], kind: str, role: str | None) -> list[Measure]:
    """The outcome measures with a result or effect sourced to `kind` (publication or
    registry), with the timepoints and sources of those numbers."""
    timepoints = {t["label"]: t for t in doc.get("timepoints") or []}
    out = []
    for om in doc.get("outcome_measures") or []:
        if role is not None and om.get("role") != role:
            continue
        numbers = [x for x in [*om.get("results", []), *om.get("effects", [])]
                   if _has(x.get("sources") or [], kind)]
        if not numbers:
            continue
        labels = list(dict.fromkeys(x["timepoint"] for x in numbers))
        sources = [s for x in numbers for s in x["sources"] if s.get(kind)]
        out.append(Measure(om["name"], om.get("instrument"), om.get("role"),
                           [_frame(timepoints[label]) for label in labels if label in timepoints],
                           _dedup(sources)))
    return out


def registered_from_document(doc: dict[str, Any]) -> list[Measure]:
    """A curated study's registered primary outcomes: PRIMARY measures with numbers sourced to
    a registry record."""
    return _sourced_measures(doc, "registry", "PRIMARY")


def published(doc: dict[str, Any]) -> list[Measure]:
    """Every outcome measure the publications report (a number sourced to a publication)."""
    return _sourced_measures(doc, "publication", None)


def _flag(kind: FlagType, ident: str, detail: str, rule: str, registry_value: Any,
          published_value: Any, sources: list[dict[str, Any]],
          compared_on: str | None = None) -> dict[str, Any]:
    return {"id": ident, "type": kind, "detail": detail, "rule": rule,
            "registry_value": registry_value, "published_value": published_value,
            "compared_on": compared_on, "sources": _dedup(sources)}


def _matches(reg: Measure, pubs: list[Measure]) -> list[tuple[Measure, str]]:
    return [(p, why) for p in pubs if (why := match(reg.name, p)) is not None]


def outcome_flags(registered: list[Measure], pubs: list[Measure]) -> list[dict[str, Any]]:
    """PRIMARY_OUTCOME_NOT_REPORTED for each registered primary outcome no published measure
    matches; NEW_PRIMARY_OUTCOME for each published PRIMARY measure no registered primary
    outcome matches. Nothing is compared until a publication reports some outcome."""
    if not registered or not pubs:
        return []
    out = []
    pub_sources = [s for p in pubs for s in p.sources]
    for reg in registered:
        if not _matches(reg, pubs):
            out.append(_flag(
                FlagType.PRIMARY_OUTCOME_NOT_REPORTED,
                flag_id(FlagType.PRIMARY_OUTCOME_NOT_REPORTED, reg.name),
                f"the registered primary outcome {reg.name!r} is not among the "
                f"{len(pubs)} outcome measure(s) the publications report ("
                + ", ".join(repr(p.name) for p in pubs) + "); none has the same name or an "
                "instrument the registered measure names",
                MATCH_RULES, reg.name, None, reg.sources + pub_sources))
    names = ", ".join(repr(r.name) for r in registered)
    for pub in pubs:
        if pub.role == "PRIMARY" and not any(match(r.name, pub) for r in registered):
            out.append(_flag(
                FlagType.NEW_PRIMARY_OUTCOME, flag_id(FlagType.NEW_PRIMARY_OUTCOME, pub.name),
                f"the published primary outcome {pub.name!r} is not a registered primary "
                f"outcome (registered: {names})",
                MATCH_RULES, None, pub.name,
                [s for r in registered for s in r.sources] + pub.sources))
    return out


def _timepoint_flag(reg: Measure, pub: Measure, why: str) -> dict[str, Any] | None:
    frames = [f for f in pub.frames if f.role == "PRIMARY_ENDPOINT"] or pub.frames
    compared = []
    for clock, _ in CLOCKS:
        regs = [(f.label, f.clocks[clock]) for f in reg.frames if clock in f.clocks]
        pubs = [(f.label, f.clocks[clock]) for f in frames if clock in f.clocks]
        if not regs or not pubs:
            continue
        if any(abs(r - p) <= TIMEPOINT_TOLERANCE_MONTHS for _, r in regs for _, p in pubs):
            return None
        compared.append((clock, regs, pubs))
    if not compared:
        return None
    clock, regs, pubs = compared[0]
    return _flag(
        FlagType.TIMEPOINT_CHANGED, flag_id(FlagType.TIMEPOINT_CHANGED, reg.name),
        f"the registered primary outcome {reg.name!r} was registered at "
        + ", ".join(f"{label!r} ({m:g} months)" for label, m in regs)
        + f"; the publications report {pub.name!r} at "
        + ", ".join(f"{label!r} ({m:g} months)" for label, m in pubs)
        + f" ({clock.lower().replace('_', ' ')}); matched by {why}",
        f"a registered time frame and a published primary timepoint differ by more than "
        f"{TIMEPOINT_TOLERANCE_MONTHS:g} months on the same clock, and no pair agrees",
        regs[0][1], pubs[0][1], reg.sources + pub.sources, clock)


def timepoint_flags(registered: list[Measure], pubs: list[Measure]) -> list[dict[str, Any]]:
    """TIMEPOINT_CHANGED for a registered primary outcome whose time frames (parsed from the
    registry's text) all differ from the published primary timepoints of the measure it
    matches, on a clock both state. The published timepoints are those with role
    PRIMARY_ENDPOINT when any of the measure's has it, else all of them."""
    out = []
    for reg in registered:
        for pub, why in _matches(reg, pubs):
            flag = _timepoint_flag(reg, pub, why)
            if flag is not None:
                out.append(flag)
                break
    return out


def _registered_enrollment(doc: dict[str, Any], record: dict[str, Any] | None
                           ) -> tuple[int, str, list[dict[str, Any]]] | None:
    if record is not None:
        info = (_protocol(record).get("designModule") or {}).get("enrollmentInfo") or {}
        count = info.get("count")
        if not isinstance(count, int) or isinstance(count, bool):
            return None
        return count, str(info.get("type") or "").upper(), [_record_source(
            _nct(record), "protocolSection.designModule.enrollmentInfo")]
    sources = doc.get("sources") or []
    if doc.get("enrollment") is None or not _has(sources, "registry"):
        return None
    return doc["enrollment"], str(doc.get("enrollment_type") or ""), [
        s for s in sources if s.get("registry")]


def _published_enrollment(doc: dict[str, Any], record: dict[str, Any] | None
                          ) -> tuple[int, str, list[dict[str, Any]]] | None:
    arms = [a for a in doc.get("arms") or []
            if a.get("n_randomized") is not None and _has(a.get("sources") or [], "publication")]
    if arms:
        return sum(a["n_randomized"] for a in arms), "RANDOMIZED", [
            s for a in arms for s in a["sources"] if s.get("publication")]
    sources = doc.get("sources") or []
    if record is not None and doc.get("enrollment") is not None and _has(sources, "publication"):
        return doc["enrollment"], "STUDY_ENROLLMENT", [s for s in sources if s.get("publication")]
    return None


def enrollment_flags(doc: dict[str, Any], record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """ENROLLMENT_DIFFERS when the published count differs from the registered enrollment by
    more than 10 % of the registered (exactly 10 % is not flagged). The published count is the
    sum of the arms' randomized numbers sourced to a publication; without one, and only when the
    registered value is the stored record's, the study's enrollment when the study's sources
    name a publication."""
    registered = _registered_enrollment(doc, record)
    published_ = _published_enrollment(doc, record)
    if registered is None or published_ is None or registered[0] <= 0:
        return []
    (reg, kind, reg_sources), (pub, basis, pub_sources) = registered, published_
    if abs(pub - reg) * 10 <= reg * ENROLLMENT_TOLERANCE_TENTHS:
        return []
    what = ("the arms' randomized numbers the publications give" if basis == "RANDOMIZED"
            else "the study's enrollment, sourced to a publication")
    percent = 100 * (pub - reg) / reg
    return [_flag(
        FlagType.ENROLLMENT_DIFFERS, flag_id(FlagType.ENROLLMENT_DIFFERS),
        f"registered enrollment {reg}{f' ({kind})' if kind else ''}; {what}: {pub} "
        f"({percent:+.1f} %)",
        "published and registered enrollment differ by more than 10 % of the registered",
        reg, pub, reg_sources + pub_sources, basis)]


def flags_of(doc: dict[str, Any], record: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every flag a study document raises (without registry data, none), ordered by id.
    `record` is the stored registry record of an imported study, else None."""
    registered = (registered_from_record(record) if record is not None
                  else registered_from_document(doc))
    pubs = published(doc)
    flags = [*outcome_flags(registered, pubs), *timepoint_flags(registered, pubs),
             *enrollment_flags(doc, record)]
    return sorted(flags, key=lambda f: f["id"])
