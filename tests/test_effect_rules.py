"""The edges of the effect rules: how a stored effect is read (app/services/semantics.py), the
number needed to treat, the 2×2 table checks and the Mantel–Haenszel corner cases
(app/services/binary.py), Hedges' g where it is undefined (app/services/evidence.py).

Each expectation is worked by hand from the rule's definition (Altman's NNT, the risk and odds
ratio of one table, Greenland–Robins' variance); no database is needed."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest

from app.enums import Direction, EffectType, Favours
from app.services import semantics
from app.services.binary import ci, escalc, mantel_haenszel, nnt
from app.services.evidence import hedges_g, pooling_scale

MD, RR, RD = EffectType.MEAN_DIFFERENCE, EffectType.RISK_RATIO, EffectType.RISK_DIFFERENCE
HIGHER, LOWER = Direction.HIGHER_FAVOURS_EXPERIMENTAL, Direction.LOWER_FAVOURS_EXPERIMENTAL


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


# ------------------------------------------------------------------ whom an effect favours


def favours(effect_type=MD, value=1.0, ci_low=None, ci_high=None, p=None, relation=None,
            side=HIGHER):
    return semantics.favours(effect_type, value, ci_low, ci_high, p, relation, side)


def test_the_null_value_is_one_for_ratios_and_zero_for_differences():
    assert semantics.null_value(RR) == 1.0 and semantics.null_value(EffectType.ODDS_RATIO) == 1.0
    assert semantics.null_value(MD) == 0.0 and semantics.null_value(RD) == 0.0
    # A risk ratio whose CI reaches 2 but not 1 favours a side.
    assert favours(RR, 1.5, 1.2, 2.0) == Favours.EXPERIMENTAL


def test_a_ci_that_touches_the_null_favours_neither_side():
    assert favours(MD, 1.0, 0.0, 2.0) == Favours.NEITHER
    assert favours(MD, -1.0, -2.0, 0.0) == Favours.NEITHER
    assert favours(MD, 1.0, 0.001, 2.0) == Favours.EXPERIMENTAL
    assert favours(MD, 1.0, 0.001, 2.0, side=LOWER) == Favours.COMPARATOR


def test_a_complete_ci_decides_even_beside_a_p_value_that_says_otherwise():
    assert favours(MD, 1.0, 0.5, 1.5, p=0.5) == Favours.EXPERIMENTAL


def test_half_a_ci_is_no_ci():
    # Without a p-value nothing is known; with a non-significant one, neither side.
    assert favours(MD, 1.0, 0.5, None) is None
    assert favours(MD, 1.0, None, 1.5) is None
    assert favours(MD, 1.0, 0.5, None, p=0.5) == Favours.NEITHER
    assert favours(MD, 1.0, 0.5, None, p=0.01) == Favours.EXPERIMENTAL


@pytest.mark.parametrize("p, relation, expected", [
    (0.049, None, Favours.EXPERIMENTAL), (0.05, None, Favours.NEITHER),
    (0.05, "<", Favours.EXPERIMENTAL), (0.051, "<", Favours.NEITHER),
    (0.001, ">", Favours.NEITHER), (0.3, ">", Favours.NEITHER),
])
def test_without_a_ci_the_p_value_decides_at_0_05(p, relation, expected):
    assert favours(MD, 1.0, p=p, relation=relation) == expected


# ------------------------------------------------------------------ NNT of a served effect


@pytest.mark.parametrize("value, lower_is_better, expected", [
    (0.2, False, {"value": 5.0, "kind": "NNTB"}),   # more responders
    (0.2, True, {"value": 5.0, "kind": "NNTH"}),    # more relapses
    (-0.25, True, {"value": 4.0, "kind": "NNTB"}),  # fewer relapses
    (-0.25, False, {"value": 4.0, "kind": "NNTH"}),
    (0.0, False, {"value": None, "kind": None}),
])
def test_a_risk_difference_without_a_full_ci_gives_an_nnt_without_one(value, lower_is_better,
                                                                        expected):
    for low, high in ((None, None), (value - 0.1, None), (None, value + 0.1)):
        got = semantics.nnt(RD, value, low, high, None, lower_is_better)
        assert got is not None and got["value"] == pytest.approx(expected["value"])
        assert got == {**expected, "value": got["value"], "ci_low": None, "ci_high": None}


def test_only_a_risk_difference_with_a_known_direction_has_an_nnt():
    assert semantics.nnt(MD, 0.2, None, None, None, False) is None
    assert semantics.nnt(RD, 0.2, None, None, None, None) is None
    assert semantics.nnt(RD, None, None, None, None, False) is None


# ------------------------------------------------------------------ Altman's NNT


def test_a_risk_difference_may_sit_on_either_bound_of_its_ci():
    at_low = nnt(0.1, 0.1, 0.4, events_are_good=True)
    assert (at_low["value"], at_low["ci_low"], at_low["ci_high"]) == pytest.approx(
        (10.0, 2.5, 10.0))
    at_high = nnt(0.4, 0.1, 0.4, events_are_good=True)
    assert (at_high["value"], at_high["ci_low"], at_high["ci_high"]) == pytest.approx(
        (2.5, 2.5, 10.0))


@pytest.mark.parametrize("args, message", [
    ((math.nan, 0.1, 0.4), "the risk difference and its CI must be numbers"),
    ((0.2, math.nan, 0.4), "the risk difference and its CI must be numbers"),
    ((0.5, 0.1, 0.4), "the risk difference must lie within its CI"),
    ((0.05, 0.1, 0.4), "the risk difference must lie within its CI"),
])
def test_an_impossible_risk_difference_is_refused_with_its_reason(args, message):
    with pytest.raises(ValueError, match=exactly(message)):
        nnt(*args, events_are_good=True)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.95])
def test_a_confidence_level_outside_zero_to_one_is_refused(level):
    for call in (lambda: nnt(0.2, 0.1, 0.4, events_are_good=True, level=level),
                 lambda: mantel_haenszel("RR", [(2, 10, 1, 10)], level=level),
                 lambda: ci(0.0, 1.0, level=level)):
        with pytest.raises(ValueError, match=exactly("level must lie between 0 and 1")):
            call()


def test_a_ci_with_its_upper_bound_at_zero_runs_from_harm_out_to_infinity():
    result = nnt(-0.2, -0.4, 0.0, events_are_good=True)
    assert (result["value"], result["kind"]) == (pytest.approx(5.0), "NNTH")
    assert (result["ci_low_kind"], result["ci_high_kind"]) == ("NNTH", "NNTH")
    assert result["ci_low"] == pytest.approx(2.5) and math.isinf(result["ci_high"])
    assert result["crosses_null"] is True
    assert result["wording"] == "NNTH 5.0 (95% CI NNTH 2.5 to ∞)"


def test_a_ci_with_its_lower_bound_at_zero_crosses_the_null():
    assert nnt(0.2, 0.0, 0.4, events_are_good=True)["crosses_null"] is True
    assert nnt(0.2, 0.01, 0.4, events_are_good=True)["crosses_null"] is False


def test_no_difference_with_no_width_is_infinite_at_both_ends():
    result = nnt(0.0, 0.0, 0.0, events_are_good=True)
    assert result["kind"] is None and result["ci_low_kind"] is None
    assert result["ci_high_kind"] is None
    assert math.isinf(result["ci_low"]) and math.isinf(result["ci_high"])
    assert result["wording"] == "No difference in risk: NNT ∞ (95% CI ∞ to ∞)"


def test_an_nnt_too_large_for_a_float_is_written_as_infinity():
    # 1/1e-320 overflows to infinity.
    result = nnt(1e-320, 1e-320, 0.5, events_are_good=True)
    assert result["wording"] == "NNTB ∞ (95% CI NNTB 2.0 to NNTB ∞)"


# ------------------------------------------------------------------ 2×2 tables


@pytest.mark.parametrize("table, message", [
    ((math.nan, 10, 1, 10), "counts and group sizes must be finite numbers"),
    ((1, math.inf, 1, 10), "counts and group sizes must be finite numbers"),
    ((-1, 10, 1, 10), "event counts must not be negative"),
    ((1, 10, -1, 10), "event counts must not be negative"),
    ((11, 10, 1, 10), "an event count is larger than its group size"),
    ((1, 10, 11, 10), "an event count is larger than its group size"),
])
def test_a_table_metafor_would_refuse_is_refused_with_its_reason(table, message):
    with pytest.raises(ValueError, match=exactly(message)):
        escalc("RR", *table)
    with pytest.raises(ValueError, match=exactly(message)):
        mantel_haenszel("OR", [table])


def test_unknown_measures_and_corrections_are_refused_by_name():
    with pytest.raises(ValueError, match=exactly("measure must be one of ('RR', 'OR', 'RD')")):
        escalc("HR", 1, 10, 1, 10)
    with pytest.raises(ValueError, match=exactly("to must be one of ('only0', 'all', 'none')")):
        escalc("RR", 1, 10, 1, 10, to="some")
    with pytest.raises(ValueError, match=exactly("measure must be one of ('RR', 'OR')")):
        mantel_haenszel("RD", [(1, 10, 1, 10)])


def test_to_all_adds_the_correction_to_a_table_without_a_zero_cell():
    # a, b, c, d = 5, 5, 3, 7, each + 1/2.
    yi, vi = escalc("OR", 5, 10, 3, 10, to="all")
    assert yi == pytest.approx(math.log((5.5 * 7.5) / (5.5 * 3.5)), abs=1e-12)
    assert vi == pytest.approx(1 / 5.5 + 1 / 5.5 + 1 / 3.5 + 1 / 7.5, abs=1e-12)
    assert escalc("OR", 5, 10, 3, 10) == pytest.approx(
        (math.log(35 / 15), 1 / 5 + 1 / 5 + 1 / 3 + 1 / 7))


def test_a_risk_difference_with_no_events_and_no_correction_has_zero_variance():
    assert escalc("RD", 0, 10, 0, 10, to="none") == (0.0, 0.0)


def test_an_effect_whose_variance_overflows_is_not_available():
    # A fractional cell of 1e-320 makes 1/a overflow: R would give Inf and recode it as NA.
    assert escalc("OR", 1e-320, 1, 1, 2, to="none") is None


# ------------------------------------------------------------------ Mantel–Haenszel corners


def test_mh_risk_ratio_of_one_table_is_its_risk_ratio():
    # (2/10) / (1/10) = 2; Greenland–Robins' variance of one table: 1/a − 1/n1 + 1/c − 1/n2.
    result = mantel_haenszel("RR", [(2, 10, 1, 10)])
    assert result["measure"] == "RR" and result["level"] == 0.95
    assert result["estimate"] == pytest.approx(math.log(2), abs=1e-12)
    assert result["se"] == pytest.approx(math.sqrt(1 / 2 - 1 / 10 + 1 - 1 / 10), abs=1e-12)


def test_mh_with_tables_of_only_events_has_no_spread_and_so_no_test():
    result = mantel_haenszel("RR", [(5, 5, 5, 5)])
    assert result["estimate"] == 0.0 and result["se"] == 0.0
    assert result["z"] is None and result["p_value"] is None


def test_mh_needs_a_table_with_participants():
    with pytest.raises(ValueError, match=exactly("need at least one table")):
        mantel_haenszel("RR", [])
    with pytest.raises(ValueError, match=exactly("a table has no participants")):
        mantel_haenszel("RR", [(0, 0, 0, 0)])
    assert mantel_haenszel("RR", [(1, 1, 0, 0)])["k"] == 1  # one participant is enough


def test_mh_heterogeneity_of_one_table_is_none_at_all():
    result = mantel_haenszel("OR", [(3, 10, 1, 10)])
    assert (result["k_q"], result["df"], result["q"], result["p_q"], result["i2"],
            result["h2"]) == (1, 0, 0.0, 1.0, 0.0, 1.0)


def test_mh_heterogeneity_of_identical_tables_is_zero():
    result = mantel_haenszel("OR", [(3, 10, 1, 10), (3, 10, 1, 10)])
    assert result["df"] == 1 and result["q"] == pytest.approx(0.0, abs=1e-12)
    assert result["i2"] == 0.0 and result["h2"] == pytest.approx(0.0, abs=1e-12)


def test_mh_i2_is_zero_when_q_is_below_its_degrees_of_freedom():
    result = mantel_haenszel("OR", [(3, 10, 1, 10), (4, 10, 1, 10)])
    assert 0 < result["q"] < result["df"] == 1
    assert result["i2"] == 0.0


# ------------------------------------------------------------------ Hedges' g edges


def test_hedges_g_is_undefined_without_spread_or_beyond_floating_point():
    assert hedges_g(10, 1.0, 0.0, 10, 2.0, 0.0, lower_is_better=True) is None
    # d = 1e200 is finite, its square is not: the variance overflows.
    assert hedges_g(10, 0.0, 1.0, 10, 1e200, 1.0, lower_is_better=True) is None


def test_a_ratio_of_zero_has_no_place_on_the_log_scale():
    assert pooling_scale(RR, 0.0) is None and pooling_scale(RR, -1.0) is None
    assert pooling_scale(RR, 1.0) == 0.0 and pooling_scale(MD, -3.0) == -3.0


def test_the_nnt_of_a_served_effect_is_worded_at_its_own_confidence_level():
    # A CI at 90 % is read at 90 %; a CI without a stated level is read at 95 %.
    at_90 = semantics.nnt(RD, 0.2, 0.1, 0.3, 0.9, False)
    assert at_90 is not None and at_90["wording"].startswith("NNTB 5.0 (90% CI")
    unstated = semantics.nnt(RD, 0.2, 0.1, 0.3, None, False)
    assert unstated is not None and unstated["wording"].startswith("NNTB 5.0 (95% CI")
    described = semantics.describe(RD, 0.2, 0.1, 0.3, 0.9, None, None, True, False)
    assert described["nnt"]["wording"].startswith("NNTB 5.0 (90% CI")
    row = SimpleNamespace(effect_type=RD, value=0.2, ci_low=0.1, ci_high=0.3, ci_level=0.9,
                          p_value=None, p_value_relation=None, comparator_arm_id=7)
    assert semantics.of_row(row, False)["nnt"]["wording"].startswith("NNTB 5.0 (90% CI")


def test_mh_heterogeneity_of_tables_exactly_at_the_pooled_estimate_is_zero():
    # Two tables of 1/2 vs 1/2: each odds ratio is exactly 1, as is the MH estimate, so Q is
    # exactly 0 and I² is 0 by definition (not 0/0).
    result = mantel_haenszel("OR", [(1, 2, 1, 2), (1, 2, 1, 2)])
    assert (result["q"], result["i2"], result["h2"]) == (0.0, 0.0, 0.0)
