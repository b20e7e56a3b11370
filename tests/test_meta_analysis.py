"""Meta-analysis: equal to independent implementations, and the MDMA phase 3 evidence.

DerSimonian–Laird and Hartung–Knapp are compared with statsmodels' `combine_effects`.
statsmodels has no REML, so REML is compared with the REML likelihood maximised by scipy
plus statsmodels' weighted least squares, and with metafor's published BCG-vaccine example.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from statsmodels.stats.meta_analysis import combine_effects

from app.services.distributions import chi2_sf, t_quantile, t_two_sided_p
from app.services.evidence import meta_analyse
from tests.builders import study_document
from tests.evidence_helpers import API, MAPP_KEYS, POOLED_KEYS, store

TOL = 1e-6
MDMA_PHASE3 = f"{API}/meta-analysis?intervention=MDMA&phase=PHASE3&instrument=CAPS-5" \
              "&effect_type=COHENS_D"
WITH_POOLED = (f"{API}/meta-analysis?effect_type=COHENS_D&instrument=CAPS-5&instrument=CAPS-IV"
               + "".join(f"&study={k}" for k in (*sorted(MAPP_KEYS), *POOLED_KEYS)))

inputs = st.integers(min_value=2, max_value=25).flatmap(lambda k: st.tuples(
    st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
    st.lists(st.floats(0.005, 2.0, allow_nan=False), min_size=k, max_size=k)))


def statsmodels_dl(y: list[float], v: list[float]) -> dict[str, float]:
    """statsmodels' DerSimonian–Laird, with τ² truncated at zero as the method defines it
    (statsmodels leaves a negative moment estimate as it is)."""
    res = combine_effects(np.array(y), np.array(v), method_re="dl")
    if res.tau2 < 0:
        return {"estimate": res.mean_effect_fe, "se": res.sd_eff_w_fe, "tau2": 0.0,
                "q": res.q, "i2": 0.0, "h2": res.h2, "fixed": res.mean_effect_fe,
                "fixed_se": res.sd_eff_w_fe, "ci": res.conf_int(use_t=False)[0]}
    return {"estimate": res.mean_effect_re, "se": res.sd_eff_w_re, "tau2": res.tau2,
            "q": res.q, "i2": max(0.0, res.i2) * 100, "h2": res.h2,
            "fixed": res.mean_effect_fe, "fixed_se": res.sd_eff_w_fe,
            "ci": res.conf_int(use_t=False)[1]}


def reml_reference(y: list[float], v: list[float]) -> tuple[float, float, float]:
    """τ² maximising the REML log-likelihood (scipy), then μ and its SE by WLS (statsmodels)."""
    ya, va = np.array(y), np.array(v)

    def negative_loglik(tau2: float) -> float:
        w = 1 / (va + tau2)
        mu = (w * ya).sum() / w.sum()
        return 0.5 * (np.log(va + tau2).sum() + math.log(w.sum()) + (w * (ya - mu) ** 2).sum())

    # A fine grid finds the basin of the global maximum; bounded Brent refines within it.
    upper = max(10.0, 10 * float(np.var(ya)))
    grid = np.concatenate([[0.0], np.geomspace(1e-8, upper, 4000)])
    i = int(np.argmin([negative_loglik(t) for t in grid]))
    low, high = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
    opt = optimize.minimize_scalar(negative_loglik, bounds=(low, high), method="bounded",
                                   options={"xatol": 1e-13})
    tau2 = opt.x if negative_loglik(opt.x) < negative_loglik(0.0) else 0.0
    fit = sm.WLS(ya, np.ones_like(ya), weights=1 / (va + tau2)).fit(cov_type="fixed scale")
    return tau2, float(fit.params[0]), float(fit.bse[0])


@settings(max_examples=200, deadline=None)
@given(inputs)
def test_dersimonian_laird_equals_statsmodels_on_random_inputs(data):
    y, v = data
    ours = meta_analyse(y, v, method="DL")
    ref = statsmodels_dl(y, v)
    assert ours["random"]["estimate"] == pytest.approx(ref["estimate"], abs=TOL)
    assert ours["random"]["se"] == pytest.approx(ref["se"], abs=TOL)
    assert ours["tau2"] == pytest.approx(ref["tau2"], abs=TOL)
    assert ours["q"] == pytest.approx(ref["q"], abs=TOL, rel=TOL)
    assert ours["i2"] == pytest.approx(ref["i2"], abs=TOL)
    assert ours["h2"] == pytest.approx(ref["h2"], abs=TOL, rel=TOL)
    assert ours["fixed"]["estimate"] == pytest.approx(ref["fixed"], abs=TOL)
    assert ours["fixed"]["se"] == pytest.approx(ref["fixed_se"], abs=TOL)
    assert [ours["random"]["ci_low"], ours["random"]["ci_high"]] == pytest.approx(
        list(ref["ci"]), abs=TOL)
    assert sum(ours["weights_random"]) == pytest.approx(100)


def hartung_knapp_reference(y: list[float], v: list[float], tau2: float) -> dict[str, Any]:
    """Hartung–Knapp by weighted least squares (statsmodels): with weights 1/(v + τ²) and the
    scale estimated from the residuals, the intercept's SE is the Hartung–Knapp SE, and its
    t interval has k − 1 degrees of freedom."""
    ya, va = np.array(y), np.array(v)
    fit = sm.WLS(ya, np.ones_like(ya), weights=1 / (va + tau2)).fit()
    low, high = fit.conf_int(alpha=0.05)[0]
    return {"se": float(fit.bse[0]), "ci": [float(low), float(high)]}


@settings(max_examples=200, deadline=None)
@given(inputs)
def test_hartung_knapp_equals_statsmodels_hksj_on_random_inputs(data):
    y, v = data
    res = combine_effects(np.array(y), np.array(v), method_re="dl")
    ours = meta_analyse(y, v, method="DL", hartung_knapp=True)
    assert ours["random"]["t_df"] == len(y) - 1
    if res.tau2 < 0:
        # statsmodels would weight by a negative τ²; DerSimonian–Laird truncates it at zero,
        # so the reference is the same estimator with fixed-effect weights.
        ref = hartung_knapp_reference(y, v, 0.0)
        assert ours["tau2"] == 0.0
        assert ours["random"]["estimate"] == pytest.approx(ours["fixed"]["estimate"], abs=TOL)
    else:
        ref = {"se": res.sd_eff_w_re_hksj, "ci": list(res.conf_int(use_t=True)[3])}
        assert hartung_knapp_reference(y, v, res.tau2)["se"] == pytest.approx(ref["se"], abs=TOL)
    assert ours["random"]["se"] == pytest.approx(ref["se"], abs=TOL)
    assert [ours["random"]["ci_low"], ours["random"]["ci_high"]] == pytest.approx(
        ref["ci"], abs=TOL)


# Three studies whose REML likelihood has its global maximum at τ² = 0 and a second, lower
# one further out (it still rises at τ² = 1); found by a random search.
TWO_MAXIMA = ([5.764355576603366, 0.07109780061117443, -0.05563253550437282],
              [4.4182539995979635, 0.05397699191037969, 0.19373381327759534])


def test_reml_stays_at_zero_beside_a_lower_maximum_further_out():
    y, v = TWO_MAXIMA
    ya, va = np.array(y), np.array(v)

    def loglik(tau2: float) -> float:
        w = 1 / (va + tau2)
        mu = (w * ya).sum() / w.sum()
        return -0.5 * (np.log(va + tau2).sum() + math.log(w.sum()) + (w * (ya - mu) ** 2).sum())

    assert loglik(1.001) > loglik(1.0)  # rising again at τ² = 1
    tau2, mu, se = reml_reference(y, v)
    assert tau2 == 0.0
    ours = meta_analyse(y, v, method="REML")
    assert ours["tau2"] == 0.0
    assert ours["tau2_iterations"] == 0
    assert ours["random"]["estimate"] == pytest.approx(mu, abs=TOL)
    assert ours["random"]["se"] == pytest.approx(se, abs=TOL)


@settings(max_examples=200, deadline=None)
@given(inputs)
def test_reml_equals_the_maximised_reml_likelihood_on_random_inputs(data):
    y, v = data
    ours = meta_analyse(y, v, method="REML")
    tau2, mu, se = reml_reference(y, v)
    assert ours["tau2"] == pytest.approx(tau2, abs=TOL)
    assert ours["random"]["estimate"] == pytest.approx(mu, abs=TOL)
    assert ours["random"]["se"] == pytest.approx(se, abs=TOL)


def test_bcg_vaccine_trials_reproduce_metafors_published_results():
    # Colditz et al. 1994 (metafor's dat.bcg): tpos, tneg, cpos, cneg; log risk ratios.
    bcg = [(4, 119, 11, 128), (6, 300, 29, 274), (3, 228, 11, 209), (62, 13536, 248, 12619),
           (33, 5036, 47, 5761), (180, 1361, 372, 1079), (8, 2537, 10, 619),
           (505, 87886, 499, 87892), (29, 7470, 45, 7232), (17, 1699, 65, 1600),
           (186, 50448, 141, 27197), (5, 2493, 3, 2338), (27, 16886, 29, 17825)]
    y = [math.log(a / (a + b) / (c / (c + d))) for a, b, c, d in bcg]
    v = [1 / a - 1 / (a + b) + 1 / c - 1 / (c + d) for a, b, c, d in bcg]
    reml = meta_analyse(y, v, method="REML")
    assert (round(reml["random"]["estimate"], 4), round(reml["random"]["se"], 4),
            round(reml["tau2"], 4), round(reml["q"], 4)) == (-0.7145, 0.1798, 0.3132, 152.2330)
    dl = meta_analyse(y, v, method="DL")
    assert (round(dl["random"]["estimate"], 4), round(dl["random"]["se"], 4),
            round(dl["tau2"], 4), round(dl["i2"], 2)) == (-0.7141, 0.1787, 0.3088, 92.12)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.001, 0.999), st.integers(1, 60), st.floats(0, 400))
def test_t_and_chi_square_functions_equal_scipy(p, df, x):
    assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), abs=1e-8, rel=1e-8)
    # 1e-8: near t = 0 scipy's own tail rounds to 1.0 (for t = 1.5e-9, df = 1 the p value is
    # 1 − 2·atan(t)/π = 1 − 9.5e-10).
    assert t_two_sided_p(x / 40, df) == pytest.approx(2 * stats.t.sf(x / 40, df), abs=1e-8)
    assert chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), abs=1e-10)


# ------------------------------------------------------------------ through the API


def check_against_statsmodels(body: dict) -> None:
    y = [s["yi"] for s in body["studies"]]
    v = [s["se"] ** 2 for s in body["studies"]]
    if body["method"] == "DL":
        ref = statsmodels_dl(y, v)
        assert body["estimate"] == pytest.approx(ref["estimate"], abs=TOL)
        assert body["se"] == pytest.approx(ref["se"], abs=TOL)
        assert body["tau2"] == pytest.approx(ref["tau2"], abs=TOL)
    else:
        tau2, mu, se = reml_reference(y, v)
        assert (body["tau2"], body["estimate"], body["se"]) == pytest.approx(
            (tau2, mu, se), abs=TOL)
    res = combine_effects(np.array(y), np.array(v), method_re="dl")
    assert body["q"] == pytest.approx(res.q, abs=TOL)
    assert body["fixed_effect"]["estimate"] == pytest.approx(res.mean_effect_fe, abs=TOL)
    assert body["fixed_effect"]["se"] == pytest.approx(res.sd_eff_w_fe, abs=TOL)


def test_mdma_phase3_trials_pool_to_a_random_effects_estimate_of_mapp1_and_mapp2(client):
    response = client.get(MDMA_PHASE3)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "random_effects" and body["method"] == "DL"
    assert body["k"] == 2
    assert {s["study_key"] for s in body["studies"]} == MAPP_KEYS
    # Both report d without a CI: the SEs come from the arm sizes, and say so.
    for s in body["studies"]:
        assert s["se_source"] == "from_sample_sizes" and s["se_derived"]
        n1, n2, d = s["n_experimental"], s["n_comparator"], s["value"]
        assert s["se"] == pytest.approx(math.sqrt((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2))))
    assert body["ci_low"] < body["estimate"] < body["ci_high"]
    assert body["prediction_interval"] is None  # needs three studies
    assert sum(s["weight_random"] for s in body["studies"]) == pytest.approx(100)
    check_against_statsmodels(body)
    reml = client.get(MDMA_PHASE3 + "&method=REML").json()
    assert reml["method"] == "REML"
    check_against_statsmodels(reml)


def test_retracted_pooled_analyses_change_the_answer_only_when_included(client):
    trials_only = client.get(MDMA_PHASE3).json()
    default = client.get(WITH_POOLED).json()
    assert {s["study_key"] for s in default["studies"]} == MAPP_KEYS
    assert default["estimate"] == pytest.approx(trials_only["estimate"], abs=1e-12)
    left_out = {e["study_key"]: e for e in default["excluded"] if e["retracted"]}
    assert "mithoefer-2019-pooled" in left_out
    reason = left_out["mithoefer-2019-pooled"]
    assert reason["reason"].startswith("retracted")
    assert reason["retracted_publications"][0]["retraction_reason"]

    included = client.get(WITH_POOLED + "&include_retracted=true").json()
    assert included["include_retracted"] is True
    pooled = [s for s in included["studies"] if s["retracted"]]
    assert [s["study_key"] for s in pooled] == ["mithoefer-2019-pooled"]
    assert included["k"] == 3
    assert included["estimate"] != pytest.approx(default["estimate"], abs=1e-9)
    assert included["prediction_interval"] is not None
    check_against_statsmodels(included)
    # The within-group pooled effects are never pooled with between-arm ones.
    assert all(e["comparator_arm"] is None for e in included["excluded"])


def test_hartung_knapp_uses_t_with_k_minus_1_degrees_of_freedom(client):
    body = client.get(WITH_POOLED + "&include_retracted=true&hartung_knapp=true").json()
    assert body["t_df"] == 2 and body["z"] is None
    y = [s["yi"] for s in body["studies"]]
    v = [s["se"] ** 2 for s in body["studies"]]
    res = combine_effects(np.array(y), np.array(v), method_re="dl")
    # On the seed the moment estimate of τ² is negative (statsmodels keeps it, −0.035), so
    # the reference is Hartung–Knapp with τ² truncated at zero as DerSimonian–Laird defines it.
    assert res.tau2 < 0
    assert body["tau2"] == 0.0
    ref = hartung_knapp_reference(y, v, 0.0)
    assert body["se"] == pytest.approx(ref["se"], abs=TOL)
    assert [body["ci_low"], body["ci_high"]] == pytest.approx(ref["ci"], abs=TOL)
    plain = client.get(WITH_POOLED + "&include_retracted=true").json()
    assert body["estimate"] == pytest.approx(plain["estimate"], abs=TOL)
    assert body["se"] != pytest.approx(plain["se"], abs=1e-6)


@pytest.mark.parametrize("query,message", [
    ("registry_id=NCT03537014&instrument=CAPS-5&effect_type=COHENS_D", "at least two"),
    ("study=NCT03537014,brady-2000-sertraline&instrument=CAPS-5&instrument=CAPS-2",
     "different effect types"),
    ("registry_id=NCT00000000", "at least two"),
])
def test_too_few_or_mixed_estimates_are_a_422_problem(client, query, message):
    response = client.get(f"{API}/meta-analysis?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]


def test_a_selection_left_wholly_out_as_retracted_is_a_422_naming_the_retractions(client):
    response = client.get(f"{API}/meta-analysis?instrument=CAPS-IV&effect_type=COHENS_D")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert "at least two" in body["detail"]
    retracted = [e for e in body["excluded"] if e["retracted"]]
    assert retracted
    assert retracted[0]["retracted_publications"][0]["retraction_date"] == "2024-08-10"


def test_unknown_method_is_a_422_problem(client):
    response = client.get(MDMA_PHASE3 + "&method=SJ")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "method"]


def odds_ratio_study(key, nct, value, low, high):
    doc = study_document(key, nct=nct)
    om = doc["outcome_measures"][0]
    om["results"] = []
    om["effects"] = [{
        "experimental_arm": "Drug", "comparator_arm": "Placebo", "timepoint": "12 months",
        "effect_type": "ODDS_RATIO", "value": value, "ci_low": low, "ci_high": high,
        "sources": [{"publication": "main", "locator": "Table 3"}]}]
    return doc


def test_ratios_are_pooled_on_the_log_scale_with_ses_from_their_cis(client, curator):
    trials = [("or-a", "NCT09999931", 2.0, 1.2, 3.4), ("or-b", "NCT09999932", 1.5, 0.9, 2.5),
              ("or-c", "NCT09999933", 3.1, 1.4, 6.8)]
    for key, nct, value, low, high in trials:
        store(client, curator, odds_ratio_study(key, nct, value, low, high))
    query = "".join(f"&study={t[0]}" for t in trials)
    body = client.get(f"{API}/meta-analysis?effect_type=ODDS_RATIO{query}").json()
    assert body["k"] == 3 and body["direction"]["scale"] == "log"
    z = stats.norm.ppf(0.975)
    y = [math.log(t[2]) for t in trials]
    se = [(math.log(t[4]) - math.log(t[3])) / (2 * z) for t in trials]
    got = {s["study_key"]: s for s in body["studies"]}
    for (key, *_), yi, sei in zip(trials, y, se, strict=True):
        assert got[key]["yi"] == pytest.approx(yi, abs=1e-12)
        assert got[key]["se"] == pytest.approx(sei, abs=1e-12)
        assert got[key]["se_source"] == "from_ci"
    ref = statsmodels_dl(y, [s * s for s in se])
    assert body["estimate"] == pytest.approx(ref["estimate"], abs=TOL)
    assert body["exponentiated"]["estimate"] == pytest.approx(math.exp(ref["estimate"]), abs=TOL)
    svg = client.get(f"{API}/meta-analysis/forest.svg?effect_type=ODDS_RATIO{query}")
    assert svg.status_code == 200 and b"odds ratio" in svg.content
