"""Tests for cs231n.layers: the course notebook's check values, numerical gradients, purity and bad input."""

import copy

import numpy as np
import pytest

from cs231n.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from cs231n.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    conv_backward_naive,
    conv_forward_naive,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
    softmax_loss,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
    svm_loss,
)


def num_grad(f, x, dout):
    """Numerical gradient of sum(f(x) * dout) with respect to x, on a copy so x is left alone."""
    return eval_numerical_gradient_array(f, x.copy(), dout)


# Analytic gradients against numerical ones, on the gradient's scale (scaled_error): the finite difference
# rounds to about 1e-16 * |f| / h, which an elementwise relative error turns into anything for entries near
# zero, and which a different, correct order of operations changes. A wrong gradient is off by 1e-3 or more.
GRAD_TOL = 1e-7


def has_shape(a, shape):
    """`a` has the documented `shape`, or that shape with extra leading axes of length 1 (layers.py allows both)."""
    extra = a.ndim - len(shape)
    return extra >= 0 and a.shape[extra:] == tuple(shape) and all(n == 1 for n in a.shape[:extra])


def scaled_error(a, b):
    """max |a - b| / max |b|: differences measured on the values' scale, so entries near zero do not count
    for more than the rounding of a different (correct) order of operations."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


# --- affine / relu -------------------------------------------------------------------------------


def test_affine_forward_course_values():
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out, _ = affine_forward(x, w, b)
    correct = np.array([[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]])
    assert has_shape(out, (2, 3))
    assert rel_error(out, correct) < 1e-9


def test_affine_backward_numeric():
    rng = np.random.RandomState(231)
    x, w, b = rng.randn(10, 2, 3), rng.randn(6, 5), rng.randn(5)
    dout = rng.randn(10, 5)
    _, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)
    assert has_shape(dx, x.shape) and has_shape(dw, w.shape) and has_shape(db, b.shape)
    assert scaled_error(dx, num_grad(lambda x: affine_forward(x, w, b)[0], x, dout)) < GRAD_TOL
    assert scaled_error(dw, num_grad(lambda w: affine_forward(x, w, b)[0], w, dout)) < GRAD_TOL
    assert scaled_error(db, num_grad(lambda b: affine_forward(x, w, b)[0], b, dout)) < GRAD_TOL


def test_affine_rejects_mismatched_features():
    with pytest.raises(ValueError, match=r"12 features.*w\.shape\[0\] = 7"):
        affine_forward(np.zeros((2, 3, 4)), np.zeros((7, 5)), np.zeros(5))


def test_relu_forward_course_values():
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    correct = np.array(
        [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.04545455, 0.13636364], [0.22727273, 0.31818182, 0.40909091, 0.5]]
    )
    assert rel_error(out, correct) < 1e-7


def test_relu_backward_numeric():
    rng = np.random.RandomState(231)
    x, dout = rng.randn(10, 10), rng.randn(10, 10)
    dx = relu_backward(dout, relu_forward(x)[1])
    assert scaled_error(dx, num_grad(lambda x: relu_forward(x)[0], x, dout)) < GRAD_TOL


# --- losses --------------------------------------------------------------------------------------


@pytest.fixture
def course_scores():
    np.random.seed(231)
    num_classes, num_inputs = 10, 50
    x = 0.001 * np.random.randn(num_inputs, num_classes)
    y = np.random.randint(num_classes, size=num_inputs)
    return x, y


def test_svm_loss_course_value(course_scores):
    x, y = course_scores
    loss, dx = svm_loss(x, y)
    assert abs(loss - 8.999602749096233) < 1e-9
    dx_num = eval_numerical_gradient(lambda x: svm_loss(x, y)[0], x.copy(), verbose=False)
    # The course notebook reports 1.40e-09 here: the finite difference's rounding (about 1e-16 * loss / h
    # against entries of 1 / N), which the order the loss is summed in changes; a wrong gradient is off by 1e-3
    # or more.
    assert rel_error(dx, dx_num) < 1e-7


def test_softmax_loss_course_value(course_scores):
    x, y = course_scores
    loss, dx = softmax_loss(x, y)
    assert abs(loss - 2.302545844500738) < 1e-9
    dx_num = eval_numerical_gradient(lambda x: softmax_loss(x, y)[0], x.copy(), verbose=False)
    # As for the SVM: the finite difference's rounding, not the layer's, sets the floor.
    assert rel_error(dx, dx_num) < 1e-7


def test_softmax_loss_is_stable_for_huge_scores():
    x = np.array([[1000.0, 0.0], [0.0, -1000.0]])
    loss, dx = softmax_loss(x, np.array([0, 0]))
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert abs(loss) < 1e-12


@pytest.mark.parametrize("loss_fn", [svm_loss, softmax_loss])
@pytest.mark.parametrize(
    ("x", "y", "pattern"),
    [
        (np.zeros((3, 4)), np.array([0, 4, 1]), r"label 4 .*C = 4"),
        (np.zeros((3, 4)), np.array([0, -1, 1]), r"label -1 .*C = 4"),
        (np.zeros((3, 4)), np.array([0.0, 1.0, 2.0]), r"integer"),
        (np.zeros((3, 4)), np.array([0, 1]), r"shape \(3,\)"),
        (np.zeros((3, 4, 1)), np.array([0, 1, 2]), r"2-D"),
    ],
)
def test_losses_reject_bad_input(loss_fn, x, y, pattern):
    with pytest.raises(ValueError, match=pattern):
        loss_fn(x, y)


# --- batch norm / layer norm ---------------------------------------------------------------------


def test_batchnorm_train_normalizes_to_gamma_beta():
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    X = np.random.randn(N, D1)
    W1, W2 = np.random.randn(D1, D2), np.random.randn(D2, D3)
    a = np.maximum(0, X.dot(W1)).dot(W2)
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    out, _ = batchnorm_forward(a, gamma, beta, {"mode": "train"})
    assert np.allclose(out.mean(axis=0), beta, atol=1e-10)
    assert np.allclose(out.std(axis=0), gamma, rtol=1e-5)


def test_batchnorm_test_mode_uses_running_averages():
    np.random.seed(231)
    N, D1, D2, D3 = 200, 50, 60, 3
    W1, W2 = np.random.randn(D1, D2), np.random.randn(D2, D3)
    bn_param = {"mode": "train"}
    gamma, beta = np.ones(D3), np.zeros(D3)
    for _ in range(50):
        a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
        batchnorm_forward(a, gamma, beta, bn_param)
    bn_param["mode"] = "test"
    a = np.maximum(0, np.random.randn(N, D1).dot(W1)).dot(W2)
    out, _ = batchnorm_forward(a, gamma, beta, bn_param)
    assert np.all(np.abs(out.mean(axis=0)) < 0.15)
    assert np.all(np.abs(out.std(axis=0) - 1) < 0.15)


def test_batchnorm_running_average_formula():
    rng = np.random.RandomState(0)
    x, gamma, beta = rng.randn(8, 3), np.ones(3), np.zeros(3)
    bn_param = {"mode": "train", "momentum": 0.8, "running_mean": np.ones(3), "running_var": np.ones(3)}
    batchnorm_forward(x, gamma, beta, bn_param)
    assert rel_error(bn_param["running_mean"], 0.8 + 0.2 * x.mean(axis=0)) < 1e-12
    assert rel_error(bn_param["running_var"], 0.8 + 0.2 * x.var(axis=0)) < 1e-12


def _batchnorm_course_case():
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta, dout = np.random.randn(D), np.random.randn(D), np.random.randn(N, D)
    return x, gamma, beta, dout


@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt], ids=lambda f: f.__name__)
def test_batchnorm_backward_numeric(backward):
    x, gamma, beta, dout = _batchnorm_course_case()

    def fwd(x, gamma, beta):
        return batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)
    name = backward.__name__
    assert scaled_error(dx, num_grad(lambda x: fwd(x, gamma, beta), x, dout)) < GRAD_TOL, f"{name}: dx"
    assert scaled_error(dgamma, num_grad(lambda g: fwd(x, g, beta), gamma, dout)) < GRAD_TOL, f"{name}: dgamma"
    assert scaled_error(dbeta, num_grad(lambda b: fwd(x, gamma, b), beta, dout)) < GRAD_TOL, f"{name}: dbeta"


def test_batchnorm_backward_alt_agrees_with_batchnorm_backward():
    x, gamma, beta, dout = _batchnorm_course_case()
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for a, b in zip(batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)):
        assert scaled_error(a, b) < 1e-10, "batchnorm_backward_alt differs from batchnorm_backward"


def test_batchnorm_rejects_unknown_mode():
    with pytest.raises(ValueError, match=r"'train' or 'test'.*'eval'"):
        batchnorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), {"mode": "eval"})


def test_layernorm_forward_normalizes_rows():
    np.random.seed(231)
    x = 5 * np.random.randn(4, 7) + 12
    out, _ = layernorm_forward(x, np.ones(7), np.zeros(7), {})
    assert np.allclose(out.mean(axis=1), 0, atol=1e-10)
    assert np.allclose(out.std(axis=1), 1, rtol=1e-4)
    gamma, beta = np.arange(1.0, 8.0), np.arange(7.0)
    out2, _ = layernorm_forward(x, gamma, beta, {})
    assert scaled_error(out2, out * gamma + beta) < 1e-12


def test_layernorm_backward_numeric():
    np.random.seed(231)
    N, D = 4, 5
    x = 5 * np.random.randn(N, D) + 12
    gamma, beta, dout = np.random.randn(D), np.random.randn(D), np.random.randn(N, D)

    def fwd(x, gamma, beta):
        return layernorm_forward(x, gamma, beta, {})[0]

    dx, dgamma, dbeta = layernorm_backward(dout, layernorm_forward(x, gamma, beta, {})[1])
    assert scaled_error(dx, num_grad(lambda x: fwd(x, gamma, beta), x, dout)) < GRAD_TOL
    assert scaled_error(dgamma, num_grad(lambda g: fwd(x, g, beta), gamma, dout)) < GRAD_TOL
    assert scaled_error(dbeta, num_grad(lambda b: fwd(x, gamma, b), beta, dout)) < GRAD_TOL


# --- dropout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_forward_statistics(p):
    np.random.seed(231)
    x = np.random.randn(500, 500) + 10
    out, _ = dropout_forward(x, {"mode": "train", "p": p})
    out_test, _ = dropout_forward(x, {"mode": "test", "p": p})
    assert abs(out.mean() / x.mean() - 1) < 0.02
    assert abs((out == 0).mean() - (1 - p)) < 0.01
    assert np.array_equal(out_test, x)


def test_dropout_seed_reproduces():
    x = np.random.RandomState(0).randn(20, 30)
    out1, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    out2, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 7})
    out3, _ = dropout_forward(x, {"mode": "train", "p": 0.5, "seed": 8})
    assert out1.shape == x.shape
    assert np.array_equal(out1, out2)
    assert not np.array_equal(out1, out3)


def test_dropout_backward_numeric():
    np.random.seed(231)
    x, dout = np.random.randn(10, 10) + 10, np.random.randn(10, 10)
    param = {"mode": "train", "p": 0.2, "seed": 123}
    dx = dropout_backward(dout, dropout_forward(x, param)[1])
    assert scaled_error(dx, num_grad(lambda x: dropout_forward(x, param)[0], x, dout)) < GRAD_TOL
    test_param = {"mode": "test", "p": 0.2}
    assert np.array_equal(dropout_backward(dout, dropout_forward(x, test_param)[1]), dout)


@pytest.mark.parametrize(
    ("param", "pattern"),
    [({"mode": "train", "p": 0.0}, r"keep probability"), ({"mode": "train", "p": 1.5}, r"keep"),
     ({"mode": "predict", "p": 0.5}, r"'train' or 'test'")],
)
def test_dropout_rejects_bad_param(param, pattern):
    with pytest.raises(ValueError, match=pattern):
        dropout_forward(np.zeros(3), param)


# --- convolution / pooling -----------------------------------------------------------------------


def test_conv_forward_naive_course_values():
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    correct = np.array(
        [[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
          [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
          [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
         [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
          [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
          [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]]
    )
    assert rel_error(out, correct) < 1e-7


def test_conv_forward_naive_matches_direct_sum():
    """A non-square filter with stride 1 checked against an explicit six-fold loop."""
    rng = np.random.RandomState(0)
    x, w, b = rng.randn(2, 2, 5, 6), rng.randn(3, 2, 3, 2), rng.randn(3)
    out, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros((2, 3, 5, 7))
    for n in range(2):
        for f in range(3):
            for i in range(5):
                for j in range(7):
                    expected[n, f, i, j] = np.sum(xp[n, :, i : i + 3, j : j + 2] * w[f]) + b[f]
    assert has_shape(out, (2, 3, 5, 7))
    assert scaled_error(out, expected) < 1e-12


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "conv_param"),
    [((4, 3, 5, 5), (2, 3, 3, 3), {"stride": 1, "pad": 1}),
     ((2, 3, 7, 6), (2, 3, 3, 2), {"stride": 2, "pad": 0})],
)
def test_conv_backward_naive_numeric(x_shape, w_shape, conv_param):
    rng = np.random.RandomState(231)
    x, w, b = rng.randn(*x_shape), rng.randn(*w_shape), rng.randn(w_shape[0])
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.randn(*out.shape)
    dx, dw, db = conv_backward_naive(dout, cache)
    assert scaled_error(dx, num_grad(lambda x: conv_forward_naive(x, w, b, conv_param)[0], x, dout)) < GRAD_TOL
    assert scaled_error(dw, num_grad(lambda w: conv_forward_naive(x, w, b, conv_param)[0], w, dout)) < GRAD_TOL
    assert scaled_error(db, num_grad(lambda b: conv_forward_naive(x, w, b, conv_param)[0], b, dout)) < GRAD_TOL


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "conv_param", "pattern"),
    [((1, 3, 5, 5), (2, 3, 2, 2), {"stride": 2, "pad": 0}, r"= 3 is not divisible by stride 2"),
     ((1, 3, 4, 4), (2, 3, 7, 7), {"stride": 1, "pad": 1}, r"filter height 7 exceeds"),
     ((1, 3, 4, 4), (2, 4, 3, 3), {"stride": 1, "pad": 1}, r"3 channels but w has 4")],
)
def test_conv_rejects_bad_geometry(x_shape, w_shape, conv_param, pattern):
    with pytest.raises(ValueError, match=pattern):
        conv_forward_naive(np.zeros(x_shape), np.zeros(w_shape), np.zeros(w_shape[0]), conv_param)


def test_conv_rejects_bias_of_wrong_shape():
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        conv_forward_naive(np.zeros((1, 3, 4, 4)), np.zeros((2, 3, 3, 3)), np.zeros(3), {"stride": 1, "pad": 1})


def test_max_pool_forward_naive_course_values():
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    out, _ = max_pool_forward_naive(x, {"pool_width": 2, "pool_height": 2, "stride": 2})
    correct = np.array(
        [[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
          [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
          [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
         [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
          [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
          [[0.32631579, 0.34105263], [0.38526316, 0.4]]]]
    )
    assert rel_error(out, correct) < 1e-7


@pytest.mark.parametrize(
    ("x_shape", "pool_param"),
    [((3, 2, 8, 8), {"pool_height": 2, "pool_width": 2, "stride": 2}),
     ((2, 2, 7, 9), {"pool_height": 3, "pool_width": 3, "stride": 2}),
     ((2, 2, 6, 5), {"pool_height": 2, "pool_width": 3, "stride": 1})],
)
def test_max_pool_backward_naive_numeric(x_shape, pool_param):
    rng = np.random.RandomState(231)
    x = rng.randn(*x_shape)
    out, cache = max_pool_forward_naive(x, pool_param)
    dout = rng.randn(*out.shape)
    dx = max_pool_backward_naive(dout, cache)
    assert scaled_error(dx, num_grad(lambda x: max_pool_forward_naive(x, pool_param)[0], x, dout)) < GRAD_TOL


def test_max_pool_overlapping_windows_values():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = max_pool_forward_naive(x, pool_param)
    assert np.array_equal(out[0, 0], [[12.0, 14.0], [22.0, 24.0]])
    dx = max_pool_backward_naive(np.ones_like(out), cache)
    expected = np.zeros((5, 5))
    expected[2, 2] = expected[2, 4] = expected[4, 2] = expected[4, 4] = 1
    assert np.array_equal(dx[0, 0], expected)


def test_max_pool_ties_route_to_first_max():
    x = np.zeros((1, 1, 2, 2))
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_naive(np.full_like(out, 3.0), cache)
    assert np.array_equal(dx[0, 0], [[3.0, 0.0], [0.0, 0.0]])


def test_max_pool_rejects_window_larger_than_input():
    with pytest.raises(ValueError, match=r"pool window 5x5 is larger than the input 4x4"):
        max_pool_forward_naive(np.zeros((1, 1, 4, 4)), {"pool_height": 5, "pool_width": 5, "stride": 1})


# --- spatial batch norm / group norm ------------------------------------------------------------


def test_spatial_batchnorm_forward_normalizes_channels():
    np.random.seed(231)
    N, C, H, W = 10, 3, 4, 5
    x = 4 * np.random.randn(N, C, H, W) + 10
    gamma, beta = np.array([3.0, 4.0, 5.0]), np.array([6.0, 7.0, 8.0])
    out, _ = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert np.allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-10)
    assert np.allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-5)


def test_spatial_batchnorm_backward_numeric():
    np.random.seed(231)
    N, C, H, W = 2, 3, 4, 5
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma, beta, dout = np.random.randn(C), np.random.randn(C), np.random.randn(N, C, H, W)

    def fwd(x, gamma, beta):
        return spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    _, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    assert scaled_error(dx, num_grad(lambda x: fwd(x, gamma, beta), x, dout)) < GRAD_TOL
    assert scaled_error(dgamma, num_grad(lambda g: fwd(x, g, beta), gamma, dout)) < GRAD_TOL
    assert scaled_error(dbeta, num_grad(lambda b: fwd(x, gamma, b), beta, dout)) < GRAD_TOL


def test_spatial_groupnorm_forward_normalizes_groups():
    np.random.seed(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 4 * np.random.randn(N, C, H, W) + 10
    out, _ = spatial_groupnorm_forward(x, np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1)), G, {})
    groups = out.reshape(N, G, -1)
    assert np.allclose(groups.mean(axis=2), 0, atol=1e-10)
    assert np.allclose(groups.std(axis=2), 1, rtol=1e-4)


def test_spatial_groupnorm_backward_numeric():
    np.random.seed(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 5 * np.random.randn(N, C, H, W) + 12
    gamma, beta = np.random.randn(1, C, 1, 1), np.random.randn(1, C, 1, 1)
    dout = np.random.randn(N, C, H, W)

    def fwd(x, gamma, beta):
        return spatial_groupnorm_forward(x, gamma, beta, G, {})[0]

    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, spatial_groupnorm_forward(x, gamma, beta, G, {})[1])
    assert has_shape(dgamma, (1, C, 1, 1)) and has_shape(dbeta, (1, C, 1, 1))
    assert scaled_error(dx, num_grad(lambda x: fwd(x, gamma, beta), x, dout)) < GRAD_TOL
    assert scaled_error(dgamma, num_grad(lambda g: fwd(x, g, beta), gamma, dout)) < GRAD_TOL
    assert scaled_error(dbeta, num_grad(lambda b: fwd(x, gamma, b), beta, dout)) < GRAD_TOL


def test_spatial_groupnorm_rejects_non_divisor():
    with pytest.raises(ValueError, match=r"G = 4 .*C = 6"):
        spatial_groupnorm_forward(np.zeros((1, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), 4, {})


# --- purity and dtype ----------------------------------------------------------------------------


def _layer_cases():
    rng = np.random.RandomState(0)
    x4 = rng.randn(2, 4, 5, 5)
    conv_args = (x4, rng.randn(3, 4, 3, 3), rng.randn(3), {"stride": 1, "pad": 1})
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    g4 = (rng.randn(1, 4, 1, 1), rng.randn(1, 4, 1, 1))
    return [
        ("affine", affine_forward, affine_backward, (rng.randn(3, 2, 3), rng.randn(6, 4), rng.randn(4))),
        ("relu", relu_forward, relu_backward, (rng.randn(3, 4),)),
        ("batchnorm", batchnorm_forward, batchnorm_backward,
         (rng.randn(5, 3), rng.randn(3), rng.randn(3), {"mode": "train"})),
        ("batchnorm_alt", batchnorm_forward, batchnorm_backward_alt,
         (rng.randn(5, 3), rng.randn(3), rng.randn(3), {"mode": "train"})),
        ("layernorm", layernorm_forward, layernorm_backward, (rng.randn(5, 3), rng.randn(3), rng.randn(3), {})),
        ("dropout", dropout_forward, dropout_backward, (rng.randn(4, 5), {"mode": "train", "p": 0.5, "seed": 1})),
        ("conv", conv_forward_naive, conv_backward_naive, conv_args),
        ("pool", max_pool_forward_naive, max_pool_backward_naive, (x4, pool_param)),
        ("spatial_bn", spatial_batchnorm_forward, spatial_batchnorm_backward,
         (x4, rng.randn(4), rng.randn(4), {"mode": "train"})),
        ("groupnorm", spatial_groupnorm_forward, spatial_groupnorm_backward, (x4, *g4, 2, {})),
    ]


@pytest.mark.parametrize(("name", "forward", "backward", "args"), _layer_cases(), ids=lambda c: c)
def test_layers_do_not_mutate_inputs(name, forward, backward, args):
    originals = copy.deepcopy(args)
    out, cache = forward(*args)
    dout = np.random.RandomState(1).randn(*out.shape)
    dout_copy = dout.copy()
    backward(dout, cache)
    assert np.array_equal(dout, dout_copy)
    for arg, original in zip(args, originals):
        if isinstance(arg, dict):
            # The running averages stored back into bn_param are the documented exception.
            stored = {k: v for k, v in arg.items() if k not in ("running_mean", "running_var")}
            assert stored == original
        else:
            assert np.array_equal(arg, original)


@pytest.mark.parametrize(("name", "forward", "backward", "args"), _layer_cases(), ids=lambda c: c)
def test_layers_accept_float32(name, forward, backward, args):
    # float32 inputs give the float64 results to float32 precision, in float32 or float64 (layers.py leaves
    # the dtype free).
    args32 = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args)
    args64 = tuple(a.astype(np.float64) if isinstance(a, np.ndarray) else copy.deepcopy(a) for a in args32)
    out32, cache32 = forward(*args32)
    out64, cache64 = forward(*args64)
    assert out32.dtype.kind == "f" and scaled_error(out32, out64) < 1e-4
    dout = np.random.RandomState(2).randn(*out64.shape)
    grads32, grads64 = backward(dout.astype(np.float32), cache32), backward(dout, cache64)
    grads32 = grads32 if isinstance(grads32, tuple) else (grads32,)
    grads64 = grads64 if isinstance(grads64, tuple) else (grads64,)
    for g32, g64 in zip(grads32, grads64):
        assert scaled_error(g32, g64) < 1e-3


def test_losses_accept_float32():
    x, y = np.random.RandomState(0).randn(6, 4), np.array([0, 1, 2, 3, 0, 1])
    for loss_fn in (svm_loss, softmax_loss):
        loss32, dx32 = loss_fn(x.astype(np.float32), y)
        loss64, dx64 = loss_fn(x.astype(np.float32).astype(np.float64), y)
        assert abs(loss32 - loss64) < 1e-5 * abs(loss64) and scaled_error(dx32, dx64) < 1e-4


# --- PyTorch cross-check (a yardstick only; the numerical checks above stand on their own) ---------


def test_conv_and_pool_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.RandomState(0)
    x, w, b = rng.randn(2, 3, 9, 9), rng.randn(4, 3, 3, 5), rng.randn(4)
    conv_param = {"stride": 2, "pad": 2}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.randn(*out.shape)
    dx, dw, db = conv_backward_naive(dout, cache)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = F.conv2d(tx, tw, tb, stride=2, padding=2)
    tout.backward(torch.tensor(dout))
    assert scaled_error(out, tout.detach().numpy()) < 1e-10
    for mine, theirs in ((dx, tx), (dw, tw), (db, tb)):
        assert scaled_error(mine, theirs.grad.numpy()) < 1e-10

    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    out, cache = max_pool_forward_naive(x, pool_param)
    dout = rng.randn(*out.shape)
    tx = torch.tensor(x, requires_grad=True)
    tout = F.max_pool2d(tx, 3, stride=2)
    tout.backward(torch.tensor(dout))
    assert scaled_error(out, tout.detach().numpy()) < 1e-12
    assert scaled_error(max_pool_backward_naive(dout, cache), tx.grad.numpy()) < 1e-12

