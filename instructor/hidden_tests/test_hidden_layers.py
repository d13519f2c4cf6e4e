"""Hidden checks of cs231n.layers and cs231n.optim: other seeds and shapes than the public tests.

Instructor-only. The grader collects this file before any submission code runs and deletes it before the
tests run, so the submission is imported lazily inside each test (never at module level).
Each assertion message names the function under test.
"""

import importlib

import numpy as np
import pytest


def layers():
    return importlib.import_module("cs231n.layers")


def optim():
    return importlib.import_module("cs231n.optim")


def rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return np.inf
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def num_grad(f, x, df, h=1e-6):
    """Numerical gradient of sum(f(x) * df) at x (f returns an array or a scalar)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def check(value, name, what):
    assert value is not None, f"{name} returned None for {what}: implement {name}"
    return value


# -- affine / relu -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), (4, 2, 2, 2)])
def test_affine_forward_random_shapes(shape):
    rng = np.random.default_rng(11)
    x = rng.standard_normal(shape)
    d = int(np.prod(shape[1:]))
    w, b = rng.standard_normal((d, 6)), rng.standard_normal(6)
    out, _ = layers().affine_forward(x, w, b)
    expected = np.einsum("nd,dm->nm", x.reshape(shape[0], d), w) + b
    assert rel(check(out, "affine_forward", shape), expected) < 1e-10, f"affine_forward is wrong for x of shape {shape}"


def test_affine_backward_numeric():
    rng = np.random.default_rng(12)
    x, w, b = rng.standard_normal((3, 2, 3)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((3, 4))
    _, cache = layers().affine_forward(x, w, b)
    grads = check(layers().affine_backward(dout, cache), "affine_backward", "x of shape (3, 2, 3)")
    assert all(g is not None for g in grads), "affine_backward returned None gradients: implement affine_backward"
    dx, dw, db = grads
    fx = lambda v: v.reshape(3, 6) @ w + b
    assert rel(dx, num_grad(fx, x.copy(), dout)) < 1e-7, "affine_backward: dx is wrong"
    assert rel(dw, num_grad(lambda v: x.reshape(3, 6) @ v + b, w.copy(), dout)) < 1e-7, "affine_backward: dw is wrong"
    assert rel(db, num_grad(lambda v: x.reshape(3, 6) @ w + v, b.copy(), dout)) < 1e-7, "affine_backward: db is wrong"


def test_relu_forward_random():
    x = np.random.default_rng(13).standard_normal((5, 3, 2))
    out, _ = layers().relu_forward(x)
    assert rel(check(out, "relu_forward", "x of shape (5, 3, 2)"), np.where(x > 0, x, 0)) < 1e-12, "relu_forward is wrong"


def test_relu_backward_random():
    rng = np.random.default_rng(14)
    x, dout = rng.standard_normal((4, 7)), rng.standard_normal((4, 7))
    _, cache = layers().relu_forward(x)
    dx = check(layers().relu_backward(dout, cache), "relu_backward", "x of shape (4, 7)")
    assert rel(dx, dout * (x > 0)) < 1e-12, "relu_backward: dx must pass dout where x > 0 and 0 elsewhere"


# -- losses ------------------------------------------------------------------------------------------


def _softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def _svm_loss(x, y):
    correct = x[np.arange(len(y)), y][:, None]
    margins = np.maximum(0, x - correct + 1.0)
    margins[np.arange(len(y)), y] = 0
    return margins.sum() / len(y)


@pytest.mark.parametrize(("name", "reference"), [("svm_loss", _svm_loss), ("softmax_loss", _softmax_loss)])
def test_loss_and_gradient_random(name, reference):
    rng = np.random.default_rng(15)
    x, y = rng.standard_normal((7, 5)), rng.integers(0, 5, size=7)
    result = getattr(layers(), name)(x, y)
    loss, dx = check(result[0], name, "loss"), check(result[1], name, "dx")
    assert abs(loss - reference(x, y)) < 1e-9, f"{name}: the loss is wrong for 7 examples of 5 classes"
    assert rel(dx, num_grad(lambda v: reference(v, y), x.copy(), 1.0)) < 1e-6, f"{name}: dx is wrong"


# -- normalisation -----------------------------------------------------------------------------------


def _bn(x, gamma, beta, axis, eps=1e-5):
    mu = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def test_batchnorm_forward_train_and_test():
    rng = np.random.default_rng(16)
    x = 3 + 2 * rng.standard_normal((20, 4))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    param = {"mode": "train", "momentum": 0.5}
    out, _ = layers().batchnorm_forward(x, gamma, beta, param)
    assert rel(check(out, "batchnorm_forward", "train mode"), _bn(x, gamma, beta, 0)) < 1e-7, "batchnorm_forward: train output is wrong"
    assert rel(param["running_mean"], 0.5 * x.mean(axis=0)) < 1e-7, "batchnorm_forward: running_mean update is wrong"
    param.update(mode="test", running_mean=np.full(4, 1.0), running_var=np.full(4, 4.0))
    out, _ = layers().batchnorm_forward(x, gamma, beta, param)
    expected = gamma * (x - 1.0) / np.sqrt(4.0 + 1e-5) + beta
    assert rel(check(out, "batchnorm_forward", "test mode"), expected) < 1e-7, "batchnorm_forward: test mode must use the running averages"


@pytest.mark.parametrize("name", ["batchnorm_backward", "batchnorm_backward_alt"])
def test_batchnorm_backward_numeric(name):
    rng = np.random.default_rng(17)
    x, gamma, beta = rng.standard_normal((6, 3)), rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal((6, 3))
    _, cache = layers().batchnorm_forward(x, gamma, beta, {"mode": "train"})
    grads = check(getattr(layers(), name)(dout, cache), name, "x of shape (6, 3)")
    assert all(g is not None for g in grads), f"{name} returned None gradients: implement {name}"
    dx, dgamma, dbeta = grads
    assert rel(dx, num_grad(lambda v: _bn(v, gamma, beta, 0), x.copy(), dout)) < 1e-5, f"{name}: dx is wrong"
    assert rel(dgamma, num_grad(lambda v: _bn(x, v, beta, 0), gamma.copy(), dout)) < 1e-5, f"{name}: dgamma is wrong"
    assert rel(dbeta, dout.sum(axis=0)) < 1e-8, f"{name}: dbeta is wrong"


def test_layernorm_forward_random():
    rng = np.random.default_rng(18)
    x, gamma, beta = 5 + rng.standard_normal((3, 8)), rng.standard_normal(8), rng.standard_normal(8)
    out, _ = layers().layernorm_forward(x, gamma, beta, {})
    assert rel(check(out, "layernorm_forward", "x of shape (3, 8)"), _bn(x, gamma, beta, 1)) < 1e-7, "layernorm_forward is wrong"


def test_layernorm_backward_numeric():
    rng = np.random.default_rng(19)
    x, gamma, beta = rng.standard_normal((4, 5)), rng.standard_normal(5), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    _, cache = layers().layernorm_forward(x, gamma, beta, {})
    grads = check(layers().layernorm_backward(dout, cache), "layernorm_backward", "x of shape (4, 5)")
    assert all(g is not None for g in grads), "layernorm_backward returned None gradients: implement layernorm_backward"
    dx, dgamma, _ = grads
    assert rel(dx, num_grad(lambda v: _bn(v, gamma, beta, 1), x.copy(), dout)) < 1e-5, "layernorm_backward: dx is wrong"
    assert rel(dgamma, num_grad(lambda v: _bn(x, v, beta, 1), gamma.copy(), dout)) < 1e-5, "layernorm_backward: dgamma is wrong"


def _gn(x, gamma, beta, groups, eps=1e-5):
    n, c, h, w = x.shape
    xg = x.reshape(n, groups, -1)
    xg = (xg - xg.mean(axis=2, keepdims=True)) / np.sqrt(xg.var(axis=2, keepdims=True) + eps)
    return gamma * xg.reshape(n, c, h, w) + beta


def test_spatial_batchnorm_forward_random():
    rng = np.random.default_rng(20)
    x = 2 + 3 * rng.standard_normal((4, 3, 2, 5))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    out, _ = layers().spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    expected = _bn(x, gamma[None, :, None, None], beta[None, :, None, None], (0, 2, 3))
    assert rel(check(out, "spatial_batchnorm_forward", "x of shape (4, 3, 2, 5)"), expected) < 1e-7, "spatial_batchnorm_forward is wrong"


def test_spatial_batchnorm_backward_numeric():
    rng = np.random.default_rng(21)
    x, gamma, beta = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal(x.shape)
    _, cache = layers().spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    grads = check(layers().spatial_batchnorm_backward(dout, cache), "spatial_batchnorm_backward", "x of shape (2, 3, 2, 2)")
    assert all(g is not None for g in grads), "spatial_batchnorm_backward returned None: implement spatial_batchnorm_backward"
    f = lambda v: _bn(v, gamma[None, :, None, None], beta[None, :, None, None], (0, 2, 3))
    assert rel(grads[0], num_grad(f, x.copy(), dout)) < 1e-5, "spatial_batchnorm_backward: dx is wrong"


def test_spatial_groupnorm_forward_random():
    rng = np.random.default_rng(22)
    x = 1 + rng.standard_normal((2, 6, 3, 2))
    gamma, beta = rng.standard_normal((1, 6, 1, 1)), rng.standard_normal((1, 6, 1, 1))
    out, _ = layers().spatial_groupnorm_forward(x, gamma, beta, 3, {})
    assert rel(check(out, "spatial_groupnorm_forward", "G=3"), _gn(x, gamma, beta, 3)) < 1e-7, "spatial_groupnorm_forward is wrong"


def test_spatial_groupnorm_backward_numeric():
    rng = np.random.default_rng(23)
    x = rng.standard_normal((2, 4, 2, 2))
    gamma, beta = rng.standard_normal((1, 4, 1, 1)), rng.standard_normal((1, 4, 1, 1))
    dout = rng.standard_normal(x.shape)
    _, cache = layers().spatial_groupnorm_forward(x, gamma, beta, 2, {})
    grads = check(layers().spatial_groupnorm_backward(dout, cache), "spatial_groupnorm_backward", "G=2")
    assert all(g is not None for g in grads), "spatial_groupnorm_backward returned None: implement spatial_groupnorm_backward"
    assert rel(grads[0], num_grad(lambda v: _gn(v, gamma, beta, 2), x.copy(), dout)) < 1e-5, "spatial_groupnorm_backward: dx is wrong"
    assert rel(grads[1], num_grad(lambda v: _gn(x, v, beta, 2), gamma.copy(), dout)) < 1e-5, "spatial_groupnorm_backward: dgamma is wrong"


# -- dropout -----------------------------------------------------------------------------------------


def test_dropout_forward_keeps_expectation_and_test_mode_is_identity():
    x = np.random.default_rng(24).standard_normal((300, 200)) + 5
    out, _ = layers().dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 7})
    out = check(out, "dropout_forward", "train mode")
    assert abs((out == 0).mean() - 0.7) < 0.01, "dropout_forward: p is the keep probability (drop 1 - p of the units)"
    assert abs(out.mean() - x.mean()) < 0.1, "dropout_forward: scale the kept units by 1 / p (inverted dropout)"
    out, _ = layers().dropout_forward(x, {"mode": "test", "p": 0.3})
    assert rel(check(out, "dropout_forward", "test mode"), x) < 1e-12, "dropout_forward: test mode must return x"


def test_dropout_backward_uses_the_mask():
    rng = np.random.default_rng(25)
    x, dout = rng.standard_normal((20, 10)) + 3, rng.standard_normal((20, 10))
    out, cache = layers().dropout_forward(x, {"mode": "train", "p": 0.6, "seed": 3})
    dx = check(layers().dropout_backward(dout, cache), "dropout_backward", "train mode")
    assert out is not None, "dropout_forward returned None: dropout_backward needs its mask"
    expected = np.where(out != 0, dout / 0.6, 0.0)
    assert rel(dx, expected) < 1e-10, "dropout_backward: dx must be dout * mask / p"


# -- convolution and pooling -------------------------------------------------------------------------


def _conv(x, w, b, stride, pad):
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = 1 + (h + 2 * pad - hh) // stride, 1 + (wd + 2 * pad - ww) // stride
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), [((2, 3, 5, 6), (4, 3, 3, 2), 1, 1), ((1, 2, 7, 7), (3, 2, 3, 3), 2, 0)])
def test_conv_forward_naive_random(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(26)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    out, _ = layers().conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    expected = _conv(x, w, b, stride, pad)
    assert rel(check(out, "conv_forward_naive", x_shape), expected) < 1e-9, f"conv_forward_naive is wrong for x {x_shape}, w {w_shape}, stride {stride}, pad {pad}"


def test_conv_backward_naive_numeric():
    rng = np.random.default_rng(27)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    param = {"stride": 2, "pad": 1}
    dout = rng.standard_normal(_conv(x, w, b, 2, 1).shape)
    _, cache = layers().conv_forward_naive(x, w, b, param)
    grads = check(layers().conv_backward_naive(dout, cache), "conv_backward_naive", "stride 2, pad 1")
    assert all(g is not None for g in grads), "conv_backward_naive returned None gradients: implement conv_backward_naive"
    dx, dw, db = grads
    assert rel(dx, num_grad(lambda v: _conv(v, w, b, 2, 1), x.copy(), dout)) < 1e-6, "conv_backward_naive: dx is wrong"
    assert rel(dw, num_grad(lambda v: _conv(x, v, b, 2, 1), w.copy(), dout)) < 1e-6, "conv_backward_naive: dw is wrong"
    assert rel(db, dout.sum(axis=(0, 2, 3))) < 1e-8, "conv_backward_naive: db is wrong"


def _pool(x, ph, pw, stride):
    n, c, h, w = x.shape
    ho, wo = 1 + (h - ph) // stride, 1 + (w - pw) // stride
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw].max(axis=(2, 3))
    return out


def test_max_pool_forward_naive_random():
    x = np.random.default_rng(28).standard_normal((2, 3, 7, 5))
    out, _ = layers().max_pool_forward_naive(x, {"pool_height": 3, "pool_width": 2, "stride": 2})
    assert rel(check(out, "max_pool_forward_naive", "3x2 windows"), _pool(x, 3, 2, 2)) < 1e-12, "max_pool_forward_naive is wrong for 3x2 windows, stride 2"


def test_max_pool_backward_naive_numeric():
    rng = np.random.default_rng(29)
    x = rng.standard_normal((2, 2, 6, 4))
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    dout = rng.standard_normal((2, 2, 3, 2))
    _, cache = layers().max_pool_forward_naive(x, param)
    dx = check(layers().max_pool_backward_naive(dout, cache), "max_pool_backward_naive", "2x2 windows")
    assert rel(dx, num_grad(lambda v: _pool(v, 2, 2, 2), x.copy(), dout)) < 1e-6, "max_pool_backward_naive: dx is wrong"


# -- optimizers --------------------------------------------------------------------------------------


def test_sgd_momentum_two_steps():
    rng = np.random.default_rng(30)
    w, dw = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    config = {"learning_rate": 0.05, "momentum": 0.8}
    w1, config = optim().sgd_momentum(w, dw, config)
    w2, config = optim().sgd_momentum(check(w1, "sgd_momentum", "step 1"), dw, config)
    v1 = -0.05 * dw
    v2 = 0.8 * v1 - 0.05 * dw
    assert rel(w1, w + v1) < 1e-10 and rel(check(w2, "sgd_momentum", "step 2"), w + v1 + v2) < 1e-10, "sgd_momentum: wrong update"


def test_rmsprop_two_steps():
    rng = np.random.default_rng(31)
    w, dw = rng.standard_normal(5), rng.standard_normal(5)
    config = {"learning_rate": 0.01, "decay_rate": 0.9}
    w1, config = optim().rmsprop(w, dw, config)
    w2, config = optim().rmsprop(check(w1, "rmsprop", "step 1"), dw, config)
    c1 = 0.1 * dw**2
    c2 = 0.9 * c1 + 0.1 * dw**2
    e1 = w - 0.01 * dw / (np.sqrt(c1) + 1e-8)
    assert rel(w1, e1) < 1e-9, "rmsprop: wrong first update"
    assert rel(check(w2, "rmsprop", "step 2"), e1 - 0.01 * dw / (np.sqrt(c2) + 1e-8)) < 1e-9, "rmsprop: wrong second update"


def test_adam_three_steps():
    rng = np.random.default_rng(32)
    w = rng.standard_normal(6)
    config = {"learning_rate": 0.02}
    m = v = np.zeros(6)
    expected = w.copy()
    for t in range(1, 4):
        dw = rng.standard_normal(6)
        w, config = optim().adam(w, dw, config)
        check(w, "adam", f"step {t}")
        m = 0.9 * m + 0.1 * dw
        v = 0.999 * v + 0.001 * dw**2
        expected = expected - 0.02 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        assert rel(w, expected) < 1e-8, f"adam: wrong update at step {t} (bias-corrected moments, t counted from 1)"
