"""Measure how far honest implementations and typical bugs land from the reference, per code TODO.

The hidden checks compare a submission's values with the reference's (gradients with its analytic ones)
by the normalised difference max|got - expected| / max|expected| (coursekit/compare.py, imported here too).
Their tolerances (the TOL tables of instructor/hidden_tests/*.py, keyed by TODO id) must sit far above what correct code differs by (summation order, float32
rounding) and far below what wrong code differs by. This script measures both:

- honest variants of every function: other summation orders (loops, einsum, reversed axes), other
  algebraically equal formulas (E[x^2] - E[x]^2, the course's computation graphs, im2col products, the
  transposes the course suggests for layer and spatial batch norm), float32 computed in float32 or through
  float64;
- typical bugs: a missing term or factor, a wrong axis, a sign, eps outside the square root, an overwrite
  where windows overlap, a missing bias correction.

on inputs like the checks' (the course's check inputs, random shapes and scales, float64 and float32), and
prints per TODO id and dtype the largest honest difference, the smallest bug difference (each bug at its most
visible case, as a check fails on its worst case) and the configured tolerance, with the margins.

The checks draw their inputs afresh for every grading (Tester.rng), so a tolerance must hold for every draw:
the random inputs here are drawn from several random salts (printed, to reproduce a run with --salt), the
honest noise taken at its largest over all of them and each bug at its least visible salt. The script exits
1 when a tolerance is less than MARGIN times above the honest noise, or less than MARGIN times below the
smallest float64 bug, or when a TOL entry of the checks (a float32 one included) was not measured at all.

    python instructor/tools/measure_tolerances.py                # 4 random salts
    python instructor/tools/measure_tolerances.py --salts 10     # more draws
    python instructor/tools/measure_tolerances.py --salt 1234    # one given salt, to reproduce a run
"""

import argparse
import copy
import importlib.util
import secrets
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "instructor"))

from coursekit.compare import difference, grads_floor  # noqa: E402

from cs231n import layers as L  # noqa: E402
from cs231n import optim as O  # noqa: E402
from cs231n.classifiers import cnn, fc_net, neural_net  # noqa: E402
from cs231n.fast_layers import max_pool_forward_fast  # noqa: E402
from cs231n.layer_utils import affine_relu_backward, affine_relu_forward, conv_relu_forward  # noqa: E402

F32, F64 = np.float32, np.float64
MARGIN = 30.0
# The measures return their rows keyed by TODO id (grading.toml's), as the checks' TOL tables are.
LAYERS = "cs231n/layers.py::"


# The salt the random cases of the current pass are drawn from (main sets it); case_rng(n) is the generator
# of case family n under it, as Tester.rng(n) is a check's under a grading's salt.
SALT = [0]


def case_rng(n):
    return np.random.default_rng([SALT[0], n])


def diff(got, expected):
    """The checks' measure (compare.difference): inf for a shape mismatch or NaN."""
    return difference(got, expected)


def diff_all(got, expected):
    """Largest diff over the outputs of a function (tuples, dicts of gradients as _support.expect_grads measures
    them, scalars)."""
    if isinstance(expected, dict):
        floor = grads_floor(expected)
        return max(difference(got[k], v, floor) for k, v in expected.items())
    if isinstance(expected, tuple | list):
        return max(diff_all(g, e) for g, e in zip(got, expected))
    return difference(got, expected)


def f64(fn):
    """An honest float32 variant: compute in float64, hand back the input's dtype."""

    def run(*args):
        dtype = next((a.dtype for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"), F64)
        return _cast(fn(*_up(args)), dtype)

    run.__name__ = f"{fn.__name__} via float64"
    return run


def _up(value):
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(F64)
    if isinstance(value, tuple | list):
        return type(value)(_up(v) for v in value)
    return value


def _cast(out, dtype):
    if isinstance(out, np.ndarray):
        return out.astype(dtype)
    if isinstance(out, tuple | list):
        return type(out)(_cast(o, dtype) for o in out)
    return out


def rng_normal(rng, shape, dtype=F64, scale=1.0, shift=0.0):
    return (shift + scale * rng.standard_normal(shape)).astype(dtype)


# -- affine / relu --------------------------------------------------------------------------------------------


def affine_cases():
    rng = case_rng(1)
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    cases = [(x, np.linspace(-0.2, 0.3, num=360).reshape(120, 3), np.linspace(-0.3, 0.1, num=3))]
    for shape, M, dtype in (((1, 7), 3, F64), ((2, 3, 5), 6, F64), ((10, 2, 3), 5, F64), ((5, 3, 4), 7, F32),
                            ((6, 2, 4), 5, F32)):
        D = int(np.prod(shape[1:]))
        cases.append((rng_normal(rng, shape, dtype), rng_normal(rng, (D, M), dtype), rng_normal(rng, (M,), dtype)))
    return cases


def affine_forward_einsum(x, w, b):
    return np.einsum("nd,dm->nm", x.reshape(x.shape[0], -1), w) + b


def affine_forward_rows(x, w, b):
    return np.stack([row.ravel() @ w for row in x]) + b


def affine_forward_transposed(x, w, b):
    return (w.T @ x.reshape(x.shape[0], -1).T).T + b


def affine_forward_no_bias(x, w, b):
    return x.reshape(x.shape[0], -1) @ w


def affine_forward_fortran(x, w, b):
    return x.reshape(x.shape[0], -1, order="F") @ w + b


def affine_backward_variants():
    def einsum(dout, cache):
        x, w, b = cache
        xr = x.reshape(x.shape[0], -1)
        return np.einsum("nm,dm->nd", dout, w).reshape(x.shape), np.einsum("nd,nm->dm", xr, dout), np.einsum("nm->m", dout)

    def loops(dout, cache):
        x, w, b = cache
        xr = x.reshape(x.shape[0], -1)
        dw = np.zeros_like(w)
        for i in reversed(range(x.shape[0])):
            dw += np.outer(xr[i], dout[i])
        db = np.zeros_like(b)
        for row in dout[::-1]:
            db += row
        return np.stack([w @ row for row in dout]).reshape(x.shape), dw, db

    def db_mean(dout, cache):
        dx, dw, db = L.affine_backward(dout, cache)
        return dx, dw, dout.mean(axis=0)

    def dw_over_n(dout, cache):
        dx, dw, db = L.affine_backward(dout, cache)
        return dx, dw / dout.shape[0], db

    def dx_fortran(dout, cache):
        x, w, b = cache
        dx, dw, db = L.affine_backward(dout, cache)
        return (dout @ w.T).reshape(x.shape, order="F"), dw, db

    return [einsum, loops, f64(einsum)], [db_mean, dw_over_n, dx_fortran]


def backward_rows(forward, variants, cases, douts=None):
    """Rows (variant, dtype, diff) of backward variants on the reference forward's cache."""
    rng = case_rng(7)
    rows = []
    for case in cases:
        out, cache = forward(*copy.deepcopy(case))
        dout = rng_normal(rng, np.shape(out), np.asarray(out).dtype)
        expected = variants[0](dout, cache)
        for variant in variants[1:]:
            rows.append((variant.__name__, np.asarray(out).dtype, diff_all(variant(dout, copy.deepcopy(cache)), expected)))
    return rows


def forward_rows(reference, variants, cases, take=lambda r: r[0]):
    rows = []
    for case in cases:
        expected = take(reference(*copy.deepcopy(case)))
        dtype = next(a.dtype for a in case if isinstance(a, np.ndarray))
        for variant in variants:
            got = variant(*copy.deepcopy(case))
            rows.append((variant.__name__, dtype, diff_all(got[0] if isinstance(got, tuple) else got, expected)))
    return rows


def measure_affine():
    cases = affine_cases()
    fwd_ok = [affine_forward_einsum, affine_forward_rows, affine_forward_transposed, f64(affine_forward_einsum)]
    fwd_bug = [affine_forward_no_bias, affine_forward_fortran]
    ok, bug = affine_backward_variants()
    return {
        LAYERS + "affine_forward": (forward_rows(L.affine_forward, fwd_ok, cases),
                           forward_rows(L.affine_forward, fwd_bug, cases)),
        LAYERS + "affine_backward": (backward_rows(L.affine_forward, [L.affine_backward, *ok], cases),
                            backward_rows(L.affine_forward, [L.affine_backward, *bug], cases)),
    }


def measure_relu():
    rng = case_rng(2)
    cases = [(np.linspace(-0.5, 0.5, num=12).reshape(3, 4),)]
    cases += [(rng_normal(rng, s, d),) for s, d in (((5,), F64), ((2, 3, 4), F64), ((10, 10), F64), ((4, 6), F32))]

    def where(x):
        return np.where(x > 0, x, 0).astype(x.dtype)

    def clip(x):
        return np.clip(x, 0, None)

    def mask(x):
        return x * (x > 0)

    def leaky(x):
        return np.where(x > 0, x, 0.01 * x)

    def absolute(x):
        return np.abs(x)

    def b_where(dout, cache):
        return np.where(cache[0] > 0, dout, 0).astype(dout.dtype)

    def b_copy(dout, cache):
        dx = dout.copy()
        dx[cache[0] <= 0] = 0
        return dx

    def b_wrong_side(dout, cache):
        return dout * (cache[0] < 0)

    def b_times_x(dout, cache):
        return dout * np.maximum(cache[0], 0)

    return {
        LAYERS + "relu_forward": (forward_rows(L.relu_forward, [where, clip, mask], cases),
                         forward_rows(L.relu_forward, [leaky, absolute], cases)),
        LAYERS + "relu_backward": (backward_rows(L.relu_forward, [L.relu_backward, b_where, b_copy], cases),
                          backward_rows(L.relu_forward, [L.relu_backward, b_wrong_side, b_times_x], cases)),
    }


# -- losses ----------------------------------------------------------------------------------------------------


def loss_cases():
    course = np.random.RandomState(231)
    x = 0.001 * course.randn(50, 10)
    cases = [(x, course.randint(10, size=50))]
    rng = case_rng(3)
    for N, C, scale, dtype in ((1, 4, 1.0, F64), (6, 2, 0.5, F64), (20, 7, 3.0, F64), (25, 10, 5.0, F64),
                               (9, 5, 1.0, F32), (7, 4, 1.0, F32)):
        cases.append((rng_normal(rng, (N, C), dtype, scale), rng.integers(0, C, size=N)))
    return cases


def svm_loops(x, y):
    N, C = x.shape
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(N):
        for j in range(C):
            if j == y[i]:
                continue
            margin = x[i, j] - x[i, y[i]] + 1
            if margin > 0:
                loss += margin
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    return loss / N, dx / N


def svm_vector(x, y):
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1)
    margins[np.arange(N), y] = 0
    positive = (margins > 0).astype(x.dtype)
    positive[np.arange(N), y] = -positive.sum(axis=1)
    return np.sum(margins) / N, positive / N


def svm_counts_correct_class(x, y):
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None] + 1)
    positive = (margins > 0).astype(x.dtype)
    positive[np.arange(N), y] -= positive.sum(axis=1)
    return np.sum(margins) / N, positive / N


def svm_dx_not_averaged(x, y):
    loss, dx = L.svm_loss(x, y)
    return loss, dx * x.shape[0]


def svm_margin_zero(x, y):
    N = x.shape[0]
    margins = np.maximum(0, x - x[np.arange(N), y][:, None])
    margins[np.arange(N), y] = 0
    positive = (margins > 0).astype(x.dtype)
    positive[np.arange(N), y] = -positive.sum(axis=1)
    return np.sum(margins) / N, positive / N


def softmax_loops(x, y):
    N = x.shape[0]
    loss, dx = 0.0, np.zeros_like(x)
    for i in range(N):
        scores = x[i] - np.max(x[i])
        p = np.exp(scores) / np.sum(np.exp(scores))
        loss -= np.log(p[y[i]])
        p[y[i]] -= 1
        dx[i] = p
    return loss / N, dx / N


def softmax_logsumexp(x, y):
    N = x.shape[0]
    m = x.max(axis=1, keepdims=True)
    lse = m + np.log(np.exp(x - m).sum(axis=1, keepdims=True))
    dx = np.exp(x - lse)
    dx[np.arange(N), y] -= 1
    return float(np.mean(lse[:, 0] - x[np.arange(N), y])), dx / N


def softmax_dx_not_averaged(x, y):
    loss, dx = L.softmax_loss(x, y)
    return loss, dx * x.shape[0]


def softmax_loss_summed(x, y):
    loss, dx = L.softmax_loss(x, y)
    return loss * x.shape[0], dx


def softmax_wrong_sign(x, y):
    loss, dx = L.softmax_loss(x, y)
    return loss, -dx


def measure_losses():
    cases = loss_cases()
    out = {}
    for name, ok, bug in (("svm_loss", [svm_loops, svm_vector, f64(svm_vector)],
                           [svm_counts_correct_class, svm_dx_not_averaged, svm_margin_zero]),
                          ("softmax_loss", [softmax_loops, softmax_logsumexp, f64(softmax_logsumexp)],
                           [softmax_dx_not_averaged, softmax_loss_summed, softmax_wrong_sign])):
        ref = getattr(L, name)
        out[LAYERS + name] = (value_rows(ref, ok, cases), value_rows(ref, bug, cases))
    return out


def value_rows(reference, variants, cases):
    rows = []
    for case in cases:
        expected = reference(*copy.deepcopy(case))
        dtype = case[0].dtype
        for variant in variants:
            rows.append((variant.__name__, dtype, diff_all(variant(*copy.deepcopy(case)), expected)))
    return rows


# -- batch norm / layer norm ------------------------------------------------------------------------------------


def bn_cases():
    course = np.random.RandomState(231)
    X, W1, W2 = course.randn(200, 50), course.randn(50, 60), course.randn(60, 3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    cases = [(a, np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0]))]
    course = np.random.RandomState(231)
    cases.append((5 * course.randn(4, 5) + 12, course.randn(5), course.randn(5)))
    rng = case_rng(4)
    for (N, D), dtype, scale, shift in ((((3, 3), F64, 2, -1)), ((7, 1), F64, 2, -1), ((50, 20), F64, 2, -1),
                                        ((16, 9), F64, 3, 2), ((9, 4), F32, 3, 5), ((12, 6), F32, 4, 3)):
        cases.append((rng_normal(rng, (N, D), dtype, scale, shift), rng_normal(rng, (D,), dtype),
                      rng_normal(rng, (D,), dtype)))
    return cases


def bn_train(x, gamma, beta, param):
    return L.batchnorm_forward(x, gamma, beta, param)


def bn_forward_ok():
    def moments(x, gamma, beta, param):
        mu = x.mean(axis=0)
        var = (x * x).mean(axis=0) - mu * mu
        return gamma * (x - mu) / np.sqrt(var + 1e-5) + beta

    def inv_std(x, gamma, beta, param):
        mu = x.mean(axis=0)
        inv = 1.0 / np.sqrt(np.mean((x - mu) ** 2, axis=0) + 1e-5)
        return (x - mu) * inv * gamma + beta

    def np_std(x, gamma, beta, param):
        return gamma * ((x - x.mean(axis=0)) / np.sqrt(x.std(axis=0) ** 2 + 1e-5)) + beta

    return [moments, inv_std, np_std, f64(inv_std)]


def bn_forward_bugs():
    def eps_outside(x, gamma, beta, param):
        mu = x.mean(axis=0)
        return gamma * (x - mu) / (x.std(axis=0) + 1e-5) + beta

    def unbiased(x, gamma, beta, param):
        mu = x.mean(axis=0)
        return gamma * (x - mu) / np.sqrt(x.var(axis=0, ddof=1) + 1e-5) + beta

    def no_beta(x, gamma, beta, param):
        mu = x.mean(axis=0)
        return gamma * (x - mu) / np.sqrt(x.var(axis=0) + 1e-5)

    return [eps_outside, unbiased, no_beta]


def bn_backward_graph(dout, cache):
    """The course's computation-graph walk, node by node."""
    x, x_hat, mu, std, gamma = cache
    N = dout.shape[0]
    xmu = x - mu
    ivar = 1 / std
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (std**2) * divar
    dvar = 0.5 * 1.0 / std * dsqrtvar
    dsq = 1.0 / N * np.ones_like(dout) * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dx1, axis=0)
    dx2 = 1.0 / N * np.ones_like(dout) * dmu
    return dx1 + dx2, dgamma, dbeta


def bn_backward_alt_paper(dout, cache):
    x, x_hat, mu, std, gamma = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dx = (1.0 / N) / std * (N * dxhat - dxhat.sum(axis=0) - x_hat * (dxhat * x_hat).sum(axis=0))
    return dx, np.einsum("nd,nd->d", dout, x_hat), np.einsum("nd->d", dout)


def bn_backward_loops(dout, cache):
    x, x_hat, mu, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.zeros_like(dout), np.zeros(D, dout.dtype), np.zeros(D, dout.dtype)
    for d in reversed(range(D)):
        g = dout[::-1, d]
        xh = x_hat[::-1, d]
        dbeta[d] = g.sum()
        dgamma[d] = (g * xh).sum()
        dx[::-1, d] = gamma[d] / (N * std[d]) * (N * g - dbeta[d] - xh * dgamma[d])
    return dx, dgamma, dbeta


def bn_backward_bugs():
    def no_mean_term(dout, cache):
        x, x_hat, mu, std, gamma = cache
        dx, dg, db = L.batchnorm_backward_alt(dout, cache)
        return dout * gamma / std - x_hat * dg * gamma / (dout.shape[0] * std), dg, db

    def no_var_term(dout, cache):
        x, x_hat, mu, std, gamma = cache
        dx, dg, db = L.batchnorm_backward_alt(dout, cache)
        return gamma / std * (dout - dout.mean(axis=0)), dg, db

    def swapped(dout, cache):
        dx, dg, db = L.batchnorm_backward_alt(dout, cache)
        return dx, db, dg

    def n_minus_one(dout, cache):
        x, x_hat, mu, std, gamma = cache
        N = dout.shape[0] - 1
        dbeta, dgamma = dout.sum(axis=0), (dout * x_hat).sum(axis=0)
        return gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma), dgamma, dbeta

    return [no_mean_term, no_var_term, swapped, n_minus_one]


def measure_batchnorm():
    cases = [(x, g, b, {"mode": "train"}) for x, g, b in bn_cases()]
    fwd = (forward_rows(bn_train, bn_forward_ok(), cases), forward_rows(bn_train, bn_forward_bugs(), cases))
    ok = [bn_backward_graph, bn_backward_alt_paper, bn_backward_loops, f64(bn_backward_graph)]
    out = {LAYERS + "batchnorm_forward": fwd}
    for name in ("batchnorm_backward", "batchnorm_backward_alt"):
        ref = getattr(L, name)
        out[LAYERS + name] = (backward_rows(bn_train, [ref, *ok], cases),
                              backward_rows(bn_train, [ref, *bn_backward_bugs()], cases))
    return out


def measure_layernorm():
    course = np.random.RandomState(231)
    x = 5 * course.randn(4, 7) + 12
    cases = [(x, np.arange(1.0, 8.0), np.arange(7.0), {})]
    course = np.random.RandomState(231)
    cases.append((5 * course.randn(4, 5) + 12, course.randn(5), course.randn(5), {}))
    rng = case_rng(5)
    for (N, D), dtype in (((1, 6), F64), ((3, 4), F64), ((20, 40), F64), ((5, 8), F32), ((6, 9), F32)):
        cases.append((rng_normal(rng, (N, D), dtype, 2, 1), rng_normal(rng, (D,), dtype), rng_normal(rng, (D,), dtype), {}))

    def transposed(x, gamma, beta, param):
        """The course's hint: layer norm is batch norm of x.T without running averages."""
        xt = x.T
        mu = xt.mean(axis=0)
        return (gamma * ((xt - mu) / np.sqrt(xt.var(axis=0) + 1e-5)).T + beta)

    def moments(x, gamma, beta, param):
        mu = x.mean(axis=1, keepdims=True)
        var = (x * x).mean(axis=1, keepdims=True) - mu * mu
        return gamma * (x - mu) / np.sqrt(var + 1e-5) + beta

    def over_batch(x, gamma, beta, param):
        return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) + beta

    def eps_outside(x, gamma, beta, param):
        mu = x.mean(axis=1, keepdims=True)
        return gamma * (x - mu) / (x.std(axis=1, keepdims=True) + 1e-5) + beta

    def b_transposed(dout, cache):
        x_hat, std, gamma = cache
        D = dout.shape[1]
        dxhat = (dout * gamma).T
        xh = x_hat.T
        dx = (D * dxhat - dxhat.sum(axis=0) - xh * (dxhat * xh).sum(axis=0)) / (D * std[:, 0])
        return dx.T, np.einsum("nd,nd->d", dout, x_hat), dout.sum(axis=0)

    def b_graph(dout, cache):
        x_hat, std, gamma = cache
        D = dout.shape[1]
        dxhat = dout * gamma
        dvar = np.sum(dxhat * x_hat, axis=1, keepdims=True) * -0.5 / std**2
        dmu = -np.sum(dxhat / std, axis=1, keepdims=True)
        dx = dxhat / std + dvar * 2 * x_hat * std / D + dmu / D
        return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)

    def b_no_mean(dout, cache):
        x_hat, std, gamma = cache
        dx, dg, db = L.layernorm_backward(dout, cache)
        dxhat = dout * gamma
        return (dxhat - x_hat * (dxhat * x_hat).mean(axis=1, keepdims=True)) / std, dg, db

    def b_swapped(dout, cache):
        dx, dg, db = L.layernorm_backward(dout, cache)
        return dx, db, dg

    def ln(x, gamma, beta, param):
        return L.layernorm_forward(x, gamma, beta, param)

    return {
        LAYERS + "layernorm_forward": (forward_rows(ln, [transposed, moments, f64(moments)], cases),
                              forward_rows(ln, [over_batch, eps_outside], [c for c in cases if c[0].shape[0] > 1])),
        LAYERS + "layernorm_backward": (backward_rows(ln, [L.layernorm_backward, b_transposed, b_graph, f64(b_graph)], cases),
                               backward_rows(ln, [L.layernorm_backward, b_no_mean, b_swapped], cases)),
    }


# -- dropout ---------------------------------------------------------------------------------------------------


def measure_dropout():
    """Kept values x * (mask / p) against x / p written other ways; bugs that drop or scale wrongly."""
    rng = case_rng(6)
    rows_ok, rows_bug = [], []
    for shape, dtype, p in (((10, 10), F64, 0.2), ((3, 4, 5), F64, 0.7), ((6, 7), F32, 0.4), ((500, 50), F64, 0.5)):
        x = rng_normal(rng, shape, dtype, shift=3)
        keep = rng.random(shape) < p
        reference = (x * ((keep / p).astype(dtype))).astype(dtype)
        for name, value in (("x * keep / p", x * keep / p), ("x / p * keep", (x / dtype(p)) * keep),
                            ("np.where(keep, x / p, 0)", np.where(keep, x / dtype(p), 0).astype(dtype))):
            rows_ok.append((name, dtype, diff(value.astype(dtype), reference)))
        for name, value in (("not divided by p", x * keep), ("multiplied by p", x * keep * p),
                            ("divided by 1 - p", x * keep / (1 - p))):
            rows_bug.append((name, dtype, diff(value, reference)))
    return {LAYERS + "dropout_forward": (rows_ok, rows_bug)}


# -- convolution / pooling -------------------------------------------------------------------------------------


CONV_GEOMETRIES = [
    ((2, 3, 5, 5), (2, 3, 3, 3), 1, 1), ((1, 3, 7, 5), (2, 3, 3, 3), 2, 1), ((2, 1, 6, 6), (1, 1, 2, 2), 2, 0),
    ((1, 2, 5, 6), (3, 2, 3, 2), 1, 1), ((2, 2, 7, 7), (2, 2, 3, 3), 3, 1), ((1, 2, 4, 3), (2, 2, 4, 3), 1, 0),
    ((2, 3, 3, 4), (4, 3, 1, 1), 1, 2), ((4, 3, 5, 5), (2, 3, 3, 3), 1, 1), ((2, 3, 7, 6), (2, 3, 3, 2), 2, 0),
]


def conv_cases():
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    cases = [(np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape),
              np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape), np.linspace(-0.1, 0.2, num=3),
              {"stride": 2, "pad": 1})]
    rng = case_rng(8)
    for dtype in (F64, F32):
        for x_shape, w_shape, stride, pad in CONV_GEOMETRIES if dtype == F64 else CONV_GEOMETRIES[:2]:
            cases.append((rng_normal(rng, x_shape, dtype), rng_normal(rng, w_shape, dtype),
                          rng_normal(rng, w_shape[:1], dtype), {"stride": stride, "pad": pad}))
    return cases


def _conv_geometry(x, w, conv_param):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    s, p = conv_param["stride"], conv_param["pad"]
    return N, C, H, W, F, HH, WW, s, p, 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s


def conv_six_loops(x, w, b, conv_param):
    N, C, H, W, F, HH, WW, s, p, Ho, Wo = _conv_geometry(x, w, conv_param)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = np.sum(xp[n, :, i * s : i * s + HH, j * s : j * s + WW] * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_einsum(x, w, b, conv_param):
    N, C, H, W, F, HH, WW, s, p, Ho, Wo = _conv_geometry(x, w, conv_param)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    out = np.zeros((N, F, Ho, Wo), dtype=x.dtype)
    for j in reversed(range(Wo)):
        for i in reversed(range(Ho)):
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", xp[:, :, i * s : i * s + HH, j * s : j * s + WW], w)
    return out + b[None, :, None, None], (x, w, b, conv_param)


def conv_im2col(x, w, b, conv_param):
    N, C, H, W, F, HH, WW, s, p, Ho, Wo = _conv_geometry(x, w, conv_param)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.stack([xp[:, :, i * s : i * s + HH, j * s : j * s + WW].reshape(N, -1)
                     for i in range(Ho) for j in range(Wo)], axis=2)  # (N, C*HH*WW, Ho*Wo)
    out = np.matmul(w.reshape(F, -1), cols) + b[:, None]
    return out.reshape(N, F, Ho, Wo), (x, w, b, conv_param)


def conv_flipped(x, w, b, conv_param):
    return L.conv_forward_naive(x, w[:, :, ::-1, ::-1].copy(), b, conv_param)


def conv_no_bias(x, w, b, conv_param):
    return L.conv_forward_naive(x, w, np.zeros_like(b), conv_param)


def conv_back_elementwise(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W, F, HH, WW, s, p, Ho, Wo = _conv_geometry(x, w, conv_param)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw, db = np.zeros_like(xp), np.zeros_like(w), np.zeros_like(b)
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    window = (n, slice(None), slice(i * s, i * s + HH), slice(j * s, j * s + WW))
                    dxp[window] += w[f] * dout[n, f, i, j]
                    dw[f] += xp[window] * dout[n, f, i, j]
                    db[f] += dout[n, f, i, j]
    return dxp[:, :, p : p + H, p : p + W], dw, db


def conv_back_reversed_einsum(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W, F, HH, WW, s, p, Ho, Wo = _conv_geometry(x, w, conv_param)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for j in reversed(range(Wo)):
        for i in reversed(range(Ho)):
            d = dout[:, :, i, j]
            dxp[:, :, i * s : i * s + HH, j * s : j * s + WW] += np.einsum("nf,fchw->nchw", d, w)
            dw += np.einsum("nf,nchw->fchw", d, xp[:, :, i * s : i * s + HH, j * s : j * s + WW])
    return dxp[:, :, p : p + H, p : p + W], dw, np.einsum("nfij->f", dout)


def conv_back_im2col(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W, F, HH, WW, s, p, Ho, Wo = _conv_geometry(x, w, conv_param)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    positions = [(i, j) for i in range(Ho) for j in range(Wo)]
    cols = np.stack([xp[:, :, i * s : i * s + HH, j * s : j * s + WW].reshape(N, -1) for i, j in positions], axis=2)
    d = dout.reshape(N, F, -1)
    dw = np.einsum("nfp,nkp->fk", d, cols).reshape(w.shape)
    dcols = np.einsum("fk,nfp->nkp", w.reshape(F, -1), d)
    dxp = np.zeros_like(xp)
    for k, (i, j) in enumerate(positions):
        dxp[:, :, i * s : i * s + HH, j * s : j * s + WW] += dcols[:, :, k].reshape(N, C, HH, WW)
    return dxp[:, :, p : p + H, p : p + W], dw, d.sum(axis=(0, 2))


def conv_back_bugs():
    def db_first_position(dout, cache):
        dx, dw, db = L.conv_backward_naive(dout, cache)
        return dx, dw, dout[:, :, 0, 0].sum(axis=0)

    def dw_over_n(dout, cache):
        dx, dw, db = L.conv_backward_naive(dout, cache)
        return dx, dw / dout.shape[0], db

    def dx_flipped_w(dout, cache):
        x, w, b, conv_param = cache
        dx, dw, db = L.conv_backward_naive(dout, (x, w[:, :, ::-1, ::-1].copy(), b, conv_param))
        return dx, L.conv_backward_naive(dout, cache)[1], db

    return [db_first_position, dw_over_n, dx_flipped_w]


def measure_conv():
    cases = conv_cases()
    ok_b = [conv_back_elementwise, conv_back_reversed_einsum, conv_back_im2col, f64(conv_back_reversed_einsum)]
    return {
        LAYERS + "conv_forward_naive": (forward_rows(L.conv_forward_naive, [conv_six_loops, conv_einsum, conv_im2col,
                                                                   f64(conv_einsum)], cases),
                               forward_rows(L.conv_forward_naive, [conv_flipped, conv_no_bias], cases)),
        LAYERS + "conv_backward_naive": (backward_rows(L.conv_forward_naive, [L.conv_backward_naive, *ok_b], cases),
                                backward_rows(L.conv_forward_naive, [L.conv_backward_naive, *conv_back_bugs()], cases)),
    }


POOLS = [((3, 2, 8, 8), 2, 2, 2), ((2, 2, 7, 9), 3, 3, 2), ((2, 2, 6, 5), 2, 3, 1), ((1, 3, 6, 5), 2, 2, 2),
         ((1, 1, 4, 3), 4, 3, 1), ((2, 1, 7, 7), 3, 2, 3), ((2, 2, 7, 7), 3, 3, 2)]


def pool_cases():
    x_shape = (2, 3, 4, 4)
    cases = [(np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape),
              {"pool_width": 2, "pool_height": 2, "stride": 2}),
             (np.arange(25.0).reshape(1, 1, 5, 5), {"pool_height": 3, "pool_width": 3, "stride": 2})]
    rng = case_rng(9)
    for dtype in (F64, F32):
        for shape, ph, pw, s in POOLS:
            cases.append((rng_normal(rng, shape, dtype), {"pool_height": ph, "pool_width": pw, "stride": s}))
    return cases


def pool_loops(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s
    out = np.zeros((N, C, Ho, Wo), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    out[n, c, i, j] = np.max(x[n, c, i * s : i * s + ph, j * s : j * s + pw])
    return out, (x, pool_param)


def pool_average(x, pool_param):
    out, cache = pool_loops(x, pool_param)
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * s : i * s + ph, j * s : j * s + pw].mean(axis=(2, 3))
    return out, cache


def pool_back_loops(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    N, C, Ho, Wo = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * s : i * s + ph, j * s : j * s + pw]
                    r, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + r, j * s + q] += dout[n, c, i, j]
    return dx


def pool_back_first_mask(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for j in reversed(range(dout.shape[3])):
        for i in reversed(range(dout.shape[2])):
            window = x[:, :, i * s : i * s + ph, j * s : j * s + pw]
            flat = window.reshape(*window.shape[:2], -1)
            mask = np.zeros_like(flat)
            np.put_along_axis(mask, flat.argmax(axis=2)[..., None], 1, axis=2)
            dx[:, :, i * s : i * s + ph, j * s : j * s + pw] += mask.reshape(window.shape) * dout[:, :, i, j][..., None, None]
    return dx


def pool_back_overwrite(dout, cache):
    """Assigns in place of adding: wrong where windows overlap."""
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for n in range(dout.shape[0]):
        for c in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    window = x[n, c, i * s : i * s + ph, j * s : j * s + pw]
                    r, q = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * s + r, j * s + q] = dout[n, c, i, j]
    return dx


def pool_back_average(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx[:, :, i * s : i * s + ph, j * s : j * s + pw] += dout[:, :, i, j][..., None, None] / (ph * pw)
    return dx


def measure_pool():
    cases = pool_cases()
    return {
        LAYERS + "max_pool_forward_naive": (forward_rows(L.max_pool_forward_naive, [pool_loops, f64(pool_loops)], cases),
                                   forward_rows(L.max_pool_forward_naive, [pool_average], cases)),
        LAYERS + "max_pool_backward_naive": (
            backward_rows(L.max_pool_forward_naive, [L.max_pool_backward_naive, pool_back_loops, pool_back_first_mask,
                                                     f64(pool_back_loops)], cases),
            backward_rows(L.max_pool_forward_naive, [L.max_pool_backward_naive, pool_back_overwrite, pool_back_average],
                          cases)),
    }


# -- spatial batch norm / group norm ---------------------------------------------------------------------------


def spatial_cases():
    course = np.random.RandomState(231)
    cases = [(4 * course.randn(10, 3, 4, 5) + 10, np.array([3.0, 4.0, 5.0]), np.array([6.0, 7.0, 8.0]))]
    course = np.random.RandomState(231)
    x = 5 * course.randn(2, 3, 4, 5) + 12
    cases.append((x, course.randn(3), course.randn(3)))
    rng = case_rng(10)
    for shape, dtype in (((1, 2, 3, 3), F64), ((5, 4, 2, 3), F64), ((3, 1, 4, 4), F64), ((2, 3, 3, 4), F32),
                         ((3, 4, 5, 2), F32)):
        cases.append((rng_normal(rng, shape, dtype, 2, 1), rng_normal(rng, shape[1:2], dtype),
                      rng_normal(rng, shape[1:2], dtype)))
    return [(x, g, b, {"mode": "train"}) for x, g, b in cases]


def _to_rows(x):
    N, C, H, W = x.shape
    return x.transpose(0, 2, 3, 1).reshape(-1, C)


def _from_rows(rows, shape):
    N, C, H, W = shape
    return rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)


def sbn_transposed(x, gamma, beta, param):
    """The course's way: (N, C, H, W) -> (N*H*W, C), vanilla batch norm, and back."""
    out, cache = L.batchnorm_forward(_to_rows(x), gamma, beta, dict(param))
    return _from_rows(out, x.shape), ("rows", cache)


def sbn_no_transpose(x, gamma, beta, param):
    rows = x.reshape(-1, x.shape[1])
    out, _ = L.batchnorm_forward(rows, gamma, beta, dict(param))
    return out.reshape(x.shape), None


def sbn_per_pixel(x, gamma, beta, param):
    mu, var = x.mean(axis=0), x.var(axis=0)
    return gamma[:, None, None] * (x - mu) / np.sqrt(var + 1e-5) + beta[:, None, None], None


def sbn_back_transposed(dout, cache):
    x, x_hat, mu, std, gamma = cache
    rows_cache = (_to_rows(x), _to_rows(x_hat), mu, std, gamma)
    dx, dgamma, dbeta = bn_backward_graph(_to_rows(dout), rows_cache)
    return _from_rows(dx, dout.shape), dgamma, dbeta


def sbn_back_alt_rows(dout, cache):
    x, x_hat, mu, std, gamma = cache
    dx, dgamma, dbeta = L.batchnorm_backward_alt(_to_rows(dout), (_to_rows(x), _to_rows(x_hat), mu, std, gamma))
    return _from_rows(dx, dout.shape), dgamma, dbeta


def sbn_back_no_transpose(dout, cache):
    x, x_hat, mu, std, gamma = cache
    C = dout.shape[1]
    dx, dgamma, dbeta = L.batchnorm_backward_alt(dout.reshape(-1, C), (x.reshape(-1, C), x_hat.reshape(-1, C), mu, std,
                                                                        gamma))
    return dx.reshape(dout.shape), dgamma, dbeta


def sbn_back_no_var_term(dout, cache):
    x, x_hat, mu, std, gamma = cache
    dx, dg, db = L.spatial_batchnorm_backward(dout, cache)
    return (gamma / std)[:, None, None] * (dout - dout.mean(axis=(0, 2, 3), keepdims=True)), dg, db


def gn_cases():
    course = np.random.RandomState(231)
    x = 4 * course.randn(2, 6, 4, 5) + 10
    cases = [(x, np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), 2)]
    course = np.random.RandomState(231)
    x = 5 * course.randn(2, 6, 4, 5) + 12
    cases.append((x, course.randn(1, 6, 1, 1), course.randn(1, 6, 1, 1), 2))
    rng = case_rng(11)
    for shape, G, dtype in (((2, 6, 3, 3), 1, F64), ((2, 6, 3, 3), 6, F64), ((1, 8, 2, 5), 4, F64),
                            ((2, 6, 3, 4), 3, F32)):
        C = shape[1]
        cases.append((rng_normal(rng, shape, dtype, 3, 2), rng_normal(rng, (1, C, 1, 1), dtype),
                      rng_normal(rng, (1, C, 1, 1), dtype), G))
    return [(x, g, b, G, {}) for x, g, b, G in cases]


def gn_loops(x, gamma, beta, G, param):
    N, C, H, W = x.shape
    out = np.empty_like(x)
    size = C // G
    for n in range(N):
        for g in reversed(range(G)):
            block = x[n, g * size : (g + 1) * size]
            out[n, g * size : (g + 1) * size] = (block - block.mean()) / np.sqrt(block.var() + 1e-5)
    return out * gamma + beta, None


def gn_transposed(x, gamma, beta, G, param):
    """Layer norm of the (C // G * H * W, N * G) transpose, the course's hint."""
    N, C, H, W = x.shape
    rows = x.reshape(N * G, -1).T
    x_hat = ((rows - rows.mean(axis=0)) / np.sqrt(rows.var(axis=0) + 1e-5)).T.reshape(x.shape)
    return gamma * x_hat + beta, None


def gn_interleaved(x, gamma, beta, G, param):
    N, C, H, W = x.shape
    rows = x.reshape(N, C // G, G, H, W).transpose(0, 2, 1, 3, 4).reshape(N, G, -1)
    x_hat = (rows - rows.mean(axis=2, keepdims=True)) / np.sqrt(rows.var(axis=2, keepdims=True) + 1e-5)
    x_hat = x_hat.reshape(N, G, C // G, H, W).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    return gamma * x_hat + beta, None


def gn_instance(x, gamma, beta, G, param):
    mu, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + 1e-5) + beta, None


def gn_back_loops(dout, cache):
    x_hat, std, gamma, G = cache
    N, C, H, W = dout.shape
    size = C // G
    dx = np.empty_like(dout)
    dxhat = dout * gamma
    for n in range(N):
        for g in range(G):
            sl = (n, slice(g * size, (g + 1) * size))
            d, xh, M = dxhat[sl], x_hat[sl], dxhat[sl].size
            dx[sl] = (M * d - d.sum() - xh * (d * xh).sum()) / (M * std[n, g, 0])
    return dx, np.sum(dout * x_hat, axis=(0, 2, 3), keepdims=True), np.sum(dout, axis=(0, 2, 3), keepdims=True)


def gn_back_graph(dout, cache):
    x_hat, std, gamma, G = cache
    N, C, H, W = dout.shape
    dxhat = (dout * gamma).reshape(N, G, -1)
    xh = x_hat.reshape(N, G, -1)
    M = dxhat.shape[2]
    dvar = np.sum(dxhat * xh, axis=2, keepdims=True) * -0.5 / std**2
    dmu = -np.sum(dxhat / std, axis=2, keepdims=True)
    dx = dxhat / std + dvar * 2 * xh * std / M + dmu / M
    return (dx.reshape(dout.shape), np.einsum("nchw,nchw->c", dout, x_hat).reshape(1, C, 1, 1),
            np.einsum("nchw->c", dout).reshape(1, C, 1, 1))


def gn_back_no_mean(dout, cache):
    x_hat, std, gamma, G = cache
    dx, dg, db = L.spatial_groupnorm_backward(dout, cache)
    N = dout.shape[0]
    dxhat = (dout * gamma).reshape(N, G, -1)
    xh = x_hat.reshape(N, G, -1)
    return ((dxhat - xh * (dxhat * xh).mean(axis=2, keepdims=True)) / std).reshape(dout.shape), dg, db


def gn_back_swapped(dout, cache):
    dx, dg, db = L.spatial_groupnorm_backward(dout, cache)
    return dx, db, dg


def measure_spatial():
    s_cases, g_cases = spatial_cases(), gn_cases()
    sbn = L.spatial_batchnorm_forward
    gn = L.spatial_groupnorm_forward
    gn_back_cases = [c for c in g_cases if c[0].shape[1] // c[3] * c[0].shape[2] * c[0].shape[3] >= 3]
    return {
        LAYERS + "spatial_batchnorm_forward": (forward_rows(sbn, [sbn_transposed, f64(sbn_transposed)], s_cases),
                                      forward_rows(sbn, [sbn_no_transpose, sbn_per_pixel],
                                                   [c for c in s_cases if c[0].shape[0] > 1])),
        LAYERS + "spatial_batchnorm_backward": (
            backward_rows(sbn, [L.spatial_batchnorm_backward, sbn_back_transposed, sbn_back_alt_rows,
                                f64(sbn_back_transposed)], s_cases),
            backward_rows(sbn, [L.spatial_batchnorm_backward, sbn_back_no_transpose, sbn_back_no_var_term], s_cases)),
        LAYERS + "spatial_groupnorm_forward": (forward_rows(gn, [gn_loops, gn_transposed, f64(gn_loops)], g_cases),
                                      forward_rows(gn, [gn_interleaved, gn_instance],
                                                   [c for c in g_cases if 1 < c[3] < c[0].shape[1]])),
        LAYERS + "spatial_groupnorm_backward": (
            backward_rows(gn, [L.spatial_groupnorm_backward, gn_back_loops, gn_back_graph, f64(gn_back_graph)],
                          gn_back_cases),
            backward_rows(gn, [L.spatial_groupnorm_backward, gn_back_no_mean, gn_back_swapped], gn_back_cases)),
    }


# -- optimisers --------------------------------------------------------------------------------------------------


def _linspace_w_dw():
    return np.linspace(-0.4, 0.6, num=20).reshape(4, 5), np.linspace(-0.6, 0.4, num=20).reshape(4, 5)


# The configurations of instructor/hidden_tests/optim.py: (config, steps, dtype); None is config=None.
OPTIM_CONFIGS = {
    "sgd_momentum": [({"learning_rate": 1e-3, "velocity": np.linspace(0.6, 0.9, num=20).reshape(4, 5)}, 1, F64),
                     ({"learning_rate": 0.1, "momentum": 0.8}, 5, F64), (None, 1, F64),
                     ({"learning_rate": 0.05}, 3, F32)],
    "rmsprop": [({"learning_rate": 1e-2, "cache": np.linspace(0.6, 0.9, num=20).reshape(4, 5)}, 1, F64),
                ({"learning_rate": 0.01, "decay_rate": 0.9}, 5, F64), (None, 1, F64), ({"learning_rate": 0.02}, 3, F32)],
    "adam": [({"learning_rate": 1e-2, "m": np.linspace(0.6, 0.9, num=20).reshape(4, 5),
               "v": np.linspace(0.7, 0.5, num=20).reshape(4, 5), "t": 5}, 1, F64),
             ({"learning_rate": 1e-2}, 5, F64), ({"learning_rate": 1e-3, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-6}, 5, F64),
             (None, 1, F64), ({"learning_rate": 1e-2}, 3, F32)],
}


def optim_gradient(rng, shape, dtype):
    """As the checks' optim.gradient: entries with |dw| >= 0.5 (see there why)."""
    return (rng.choice([-1.0, 1.0], size=shape) * (0.5 + np.abs(rng.standard_normal(shape)))).astype(dtype)


def optim_runs(name, variants, seed=12):
    """Rows of each variant against the reference over the checks' configurations, each step fed the config
    the last one returned."""
    rule = getattr(O, name)
    rows = []
    for variant in variants:
        for config0, steps, dtype in OPTIM_CONFIGS[name]:
            rng = case_rng(seed)
            w, dw = _linspace_w_dw() if steps == 1 else (rng_normal(rng, (3, 4), dtype), None)
            w_ref, w_var = w.copy(), w.copy()
            c_ref, c_var = copy.deepcopy(config0) or {}, copy.deepcopy(config0) or {}
            worst = 0.0
            for _ in range(steps):
                step_dw = dw if dw is not None else optim_gradient(rng, (3, 4), dtype)
                w_ref, c_ref = rule(w_ref, step_dw, c_ref)
                w_var, c_var = variant(w_var, step_dw, c_var)
                worst = max(worst, diff(w_var, w_ref))
            rows.append((variant.__name__, dtype, worst))
    return rows


def momentum_ok(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = -config["learning_rate"] * dw + config["momentum"] * config.get("velocity", np.zeros_like(w))
    config["velocity"] = v
    return v + w, config


def momentum_nesterov(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v_prev = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v_prev - config["learning_rate"] * dw
    config["velocity"] = v
    return w - config["momentum"] * v_prev + (1 + config["momentum"]) * v, config


def momentum_plain_sgd(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def rmsprop_ok(w, dw, config):
    for k, v in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    cache = (1 - config["decay_rate"]) * (dw * dw) + config["decay_rate"] * config.get("cache", np.zeros_like(w))
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def rmsprop_no_sqrt(w, dw, config):
    for k, v in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    cache = config["decay_rate"] * config.get("cache", np.zeros_like(w)) + (1 - config["decay_rate"]) * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (cache + config["epsilon"]), config


def rmsprop_swapped_decay(w, dw, config):
    for k, v in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    cache = (1 - config["decay_rate"]) * config.get("cache", np.zeros_like(w)) + config["decay_rate"] * dw**2
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def _adam_defaults(w, config):
    for k, v in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8)):
        config.setdefault(k, v)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)


def adam_folded(w, dw, config):
    """The paper's efficient form: the bias corrections folded into the step size (epsilon then acts on
    sqrt(v) rather than sqrt(v_hat), a relative change of the step of about epsilon / sqrt(v))."""
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    step = config["learning_rate"] * np.sqrt(1 - b2**t) / (1 - b1**t)
    return w - step * config["m"] / (np.sqrt(config["v"]) + config["epsilon"]), config


def adam_written_out(w, dw, config):
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] = t = config["t"] + 1
    config["m"] = (1 - b1) * dw + b1 * config["m"]
    config["v"] = (1 - b2) * dw**2 + b2 * config["v"]
    mt, vt = config["m"] / (1 - b1**t), config["v"] / (1 - b2**t)
    return w + -config["learning_rate"] * mt / (vt**0.5 + config["epsilon"]), config


def adam_no_correction(w, dw, config):
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    return w - config["learning_rate"] * config["m"] / (np.sqrt(config["v"]) + config["epsilon"]), config


def adam_t_after(w, dw, config):
    _adam_defaults(w, config)
    b1, b2 = config["beta1"], config["beta2"]
    t = config["t"] if config["t"] else 1
    config["m"] = b1 * config["m"] + (1 - b1) * dw
    config["v"] = b2 * config["v"] + (1 - b2) * dw * dw
    out = w - config["learning_rate"] * (config["m"] / (1 - b1 ** (t + 1))) / (
        np.sqrt(config["v"] / (1 - b2**t)) + config["epsilon"])
    config["t"] += 1
    return out, config


def measure_optim():
    out = {}
    for name, ok, bug in (("sgd_momentum", [momentum_ok, f64(momentum_ok)], [momentum_nesterov, momentum_plain_sgd]),
                          ("rmsprop", [rmsprop_ok, f64(rmsprop_ok)], [rmsprop_no_sqrt, rmsprop_swapped_decay]),
                          ("adam", [adam_folded, adam_written_out, f64(adam_written_out)],
                           [adam_no_correction, adam_t_after])):
        out[f"cs231n/optim.py::{name}"] = (optim_runs(name, ok), optim_runs(name, bug))
    return out


# -- models -------------------------------------------------------------------------------------------------------


def a1_loss_loops(net, X, y=None, reg=0.0):
    """Per-example forward and backward passes of the assignment-1 net, the penalty via np.linalg.norm."""
    W1, b1, W2, b2 = (net.params[k] for k in ("W1", "b1", "W2", "b2"))
    X = X.reshape(X.shape[0], -1)
    N = X.shape[0]
    grads = {k: np.zeros_like(v) for k, v in net.params.items()}
    scores, loss = [], 0.0
    for i in range(N):
        h = np.maximum(0, X[i] @ W1 + b1)
        s = h @ W2 + b2
        scores.append(s)
        if y is None:
            continue
        p = np.exp(s - s.max())
        p /= p.sum()
        loss -= np.log(p[y[i]]) / N
        p[y[i]] -= 1
        p /= N
        grads["W2"] += np.outer(h, p)
        grads["b2"] += p
        dh = (W2 @ p) * (h > 0)
        grads["W1"] += np.outer(X[i], dh)
        grads["b1"] += dh
    if y is None:
        return np.array(scores)
    loss += reg * (np.linalg.norm(W1) ** 2 + np.linalg.norm(W2) ** 2)
    grads["W1"] += 2 * reg * W1
    grads["W2"] += 2 * reg * W2
    return loss, grads


def a1_half_reg(net, X, y=None, reg=0.0):
    out = neural_net.TwoLayerNet.loss(net, X, y, reg=reg)
    if y is None:
        return out
    loss, grads = out
    W1, W2 = net.params["W1"], net.params["W2"]
    loss -= 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    return loss, {**grads, "W1": grads["W1"] - reg * W1, "W2": grads["W2"] - reg * W2}


def a1_grad_reg_once(net, X, y=None, reg=0.0):
    out = neural_net.TwoLayerNet.loss(net, X, y, reg=reg)
    if y is None:
        return out
    loss, grads = out
    return loss, {**grads, "W1": grads["W1"] - reg * net.params["W1"], "W2": grads["W2"] - reg * net.params["W2"]}


def a1_no_hidden_bias_grad(net, X, y=None, reg=0.0):
    out = neural_net.TwoLayerNet.loss(net, X, y, reg=reg)
    if y is None:
        return out + net.params["b2"]
    loss, grads = out
    return loss, {**grads, "b1": np.zeros_like(grads["b1"])}


def model_rows(reference, variants, cases):
    rows = []
    for model, X, y, kwargs in cases:
        expected = reference(copy.deepcopy(model), X, y, **kwargs)
        dtype = model.params["W1"].dtype
        for variant in variants:
            got = variant(copy.deepcopy(model), X, y, **kwargs)
            if got is not None:  # None: the bug does not apply to this case (no dropout, no penalty)
                rows.append((variant.__name__, dtype, diff_all(got, expected)))
    return rows


def _randomise(model, rng, scale):
    for k, v in model.params.items():
        s = 0.1 if k.startswith("b") else (0.2 if k.startswith("gamma") else scale)
        base = 1.0 if k.startswith("gamma") else 0.0
        model.params[k] = (base + s * rng.standard_normal(v.shape)).astype(v.dtype)
    return model


def measure_a1():
    rng = case_rng(13)
    cases = []
    for N, D, H, C, reg in ((5, 4, 10, 3, 0.05), (1, 6, 5, 3, 0.1), (8, 3, 12, 2, 0.0), (30, 20, 16, 10, 1e-3)):
        net = _randomise(neural_net.TwoLayerNet(D, H, C, std=0.5), rng, 0.5)
        X = rng_normal(rng, (N, D), scale=2)
        cases += [(net, X, rng.integers(0, C, size=N), {"reg": reg}), (net, X, None, {})]

    def reference(net, X, y, **kwargs):
        return neural_net.TwoLayerNet.loss(net, X, y, **kwargs)

    return {"cs231n/classifiers/neural_net.py::TwoLayerNet.loss": (model_rows(reference, [a1_loss_loops], cases),
                           model_rows(reference, [a1_half_reg, a1_grad_reg_once, a1_no_hidden_bias_grad], cases))}


def fcn_loss_variant(model, X, y=None):
    """FullyConnectedNet.loss written with explicit layer calls, the penalty per layer via np.linalg.norm,
    the gradients' penalty added in a separate loop at the end."""
    X = np.asarray(X, dtype=model.dtype)
    mode = "test" if y is None else "train"
    for bn in model.bn_params:
        bn["mode"] = mode
    if model.use_dropout:
        model.dropout_param["mode"] = mode
    caches, out = [], X
    for i in range(1, model.num_layers):
        out, fc = L.affine_forward(out, model.params[f"W{i}"], model.params[f"b{i}"])
        norm = None
        if model.normalization == "batchnorm":
            out, norm = L.batchnorm_forward(out, model.params[f"gamma{i}"], model.params[f"beta{i}"], model.bn_params[i - 1])
        elif model.normalization == "layernorm":
            out, norm = L.layernorm_forward(out, model.params[f"gamma{i}"], model.params[f"beta{i}"], model.bn_params[i - 1])
        out, relu = L.relu_forward(out)
        drop = None
        if model.use_dropout:
            out, drop = L.dropout_forward(out, model.dropout_param)
        caches.append((fc, norm, relu, drop))
    Lyr = model.num_layers
    scores, last = L.affine_forward(out, model.params[f"W{Lyr}"], model.params[f"b{Lyr}"])
    if y is None:
        return scores
    loss, d = L.softmax_loss(scores, y)
    loss += 0.5 * model.reg * sum(np.linalg.norm(model.params[f"W{i}"]) ** 2 for i in range(1, Lyr + 1))
    grads = {}
    d, grads[f"W{Lyr}"], grads[f"b{Lyr}"] = L.affine_backward(d, last)
    for i in reversed(range(1, Lyr)):
        fc, norm, relu, drop = caches[i - 1]
        if drop is not None:
            d = L.dropout_backward(d, drop)
        d = L.relu_backward(d, relu)
        if model.normalization == "batchnorm":
            d, grads[f"gamma{i}"], grads[f"beta{i}"] = L.batchnorm_backward(d, norm)
        elif model.normalization == "layernorm":
            d, grads[f"gamma{i}"], grads[f"beta{i}"] = L.layernorm_backward(d, norm)
        d, grads[f"W{i}"], grads[f"b{i}"] = L.affine_backward(d, fc)
    for i in range(1, Lyr + 1):
        grads[f"W{i}"] = grads[f"W{i}"] + model.reg * model.params[f"W{i}"]
    return loss, grads


def fcn_no_half(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = fc_net.FullyConnectedNet.loss(model, X, y)
    loss, grads = out
    loss += 0.5 * model.reg * sum(np.sum(model.params[f"W{i}"] ** 2) for i in range(1, model.num_layers + 1))
    return loss, {k: (g + model.reg * model.params[k] if k.startswith("W") else g) for k, g in grads.items()}


def fcn_last_unregularised(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = fc_net.FullyConnectedNet.loss(model, X, y)
    loss, grads = out
    Wl = model.params[f"W{model.num_layers}"]
    return loss - 0.5 * model.reg * np.sum(Wl * Wl), {**grads, f"W{model.num_layers}": grads[f"W{model.num_layers}"]
                                                       - model.reg * Wl}


def fcn_no_dropout_in_backward(model, X, y=None):
    if y is None or not model.use_dropout:
        return None
    loss, grads = fc_net.FullyConnectedNet.loss(copy.deepcopy(model), X, y)
    saved = model.use_dropout
    model.use_dropout = False
    _, g_nodrop = fc_net.FullyConnectedNet.loss(model, X, y)
    model.use_dropout = saved
    return loss, {**grads, "W1": g_nodrop["W1"]}


def measure_fc_net():
    rng = case_rng(14)
    cases = []
    for normalization, keep, reg, dtype in ((None, 1, 0.0, F64), (None, 0.6, 0.7, F64), ("batchnorm", 1, 0.7, F64),
                                            ("batchnorm", 0.6, 0.0, F64), ("layernorm", 0.6, 0.7, F64),
                                            (None, 1, 0.1, F32), ("batchnorm", 1, 0.1, F32)):
        model = _randomise(fc_net.FullyConnectedNet([7, 5], input_dim=6, num_classes=4, reg=reg, weight_scale=0.5,
                                                    dtype=dtype, normalization=normalization, dropout_keep_ratio=keep,
                                                    seed=123), rng, 0.5)
        X = rng_normal(rng, (8, 6))
        cases += [(model, X, rng.integers(0, 4, size=8), {}), (model, X, None, {})]

    def reference(model, X, y):
        return fc_net.FullyConnectedNet.loss(model, X, y)

    return {"cs231n/classifiers/fc_net.py::FullyConnectedNet.loss": (model_rows(reference, [fcn_loss_variant], cases),
                       model_rows(reference, [fcn_no_half, fcn_last_unregularised, fcn_no_dropout_in_backward],
                                  cases))}


def cnn_loss_variant(model, X, y=None):
    """ThreeLayerConvNet.loss with the conv-relu and pool layers called separately and one penalty sum."""
    X = X.astype(model.dtype)
    W1, b1, W2, b2, W3, b3 = (model.params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    a, conv_cache = conv_relu_forward(X, W1, b1, conv_param)
    pooled, pool_cache = max_pool_forward_fast(a, pool_param)
    hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
    scores, scores_cache = L.affine_forward(hidden, W3, b3)
    if y is None:
        return scores
    loss, d = L.softmax_loss(scores, y)
    loss += 0.5 * model.reg * sum(float(np.sum(W.astype(F64) ** 2)) for W in (W1, W2, W3))
    from cs231n.fast_layers import max_pool_backward_fast
    from cs231n.layer_utils import conv_relu_backward

    grads = {}
    d, grads["W3"], grads["b3"] = L.affine_backward(d, scores_cache)
    d, grads["W2"], grads["b2"] = affine_relu_backward(d, hidden_cache)
    d = max_pool_backward_fast(d, pool_cache)
    _, grads["W1"], grads["b1"] = conv_relu_backward(d, conv_cache)
    for k, W in (("W1", W1), ("W2", W2), ("W3", W3)):
        grads[k] = grads[k] + model.reg * W
    return loss, grads


def cnn_no_reg_grad(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = cnn.ThreeLayerConvNet.loss(model, X, y)
    loss, grads = out
    return loss, {k: (g - model.reg * model.params[k] if k.startswith("W") else g) for k, g in grads.items()}


def cnn_no_half(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = cnn.ThreeLayerConvNet.loss(model, X, y)
    loss, grads = out
    return loss + 0.5 * model.reg * sum(np.sum(model.params[k] ** 2) for k in ("W1", "W2", "W3")), grads


def measure_cnn():
    rng = case_rng(15)
    cases = []
    for input_dim, F, size, hidden, reg, N, dtype, scale in (((3, 6, 6), 3, 3, 7, 0.5, 2, F64, 0.3),
                                                             ((2, 8, 10), 4, 5, 6, 0.05, 4, F64, 0.2),
                                                             ((1, 28, 28), 8, 7, 20, 0.01, 4, F32, 1e-2)):
        model = _randomise(cnn.ThreeLayerConvNet(input_dim=input_dim, num_filters=F, filter_size=size, hidden_dim=hidden,
                                                 weight_scale=scale, dtype=dtype, reg=reg), rng, scale)
        X = rng_normal(rng, (N, *input_dim))
        cases += [(model, X, rng.integers(0, 10, size=N), {}), (model, X, None, {})]

    def reference(model, X, y):
        return cnn.ThreeLayerConvNet.loss(model, X, y)

    return {"cs231n/classifiers/cnn.py::ThreeLayerConvNet.loss": (model_rows(reference, [cnn_loss_variant], cases),
                    model_rows(reference, [cnn_no_reg_grad, cnn_no_half], cases))}


def convnet_explicit_layers(model, X, y=None):
    """Honest: ConvNet.loss with every layer called on its own (no sandwiches), batchnorm_backward for the
    hidden layers' batch norm and the penalty summed per layer in float64."""
    from cs231n.fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast

    mode = "test" if y is None else "train"
    for param in [model.dropout_param, *model.bn_params]:
        if param:
            param["mode"] = mode
    p, out, caches = model.params, np.asarray(X, dtype=model.dtype), []
    for i, (kind, pool) in enumerate(model.layers, start=1):
        last, norm = i == model.num_layers, model.normalization is not None and i < model.num_layers
        steps = []
        if kind == "conv" and not last:
            out, c = conv_forward_fast(out, p[f"W{i}"], p[f"b{i}"], model.conv_param)
            steps.append(("conv", c))
            if norm:
                out, c = L.spatial_batchnorm_forward(out, p[f"gamma{i}"], p[f"beta{i}"], model.bn_params[i - 1])
                steps.append(("sbn", c))
        else:
            out, c = L.affine_forward(out, p[f"W{i}"], p[f"b{i}"])
            steps.append(("affine", c))
            if norm:
                out, c = L.batchnorm_forward(out, p[f"gamma{i}"], p[f"beta{i}"], model.bn_params[i - 1])
                steps.append(("bn", c))
        if not last:
            out, c = L.relu_forward(out)
            steps.append(("relu", c))
            if kind == "conv" and pool:
                out, c = max_pool_forward_fast(out, cnn.POOL_PARAM)
                steps.append(("pool", c))
            if kind == "affine" and model.use_dropout:
                out, c = L.dropout_forward(out, model.dropout_param)
                steps.append(("dropout", c))
        caches.append(steps)
    if y is None:
        return out
    loss, d = L.softmax_loss(out, y)
    grads = {}
    backward = {"conv": conv_backward_fast, "sbn": L.spatial_batchnorm_backward, "affine": L.affine_backward,
                "bn": L.batchnorm_backward, "relu": L.relu_backward, "pool": max_pool_backward_fast,
                "dropout": L.dropout_backward}
    for i in range(model.num_layers, 0, -1):
        for kind, c in reversed(caches[i - 1]):
            result = backward[kind](d, c)
            if kind in ("conv", "affine"):
                d, grads[f"W{i}"], grads[f"b{i}"] = result
            elif kind in ("sbn", "bn"):
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = result
            else:
                d = result
    for i in range(1, model.num_layers + 1):
        W = p[f"W{i}"]
        loss += 0.5 * model.reg * float(np.sum(W.astype(F64) ** 2))
        grads[f"W{i}"] = grads[f"W{i}"] + model.reg * W
    return loss, grads


def convnet_no_reg_grad(model, X, y=None):
    if y is None or not model.reg:
        return None
    loss, grads = cnn.ConvNet.loss(model, X, y)
    return loss, {k: (g - model.reg * model.params[k] if k.startswith("W") else g) for k, g in grads.items()}


def convnet_last_layer_unregularised(model, X, y=None):
    if y is None or not model.reg:
        return None
    loss, grads = cnn.ConvNet.loss(model, X, y)
    W = model.params[f"W{model.num_layers}"]
    return loss - 0.5 * model.reg * float(np.sum(W * W)), {**grads, f"W{model.num_layers}": grads[f"W{model.num_layers}"] - model.reg * W}


def measure_convnet():
    rng = case_rng(16)
    cases = []
    for input_dim, stages, hidden, norm, keep, reg, dtype, scale in (
            ((2, 8, 8), ((3,), (4, 2)), (5,), None, 1, 0.3, F64, 0.3),
            ((2, 8, 8), ((3,), (4,)), (5,), "batchnorm", 0.6, 0.1, F64, 0.3),
            ((1, 6, 10), ((2, 3),), (4, 3), "batchnorm", 1, 0.0, F64, 0.3),
            ((1, 12, 12), ((8,), (8,)), (16,), "batchnorm", 1, 0.01, F32, 0.05)):
        model = _randomise(cnn.ConvNet(input_dim=input_dim, stages=stages, hidden_dims=hidden, num_classes=4,
                                       normalization=norm, dropout_keep_ratio=keep, reg=reg, dtype=dtype,
                                       weight_scale=scale, seed=5), rng, scale)
        X = rng_normal(rng, (3, *input_dim)).astype(dtype)
        cases += [(model, X, rng.integers(0, 4, size=3), {}), (model, X, None, {})]

    def reference(model, X, y):
        return cnn.ConvNet.loss(model, X, y)

    return {"cs231n/classifiers/cnn.py::ConvNet.loss": (model_rows(reference, [convnet_explicit_layers], cases),
                        model_rows(reference, [convnet_no_reg_grad, convnet_last_layer_unregularised], cases))}


# -- report -------------------------------------------------------------------------------------------------------


def configured_tolerances():
    """{TODO id: (tol f64, tol f32)} of every hidden check module's TOL table (None: no check of that dtype), or
    {TODO id: _support.SameAs(another TODO id)} for an entry that takes another TODO's tolerance."""
    folder = REPO / "instructor/hidden_tests"
    # The check modules import their shared helpers as `_support`, which the grader loads first.
    sys.path.insert(0, str(folder))
    try:
        found = {}
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            spec = importlib.util.spec_from_file_location(f"_measure_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found.update(getattr(module, "TOL", {}))
        return found
    finally:
        sys.path.remove(str(folder))


MEASURES = (measure_affine, measure_relu, measure_losses, measure_batchnorm, measure_layernorm, measure_dropout,
            measure_conv, measure_pool, measure_spatial, measure_optim, measure_a1, measure_fc_net, measure_cnn,
            measure_convnet)


def measure_all(salts):
    """{TODO id: (honest rows, bug rows)} over every salt; a row is (variant, dtype, difference, salt)."""
    measured = {}
    for salt in salts:
        SALT[0] = salt
        for measure in MEASURES:
            for name, (ok_rows, bug_rows) in measure().items():
                ok, bug = measured.setdefault(name, ([], []))
                ok.extend((*row, salt) for row in ok_rows)
                bug.extend((*row, salt) for row in bug_rows)
    return measured


def _smallest_bug(bug_rows, dtype):
    """(bug, difference) of the bug least visible: per bug and salt its worst case (a check fails on its worst
    case), then the smallest of those over bugs and salts (a bug must be caught at every grading)."""
    per_draw = {}
    for variant, d, value, salt in bug_rows:
        if d == dtype:
            per_draw[(variant, salt)] = max(per_draw.get((variant, salt), 0.0), value)
    if not per_draw:
        return "-", np.inf
    (variant, _), value = min(per_draw.items(), key=lambda kv: kv[1])
    return variant, value


def _same_as(tolerances):
    """{TODO id: the TODO id whose tolerance it takes} of the SameAs entries (a str; a measured entry is a tuple)."""
    return {name: str(entry) for name, entry in tolerances.items() if isinstance(entry, str)}


def report(measured, tolerances):
    """Print the table by TODO id; return the problems found."""
    same = _same_as(tolerances)
    width = max(map(len, [*measured, *tolerances]), default=8)
    print(f"{'TODO':{width}} {'dtype':8} {'honest max':>11} {'(variant)':28} {'bug min':>9} {'(bug)':28} "
          f"{'tolerance':>9}  margins")
    problems = []
    for name in sorted(set(tolerances) - set(measured) - set(same)):
        problems.append(f"{name}: a TOL entry that nothing measured")
    for name, target in same.items():
        if name in measured:
            problems.append(f"{name}: measured, but its TOL entry takes {target}'s tolerance")
        elif not isinstance(tolerances.get(target), tuple) or target not in measured:
            problems.append(f"{name}: takes the tolerance of {target}, which has no measured TOL entry")
    for name, (ok_rows, bug_rows) in measured.items():
        tol_pair = tolerances.get(name)
        if tol_pair is None:
            problems.append(f"{name}: no tolerance configured")
            continue
        for i, dtype in enumerate((F64, F32)):
            ok = [r for r in ok_rows if r[1] == dtype]
            tol = tol_pair[i]
            if tol is None:
                if ok:
                    problems.append(f"{name} {np.dtype(dtype).name}: measured, but TOL has no tolerance for it")
                continue
            if not ok:
                problems.append(f"{name} {np.dtype(dtype).name}: a tolerance that nothing measured")
                continue
            worst = max(ok, key=lambda r: r[2])
            bug, smallest = _smallest_bug(bug_rows, dtype)
            above = tol / max(worst[2], 1e-17)
            below = smallest / tol
            flags = []
            if above < MARGIN:
                flags.append("TOO CLOSE TO NOISE")
            if dtype == F64 and below < MARGIN:
                flags.append("TOO CLOSE TO A BUG")
            if flags:
                problems.append(f"{name} {np.dtype(dtype).name}: {', '.join(flags)}")
            print(f"{name:{width}} {np.dtype(dtype).name:8} {worst[2]:11.1e} {worst[0][:28]:28} {smallest:9.1e} "
                  f"{bug[:28]:28} {tol:9.0e}  x{above:.0e} above, x{below:.0e} below {' '.join(flags)}")
    for name, target in sorted(same.items()):
        print(f"{name:{width}} the tolerance of {target}")
    return problems


def main(argv=()):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--salts", type=int, default=4, help="how many random salts to draw the cases from")
    parser.add_argument("--salt", type=int, action="append", help="a given salt (repeatable), to reproduce a run")
    args = parser.parse_args(list(argv))
    salts = args.salt or [secrets.randbits(63) for _ in range(args.salts)]
    print(f"salts: {' '.join(str(s) for s in salts)}")
    problems = report(measure_all(salts), configured_tolerances())
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("tolerances: OK" if not problems else f"tolerances: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
