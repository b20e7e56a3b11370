"""Every figure `meta_analyse` answers, against R's metafor.

tests/fixtures/metafor/rma_full.json holds metafor's `rma` (DL and REML, z test or
Hartung–Knapp), its fixed-effect ("EE") model, `predict(pi.type = "riley")` prediction intervals
and `weights()` for dat.bcg's log risk ratios (13 trials, the first 3, the first 2) and for
three estimates with no heterogeneity; regenerate it with rma_full.py beside it (needs R). No
database and no R are needed here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from app.services.evidence import meta_analyse

TOL = 1e-6
FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "metafor" / "rma_full.json")
                     .read_text(encoding="utf-8"))["sets"]
CASES = [(name, model) for name, entry in FIXTURE.items() for model in entry["models"]
         if model != "EE:z"]


def close(got: float | None, expected: float) -> bool:
    return got is not None and abs(got - expected) <= TOL * max(1.0, abs(expected))


def ours(name: str, model: str) -> dict[str, Any]:
    method, test = model.split(":")
    inputs = FIXTURE[name]["inputs"]
    return meta_analyse(inputs["yi"], inputs["vi"], method=method,
                        hartung_knapp=test == "knha")


def test_the_fixture_holds_every_set_and_model():
    assert set(FIXTURE) == {"bcg_rr", "bcg_rr_first3", "bcg_rr_first2", "homogeneous"}
    for entry in FIXTURE.values():
        assert set(entry["models"]) == {"EE:z", "DL:z", "DL:knha", "REML:z", "REML:knha"}
    assert len(FIXTURE["bcg_rr"]["inputs"]["yi"]) == 13


@pytest.mark.parametrize("name, model", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_the_random_effects_model_equals_rma(name, model):
    expected = FIXTURE[name]["models"][model]
    got = ours(name, model)
    random = got["random"]
    assert close(got["tau2"], expected["tau2"])
    for ours_name, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                              ("ci_high", "ci_ub"), ("p_value", "pval")):
        assert close(random[ours_name], expected[theirs]), (ours_name, random[ours_name],
                                                            expected[theirs])
    hartung_knapp = model.endswith("knha")
    stat = random["t"] if hartung_knapp else random["z"]
    assert close(stat, expected["stat"])
    assert (random["t_df"], random["z"] is None) == (
        (len(FIXTURE[name]["inputs"]["yi"]) - 1, True) if hartung_knapp else (None, False))
    assert got["hartung_knapp"] is hartung_knapp and got["method"] == model.split(":")[0]
    assert got["ci_level"] == 0.95
    assert all(close(a, b) for a, b in zip(got["weights_random"], expected["weights"],
                                           strict=True))


@pytest.mark.parametrize("name, model", CASES, ids=[f"{n}-{m}" for n, m in CASES])
def test_q_and_its_p_equal_rma(name, model):
    expected = FIXTURE[name]["models"][model]
    got = ours(name, model)
    assert close(got["q"], expected["QE"]) and close(got["p_q"], expected["QEp"])
    assert got["df"] == len(FIXTURE[name]["inputs"]["yi"]) - 1


@pytest.mark.parametrize("name", list(FIXTURE))
def test_i2_and_h2_equal_rma_with_dersimonian_laird(name):
    # metafor derives I² and H² from τ²; with DL that is (Q − df)/Q and Q/df, the definitions
    # this service states for every estimator, so DL is where the two must agree. Where Q < df
    # DL's τ² is truncated at 0 and metafor's H² at 1, while Q/df (statsmodels' H², and ours)
    # stays below 1.
    expected = FIXTURE[name]["models"]["DL:z"]
    got = ours(name, "DL:z")
    assert close(got["i2"], expected["I2"])
    if got["q"] > got["df"]:
        assert close(got["h2"], expected["H2"])
    else:
        assert expected["H2"] == 1.0 and close(got["h2"], expected["QE"] / got["df"])


@pytest.mark.parametrize("name, model", [c for c in CASES if c[0] != "bcg_rr_first2"],
                         ids=[f"{n}-{m}" for n, m in CASES if n != "bcg_rr_first2"])
def test_the_prediction_interval_equals_rileys_on_k_minus_2_df(name, model):
    expected = FIXTURE[name]["models"][model]
    interval = ours(name, model)["prediction_interval"]
    assert interval["df"] == len(FIXTURE[name]["inputs"]["yi"]) - 2
    assert close(interval["low"], expected["pi_lb"]) and close(interval["high"],
                                                               expected["pi_ub"])


def test_two_estimates_have_no_prediction_interval():
    assert ours("bcg_rr_first2", "DL:z")["prediction_interval"] is None


@pytest.mark.parametrize("name", list(FIXTURE))
def test_the_fixed_effect_model_equals_rma_ee(name):
    expected = FIXTURE[name]["models"]["EE:z"]
    got = ours(name, "DL:z")
    fixed = got["fixed"]
    for ours_name, theirs in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_lb"),
                              ("ci_high", "ci_ub"), ("z", "zval"), ("p_value", "pval")):
        assert close(fixed[ours_name], expected[theirs]), ours_name
    assert all(close(a, b) for a, b in zip(got["weights_fixed"], expected["weights"],
                                           strict=True))


def test_without_heterogeneity_tau2_is_zero_and_random_equals_fixed():
    got = ours("homogeneous", "REML:z")
    assert got["tau2"] == 0.0 and got["tau"] == 0.0
    assert got["random"]["estimate"] == pytest.approx(got["fixed"]["estimate"], abs=1e-12)


def test_identical_estimates_under_hartung_knapp_have_no_spread_at_all():
    # The weighted residual variance is 0, so the SE is 0, t infinite and p 0, as metafor's
    # rma(c(0.5, 0.5, 0.5), c(0.1, 0.2, 0.3), test = "knha") answers.
    random = meta_analyse([0.5, 0.5, 0.5], [0.1, 0.2, 0.3], hartung_knapp=True)["random"]
    assert (random["se"], random["ci_low"], random["ci_high"]) == (0.0, 0.5, 0.5)
    assert random["t"] == float("inf") and random["p_value"] == 0.0 and random["t_df"] == 2
