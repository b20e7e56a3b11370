"""The standard error an estimate is pooled with (DESIGN §2): reported, else from its CI, else,
for standardized differences, from the arm sizes; and the bounds beyond which an estimate is
not poolable. Expected values are worked by hand from the textbook formulas; no database."""

from __future__ import annotations

import math

import pytest

from app.enums import EffectType
from app.services.evidence import StandardError, standard_error

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal
Z90 = 1.6448536269514722  # the 95th
MD, RR, OR, D = (EffectType.MEAN_DIFFERENCE, EffectType.RISK_RATIO, EffectType.ODDS_RATIO,
                 EffectType.COHENS_D)


def se_of(effect_type: EffectType, value: float, se: float | None = None,
          ci: tuple[float | None, float | None] = (None, None), level: float | None = None,
          n: tuple[int | None, int | None] = (None, None)) -> StandardError:
    return standard_error(effect_type, value, se, ci[0], ci[1], level, n[0], n[1])


def test_a_reported_standard_error_wins_over_the_ci_and_the_arm_sizes():
    assert se_of(MD, -5.0, se=0.5, ci=(-9.0, -1.0), n=(20, 20)) == StandardError(0.5, "reported")
    assert se_of(D, 0.5, se=2.5, n=(20, 20)) == StandardError(2.5, "reported")


def test_a_zero_standard_error_is_no_standard_error():
    found = se_of(MD, -5.0, se=0.0, ci=(-9.0, -1.0))
    assert found.how == "from_ci" and found.se == pytest.approx(8 / (2 * Z95), rel=1e-12)


@pytest.mark.parametrize("level, z", [(0.95, Z95), (None, Z95), (0.90, Z90)])
def test_a_difference_takes_its_standard_error_from_the_width_of_its_ci(level, z):
    found = se_of(MD, -5.0, ci=(-9.0, -1.0), level=level)
    assert found.how == "from_ci" and found.reason is None
    assert found.se == pytest.approx(8 / (2 * z), rel=1e-12)


@pytest.mark.parametrize("effect_type", [RR, OR])
def test_a_ratio_takes_its_standard_error_from_its_ci_on_the_log_scale(effect_type):
    found = se_of(effect_type, 0.5, ci=(0.25, 1.0))
    assert found.how == "from_ci"
    assert found.se == pytest.approx((math.log(1.0) - math.log(0.25)) / (2 * Z95), rel=1e-12)


@pytest.mark.parametrize("effect_type, value, ci", [
    (MD, -5.0, (-9.0, None)),   # one bound only
    (MD, -5.0, (None, -1.0)),
    (MD, -5.0, (-5.0, -5.0)),   # no width
    (RR, 0.5, (0.0, 1.0)),      # a ratio bound with no logarithm
    (RR, 0.5, (0.5, 0.5)),
])
def test_a_ci_that_gives_no_width_gives_no_standard_error(effect_type, value, ci):
    assert se_of(effect_type, value, ci=ci) == StandardError(
        None, None, "no SE and no CI to derive one from")


def test_a_standardized_difference_falls_back_on_its_arm_sizes():
    # Hedges & Olkin: var(d) = (n1 + n2)/(n1·n2) + d²/(2·(n1 + n2)).
    found = se_of(D, 0.5, n=(20, 30))
    assert found.how == "from_sample_sizes"
    assert found.se == pytest.approx(math.sqrt(50 / 600 + 0.25 / 100), rel=1e-12)


@pytest.mark.parametrize("n", [(20, None), (None, 30), (0, 30), (None, None)])
def test_a_standardized_difference_needs_both_arm_sizes(n):
    assert se_of(D, 0.5, n=n) == StandardError(
        None, None, "no SE, no CI and no arm sizes to derive one from")


def test_an_estimate_at_the_poolable_bound_pools_and_one_beyond_it_does_not():
    assert se_of(MD, 1e100, se=1.0) == StandardError(1.0, "reported")
    assert se_of(MD, -1e100, se=1.0) == StandardError(1.0, "reported")
    assert se_of(MD, 2e100, se=1.0) == StandardError(
        None, None, "the estimate is too large to pool (beyond ±1e+100 on the pooling scale)")


def test_a_ratio_is_bounded_on_its_log_scale():
    # log(1e150) is about 345: far inside the bound, although the ratio itself is not.
    assert se_of(RR, 1e150, se=0.1) == StandardError(0.1, "reported")


@pytest.mark.parametrize("se, poolable", [(1e-50, True), (1e100, True), (1e-51, False),
                                          (2e100, False)])
def test_a_standard_error_is_poolable_within_its_bounds_inclusive(se, poolable):
    found = se_of(MD, 1.0, se=se)
    if poolable:
        assert found == StandardError(se, "reported")
    else:
        assert found == StandardError(None, None, "its standard error (reported) is too large "
                                      "or too small to pool (outside 1e-50 to 1e+100)")


def test_a_standard_error_from_the_ci_names_where_it_came_from_when_it_is_out_of_bounds():
    found = se_of(MD, 1.0, ci=(0.0, 1e120))
    assert found.reason == ("its standard error (from_ci) is too large or too small to pool "
                            "(outside 1e-50 to 1e+100)")
