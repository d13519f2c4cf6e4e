"""Measures of the TODOs hidden_tests/conv.py checks: convolution, max pooling, spatial batch norm, group norm."""

import numpy as np

from cs231n import layers as L

from ._common import F32, F64, LAYERS, backward_rows, case_rng, f64, forward_rows, rng_normal
from .norms import bn_backward_graph

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
