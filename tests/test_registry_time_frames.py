"""The registry's printed time frames, numbers and percentages, read without any reference data.

Every expectation here follows from the calendar (52 weeks and 365.25 days in 12 months) and
from the text itself, so a wrong conversion factor (weeks × 12/50, days over 30) fails here
whether or not any registry record is at hand.
"""

from __future__ import annotations

import pytest

from app.interop.ctgov import (
    effect_type_of,
    is_percent_of_participants,
    parse_number,
    parse_p_value,
    parse_time_frame,
    printed_percent,
    timepoint_role,
)
from app.interop.ctgov import text as text_module

DAYS_PER_YEAR = 365.25


def months(text: str) -> float:
    parsed = parse_time_frame(text)
    assert parsed is not None, text
    return parsed[0]


@pytest.mark.parametrize("text,expected", [
    ("Week 52", 12.0), ("52 weeks", 12.0), ("Week 26", 6.0), ("Week 13", 3.0),
    ("Baseline to Week 104", 24.0), ("78 wks", 18.0), ("Week 39", 9.0),
])
def test_a_year_of_weeks_is_twelve_months(text, expected):
    assert months(text) == expected


@pytest.mark.parametrize("weeks", [1, 2, 4, 8, 12, 16, 18, 24, 36, 48, 60, 72])
def test_weeks_become_months_at_twelve_per_fifty_two(weeks):
    """Weeks × 12/52, rounded to four decimals (12/50 would give 0.24 a week)."""
    assert months(f"Week {weeks}") == round(weeks * 12 / 52, 4)
    assert months(f"{weeks} weeks") == months(f"Week {weeks}")
    assert abs(months(f"{weeks} weeks") * 52 / 12 - weeks) < 1e-3


def test_a_week_is_less_than_a_quarter_month():
    assert months("1 week") == 0.2308
    assert months("Week 24") == 5.5385
    assert months("Week 12") == 2.7692


@pytest.mark.parametrize("text,expected", [
    ("12 months", 12.0), ("Month 6", 6.0), ("3 mos", 3.0), ("18-month follow-up", 18.0),
    ("1.5 months", 1.5), ("Month 0.5", 0.5),
])
def test_months_are_read_as_they_are(text, expected):
    assert months(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("1 year", 12.0), ("2 years", 24.0), ("Year 5", 60.0), ("3 yrs", 36.0), ("0.5 year", 6.0),
])
def test_years_are_twelve_months(text, expected):
    assert months(text) == expected


@pytest.mark.parametrize("days", [1, 7, 14, 28, 30, 90, 180, 365])
def test_days_are_read_on_a_calendar_of_365_and_a_quarter_days(days):
    assert months(f"Day {days}") == round(days * 12 / DAYS_PER_YEAR, 4)
    assert months(f"{days} days") == months(f"Day {days}")


def test_a_year_of_days_is_twelve_months_and_thirty_days_less_than_one():
    assert months("365.25 days") == 12.0
    assert months("30 days") == 0.9856
    assert months("Day 90") == 2.9569


@pytest.mark.parametrize("text,expected", [
    ("24 hours", round(12 / DAYS_PER_YEAR, 4)), ("48 hrs", round(24 / DAYS_PER_YEAR, 4)),
])
def test_hours_are_days_over_twenty_four(text, expected):
    assert months(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("six months", 6.0), ("twelve weeks", round(12 * 12 / 52, 4)), ("two years", 24.0),
    ("eighteen months", 18.0), ("Twenty-four weeks", round(24 * 12 / 52, 4)),
])
def test_numbers_written_as_words(text, expected):
    assert months(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("Baseline to Week 24", (5.5385, "24 week")),
    ("Baseline, Week 12 and Week 24", (5.5385, "24 week")),
    ("Day 1 through Month 6", (6.0, "6 month")),
    ("12 weeks after randomization", (2.7692, "12 week")),
    ("Week 18 (end of treatment)", (4.1538, "18 week")),
])
def test_the_last_duration_stated_wins_and_is_reported_as_read(text, expected):
    assert parse_time_frame(text) == expected


@pytest.mark.parametrize("text", ["Baseline", "End of treatment", "", "Study completion",
                                  "Weekly", "Monthly visits"])
def test_a_time_frame_without_a_duration_is_none(text):
    assert parse_time_frame(text) is None


def test_the_registry_order_of_weeks_and_months_is_kept():
    frames = ["Week 4", "1 month", "Week 8", "2 months", "Week 52", "13 months"]
    values = [months(f) for f in frames]
    assert values == sorted(values)


BASELINE_REASON = ("BASELINE", "the time frame is baseline")
PRIMARY_REASON = ("PRIMARY_ENDPOINT", "the time frame of a primary outcome")


@pytest.mark.parametrize("label,months_,primary,primary_months,expected", [
    ("Baseline", 0.0, False, set(), BASELINE_REASON),
    ("Day 1 (baseline)", None, False, set(), BASELINE_REASON),
    ("Baseline to Week 12", 2.7692, False, set(), None),
    ("Week 12", 2.7692, True, set(), PRIMARY_REASON),
    ("Week 12", 2.7692, False, {2.7692},
     ("PRIMARY_ENDPOINT", "assessed at month 2.7692, the time of a primary outcome")),
    ("Up to Week 12", 2.7692, False, {2.7692}, None),
    ("Week 12", 2.7692, False, {5.5385}, None),
    ("End of treatment (Week 12)", 2.7692, False, set(),
     ("END_OF_TREATMENT", "the time frame names the end of treatment")),
    ("6 months after end of treatment", 6.0, False, set(), None),
])
def test_timepoint_roles_only_where_the_text_makes_them_clear(label, months_, primary,
                                                             primary_months, expected):
    assert timepoint_role(label, months_, primary, primary_months) == expected


@pytest.mark.parametrize("raw,expected", [
    (".33", 0.33), ("1,024", 1024.0), ("-2.13", -2.13), (" 7 ", 7.0), (12, 12.0),
    ("NA", None), ("", None), (None, None), ("nan", None), ("inf", None), ("-Infinity", None),
])
def test_registry_numbers_printed_as_text(raw, expected):
    assert parse_number(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("<0.0001", (0.0001, "<")), ("0.03", (0.03, "=")), ("<=0.05", (0.05, "<")),
    ("≤ 0.01", (0.01, "<")), (">0.99", (0.99, ">")), ("≥0.5", (0.5, ">")),
    (">=0.5", (0.5, ">")), ("> 0.05", (0.05, ">")),
    ("p<0.001", (0.001, "<")), ("P = 0.04", (0.04, "=")),
    ("=0.2", (0.2, "=")), ("1", (1.0, "=")), ("0", (0.0, "=")),
    ("1.5", None), ("-0.1", None), ("NS", None), (None, None),
])
def test_p_values_with_their_relation(raw, expected):
    assert parse_p_value(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("10.3", "10.3"), (".5", "0.5"), ("100", "100"), ("100.0", "100.0"), ("0", "0"),
    ("100.5", None), ("101", None), ("-1", None), ("12.1234567", None), (None, None), ("", None),
])
def test_printed_percentages(raw, expected):
    assert printed_percent(raw) == expected


@pytest.mark.parametrize("param,unit,title,expected", [
    ("NUMBER", "Percentage of participants", "Responders", True),
    ("NUMBER", "% of patients", "Remission", True),
    ("NUMBER", "Percentage of PARTICIPANTS", "Responders", True),
    ("NUMBER", "percent", "Percentage of participants with remission", True),
    ("NUMBER", "percent", "Change in CAPS-5", False),
    ("MEAN", "Percentage of participants", "Responders", False),
    ("NUMBER", "participants", "Responders", False),
])
def test_percentages_of_participants_are_recognised(param, unit, title, expected):
    assert is_percent_of_participants(param, unit, title) is expected


@pytest.mark.parametrize("param,expected", [
    ("Hazard Ratio (HR)", (None, 1)), ("Odds Ratio (OR)", ("ODDS_RATIO", 1)),
    ("Risk Ratio (RR)", ("RISK_RATIO", 1)), ("Relative risk", ("RISK_RATIO", 1)),
    ("Risk Difference (RD)", ("RISK_DIFFERENCE", 1)),
    ("Percentage difference", ("RISK_DIFFERENCE", 0.01)),
    ("Hedges' g", ("HEDGES_G", 1)), ("Cohen's d", ("COHENS_D", 1)),
    ("Standardized Mean Difference", ("SMD", 1)), ("Mean Difference (Final Values)",
                                                   ("MEAN_DIFFERENCE", 1)),
    ("Slope", (None, 1)),
])
def test_analysis_parameters_name_their_effect_type(param, expected):
    assert effect_type_of(param) == expected


@pytest.mark.parametrize("text,expected", [
    ("6 months after end of treatment", "END_OF_TREATMENT"),
    ("12 weeks post end-of-treatment", "END_OF_TREATMENT"),
    ("Following the end of treatment, 3 months", "END_OF_TREATMENT"),
    ("End of treatment (Week 12)", None),
    ("Baseline to Week 24", "BASELINE"),
    ("Week 12 after Randomization", "RANDOMIZATION"),
    ("Week 12 after randomisation", "RANDOMIZATION"),
    ("Week 12", None),
])
def test_what_a_time_frame_counts_from(text, expected):
    assert text_module.anchor_of(text) == expected


@pytest.mark.parametrize("struct,expected", [
    ({"date": "2020"}, "2020"), ({"date": "2020-03"}, "2020-03"),
    ({"date": "2020-03-15"}, "2020-03-15"), ({"date": "March 2020"}, None),
    ({"date": "2020-3"}, None), ({"date": 2020}, None), ({}, None), (None, None),
    ("2020-03", None),
])
def test_registry_partial_dates(struct, expected):
    assert text_module.partial_date(struct) == expected


def test_text_is_clipped_and_folded_as_the_registry_compares_it():
    assert text_module.clip("  a title  ", 4) == "a ti"
    assert text_module.clip("   ", 10) is None
    assert text_module.clip(None, 10) is None
    assert text_module.fold("MDMA-Assisted Therapy (Phase 3)") == "mdmaassistedtherapyphase3"
