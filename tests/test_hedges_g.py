"""Hedges' g computed from arm results, against the textbook formula written out here
(Hedges 1981: J = 1 − 3 / (4·df − 1) with df = n1 + n2 − 2, pooled SD, variance
(n1 + n2)/(n1·n2) + d²/(2(n1 + n2)) scaled by J²), through the API and directly."""

from __future__ import annotations

import math

import pytest

from app.services.binary import ci
from app.services.evidence import hedges_g
from tests.builders import study_document
from tests.evidence_helpers import store


def textbook(n1, m1, s1, n2, m2, s2, lower_is_better):
    df = n1 + n2 - 2
    sp = math.sqrt(((n1 - 1) * s1 ** 2 + (n2 - 1) * s2 ** 2) / df)
    d = (m1 - m2) / sp * (-1 if lower_is_better else 1)
    j = 1 - 3 / (4 * df - 1)
    return j * d, j * j * ((n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2)))


@pytest.mark.parametrize("arms", [
    (28, 20.5, 10.1, 27, 30.2, 11.0, True),
    (2, 1.0, 0.5, 2, 2.0, 0.7, False),
    (3, 10.0, 2.0, 2, 12.0, 3.0, True),
    (120, 5.0, 1.0, 80, 4.5, 1.2, False),
])
def test_hedges_g_equals_the_textbook_formula(arms):
    g, variance = hedges_g(*arms)
    ref_g, ref_v = textbook(*arms)
    assert g == pytest.approx(ref_g, rel=1e-12)
    assert variance == pytest.approx(ref_v, rel=1e-12)


@pytest.mark.parametrize("n1,n2", [(1, 30), (30, 1), (1, 1), (0, 5)])
def test_an_arm_of_fewer_than_two_gives_no_g(n1, n2):
    assert hedges_g(n1, 1.0, 1.0, n2, 2.0, 1.0, False) is None


def test_the_computed_g_of_a_written_study_is_the_textbook_value(client, curator):
    study = store(client, curator, study_document("hedges-1", nct="NCT09987701"))
    [computed] = [e for e in study["outcome_measures"][0]["effects"]
                  if e["origin"] == "COMPUTED" and e["effect_type"] == "HEDGES_G"]
    g, variance = textbook(28, 20.5, 10.1, 27, 30.2, 11.0, True)
    assert computed["value"] == pytest.approx(g, rel=1e-9)
    low, high = g - 1.959963984540054 * math.sqrt(variance), \
        g + 1.959963984540054 * math.sqrt(variance)
    assert [computed["ci_low"], computed["ci_high"]] == pytest.approx([low, high], rel=1e-6)


@pytest.mark.parametrize("level", [0, 1, -0.5, 1.5])
def test_a_confidence_level_outside_zero_and_one_is_refused(level):
    with pytest.raises(ValueError, match="level must lie between 0 and 1"):
        ci(0.5, 0.04, level)


def test_a_confidence_interval_is_symmetric_around_its_estimate():
    low, high = ci(0.5, 0.04, 0.95)
    assert (low, high) == pytest.approx((0.5 - 1.959963984540054 * 0.2,
                                         0.5 + 1.959963984540054 * 0.2), rel=1e-12)
