"""The little dense linear algebra a network meta-analysis needs, in plain Python.

Networks are small (a few dozen treatments, a few hundred contrasts, fitted study block by
study block), so symmetric positive definite solves by Cholesky are enough and the service
carries no numerical library.
"""

from __future__ import annotations

import math

Matrix = list[list[float]]
Vector = list[float]


class SingularMatrix(ValueError):
    """A matrix that should be positive definite is not (to working precision)."""


def zeros(rows: int, cols: int) -> Matrix:
    return [[0.0] * cols for _ in range(rows)]


def transpose(a: Matrix) -> Matrix:
    return [list(col) for col in zip(*a, strict=True)] if a else []


def matmul(a: Matrix, b: Matrix) -> Matrix:
    bt = transpose(b)
    return [[sum(x * y for x, y in zip(row, col, strict=True)) for col in bt] for row in a]


def matvec(a: Matrix, v: Vector) -> Vector:
    return [sum(x * y for x, y in zip(row, v, strict=True)) for row in a]


def dot(u: Vector, v: Vector) -> float:
    return sum(x * y for x, y in zip(u, v, strict=True))


def add_into(target: Matrix, a: Matrix, scale: float = 1.0) -> None:
    for row_t, row_a in zip(target, a, strict=True):
        for j, x in enumerate(row_a):
            row_t[j] += scale * x


def cholesky(a: Matrix) -> Matrix:
    """The lower triangular L with L·Lᵀ = a (a symmetric positive definite)."""
    n = len(a)
    low = zeros(n, n)
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if s <= 0 or not math.isfinite(s):
                    raise SingularMatrix("matrix is not positive definite")
                low[i][i] = math.sqrt(s)
            else:
                low[i][j] = s / low[j][j]
    return low


def _solve_lower(low: Matrix, b: Vector) -> Vector:
    x: Vector = []
    for i, row in enumerate(low):
        x.append((b[i] - sum(row[k] * x[k] for k in range(i))) / row[i])
    return x


def _solve_upper_t(low: Matrix, b: Vector) -> Vector:
    n = len(low)
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (b[i] - sum(low[k][i] * x[k] for k in range(i + 1, n))) / low[i][i]
    return x


def solve(a: Matrix, b: Vector) -> Vector:
    """x with a·x = b, a symmetric positive definite."""
    low = cholesky(a)
    return _solve_upper_t(low, _solve_lower(low, b))


def inverse(a: Matrix) -> Matrix:
    """The inverse of a symmetric positive definite matrix."""
    low = cholesky(a)
    n = len(a)
    cols = [_solve_upper_t(low, _solve_lower(low, [1.0 if i == j else 0.0 for i in range(n)]))
            for j in range(n)]
    inv = transpose(cols)
    return [[(inv[i][j] + inv[j][i]) / 2 for j in range(n)] for i in range(n)]


def logdet(a: Matrix) -> float:
    """log |a| of a symmetric positive definite matrix."""
    return 2 * sum(math.log(row[i]) for i, row in enumerate(cholesky(a)))


def trace_product(a: Matrix, b: Matrix) -> float:
    """tr(a·b) without forming the product."""
    return sum(a[i][k] * b[k][i] for i in range(len(a)) for k in range(len(b)))
