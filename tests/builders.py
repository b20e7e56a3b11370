"""Study documents for tests: small, complete, every number sourced."""

from __future__ import annotations

import copy
from typing import Any

_BASE: dict[str, Any] = {
    "key": "test-study",
    "title": "A randomized trial of a test intervention for PTSD",
    "acronym": "TEST",
    "study_type": "RCT",
    "phase": "PHASE2",
    "overall_status": "COMPLETED",
    "allocation": "RANDOMIZED",
    "intervention_model": "PARALLEL",
    "masking": "DOUBLE",
    "primary_purpose": "TREATMENT",
    "start_date": "2020-03",
    "completion_date": "2021-11-30",
    "enrollment": 60,
    "enrollment_type": "ACTUAL",
    "population": "adults with chronic PTSD",
    "summary": "Tests whether the test drug reduces CAPS-5 severity.",
    "sponsor": "Test Sponsor",
    "countries": ["United States", "Canada"],
    "notes": "built for tests",
    "registry_ids": [{"registry": "NCT", "identifier": "NCT09999901"}],
    "conditions": ["PTSD"],
    "keywords": ["testing"],
    "relations": [],
    "publications": [{
        "ref": "main", "role": "PRIMARY_RESULTS", "doi": "10.9999/test.0001",
        "title": "Test drug for PTSD", "journal": "Journal of Tests", "year": 2022,
        "first_author": "Tester T",
    }],
    "arms": [
        {"label": "Drug", "arm_type": "EXPERIMENTAL", "n_randomized": 30,
         "interventions": [{"name": "Testamine", "type": "DRUG", "dose_mg": 50}],
         "sources": [{"publication": "main", "locator": "Table 1"}]},
        {"label": "Placebo", "arm_type": "PLACEBO_COMPARATOR", "n_randomized": 30,
         "interventions": [{"name": "Placebo"}],
         "sources": [{"publication": "main", "locator": "Table 1"}]},
    ],
    "timepoints": [
        {"label": "baseline", "anchor": "BASELINE", "months": 0,
         "sources": [{"publication": "main"}]},
        {"label": "12 months", "role": "FOLLOW_UP", "anchor": "LAST_TREATMENT_SESSION",
         "months": 12, "months_since_baseline": 15, "sources": [{"publication": "main"}]},
    ],
    "outcome_measures": [{
        "name": "PTSD severity", "instrument": "CAPS-5", "role": "PRIMARY",
        "lower_is_better": True,
        "results": [
            {"arm": "Drug", "timepoint": "12 months", "n": 28, "mean": 20.5, "sd": 10.1,
             "sources": [{"publication": "main", "locator": "Table 2"}]},
            {"arm": "Placebo", "timepoint": "12 months", "n": 27, "mean": 30.2, "sd": 11.0,
             "sources": [{"publication": "main", "locator": "Table 2"}]},
        ],
        "effects": [
            {"experimental_arm": "Drug", "comparator_arm": "Placebo", "timepoint": "12 months",
             "effect_type": "COHENS_D", "value": 0.8, "ci_low": 0.3, "ci_high": 1.3,
             "p_value": 0.001, "p_value_relation": "<", "analysis_population": "ITT",
             "sources": [{"publication": "main", "locator": "abstract"}]},
        ],
    }],
    "treatment_end_months": 3,
    "sources": [{"publication": "main", "locator": "abstract"}],
}


def study_document(key: str = "test-study", nct: str | None = "NCT09999901",
                   **overrides: Any) -> dict[str, Any]:
    """A valid study document; `overrides` replace top-level fields."""
    doc = copy.deepcopy(_BASE)
    doc["key"] = key
    doc["registry_ids"] = [{"registry": "NCT", "identifier": nct}] if nct else []
    doc["publications"][0]["doi"] = f"10.9999/{key}"
    doc.update(overrides)
    return doc
