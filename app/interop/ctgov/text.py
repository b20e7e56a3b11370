"""Reading the registry's text: numbers and p-values printed as text, time frames ("Baseline to
Week 24") as months with an anchor and a role, partial dates, percentages of participants and
the effect type an analysis parameter names."""

from __future__ import annotations

import re
from typing import Any

DAYS_PER_MONTH = 365.25 / 12
# A registry time frame in weeks becomes months with 12/52: a year of 52 weeks in 12 months.
MONTHS_PER_WEEK = 12 / 52
MONTHS_PER_UNIT = {"hour": 1 / (24 * DAYS_PER_MONTH), "day": 1 / DAYS_PER_MONTH,
                   "week": MONTHS_PER_WEEK, "month": 1.0, "year": 12.0}
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                "eighteen": 18, "twenty-four": 24, "thirty-six": 36}


# ------------------------------------------------------------------ numbers


def parse_number(raw: Any) -> float | None:
    """A registry number printed as text (".33", "1,024", "-2.13"); None when it is not one."""
    if raw is None:
        return None
    text = str(raw).strip().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def parse_p_value(raw: Any) -> tuple[float, str] | None:
    """`"<0.0001"` and `"p<0.0001"` → (0.0001, "<"); `"0.03"` → (0.03, "=")."""
    if raw is None:
        return None
    text = str(raw).strip().replace(" ", "")
    text = text[1:] if text[:1] in ("p", "P") else text
    relation = "="
    for sign, rel in (("<=", "<"), ("≤", "<"), ("<", "<"), (">=", ">"), ("≥", ">"), (">", ">"),
                      ("=", "=")):
        if text.startswith(sign):
            relation, text = rel, text[len(sign):]
            break
    value = parse_number(text)
    if value is None or not 0 <= value <= 1:
        return None
    return value, relation


# ------------------------------------------------------------------ time frames

_UNITS = r"(hours?|hrs?|days?|weeks?|wks?|months?|mos?|years?|yrs?)"
_DURATION = re.compile(
    rf"(?P<n>\d+(?:\.\d+)?|{'|'.join(sorted(NUMBER_WORDS, key=len, reverse=True))})"
    rf"[\s-]*(?P<u>{_UNITS})\b|\b(?P<u2>{_UNITS})\s*(?P<n2>\d+(?:\.\d+)?)",
    re.IGNORECASE)


def _unit(word: str) -> str:
    word = word.lower()
    for unit, prefixes in (("hour", ("h",)), ("day", ("d",)), ("week", ("w",)),
                           ("month", ("mo",)), ("year", ("y",))):
        if word.startswith(prefixes):
            return unit
    raise ValueError(word)


def parse_time_frame(text: str) -> tuple[float, str] | None:
    """The duration a registry time frame states, in months, with what it read.

    The last duration wins ("Baseline to Week 24" → week 24); None when no duration is stated.
    """
    matches = list(_DURATION.finditer(text))
    if not matches:
        return None
    m = matches[-1]
    number = m.group("n") or m.group("n2")
    unit = _unit(m.group("u") or m.group("u2"))
    value = NUMBER_WORDS.get(number.lower()) if not number[0].isdigit() else float(number)
    if value is None:
        return None
    months = round(float(value) * MONTHS_PER_UNIT[unit], 4)
    return months, f"{number} {unit}"


_AFTER_TREATMENT = re.compile(r"\b(?:after|post|following)\s+(?:the\s+)?end[\s-]of[\s-]treatment",
                              re.IGNORECASE)


def anchor_of(text: str) -> str | None:
    """What a time frame's duration counts from: the end of treatment only when the text says
    the duration follows it ("6 months after end of treatment"); "End of treatment (Week 12)"
    counts from baseline like every other registry time frame."""
    low = text.lower()
    if _AFTER_TREATMENT.search(low):
        return "END_OF_TREATMENT"
    if "baseline" in low:
        return "BASELINE"
    if "randomi" in low:
        return "RANDOMIZATION"
    return None


# A time frame that is baseline and nothing else: "Baseline", "Day 1 (baseline)", "Week 0".
_BASELINE_ONLY = re.compile(
    r"(?:at|the|baseline|visit|day\s*[01]|week\s*0|month\s*0|"
    r"pre-?(?:dose|treatment|randomi[sz]ation)|and|or|[\s(),./:-])*", re.IGNORECASE)
_END_OF_TREATMENT = re.compile(r"\bend[\s-]of[\s-]treatment\b", re.IGNORECASE)
# Words that make a time frame a window ("up to Week 32") rather than an assessment at a time.
_WINDOW = re.compile(r"\b(?:up\s+to|through|throughout|during|within|until|over|across)\b",
                     re.IGNORECASE)


def timepoint_role(label: str, months: float | None, primary: bool,
                   primary_months: set[float]) -> tuple[str, str] | None:
    """The role a registry time frame plays, and why; None unless the text makes it clear.

    BASELINE: the time frame names baseline and nothing after it. PRIMARY_ENDPOINT: it is the
    time frame of a primary outcome, or an assessment (not a window such as "up to Week 32") at
    the same month since baseline as one. END_OF_TREATMENT: it names the end of treatment
    (and no time after it).
    """
    if "baseline" in label.lower() and _BASELINE_ONLY.fullmatch(label):
        return "BASELINE", "the time frame is baseline"
    if primary:
        return "PRIMARY_ENDPOINT", "the time frame of a primary outcome"
    if months is not None and months in primary_months and not _WINDOW.search(label):
        return "PRIMARY_ENDPOINT", (f"assessed at month {months:g}, the time of a primary "
                                    "outcome")
    if _END_OF_TREATMENT.search(label) and not _AFTER_TREATMENT.search(label):
        return "END_OF_TREATMENT", "the time frame names the end of treatment"
    return None


# ------------------------------------------------------------------ text


def clip(value: str | None, limit: int) -> str | None:
    """Trimmed text cut at `limit` characters; None when there is none."""
    if value is None:
        return None
    value = value.strip()
    return value[:limit] if value else None


def fold(text: str) -> str:
    """Letters and digits only, case-folded: how registry titles are compared."""
    return re.sub(r"[^0-9a-z]+", "", text.casefold())


def partial_date(struct: Any) -> str | None:
    """The date of a registry date struct when it is YYYY, YYYY-MM or YYYY-MM-DD."""
    if isinstance(struct, dict) and isinstance(struct.get("date"), str):
        value: str = struct["date"]
        if re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", value):
            return value
    return None


# ------------------------------------------------------------------ measures and analyses

PERCENT_UNIT = re.compile(r"%|\bper\s?cent|\bpercentage", re.IGNORECASE)
_PEOPLE = (r"\b(?:participants?|patients?|subjects?|people|persons?|individuals?|children|"
           r"adults?|women|men|infants?|responders?)\b")
_BARE_PERCENT = re.compile(r"\s*(?:%|percent|per cent|percentage|percentages)?\s*(?:\(%\))?\s*",
                           re.IGNORECASE)
_PERCENT_OF_PEOPLE = re.compile(rf"\b(?:percent(?:age)?|proportion|%)\s+of\s+(?:all\s+)?"
                                rf"{_PEOPLE}", re.IGNORECASE)
_PRINTED_PERCENT = re.compile(r"^(100(\.0{1,6})?|[0-9]{1,2}(\.[0-9]{1,6})?)$")


def is_percent_of_participants(param: str, unit: str, title: str) -> bool:
    """Whether a measure gives, per group, the percentage of participants with something: a
    NUMBER whose unit is a percentage of participants ("Percentage of participants", "% of
    patients"), or a bare percentage ("percent", "%") in a measure titled as one."""
    if param.upper() != "NUMBER" or not PERCENT_UNIT.search(unit):
        return False
    if re.search(_PEOPLE, unit, re.IGNORECASE):
        return True
    return bool(_BARE_PERCENT.fullmatch(unit) and _PERCENT_OF_PEOPLE.search(title))


def printed_percent(raw: Any) -> str | None:
    """A registry percentage as printed, in the form our `percent` takes ("10.3", ".5" as
    "0.5"); None when it is not a percentage from 0 to 100 with at most six decimals."""
    text = str(raw).strip() if raw is not None else ""
    if text.startswith("."):
        text = "0" + text
    return text if _PRINTED_PERCENT.match(text) else None

_EFFECT_PHRASES: tuple[tuple[tuple[str, ...], str | None, float], ...] = (
    (("hazard",), None, 1),
    (("odds ratio",), "ODDS_RATIO", 1),
    (("risk ratio", "relative risk"), "RISK_RATIO", 1),
    (("risk difference",), "RISK_DIFFERENCE", 1),
    (("percentage difference", "difference in percentage"), "RISK_DIFFERENCE", 0.01),
    (("hedges",), "HEDGES_G", 1),
    (("cohen",), "COHENS_D", 1),
    (("standardized mean difference", "standardised mean difference"), "SMD", 1),
    (("mean difference",), "MEAN_DIFFERENCE", 1),
)


def effect_type_of(param: str) -> tuple[str | None, float]:
    """Our effect type for a registry analysis parameter, and the factor its value is scaled by.

    Hazard ratios, slopes and other parameters have no effect type here and are skipped.
    """
    low = param.lower()
    for phrases, effect_type, scale in _EFFECT_PHRASES:
        if any(phrase in low for phrase in phrases):
            return effect_type, scale
    return None, 1
