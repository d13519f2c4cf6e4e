"""Measures of the TODOs hidden_tests/layers.py checks: affine, ReLU, the SVM and softmax losses."""

import numpy as np

from cs231n import layers as L

from ._common import F32, F64, LAYERS, backward_rows, case_rng, f64, forward_rows, rng_normal, value_rows

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
