"""Binary-outcome statistics (app/services/binary.py) against R's metafor.

The reference values are stored under tests/fixtures/metafor (regenerate with
tests/fixtures/metafor/generate.py); these tests need neither R nor a database.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pytest

from app.services.binary import aggregate, ci, escalc, mantel_haenszel, nnt
from app.services.evidence import meta_analyse

FIXTURES = Path(__file__).parent / "fixtures" / "metafor"


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


ESCALC = _load("escalc.json")
RMA_MH = _load("rma_mh.json")
AGGREGATE = _load("aggregate.json")


def _close(actual: float | None, expected: float | None, tol: float) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    return abs(actual - expected) <= tol


# ------------------------------------------------------------------ escalc


def _escalc_cases():
    for row in ESCALC["tables"]:
        for measure in ("RR", "OR", "RD"):
            label = f"{row['set']}:{row['label']}:{measure}"
            yield pytest.param(measure, row["table"], row[measure], id=label)


def test_the_fixtures_cover_zero_cells_and_both_metadat_sets():
    sets = {row["set"] for row in ESCALC["tables"]}
    assert {"extra", "dat.bcg", "dat.nielweise2007"} <= sets
    tables = [tuple(row["table"]) for row in ESCALC["tables"]]
    for table in [(10, 97, 43, 97), (43, 97, 10, 97), (0, 20, 5, 20), (0, 15, 0, 15),
                  (3, 3, 1, 10), (12, 12, 12, 12)]:
        assert table in tables
    assert ESCALC["source"]["metafor_version"]


@pytest.mark.parametrize(("measure", "table", "expected"), list(_escalc_cases()))
def test_escalc_matches_metafor(measure, table, expected):
    got = escalc(measure, *table)
    if expected["yi"] is None:
        assert got is None
        return
    assert got is not None
    yi, vi = got
    assert abs(yi - expected["yi"]) <= 1e-9
    assert abs(vi - expected["vi"]) <= 1e-9


def test_the_correction_applies_to_every_measure_and_only_to_tables_with_a_zero_cell():
    # 0/20 vs 5/20 becomes 0.5/21 vs 5.5/21 for all three measures
    yi, vi = escalc("RD", 0, 20, 5, 20)
    assert yi == pytest.approx((0.5 - 5.5) / 21)
    assert vi == pytest.approx((0.5 / 21) * (20.5 / 21) / 21 + (5.5 / 21) * (15.5 / 21) / 21)
    assert escalc("RR", 0, 20, 5, 20)[0] == pytest.approx(math.log(0.5 / 5.5))
    assert escalc("OR", 0, 20, 5, 20)[0] == pytest.approx(math.log((0.5 / 20.5) / (5.5 / 15.5)))
    assert escalc("RD", 1, 20, 5, 20)[0] == pytest.approx(-4 / 20)  # no zero cell: untouched


def test_escalc_without_the_correction_gives_none_where_metafor_gives_na():
    assert escalc("RR", 0, 20, 5, 20, add=0) is None
    assert escalc("OR", 3, 3, 1, 10, to="none") is None
    assert escalc("RD", 0, 20, 5, 20, to="none") == pytest.approx((-0.25, 0.25 * 0.75 / 20))


@pytest.mark.parametrize("bad", [(-1, 10, 2, 10), (11, 10, 2, 10), (1, 10, 12, 10)])
def test_escalc_rejects_impossible_counts(bad):
    with pytest.raises(ValueError):
        escalc("RR", *bad)
    with pytest.raises(ValueError):
        escalc("XX", 1, 10, 2, 10)


def test_ci_is_a_normal_interval_on_the_estimate_scale():
    low, high = ci(0.25, 0.01)
    assert low == pytest.approx(0.25 - 1.959963984540054 * 0.1)
    assert high == pytest.approx(0.25 + 1.959963984540054 * 0.1)
    low90, high90 = ci(0.25, 0.01, level=0.90)
    assert low < low90 < high90 < high


# ------------------------------------------------------------------ Mantel–Haenszel


MH_KEYS = ("estimate", "se", "ci_low", "ci_high", "z", "p_value", "q", "p_q", "i2", "h2")


@pytest.mark.parametrize("expected", RMA_MH["results"],
                         ids=[f"{r['set']}:{r['measure']}" for r in RMA_MH["results"]])
def test_mantel_haenszel_matches_rma_mh(expected):
    got = mantel_haenszel(expected["measure"], [tuple(t) for t in expected["tables"]])
    for key in MH_KEYS:
        assert _close(got[key], expected[key], 1e-6), key
    assert got["k"] == expected["k"]
    assert got["k_q"] == expected["k_q"]
    assert got["df"] == max(expected["k_q"] - 1, 0)
    if expected["estimate"] is not None:
        assert got["exp_estimate"] == pytest.approx(math.exp(expected["estimate"]), rel=1e-6)
        assert got["exp_ci_low"] == pytest.approx(math.exp(expected["ci_low"]), rel=1e-6)
        assert got["exp_ci_high"] == pytest.approx(math.exp(expected["ci_high"]), rel=1e-6)


def test_the_mh_fixtures_include_the_required_sets():
    sets = {(r["set"], r["measure"]) for r in RMA_MH["results"]}
    for name in ("dat.bcg", "dat.nielweise2007", "extra-zero-cells"):
        assert {(name, "RR"), (name, "OR")} <= sets


def test_mh_keeps_double_zero_tables_in_the_estimate_but_not_in_q():
    tables = [(0, 20, 5, 20), (3, 3, 1, 10), (12, 12, 12, 12)]
    rr = mantel_haenszel("RR", tables)
    assert rr["k"] == 3 and rr["k_q"] == 2 and rr["dropped_from_q"] == [2]
    # the all-events table (12/12 vs 12/12) still carries weight in the MH risk ratio
    without = mantel_haenszel("RR", tables[:2])
    assert abs(rr["estimate"] - without["estimate"]) > 0.1


def test_mh_estimate_is_none_when_undefined():
    result = mantel_haenszel("RR", [(0, 20, 5, 20), (0, 10, 3, 10)])
    assert result["estimate"] is None and result["exp_estimate"] is None
    assert result["q"] is None
    with pytest.raises(ValueError):
        mantel_haenszel("RD", [(1, 10, 2, 10)])


def test_mh_odds_ratio_is_none_when_no_table_has_discordant_cells():
    # No comparator events: every table's b·c is 0, so the MH odds ratio is infinite.
    result = mantel_haenszel("OR", [(3, 10, 0, 10), (2, 8, 0, 9)])
    assert result["estimate"] is None and result["se"] is None


def test_mh_odds_ratio_of_one_table_is_its_cross_product_ratio():
    # a=1, b=4, c=2, d=1: OR = (1·1)/(4·2) = 1/8, and the S sum b·c/n is exactly 1.
    result = mantel_haenszel("OR", [(1, 5, 2, 3)])
    assert result["estimate"] == pytest.approx(math.log(1 / 8), abs=1e-12)
    # Robins–Breslow–Greenland's variance of one table is Woolf's 1/a + 1/b + 1/c + 1/d.
    assert result["se"] == pytest.approx(math.sqrt(1 + 1 / 4 + 1 / 2 + 1), abs=1e-12)


# ------------------------------------------------------------------ aggregate


@pytest.mark.parametrize("case", AGGREGATE["aggregate"],
                         ids=[f"{c['set']}:rho={c['rho']}:{'w' if c['weighted'] else 'u'}"
                              for c in AGGREGATE["aggregate"]])
def test_aggregate_matches_metafor(case):
    yi, vi = aggregate(case["y"], case["v"], case["rho"], weighted=case["weighted"])
    assert abs(yi - case["yi"]) <= 1e-6
    assert abs(vi - case["vi"]) <= 1e-6


def test_the_aggregate_fixtures_cover_both_rhos_with_the_default_weighting():
    covered = {(c["rho"], c["weighted"]) for c in AGGREGATE["aggregate"]}
    assert {(0.6, True), (0.3, True)} <= covered


def test_aggregate_with_rho_zero_is_inverse_variance_and_rejects_a_singular_matrix():
    yi, vi = aggregate([1.0, 2.0], [0.1, 0.4], 0.0)
    assert yi == pytest.approx((1 / 0.1 + 2 / 0.4) / (1 / 0.1 + 1 / 0.4))
    assert vi == pytest.approx(1 / (1 / 0.1 + 1 / 0.4))
    with pytest.raises(ValueError):
        aggregate([1.0, 2.0], [0.1, 0.1], 1.0)


@pytest.mark.parametrize("case", AGGREGATE["rma_after_aggregate"],
                         ids=[c["set"] for c in AGGREGATE["rma_after_aggregate"]])
def test_dl_meta_analysis_after_aggregating_matches_rma(case):
    by_study: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in case["rows"]:
        yi, vi = escalc(case["measure"], *row["table"])
        assert abs(yi - row["yi"]) <= 1e-9 and abs(vi - row["vi"]) <= 1e-9
        by_study[row["study"]].append((yi, vi))
    ys, vs = [], []
    for expected in case["aggregated"]:
        pairs = by_study[expected["study"]]
        yi, vi = aggregate([p[0] for p in pairs], [p[1] for p in pairs], case["rho"])
        assert abs(yi - expected["yi"]) <= 1e-6
        assert abs(vi - expected["vi"]) <= 1e-6
        ys.append(yi)
        vs.append(vi)
    result = meta_analyse(ys, vs, method=case["method"])
    rma = case["rma"]
    assert abs(result["random"]["estimate"] - rma["estimate"]) <= 1e-6
    assert abs(result["random"]["se"] - rma["se"]) <= 1e-6
    assert abs(result["random"]["ci_low"] - rma["ci_lb"]) <= 1e-6
    assert abs(result["random"]["ci_high"] - rma["ci_ub"]) <= 1e-6
    assert abs(result["tau2"] - rma["tau2"]) <= 1e-6
    assert abs(result["q"] - rma["QE"]) <= 1e-6
    assert abs(result["i2"] - rma["I2"]) <= 1e-6


# ------------------------------------------------------------------ number needed to treat


def test_nnt_benefit_with_a_ci_that_excludes_zero():
    result = nnt(0.25, 0.1, 0.4, events_are_good=True)
    assert result["value"] == pytest.approx(4.0)
    assert result["kind"] == "NNTB"
    assert (result["ci_low_kind"], result["ci_high_kind"]) == ("NNTB", "NNTB")
    assert result["ci_low"] == pytest.approx(2.5)
    assert result["ci_high"] == pytest.approx(10.0)
    assert result["crosses_null"] is False
    assert result["wording"] == "NNTB 4.0 (95% CI NNTB 2.5 to NNTB 10.0)"


def test_bad_events_flip_the_kind():
    harm = nnt(0.25, 0.1, 0.4, events_are_good=False)
    assert harm["kind"] == "NNTH"
    assert harm["wording"] == "NNTH 4.0 (95% CI NNTH 2.5 to NNTH 10.0)"
    benefit = nnt(-0.25, -0.4, -0.1, events_are_good=False)
    assert benefit["kind"] == "NNTB"
    assert (benefit["ci_low"], benefit["ci_high"]) == pytest.approx((2.5, 10.0))
    assert nnt(-0.25, -0.4, -0.1, events_are_good=True)["kind"] == "NNTH"


def test_nnt_ci_through_infinity_when_the_rd_ci_includes_zero():
    result = nnt(0.2, -0.05, 0.5, events_are_good=True)
    assert result["value"] == pytest.approx(5.0)
    assert result["kind"] == "NNTB"
    assert result["crosses_null"] is True
    assert (result["ci_low_kind"], result["ci_low"]) == ("NNTH", pytest.approx(20.0))
    assert (result["ci_high_kind"], result["ci_high"]) == ("NNTB", pytest.approx(2.0))
    assert result["wording"] == "NNTB 5.0 (95% CI NNTH 20.0 to ∞ to NNTB 2.0)"
    # events bad: the same numbers mirrored, still written harm side first
    mirrored = nnt(-0.2, -0.5, 0.05, events_are_good=False)
    assert mirrored["wording"] == "NNTB 5.0 (95% CI NNTH 20.0 to ∞ to NNTB 2.0)"
    harmful = nnt(0.2, -0.05, 0.5, events_are_good=False)
    assert harmful["wording"] == "NNTH 5.0 (95% CI NNTH 2.0 to ∞ to NNTB 20.0)"


def test_nnt_of_no_difference_and_a_ci_bound_at_zero():
    none = nnt(0.0, -0.1, 0.2, events_are_good=True)
    assert math.isinf(none["value"]) and none["kind"] is None
    assert none["wording"].startswith("No difference in risk")
    assert "NNTH 10.0 to ∞ to NNTB 5.0" in none["wording"]
    edge = nnt(0.2, 0.0, 0.4, events_are_good=True, level=0.9)
    assert edge["ci_low"] == pytest.approx(2.5) and math.isinf(edge["ci_high"])
    assert edge["wording"] == "NNTB 5.0 (90% CI NNTB 2.5 to ∞)"
    with pytest.raises(ValueError):
        nnt(0.5, 0.1, 0.4, events_are_good=True)
