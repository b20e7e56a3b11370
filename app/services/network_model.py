"""The contrast-based network meta-analysis model (generalised least squares).

Each study gives the contrasts between its arms' treatments (nodes) as a block: `y` (each the
first node minus the second), their within-study covariance `V` (multi-arm studies: the
shared arm's variance couples the contrasts that share it) and their design rows `X` over
the treatment effects relative to the reference. The random-effects model adds τ²·K to each
block, K the consistency structure of one common between-study variance: Var(δ) = τ² for
every contrast and Cov(δ_AB, δ_CD) = τ²/2 · ([A=C] − [A=D] − [B=C] + [B=D]), so two contrasts
of a multi-arm study against one shared arm correlate by ½ (metafor's `rma.mv` with
`random = ~ comp | study, rho = 1/2`). τ² by REML, or the generalised DerSimonian–Laird
moment estimator of Jackson, White and Riley (2012); the fixed-effect model is τ² = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from app.services import network_linalg as la
from app.services.network_linalg import Matrix, Vector


@dataclass(frozen=True)
class Contrast:
    """One estimate: treatment `first` minus treatment `second` (a log ratio for ratios)."""

    first: str
    second: str
    y: float


@dataclass
class StudyBlock:
    """One study's independent contrasts and their within-study covariance."""

    study: str
    contrasts: list[Contrast]
    cov: Matrix
    nodes: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        seen: dict[str, None] = {}
        for c in self.contrasts:
            seen.setdefault(c.first)
            seen.setdefault(c.second)
        self.nodes = tuple(seen)

    @property
    def design(self) -> tuple[str, ...]:
        return tuple(sorted(self.nodes))


def between_study_structure(contrasts: list[Contrast]) -> Matrix:
    """K: the between-study covariance of the contrasts per unit τ² (consistency model)."""
    def same(a: str, b: str) -> float:
        return 1.0 if a == b else 0.0

    return [[0.5 * (same(c.first, d.first) - same(c.first, d.second)
                    - same(c.second, d.first) + same(c.second, d.second))
             for d in contrasts] for c in contrasts]


@dataclass
class _Block:
    x: Matrix
    y: Vector
    v: Matrix
    k: Matrix
    # each row of x as its non-zero (column, value) entries: a contrast touches two columns
    sparse: list[list[tuple[int, float]]]

    def xt_m_x(self, m: Matrix, into: Matrix) -> None:
        """into += Xᵀ m X."""
        for i, row_i in enumerate(self.sparse):
            for j, row_j in enumerate(self.sparse):
                mij = m[i][j]
                if mij:
                    for ci, vi in row_i:
                        for cj, vj in row_j:
                            into[ci][cj] += vi * mij * vj

    def xt_v(self, v: Vector) -> Vector:
        out = [0.0] * len(self.x[0]) if self.x else []
        for row, vi in zip(self.sparse, v, strict=True):
            for c, val in row:
                out[c] += val * vi
        return out

    def x_v(self, coef: Vector) -> Vector:
        return [sum(val * coef[c] for c, val in row) for row in self.sparse]


@dataclass
class GlsFit:
    """A fitted model: effects relative to the reference and their covariance."""

    tau2: float
    coef: Vector
    cov: Matrix
    quad: float
    loglik_terms: tuple[float, float]


class Model:
    """The network's studies against an ordered list of treatments; column j of X is
    treatment j + 1 (treatment 0 is the reference)."""

    def __init__(self, blocks: list[StudyBlock], treatments: list[str]) -> None:
        self.treatments = treatments
        self.column = {t: i - 1 for i, t in enumerate(treatments)}
        self.p = len(treatments) - 1
        self.blocks = [self._block(b) for b in blocks]
        self.df = sum(len(b.y) for b in self.blocks) - self.p

    def _row(self, c: Contrast) -> Vector:
        row = [0.0] * self.p
        if self.column[c.first] >= 0:
            row[self.column[c.first]] += 1.0
        if self.column[c.second] >= 0:
            row[self.column[c.second]] -= 1.0
        return row

    def _block(self, b: StudyBlock) -> _Block:
        rows = [self._row(c) for c in b.contrasts]
        return _Block(rows, [c.y for c in b.contrasts], b.cov,
                      between_study_structure(b.contrasts),
                      [[(j, v) for j, v in enumerate(row) if v] for row in rows])

    def _weights(self, tau2: float) -> list[Matrix]:
        out = []
        for b in self.blocks:
            sigma = [[b.v[i][j] + tau2 * b.k[i][j] for j in range(len(b.y))]
                     for i in range(len(b.y))]
            out.append(la.inverse(sigma))
        return out

    def fit(self, tau2: float, weights: list[Matrix] | None = None, *,
            with_cov: bool = True) -> GlsFit:
        """The GLS estimate at a given τ² (without the effects' covariance when the caller
        only needs the likelihood)."""
        weights = weights or self._weights(tau2)
        a = la.zeros(self.p, self.p)
        c = [0.0] * self.p
        logdet_sigma = 0.0
        for b, w in zip(self.blocks, weights, strict=True):
            b.xt_m_x(w, a)
            c = [ci + di for ci, di in zip(c, b.xt_v(la.matvec(w, b.y)), strict=True)]
            logdet_sigma -= la.logdet(w)
        coef = la.solve(a, c)
        quad = 0.0
        for b, w in zip(self.blocks, weights, strict=True):
            r = [yi - fi for yi, fi in zip(b.y, b.x_v(coef), strict=True)]
            quad += la.dot(r, la.matvec(w, r))
        cov = la.inverse(a) if with_cov else []
        return GlsFit(tau2, coef, cov, quad, (logdet_sigma, la.logdet(a)))

    def reml_loglik(self, tau2: float) -> float:
        fit = self.fit(tau2, with_cov=False)
        return -0.5 * (fit.loglik_terms[0] + fit.loglik_terms[1] + fit.quad)

    def _trace_terms(self, tau2: float) -> tuple[float, float, float]:
        """tr(W K), tr((XᵀWX)⁻¹ XᵀWKWX) and eᵀKe (e = W r) at τ², for the REML score and
        the moment estimator."""
        weights = self._weights(tau2)
        fit = self.fit(tau2, weights)
        tr_wk, inner, eke = 0.0, la.zeros(self.p, self.p), 0.0
        for b, w in zip(self.blocks, weights, strict=True):
            wk = la.matmul(w, b.k)
            tr_wk += sum(wk[i][i] for i in range(len(b.y)))
            b.xt_m_x(la.matmul(wk, w), inner)
            r = [yi - fi for yi, fi in zip(b.y, b.x_v(fit.coef), strict=True)]
            e = la.matvec(w, r)
            eke += la.dot(e, la.matvec(b.k, e))
        return tr_wk, la.trace_product(fit.cov, inner), eke

    def reml_score(self, tau2: float) -> float:
        """Derivative of the restricted log-likelihood in τ²."""
        tr_wk, tr_inner, eke = self._trace_terms(tau2)
        return 0.5 * (eke - tr_wk + tr_inner)

    def tau2_reml(self) -> float:
        """REML τ² ≥ 0: a geometric grid finds the basin of the global maximum (the
        likelihood can peak at zero and again inside), the score's root in it pins it."""
        ys = [y for b in self.blocks for y in b.y]
        vs = [b.v[i][i] for b in self.blocks for i in range(len(b.y))]
        mean = sum(ys) / len(ys)
        scale = max(sum((y - mean) ** 2 for y in ys) / max(len(ys) - 1, 1), max(vs), 1e-12)
        grid = [0.0] + [scale * 10 ** (e / 10) for e in range(-80, 11, 2)]
        liks = [self.reml_loglik(t) for t in grid]
        best = max(range(len(grid)), key=lambda i: liks[i])
        if best == 0 and self.reml_score(0.0) <= 0:
            return 0.0
        low = grid[best - 1] if best > 0 else 0.0
        high = grid[best + 1] if best + 1 < len(grid) else 2 * grid[best]
        while self.reml_score(high) > 0:
            high *= 2
        return _root(self.reml_score, low, high)

    def tau2_dl(self) -> float:
        """The generalised DerSimonian–Laird estimate: E[Q] = df + τ² tr(P K) solved for τ²
        at the fixed-effect weights, truncated at zero (Jackson, White and Riley 2012)."""
        if self.df <= 0:
            return 0.0
        q = self.fit(0.0).quad
        tr_wk, tr_inner, _ = self._trace_terms(0.0)
        denominator = tr_wk - tr_inner
        return max(0.0, (q - self.df) / denominator) if denominator > 0 else 0.0

    def effect(self, fit: GlsFit, first: str, second: str) -> tuple[float, float]:
        """`first` minus `second` with its variance."""
        i, j = self.column[first], self.column[second]
        est = (fit.coef[i] if i >= 0 else 0.0) - (fit.coef[j] if j >= 0 else 0.0)
        var = ((fit.cov[i][i] if i >= 0 else 0.0) + (fit.cov[j][j] if j >= 0 else 0.0)
               - (2 * fit.cov[i][j] if i >= 0 and j >= 0 else 0.0))
        return est, max(var, 0.0)


def _root(f: Callable[[float], float], low: float, high: float) -> float:
    """The root of a decreasing f with f(low) > 0 ≥ f(high): regula falsi with the Illinois
    step (superlinear), never leaving the bracket."""
    f_low, f_high = f(low), f(high)
    side = 0
    for _ in range(200):
        if high - low <= 1e-14 * max(1.0, high) or f_high == 0:
            break
        x = (low * f_high - high * f_low) / (f_high - f_low)
        if not low < x < high:
            x = (low + high) / 2
        fx = f(x)
        if fx > 0:
            low, f_low = x, fx
            if side == -1:
                f_high /= 2
            side = -1
        else:
            high, f_high = x, fx
            if side == 1:
                f_low /= 2
            side = 1
    return high if f_high == 0 else (low + high) / 2


def within_design_q(blocks: list[StudyBlock]) -> tuple[float, int]:
    """Q and df of the model in which every design has treatment effects of its own: the
    heterogeneity within designs (the rest of the total Q is between designs)."""
    by_design: dict[tuple[str, ...], list[StudyBlock]] = {}
    for b in blocks:
        by_design.setdefault(b.design, []).append(b)
    q, df = 0.0, 0
    for design, group in by_design.items():
        model = Model(group, list(design))
        if model.df > 0:
            q += model.fit(0.0).quad
            df += model.df
    return q, df


def study_contrast(block: StudyBlock, first: str, second: str) -> tuple[float, float] | None:
    """The study's own `first` − `second` contrast (a path through its independent
    contrasts) with its within-study variance; None when the study lacks either node."""
    if first not in block.nodes or second not in block.nodes:
        return None
    edges: dict[str, list[tuple[str, int, float]]] = {}
    for idx, c in enumerate(block.contrasts):
        edges.setdefault(c.first, []).append((c.second, idx, -1.0))
        edges.setdefault(c.second, []).append((c.first, idx, 1.0))
    # walk from `second` to `first`; each step adds (next node − node)
    paths: dict[str, list[float]] = {second: [0.0] * len(block.contrasts)}
    queue = [second]
    while queue:
        node = queue.pop(0)
        for other, idx, sign in edges.get(node, []):
            if other not in paths:
                weights = list(paths[node])
                weights[idx] += sign
                paths[other] = weights
                queue.append(other)
    weights = paths[first]
    y = sum(w * c.y for w, c in zip(weights, block.contrasts, strict=True))
    var = la.dot(weights, la.matvec(block.cov, weights))
    return y, var


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def p_scores(model: Model, fit: GlsFit, higher_better: bool) -> dict[str, float]:
    """Rücker and Schwarzer's P-scores: the mean one-sided probability that a treatment is
    better than each other one."""
    sign = 1.0 if higher_better else -1.0
    out = {}
    n = len(model.treatments)
    for a in model.treatments:
        total = 0.0
        for b in model.treatments:
            if a != b:
                est, var = model.effect(fit, a, b)
                total += _normal_cdf(sign * est / math.sqrt(var)) if var > 0 else (
                    1.0 if sign * est > 0 else 0.0 if sign * est < 0 else 0.5)
        out[a] = total / (n - 1)
    return out
