"""Deterministic synthetic study documents at registry scale, in the POST /studies format.

    python bench/generate.py --studies 100000 --seed 1 > bench/data/studies-100000.ndjson

The same --studies and --seed always give the same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Iterator
from typing import Any

CONDITIONS = [
    ("PTSD", 0.20), ("Major depressive disorder", 0.10), ("Generalized anxiety disorder", 0.07),
    ("Panic disorder", 0.05), ("Social anxiety disorder", 0.05), ("Bipolar disorder", 0.06),
    ("Schizophrenia", 0.07), ("Obsessive-compulsive disorder", 0.05),
    ("Alcohol use disorder", 0.06), ("Opioid use disorder", 0.06), ("Insomnia", 0.05),
    ("Chronic pain", 0.06), ("Traumatic brain injury", 0.04),
    ("Borderline personality disorder", 0.04), ("ADHD", 0.04),
]
DRUGS = ["MDMA", "Sertraline", "Paroxetine", "Fluoxetine", "Venlafaxine", "Prazosin",
         "Ketamine", "Psilocybin", "Quetiapine", "Topiramate", "Propranolol", "Escitalopram"]
THERAPIES = ["Prolonged exposure", "Cognitive processing therapy", "EMDR",
             "Present-centered therapy", "Written exposure therapy", "Trauma-focused CBT"]
COMPARATORS = [("Placebo", "PLACEBO_COMPARATOR", "OTHER"),
               ("Treatment as usual", "ACTIVE_COMPARATOR", "OTHER"),
               ("Waitlist", "NO_INTERVENTION", "OTHER")]
INSTRUMENTS = {"PTSD": ["CAPS-5", "PCL-5", "CAPS-IV"],
               "default": ["MADRS", "HAM-D", "HAM-A", "CGI-S", "PHQ-9", "BDI-II", "SDS"]}
SECONDARY = ["BDI-II", "SDS", "PSQI", "CGI-S", "PHQ-9", "GAD-7", "QOLS"]
PHASES = ["EARLY_PHASE1", "PHASE1", "PHASE1_PHASE2", "PHASE2", "PHASE2_PHASE3", "PHASE3",
          "PHASE4", "NA"]
PHASE_W = [0.03, 0.10, 0.06, 0.30, 0.05, 0.25, 0.12, 0.09]
STATUSES = ["COMPLETED", "RECRUITING", "ACTIVE_NOT_RECRUITING", "TERMINATED", "WITHDRAWN",
            "NOT_YET_RECRUITING", "UNKNOWN", "SUSPENDED", "ENROLLING_BY_INVITATION"]
STATUS_W = [0.50, 0.12, 0.08, 0.08, 0.04, 0.05, 0.08, 0.02, 0.03]
COUNTRIES = ["United States", "Canada", "United Kingdom", "Germany", "France", "Israel",
             "Netherlands", "Australia", "Switzerland", "Norway", "Brazil", "Japan", "China",
             "Spain", "Italy", "Denmark", "Sweden", "Czech Republic", "Korea, Republic of"]
SPONSORS = ["University Hospital", "National Institute of Mental Health", "VA Office of R&D",
            "Lykos Therapeutics", "Pfizer", "GlaxoSmithKline", "Compass Pathways",
            "Medical Research Council", "Charité", "Karolinska Institutet"]
WORDS = ["efficacy", "safety", "randomized", "adults", "veterans", "chronic", "treatment",
         "resistant", "augmentation", "pilot", "multicenter", "open-label", "durability",
         "remission", "relapse", "sleep", "nightmares", "functioning", "quality of life"]


def _weighted(rng: random.Random, items: list[Any], weights: list[float]) -> Any:
    return rng.choices(items, weights=weights, k=1)[0]


def _partial_date(rng: random.Random) -> str:
    year = rng.randint(1995, 2025)
    precision = rng.random()
    if precision < 0.1:
        return f"{year}"
    month = rng.randint(1, 12)
    if precision < 0.5:
        return f"{year}-{month:02d}"
    return f"{year}-{month:02d}-{rng.randint(1, 28):02d}"


def study(i: int, rng: random.Random) -> dict[str, Any]:
    key = f"NCT{90000000 + i:08d}"
    ref = "pub"
    src = [{"publication": ref, "locator": "Table 2"}]
    condition = _weighted(rng, [c for c, _ in CONDITIONS], [w for _, w in CONDITIONS])
    conditions = [condition]
    if rng.random() < 0.15:
        other = rng.choice([c for c, _ in CONDITIONS if c != condition])
        conditions.append(other)
    behavioural = rng.random() < 0.3
    treatment = rng.choice(THERAPIES if behavioural else DRUGS)
    comparator, comp_type, _ = rng.choice(COMPARATORS)
    arms = [{"label": f"{treatment} arm", "arm_type": "EXPERIMENTAL",
             "interventions": [{"name": treatment,
                                "type": "BEHAVIORAL" if behavioural else "DRUG"}]},
            {"label": f"{comparator} arm", "arm_type": comp_type,
             "interventions": [{"name": comparator, "type": "OTHER"}]}]
    if rng.random() < 0.35:
        second = rng.choice([d for d in DRUGS if d != treatment])
        arms.insert(1, {"label": f"{second} arm", "arm_type": "ACTIVE_COMPARATOR",
                        "interventions": [{"name": second, "type": "DRUG"}]})
    enrollment = max(4, int(math.exp(rng.gauss(4.3, 0.9))))
    per_arm = max(2, enrollment // len(arms))
    for arm in arms:
        arm["n_randomized"] = per_arm
        arm["sources"] = src
    primary_months = rng.choice([1, 2, 3, 4, 6])
    timepoints = [{"label": "baseline", "anchor": "BASELINE", "months": 0, "sources": src},
                  {"label": "primary endpoint", "anchor": "RANDOMIZATION",
                   "months": primary_months, "sources": src}]
    for f in range(rng.choice([0, 0, 1, 1, 2])):
        months = primary_months + rng.choice([3, 6, 12, 18, 24, 36]) * (f + 1)
        timepoints.append({"label": f"follow-up {f + 1}", "anchor": "RANDOMIZATION",
                           "months": months, "is_follow_up": True, "sources": src})
    measured = [t["label"] for t in timepoints[1:]]
    instruments = INSTRUMENTS["PTSD" if condition == "PTSD" else "default"]
    primary = rng.choice(instruments)
    outcome_specs = [(primary, "PRIMARY", measured)]
    for name in rng.sample([s for s in SECONDARY if s != primary], rng.randint(1, 3)):
        outcome_specs.append((name, "SECONDARY", measured[:1]))
    outcomes = []
    for instrument, role, at in outcome_specs:
        results, effects = [], []
        base = rng.uniform(20, 80)
        for label in at:
            for arm in arms:
                results.append({"arm": arm["label"], "timepoint": label,
                                "n": per_arm - rng.randint(0, max(1, per_arm // 10)),
                                "mean": round(base - rng.uniform(0, 25), 1),
                                "sd": round(rng.uniform(6, 18), 1), "sources": src})
            d = round(rng.gauss(0.45, 0.35), 2)
            half = round(1.96 * math.sqrt(2 / per_arm + d * d / (4 * per_arm)), 2)
            effects.append({"experimental_arm": arms[0]["label"],
                            "comparator_arm": arms[-1]["label"], "timepoint": label,
                            "effect_type": "COHENS_D", "value": d,
                            "ci_low": round(d - half, 2), "ci_high": round(d + half, 2),
                            "p_value": round(rng.uniform(0.0001, 0.5), 4),
                            "analysis_population": "ITT", "sources": src})
        outcomes.append({"name": f"{instrument} total score", "instrument": instrument,
                         "role": role, "lower_is_better": True, "results": results,
                         "effects": effects})
    title_words = " ".join(rng.sample(WORDS, 3))
    return {
        "key": key,
        "title": f"{treatment} versus {comparator.lower()} for {condition}: a {title_words} "
                 f"study {i}",
        "study_type": "RCT",
        "phase": _weighted(rng, PHASES, PHASE_W),
        "overall_status": _weighted(rng, STATUSES, STATUS_W),
        "allocation": "RANDOMIZED",
        "intervention_model": "PARALLEL",
        "masking": rng.choice(["NONE", "SINGLE", "DOUBLE", "TRIPLE", "QUADRUPLE"]),
        "primary_purpose": "TREATMENT",
        "start_date": _partial_date(rng),
        "enrollment": enrollment,
        "enrollment_type": "ACTUAL",
        "population": f"adults with {condition.lower()}",
        "summary": f"Compares {treatment} with {comparator.lower()} in {condition}; "
                   + " ".join(rng.sample(WORDS, 6)) + ".",
        "sponsor": rng.choice(SPONSORS),
        "countries": rng.sample(COUNTRIES, rng.choice([1, 1, 1, 2, 3])),
        "registry_ids": [{"registry": "NCT", "identifier": key}],
        "conditions": conditions,
        "publications": [{"ref": ref, "role": "PRIMARY_RESULTS",
                          "doi": f"10.5555/synthetic.{i}", "title": f"Results of study {i}",
                          "journal": "Journal of Synthetic Trials",
                          "year": rng.randint(1998, 2026)}],
        "arms": arms,
        "timepoints": timepoints,
        "outcome_measures": outcomes,
        "sources": src,
    }


def generate(n: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for i in range(n):
        yield study(i, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    out = sys.stdout
    for doc in generate(args.studies, args.seed):
        out.write(json.dumps(doc, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
