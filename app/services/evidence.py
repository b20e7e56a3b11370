"""Effect sizes and their pooling.

Pure functions on numbers — Hedges' g from arm summaries, the standard error of an estimate
by the rules of DESIGN §2, and inverse-variance meta-analysis (fixed effect; random effects by
DerSimonian–Laird or REML, optionally with the Hartung–Knapp adjustment; prediction interval) —
plus Hedges' g, which app.services.computed uses for the effects a study's arm results allow.

Sign convention (docs/evidence.md): differences and ratios are experimental versus comparator
on the outcome's own scale (E − C, E / C); standardized effects (d, g, SMD) are oriented so that
a positive value favours the experimental arm, as trials report them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from app.enums import (
    RATIO_EFFECTS,
    STANDARDIZED_EFFECTS,
    EffectType,
)
from app.errors import UnprocessableContent
from app.services.distributions import (
    chi2_sf,
    normal_quantile,
    normal_two_sided_p,
    t_quantile,
    t_two_sided_p,
)

METHODS = ("DL", "REML")


# ------------------------------------------------------------------ effect sizes


def smd_variance(d: float, n1: int, n2: int) -> float:
    """Large-sample variance of a standardized mean difference (Hedges & Olkin)."""
    return (n1 + n2) / (n1 * n2) + d * d / (2 * (n1 + n2))


def hedges_g(n1: int, mean1: float, sd1: float, n2: int, mean2: float, sd2: float,
             lower_is_better: bool) -> tuple[float, float] | None:
    """Hedges' g of arm 1 (experimental) against arm 2 (comparator) and its variance.

    Positive favours arm 1: the mean difference is negated when lower scores are better.
    None when the numbers cannot give one (fewer than two per arm, no spread).
    """
    if n1 < 2 or n2 < 2:
        return None
    df = n1 + n2 - 2
    pooled_sd = math.sqrt(((n1 - 1) * sd1 * sd1 + (n2 - 1) * sd2 * sd2) / df)
    if pooled_sd <= 0:
        return None
    d = (mean1 - mean2) / pooled_sd
    if lower_is_better:
        d = -d
    j = 1 - 3 / (4 * df - 1)
    g, variance = j * d, j * j * smd_variance(d, n1, n2)
    if not (math.isfinite(g) and math.isfinite(variance)):
        return None  # scores so large that their squares overflow
    return g, variance


@dataclass(frozen=True)
class StandardError:
    se: float | None
    how: str | None  # "reported", "from_ci", "from_sample_sizes"
    reason: str | None = None


# Pooling squares estimates and inverts squared SEs, then sums them: beyond these bounds the
# sums overflow (1e300 squared is infinite) and the pooled figures would be meaningless.
POOLABLE_MAGNITUDE = 1e100
POOLABLE_SE = (1e-50, 1e100)


def standard_error(effect_type: EffectType, value: float, se: float | None,
                   ci_low: float | None, ci_high: float | None, ci_level: float | None,
                   n_experimental: int | None, n_comparator: int | None) -> StandardError:
    """The SE to pool an estimate with (log scale for ratio measures), by the DESIGN §2 rules:
    reported SE, else from the CI, else for standardized differences from the arm sizes.
    An estimate or SE too large (or an SE too small) to square and invert is not poolable."""
    found = _standard_error(effect_type, value, se, ci_low, ci_high, ci_level,
                            n_experimental, n_comparator)
    if found.se is None:
        return found
    y = pooling_scale(effect_type, value)
    if y is not None and not abs(y) <= POOLABLE_MAGNITUDE:
        return StandardError(None, None, f"the estimate is too large to pool (beyond "
                                         f"±{POOLABLE_MAGNITUDE:g} on the pooling scale)")
    if not POOLABLE_SE[0] <= found.se <= POOLABLE_SE[1]:
        return StandardError(None, None, f"its standard error ({found.how}) is too large or "
                                         f"too small to pool (outside {POOLABLE_SE[0]:g} to "
                                         f"{POOLABLE_SE[1]:g})")
    return found


def _standard_error(effect_type: EffectType, value: float, se: float | None,
                    ci_low: float | None, ci_high: float | None, ci_level: float | None,
                    n_experimental: int | None, n_comparator: int | None) -> StandardError:
    if se is not None and se > 0:
        return StandardError(se, "reported")
    if ci_low is not None and ci_high is not None:
        z = normal_quantile(0.5 + (ci_level or 0.95) / 2)
        if effect_type in RATIO_EFFECTS:
            if ci_low > 0 and ci_high > ci_low:
                return StandardError((math.log(ci_high) - math.log(ci_low)) / (2 * z), "from_ci")
        elif ci_high > ci_low:
            return StandardError((ci_high - ci_low) / (2 * z), "from_ci")
    if effect_type in STANDARDIZED_EFFECTS:
        if n_experimental and n_comparator:
            return StandardError(
                math.sqrt(smd_variance(value, n_experimental, n_comparator)),
                "from_sample_sizes")
        return StandardError(None, None, "no SE, no CI and no arm sizes to derive one from")
    return StandardError(None, None, "no SE and no CI to derive one from")


def pooling_scale(effect_type: EffectType, value: float) -> float | None:
    """The value on the scale it is pooled on: log for ratio measures (None if not positive)."""
    if effect_type in RATIO_EFFECTS:
        return math.log(value) if value > 0 else None
    return value


# ------------------------------------------------------------------ meta-analysis


def _weighted(y: list[float], w: list[float]) -> tuple[float, float]:
    total = sum(w)
    return sum(wi * yi for wi, yi in zip(w, y, strict=True)) / total, total


def _tau2_dl(y: list[float], v: list[float]) -> float:
    w = [1 / vi for vi in v]
    mu, sw = _weighted(y, w)
    q = sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, y, strict=True))
    c = sw - sum(wi * wi for wi in w) / sw
    return max(0.0, (q - (len(y) - 1)) / c)


def _reml_loglik(y: list[float], v: list[float], tau2: float) -> float:
    w = [1 / (vi + tau2) for vi in v]
    mu, sw = _weighted(y, w)
    return -0.5 * (sum(math.log(vi + tau2) for vi in v) + math.log(sw)
                   + sum(wi * (yi - mu) ** 2 for wi, yi in zip(w, y, strict=True)))


def _reml_score(y: list[float], v: list[float], tau2: float) -> float:
    """Derivative of the REML log-likelihood in τ²."""
    w = [1 / (vi + tau2) for vi in v]
    mu, sw = _weighted(y, w)
    return 0.5 * (sum(wi * wi * (yi - mu) ** 2 for wi, yi in zip(w, y, strict=True))
                  - sw + sum(wi * wi for wi in w) / sw)


def _tau2_reml(y: list[float], v: list[float]) -> tuple[float, int]:
    """REML between-study variance (τ² ≥ 0) and the bisection steps it took.

    The likelihood can have a local maximum at zero and its global one inside, and Fisher
    scoring can crawl when one study dominates, so: a geometric grid finds the basin of the
    global maximum, then bisection on the score (the likelihood's derivative) pins it down."""
    mean_y = sum(y) / len(y)
    scale = max(sum((yi - mean_y) ** 2 for yi in y) / (len(y) - 1), max(v), 1e-12)
    grid = [0.0] + [scale * 10 ** (e / 10) for e in range(-80, 11)]
    best = max(range(len(grid)), key=lambda i: _reml_loglik(y, v, grid[i]))
    if best == 0 and _reml_score(y, v, 0.0) <= 0:
        return 0.0, 0
    low = grid[best - 1] if best > 0 else 0.0
    high = grid[best + 1] if best + 1 < len(grid) else 2 * grid[best]
    while _reml_score(y, v, high) > 0:
        high *= 2
    steps = 0
    while high - low > 1e-15 * max(1.0, high) and steps < 200:
        steps += 1
        middle = (low + high) / 2
        if _reml_score(y, v, middle) > 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2, steps


def _summary(estimate: float, se: float, level: float, t_df: int | None = None
             ) -> dict[str, Any]:
    if t_df is None:
        crit = normal_quantile(0.5 + level / 2)
        stat = estimate / se if se > 0 else math.inf
        p = normal_two_sided_p(stat) if se > 0 else 0.0
        return {"estimate": estimate, "se": se, "ci_low": estimate - crit * se,
                "ci_high": estimate + crit * se, "z": stat, "t": None, "t_df": None,
                "p_value": p}
    crit = t_quantile(0.5 + level / 2, t_df)
    stat = estimate / se if se > 0 else math.inf
    p = t_two_sided_p(stat, t_df) if se > 0 else 0.0
    return {"estimate": estimate, "se": se, "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se, "z": None, "t": stat, "t_df": t_df, "p_value": p}


def meta_analyse(y: list[float], v: list[float], *, method: str = "DL",
                 hartung_knapp: bool = False, level: float = 0.95) -> dict[str, Any]:
    """Inverse-variance pooling of estimates `y` with within-study variances `v`.

    Fixed effect always; random effects with τ² by DerSimonian–Laird or REML. Q, I² = (Q − df)/Q
    (floored at 0) and H² = Q/df describe heterogeneity whatever the τ² estimator. Hartung–Knapp
    replaces the random-effects SE by the weighted residual variance and uses t with k − 1 df.
    The prediction interval (Higgins 2009) is μ ± t(k − 2)·√(τ² + SE²), defined from k = 3.
    """
    k = len(y)
    if k < 2 or len(v) != k:
        raise ValueError("need at least two estimates with variances")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}")
    try:
        result = _meta_analyse(y, v, method, hartung_knapp, level)
    except (OverflowError, ZeroDivisionError):
        result = None
    if result is None or not _finite(result):
        raise UnprocessableContent(
            "the estimates are too far apart in scale to pool: the sums of their weighted "
            "squares overflow", k=k)
    return result


def _finite(result: dict[str, Any]) -> bool:
    """Whether the pooled figures are numbers (a z of infinity for a zero SE is one)."""
    figures = [result["q"], result["tau2"], *result["weights_fixed"],
               *result["weights_random"]]
    for model in ("fixed", "random"):
        figures += [result[model][name] for name in ("estimate", "se", "ci_low", "ci_high")]
    if result["prediction_interval"]:
        figures += [result["prediction_interval"]["low"], result["prediction_interval"]["high"]]
    return all(math.isfinite(x) for x in figures)


def _meta_analyse(y: list[float], v: list[float], method: str, hartung_knapp: bool,
                  level: float) -> dict[str, Any]:
    k = len(y)
    w_fe = [1 / vi for vi in v]
    mu_fe, sw_fe = _weighted(y, w_fe)
    q = sum(wi * (yi - mu_fe) ** 2 for wi, yi in zip(w_fe, y, strict=True))
    df = k - 1
    iterations = None
    if method == "DL":
        tau2 = _tau2_dl(y, v)
    else:
        tau2, iterations = _tau2_reml(y, v)
    w_re = [1 / (vi + tau2) for vi in v]
    mu_re, sw_re = _weighted(y, w_re)
    se_re = math.sqrt(1 / sw_re)
    if hartung_knapp:
        se_re = math.sqrt(sum(wi * (yi - mu_re) ** 2 for wi, yi in zip(w_re, y, strict=True))
                          / (df * sw_re))
        random = _summary(mu_re, se_re, level, t_df=df)
    else:
        random = _summary(mu_re, se_re, level)
    prediction = None
    if k >= 3:
        crit = t_quantile(0.5 + level / 2, k - 2)
        half = crit * math.sqrt(tau2 + se_re * se_re)
        prediction = {"low": mu_re - half, "high": mu_re + half, "df": k - 2}
    return {
        "k": k, "method": method, "hartung_knapp": hartung_knapp, "ci_level": level,
        "random": random,
        "fixed": _summary(mu_fe, math.sqrt(1 / sw_fe), level),
        "q": q, "df": df, "p_q": chi2_sf(q, df),
        "i2": max(0.0, (q - df) / q) * 100 if q > 0 else 0.0,
        "h2": q / df,
        "tau2": tau2, "tau": math.sqrt(tau2), "tau2_iterations": iterations,
        "prediction_interval": prediction,
        "weights_fixed": [100 * wi / sw_fe for wi in w_fe],
        "weights_random": [100 * wi / sw_re for wi in w_re],
    }
