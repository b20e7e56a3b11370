"""The R5 codes our enumerations map to, by code system."""

from __future__ import annotations

PHASE_CODES = {"EARLY_PHASE1": "early-phase-1", "PHASE1": "phase-1",
               "PHASE1_PHASE2": "phase-1-phase-2", "PHASE2": "phase-2",
               "PHASE2_PHASE3": "phase-2-phase-3", "PHASE3": "phase-3", "PHASE4": "phase-4",
               "NA": "n-a"}
STATUS_CODES = {"NOT_YET_RECRUITING": "not-yet-recruiting", "RECRUITING": "recruiting",
                "ENROLLING_BY_INVITATION": "enrolling-by-invitation",
                "ACTIVE_NOT_RECRUITING": "active-but-not-recruiting",
                "SUSPENDED": "temporarily-closed-to-accrual", "TERMINATED": "terminated",
                "COMPLETED": "completed", "WITHDRAWN": "withdrawn"}
ARM_CODES = {"EXPERIMENTAL": "experimental", "PLACEBO_COMPARATOR": "placebo-comparator",
             "ACTIVE_COMPARATOR": "active-comparator", "SHAM_COMPARATOR": "sham-comparator",
             "NO_INTERVENTION": "no-intervention", "OTHER": "other-arm-type"}
OBJECTIVE_CODES = {"PRIMARY": "primary", "SECONDARY": "secondary", "SAFETY": "exploratory",
                   "OTHER": "exploratory"}
STATISTIC_TYPES = {
    "COHENS_D": ("absolute-SMD", "Standardized Mean Difference"),
    "HEDGES_G": ("absolute-SMD", "Standardized Mean Difference"),
    "SMD": ("absolute-SMD", "Standardized Mean Difference"),
    "MEAN_DIFFERENCE": ("absolute-MD", "Mean Difference"),
    "RISK_DIFFERENCE": ("absolute-RD", "Risk Difference"),
    "RISK_RATIO": ("relative-RR", "Relative Risk"),
    "ODDS_RATIO": ("relative-OR", "Odds Ratio"),
}
EFFECT_NAMES = {"COHENS_D": "Cohen's d", "HEDGES_G": "Hedges' g",
                "SMD": "standardized mean difference", "MEAN_DIFFERENCE": "mean difference",
                "RISK_DIFFERENCE": "risk difference", "RISK_RATIO": "risk ratio",
                "ODDS_RATIO": "odds ratio"}
CS = "http://terminology.hl7.org/CodeSystem/"
# The search parameters each resource answers: name, type, what it searches.
SEARCH_PARAMS = {
    "ResearchStudy": [("identifier", "token", "NCT id or other registry identifier"),
                      ("condition", "token", "condition name or synonym"),
                      ("keyword", "string", "free text over the study"),
                      ("status", "token", "recruitment status (ClinicalTrials.gov value)"),
                      ("phase", "token", "our phase value, e.g. PHASE3"),
                      ("_count", "number", "page size"), ("_cursor", "string", "next page"),
                      ("_total", "token", "accurate: count every match")],
    "Evidence": [("_id", "token", "evidence id"),
                 ("study", "reference", "ResearchStudy id"),
                 ("_count", "number", "page size"), ("_cursor", "string", "next page"),
                 ("_total", "token", "accurate: count every match")],
}
