"""Effect sizes and pooling for binary (counted) outcomes, in pure Python.

A 2×2 table is given as (ai, n1i, ci, n2i): ai events out of n1i in the experimental arm, ci
events out of n2i in the comparator arm (bi = n1i − ai and di = n2i − ci are the non-events).
Differences and ratios are experimental versus comparator (E − C, E / C), as everywhere in
the project.

The functions reproduce R's metafor (version 3.8.1) with its defaults, and are checked against
it through the fixtures under tests/fixtures/metafor:

- `escalc` — log risk ratio, log odds ratio and risk difference with their sampling variances
  (metafor's `escalc`: add = 1/2, to = "only0", drop00 = FALSE, vtype = "LS");
- `mantel_haenszel` — the Mantel–Haenszel pooled risk ratio or odds ratio with its
  heterogeneity statistics (metafor's `rma.mh`);
- `aggregate` — several correlated estimates of one study combined into one (metafor's
  `aggregate.escalc` with struct = "CS", weighted = TRUE), defined in services.aggregation;

plus `ci`, a normal confidence interval, and `nnt`, the number needed to treat from a risk
difference (Altman 1998).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.services.aggregation import aggregate as aggregate
from app.services.distributions import chi2_sf, normal_quantile, normal_two_sided_p

MEASURES = ("RR", "OR", "RD")
MH_MEASURES = ("RR", "OR")
ADD_TO = ("only0", "all", "none")

Table = tuple[float, float, float, float]


@dataclass(frozen=True)
class _Cells:
    """The four cells of a 2×2 table: a, b events and non-events (experimental), c, d
    (comparator)."""

    a: float
    b: float
    c: float
    d: float

    @classmethod
    def from_arms(cls, ai: float, n1i: float, ci: float, n2i: float) -> _Cells:
        values = (ai, n1i, ci, n2i)
        if any(not math.isfinite(x) for x in values):
            raise ValueError("counts and group sizes must be finite numbers")
        if ai < 0 or ci < 0:
            raise ValueError("event counts must not be negative")
        if ai > n1i or ci > n2i:
            raise ValueError("an event count is larger than its group size")
        return cls(ai, n1i - ai, ci, n2i - ci)

    @property
    def has_zero(self) -> bool:
        return 0 in (self.a, self.b, self.c, self.d)

    @property
    def double_zero(self) -> bool:
        """No events in both arms, or only events in both arms: uninformative about a ratio."""
        return (self.a == 0 and self.c == 0) or (self.b == 0 and self.d == 0)

    def plus(self, add: float) -> _Cells:
        return _Cells(self.a + add, self.b + add, self.c + add, self.d + add)


def _finite_pair(compute: Callable[[], tuple[float, float]]) -> tuple[float, float] | None:
    """Run `compute`; where R would produce ±Inf or NaN (and recode it to NA), give None."""
    try:
        yi, vi = compute()
    except (ZeroDivisionError, ValueError):
        return None
    if not (math.isfinite(yi) and math.isfinite(vi)) or vi < 0:
        return None
    return yi, vi


def _effect(measure: str, t: _Cells) -> tuple[float, float] | None:
    n1, n2 = t.a + t.b, t.c + t.d

    def rr() -> tuple[float, float]:
        p1, p2 = t.a / n1, t.c / n2
        return math.log(p1) - math.log(p2), 1 / t.a - 1 / n1 + 1 / t.c - 1 / n2

    def odds() -> tuple[float, float]:
        p1, p2 = t.a / n1, t.c / n2
        yi = math.log(p1 / (1 - p1)) - math.log(p2 / (1 - p2))
        return yi, 1 / t.a + 1 / t.b + 1 / t.c + 1 / t.d

    def rd() -> tuple[float, float]:
        p1, p2 = t.a / n1, t.c / n2
        return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2

    return _finite_pair({"RR": rr, "OR": odds, "RD": rd}[measure])


def escalc(measure: str, ai: float, n1i: float, ci: float, n2i: float,
           add: float = 0.5, to: str = "only0") -> tuple[float, float] | None:
    """The effect `yi` of one 2×2 table and its sampling variance `vi`, as metafor's
    `escalc(measure, ai=, n1i=, ci=, n2i=)` computes them with its defaults.

    - "RR": log risk ratio, log(p1) − log(p2), variance 1/a − 1/n1 + 1/c − 1/n2;
    - "OR": log odds ratio, variance 1/a + 1/b + 1/c + 1/d;
    - "RD": risk difference p1 − p2, variance p1(1 − p1)/n1 + p2(1 − p2)/n2 (vtype "LS").

    Zero cells: with to = "only0" (the default) `add` (1/2) is added to all four cells of a
    table that has at least one zero cell (events or non-events, in either arm); to = "all"
    adds it to every table, to = "none" never. As in metafor, the correction applies to all
    three measures — the risk difference too (it only sets `add` to 0 for measures such as
    "AS" and "PHI") — and to both yi and vi. A table with no events in both arms
    (0/n1 vs 0/n2) is not dropped (drop00 = FALSE): it gives a log RR and log OR of 0.

    Returns None only where metafor gives NA: where a value is infinite or undefined, which
    with the default correction cannot happen for a valid table (it can with add = 0 or
    to = "none", e.g. a log risk ratio with no events in one arm). Raises ValueError for
    counts that metafor rejects (negative, or larger than the group size).
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}")
    if to not in ADD_TO:
        raise ValueError(f"to must be one of {ADD_TO}")
    cells = _Cells.from_arms(ai, n1i, ci, n2i)
    if to == "all" or (to == "only0" and cells.has_zero):
        cells = cells.plus(add)
    return _effect(measure, cells)


def ci(yi: float, vi: float, level: float = 0.95) -> tuple[float, float]:
    """The normal confidence interval (low, high) of an estimate on its own (yi) scale."""
    if not 0 < level < 1:
        raise ValueError("level must lie between 0 and 1")
    half = normal_quantile(0.5 + level / 2) * math.sqrt(vi)
    return yi - half, yi + half


# ------------------------------------------------------------------ number needed to treat


def _fmt(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.1f}"


def _kind(x: float) -> str | None:
    return "NNTB" if x > 0 else "NNTH" if x < 0 else None


def _reciprocal(x: float) -> float:
    return math.inf if x == 0 else 1 / abs(x)


def nnt(rd: float, rd_ci_low: float, rd_ci_high: float, events_are_good: bool,
        level: float = 0.95) -> dict[str, Any]:
    """The number needed to treat from a risk difference and its confidence interval, by
    Altman's method (BMJ 1998;317:1309).

    `rd` is the experimental minus the comparator risk. It favours the experimental arm when
    it is positive and the events are good (e.g. response) or negative and the events are
    bad (e.g. relapse). On that benefit scale the absolute risk reduction is
    arr = rd (events good) or −rd (events bad), and:

    - `value` = 1/|rd|, `kind` "NNTB" (number needed to treat to benefit one more patient)
      when arr > 0, "NNTH" (number needed to treat to harm one more) when arr < 0;
    - when the CI of the difference excludes 0, the CI of the NNT is the reciprocals of the
      absolute CI bounds, sorted (`ci_low` ≤ `ci_high`), both of the same kind as the value;
    - when it includes 0 (`crosses_null`), the NNT's CI is not an interval of numbers but runs
      from one kind through infinity to the other. Following Altman, it is written in the
      order of the arr CI, from its lower (harm) bound to its upper (benefit) bound: `ci_low`
      is NNTH 1/|harm bound| and `ci_high` NNTB 1/benefit bound, so the wording is always
      "NNTH a to ∞ to NNTB b", whether the events are good or bad. A CI bound of exactly 0
      gives ∞ at that end;
    - rd = 0: `value` is infinite and `kind` None; the wording says there is no difference.

    `wording` rounds to one decimal, e.g. "NNTB 4.2 (95% CI NNTB 2.6 to NNTB 11.0)" or
    "NNTB 4.2 (95% CI NNTH 25.1 to ∞ to NNTB 2.0)".
    """
    values = (rd, rd_ci_low, rd_ci_high)
    if any(math.isnan(x) for x in values):
        raise ValueError("the risk difference and its CI must be numbers")
    if not rd_ci_low <= rd <= rd_ci_high:
        raise ValueError("the risk difference must lie within its CI")
    if not 0 < level < 1:
        raise ValueError("level must lie between 0 and 1")
    sign = 1 if events_are_good else -1
    arr = sign * rd
    arr_low, arr_high = sorted((sign * rd_ci_low, sign * rd_ci_high))
    value = _reciprocal(arr)
    low_kind, low, high_kind, high, ci_text = _nnt_interval(arr, arr_low, arr_high)
    percent = f"{level * 100:g}% CI"
    if arr == 0:
        wording = f"No difference in risk: NNT ∞ ({percent} {ci_text})"
    else:
        wording = f"{_kind(arr)} {_fmt(value)} ({percent} {ci_text})"
    return {
        "value": value, "kind": _kind(arr),
        "ci_low_kind": low_kind, "ci_low": low,
        "ci_high_kind": high_kind, "ci_high": high,
        "crosses_null": arr_low <= 0 <= arr_high,
        "wording": wording,
    }


def _nnt_interval(arr: float, arr_low: float, arr_high: float
                  ) -> tuple[str | None, float, str | None, float, str]:
    """The NNT's CI from the absolute risk reduction's (see `nnt`): each bound's kind and
    value, and its wording."""
    if arr_low > 0 or arr_high < 0:  # the CI excludes 0: an ordinary interval
        ci_kind = _kind(arr)
        low, high = sorted((_reciprocal(arr_low), _reciprocal(arr_high)))
        return ci_kind, low, ci_kind, high, f"{ci_kind} {_fmt(low)} to {ci_kind} {_fmt(high)}"
    if arr_low < 0 < arr_high:  # through infinity, harm side first
        low, high = _reciprocal(arr_low), _reciprocal(arr_high)
        return "NNTH", low, "NNTB", high, f"NNTH {_fmt(low)} to ∞ to NNTB {_fmt(high)}"
    if arr_low == arr_high == 0:
        return None, math.inf, None, math.inf, "∞ to ∞"
    # One bound is exactly 0: from the other bound's NNT out to infinity.
    bound = arr_high if arr_low == 0 else arr_low
    bound_kind, low = _kind(bound), _reciprocal(bound)
    return bound_kind, low, bound_kind, math.inf, f"{bound_kind} {_fmt(low)} to ∞"


# ------------------------------------------------------------------ Mantel–Haenszel


def _mh_or(tables: list[_Cells]) -> tuple[float, float] | None:
    """log MH odds ratio and its SE (Robins, Breslow & Greenland 1986)."""
    r_sum = s_sum = pr = ps_qr = qs = 0.0
    for t in tables:
        n = t.a + t.b + t.c + t.d
        p, q = t.a / n + t.d / n, t.b / n + t.c / n
        r, s = (t.a / n) * t.d, (t.b / n) * t.c
        r_sum += r
        s_sum += s
        pr += p * r
        ps_qr += p * s + q * r
        qs += q * s
    if r_sum == 0 or s_sum == 0:
        return None
    var = 0.5 * (pr / r_sum**2 + ps_qr / (r_sum * s_sum) + qs / s_sum**2)
    return math.log(r_sum / s_sum), math.sqrt(var)


def _mh_rr(tables: list[_Cells]) -> tuple[float, float] | None:
    """log MH risk ratio and its SE (Greenland & Robins 1985)."""
    if sum(t.a for t in tables) == 0 or sum(t.c for t in tables) == 0:
        return None
    r_sum = s_sum = num = 0.0
    for t in tables:
        n1, n2 = t.a + t.b, t.c + t.d
        n = n1 + n2
        r_sum += t.a * (n2 / n)
        s_sum += t.c * (n1 / n)
        num += (n1 / n) * (n2 / n) * (t.a + t.c) - (t.a / n) * t.c
    return math.log(r_sum / s_sum), math.sqrt(num / (r_sum * s_sum))


def mantel_haenszel(measure: str, tables: Sequence[Table], level: float = 0.95) -> dict[str, Any]:
    """The Mantel–Haenszel pooled risk ratio ("RR") or odds ratio ("OR") of 2×2 tables given
    as (ai, n1i, ci, n2i), as metafor's `rma.mh(measure, ai=, n1i=, ci=, n2i=)` computes it
    with its defaults.

    - The pooled estimate and its SE use the tables' counts as they are — no continuity
      correction (rma.mh's add = c(1/2, 0), to = c("only0", "none")) and no table dropped:
      a table with a zero cell simply contributes its (possibly zero) terms. Variances:
      Robins–Breslow–Greenland for the OR, Greenland–Robins for the RR.
    - The estimate is None (metafor: NA) when it is undefined: for the RR when there are no
      events in either arm over all tables; for the OR when Σ a·d/N or Σ b·c/N is 0.
    - Heterogeneity: Q = max(0, Σ wᵢ (yᵢ − μ̂)²) with μ̂ the MH estimate and yᵢ, vᵢ = 1/wᵢ the
      tables' own effects from `escalc` (1/2 added to each cell of a table with a zero cell),
      except that tables with no events in both arms or only events in both arms are left
      out of Q (escalc's drop00 = TRUE; their indices are in `dropped_from_q`). With
      k_q tables in Q, df = k_q − 1, p from χ²(df), I² = max(0, 100 (Q − df)/Q) and
      H² = Q/df; with k_q ≤ 1, Q = 0, p = 1, I² = 0 and H² = 1 (df reported as 0).
      Q, p, I² and H² are None when k_q > 1 and the estimate is undefined.

    Returns `measure`, `level`, `k` (tables), `k_q`, `dropped_from_q`, `estimate`, `se`,
    `ci_low`, `ci_high`, `z`, `p_value` (log scale), `exp_estimate`, `exp_ci_low`,
    `exp_ci_high` (ratio scale), `q`, `df`, `p_q`, `i2` (percent), `h2`.
    """
    if measure not in MH_MEASURES:
        raise ValueError(f"measure must be one of {MH_MEASURES}")
    if not 0 < level < 1:
        raise ValueError("level must lie between 0 and 1")
    cells = [_Cells.from_arms(*table) for table in tables]
    if not cells:
        raise ValueError("need at least one table")
    if any(t.a + t.b + t.c + t.d == 0 for t in cells):
        raise ValueError("a table has no participants")

    pooled = _mh_rr(cells) if measure == "RR" else _mh_or(cells)
    estimate = se = ci_low = ci_high = z = p_value = None
    if pooled is not None:
        estimate, se = pooled
        half = normal_quantile(0.5 + level / 2) * se
        ci_low, ci_high = estimate - half, estimate + half
        if se > 0:
            z = estimate / se
            p_value = normal_two_sided_p(z)

    def exp(x: float | None) -> float | None:
        return None if x is None else math.exp(x)

    het = _mh_heterogeneity(measure, cells, estimate)
    return {
        "measure": measure, "level": level,
        "k": len(cells), "k_q": het["k_q"], "dropped_from_q": het["dropped_from_q"],
        "estimate": estimate, "se": se, "ci_low": ci_low, "ci_high": ci_high,
        "z": z, "p_value": p_value,
        "exp_estimate": exp(estimate), "exp_ci_low": exp(ci_low), "exp_ci_high": exp(ci_high),
        **{name: het[name] for name in ("q", "df", "p_q", "i2", "h2")},
    }


def _mh_heterogeneity(measure: str, cells: list[_Cells], estimate: float | None
                      ) -> dict[str, Any]:
    """Q, its df and p, I² and H² of tables around the MH estimate (see `mantel_haenszel`),
    with which tables Q leaves out."""
    effects: list[tuple[float, float]] = []
    dropped: list[int] = []
    for i, t in enumerate(cells):
        effect = None if t.double_zero else escalc(measure, t.a, t.a + t.b, t.c, t.c + t.d)
        if effect is None:
            dropped.append(i)
        else:
            effects.append(effect)
    k_q = len(effects)
    df = max(k_q - 1, 0)
    q: float | None
    p_q: float | None
    i2: float | None
    h2: float | None
    if k_q <= 1:
        q, p_q, i2, h2 = 0.0, 1.0, 0.0, 1.0
    elif estimate is None:
        q = p_q = i2 = h2 = None
    else:
        q = max(0.0, sum((yi - estimate) ** 2 / vi for yi, vi in effects))
        p_q = chi2_sf(q, df)
        i2 = max(0.0, 100 * (q - df) / q) if q > 0 else 0.0
        h2 = q / df
    return {"k_q": k_q, "dropped_from_q": dropped, "q": q, "df": df, "p_q": p_q, "i2": i2,
            "h2": h2}
