"""Tests for cs231n.layer_utils: sandwiches against numerical gradients and against the naive layers."""

import numpy as np
import pytest

from cs231n.gradient_check import eval_numerical_gradient_array, rel_error
from cs231n.layer_utils import (
    affine_norm_relu_backward,
    affine_norm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
    conv_bn_relu_backward,
    conv_bn_relu_forward,
    conv_relu_backward,
    conv_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from cs231n.layers import (
    conv_forward_naive,
    max_pool_forward_naive,
    relu_forward,
    spatial_batchnorm_forward,
)


def check_grads(forward, args, grads, dout, names, tol):
    """Assert each analytic gradient in grads matches the numerical one for args[name]."""
    for name, grad in zip(names, grads):

        def f(value, name=name):
            return forward(**{**args, name: value})[0]

        num = eval_numerical_gradient_array(f, args[name].copy(), dout)
        assert rel_error(grad, num) < tol, name


def test_affine_relu_numeric():
    np.random.seed(231)
    args = {"x": np.random.randn(2, 3, 4), "w": np.random.randn(12, 10), "b": np.random.randn(10)}
    out, cache = affine_relu_forward(**args)
    dout = np.random.randn(*out.shape)
    check_grads(affine_relu_forward, args, affine_relu_backward(dout, cache), dout, ("x", "w", "b"), 1e-8)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_affine_norm_relu_numeric(normalization):
    np.random.seed(231)
    args = {
        "x": np.random.randn(4, 3, 2),
        "w": np.random.randn(6, 5),
        "b": np.random.randn(5),
        "gamma": np.random.randn(5),
        "beta": np.random.randn(5),
        "bn_param": {"mode": "train"},
        "normalization": normalization,
    }
    out, cache = affine_norm_relu_forward(**args)
    dout = np.random.randn(*out.shape)
    dx, dw, db, dgamma, dbeta = affine_norm_relu_backward(dout, cache)
    if normalization is None:
        assert dgamma is None and dbeta is None
        check_grads(affine_norm_relu_forward, args, (dx, dw, db), dout, ("x", "w", "b"), 1e-8)
    elif normalization == "batchnorm":
        # Batch norm subtracts the batch mean, so the bias cannot change the output.
        assert np.max(np.abs(db)) < 1e-12
        names = ("x", "w", "gamma", "beta")
        check_grads(affine_norm_relu_forward, args, (dx, dw, dgamma, dbeta), dout, names, 1e-6)
    else:
        names = ("x", "w", "b", "gamma", "beta")
        check_grads(affine_norm_relu_forward, args, (dx, dw, db, dgamma, dbeta), dout, names, 1e-6)


def test_affine_norm_relu_without_norm_matches_affine_relu():
    rng = np.random.RandomState(0)
    x, w, b = rng.randn(3, 4), rng.randn(4, 5), rng.randn(5)
    out, _ = affine_norm_relu_forward(x, w, b, None, None, {}, None)
    assert np.array_equal(out, affine_relu_forward(x, w, b)[0])


def test_affine_norm_relu_rejects_unknown_normalization():
    with pytest.raises(ValueError, match=r"'groupnorm'.*'batchnorm', 'layernorm'"):
        affine_norm_relu_forward(np.zeros((2, 3)), np.zeros((3, 4)), np.zeros(4), None, None, {}, "groupnorm")


@pytest.fixture
def conv_args():
    np.random.seed(231)
    return {
        "x": np.random.randn(2, 3, 8, 8),
        "w": np.random.randn(3, 3, 3, 3),
        "b": np.random.randn(3),
        "conv_param": {"stride": 1, "pad": 1},
    }


def test_conv_relu_matches_naive_and_numeric(conv_args):
    out, cache = conv_relu_forward(**conv_args)
    naive = relu_forward(conv_forward_naive(**conv_args)[0])[0]
    assert rel_error(out, naive) < 1e-10
    dout = np.random.randn(*out.shape)
    check_grads(conv_relu_forward, conv_args, conv_relu_backward(dout, cache), dout, ("x", "w", "b"), 1e-8)


def test_conv_relu_pool_matches_naive_and_numeric(conv_args):
    args = {**conv_args, "pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}
    out, cache = conv_relu_pool_forward(**args)
    naive = relu_forward(conv_forward_naive(**conv_args)[0])[0]
    naive = max_pool_forward_naive(naive, args["pool_param"])[0]
    assert out.shape == (2, 3, 4, 4)
    assert rel_error(out, naive) < 1e-10
    dout = np.random.randn(*out.shape)
    grads = conv_relu_pool_backward(dout, cache)
    check_grads(conv_relu_pool_forward, args, grads, dout, ("x", "w", "b"), 1e-8)


def test_conv_bn_relu_matches_naive_and_numeric(conv_args):
    F = conv_args["w"].shape[0]
    args = {**conv_args, "gamma": np.random.randn(F), "beta": np.random.randn(F), "bn_param": {"mode": "train"}}
    out, cache = conv_bn_relu_forward(**args)
    naive = conv_forward_naive(**conv_args)[0]
    naive = relu_forward(spatial_batchnorm_forward(naive, args["gamma"], args["beta"], {"mode": "train"})[0])[0]
    assert rel_error(out, naive) < 1e-10
    dout = np.random.randn(*out.shape)
    dx, dw, db, dgamma, dbeta = conv_bn_relu_backward(dout, cache)
    # Spatial batch norm subtracts each channel's mean, so the conv bias cannot change the output.
    assert np.max(np.abs(db)) < 1e-12
    grads = (dx, dw, dgamma, dbeta)
    check_grads(conv_bn_relu_forward, args, grads, dout, ("x", "w", "gamma", "beta"), 1e-6)
