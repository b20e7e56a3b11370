"""Several correlated estimates of one study combined into one, as R's metafor does
(`aggregate.escalc` with struct = "CS", weighted = TRUE), checked against it through the
fixtures under tests/fixtures/metafor. Pooling uses it when a study gives several estimates
and the caller chose per_study=aggregate (DESIGN §2, one estimate per study per analysis).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _cholesky(m: list[list[float]]) -> list[list[float]]:
    """Lower-triangular L with L Lᵀ = m; ValueError when m is not positive definite."""
    n = len(m)
    low = [[0.0] * n for _ in range(n)]
    for j in range(n):
        diag = m[j][j] - sum(low[j][k] ** 2 for k in range(j))
        if diag <= 0 or not math.isfinite(diag):
            raise ValueError("the variance-covariance matrix is not positive definite")
        low[j][j] = math.sqrt(diag)
        for i in range(j + 1, n):
            low[i][j] = (m[i][j] - sum(low[i][k] * low[j][k] for k in range(j))) / low[j][j]
    return low


def _inverse(m: list[list[float]]) -> list[list[float]]:
    """The inverse of a symmetric positive definite matrix through its Cholesky factor:
    m⁻¹ = L⁻ᵀ L⁻¹ (what R's chol2inv(chol(m)) computes)."""
    n = len(m)
    low = _cholesky(m)
    inv_low = [[0.0] * n for _ in range(n)]  # L⁻¹ by forward substitution, column by column
    for col in range(n):
        for i in range(col, n):
            rhs = 1.0 if i == col else 0.0
            rhs -= sum(low[i][k] * inv_low[k][col] for k in range(col, i))
            inv_low[i][col] = rhs / low[i][i]
    return [[sum(inv_low[k][i] * inv_low[k][j] for k in range(max(i, j), n))
             for j in range(n)] for i in range(n)]


def aggregate(y: Sequence[float | None], v: Sequence[float | None], rho: float, *,
              weighted: bool = True) -> tuple[float, float]:
    """Several estimates `y` (sampling variances `v`) of one study combined into one
    (yi, vi), as metafor's `aggregate(escalc_object, cluster=study, rho=rho)` does with
    struct = "CS".

    The estimates are taken to be correlated with compound symmetry: V has vᵢ on the
    diagonal and rho·√(vᵢ vⱼ) off it. With weighted = True (metafor's default) the result is
    the generalized least squares estimate with W = V⁻¹: yi = 1ᵀW y / 1ᵀW 1 and
    vi = 1 / 1ᵀW 1. With weighted = False it is the plain mean and vi = 1ᵀV 1 / k².
    Pairs with a missing (None) estimate or variance are left out first (na.rm = TRUE).
    A single estimate is returned as it is. Raises ValueError when V is not positive
    definite (e.g. rho = 1 with two or more estimates) or rho lies outside [−1, 1].
    """
    if len(y) != len(v):
        raise ValueError("y and v must have the same length")
    if not -1 <= rho <= 1:
        raise ValueError("rho must lie in [-1, 1]")
    pairs = [(yi, vi) for yi, vi in zip(y, v, strict=True) if yi is not None and vi is not None]
    if not pairs:
        raise ValueError("need at least one estimate with a variance")
    if any(not (math.isfinite(yi) and math.isfinite(vi)) or vi < 0 for yi, vi in pairs):
        raise ValueError("estimates must be finite and variances not negative")
    ys = [yi for yi, _ in pairs]
    sd = [math.sqrt(vi) for _, vi in pairs]
    k = len(pairs)
    cov = [[sd[i] * sd[j] * (1.0 if i == j else rho) for j in range(k)] for i in range(k)]
    if not weighted:
        return sum(ys) / k, sum(map(sum, cov)) / k**2
    w = _inverse(cov)
    sum_w = sum(map(sum, w))
    return sum(sum(row[j] * ys[j] for j in range(k)) for row in w) / sum_w, 1 / sum_w
