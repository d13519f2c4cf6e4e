"""Measures of the TODOs hidden_tests/norms.py checks: batch norm, layer norm, dropout."""

import numpy as np

from cs231n import layers as L

from ._common import F32, F64, LAYERS, backward_rows, case_rng, diff, f64, forward_rows, rng_normal

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
