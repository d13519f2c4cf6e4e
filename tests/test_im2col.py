"""Tests for cs231n.im2col and the im2col / col2im kernels behind cs231n.fast_layers."""

import numpy as np
import pytest

from cs231n import fast_layers
from cs231n.gradient_check import rel_error
from cs231n.im2col import col2im_indices, get_im2col_indices, im2col_indices

CASES = [((2, 3, 5, 8), 3, 2, 1, 2), ((1, 2, 6, 6), 2, 2, 0, 2), ((3, 1, 4, 5), 3, 3, 2, 1)]


def _kernels():
    pairs = [pytest.param(fast_layers._im2col_numpy, fast_layers._col2im_numpy, id="numpy")]
    if fast_layers.im2col_cython is not None:
        ext = fast_layers.im2col_cython
        pairs.append(pytest.param(ext.im2col, ext.col2im, id="cython"))
    return pairs


@pytest.mark.parametrize("x_shape, HH, WW, pad, stride", CASES)
def test_im2col_indices_columns_are_receptive_fields(x_shape, HH, WW, pad, stride):
    N, C, H, W = x_shape
    x = np.random.default_rng(0).standard_normal(x_shape)
    cols = im2col_indices(x, HH, WW, pad, stride)
    H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    assert cols.shape == (C * HH * WW, H_out * W_out * N)
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    i, j, n = H_out - 1, W_out // 2, N - 1
    field = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW].ravel()
    assert np.array_equal(cols[:, (i * W_out + j) * N + n], field)


@pytest.mark.parametrize("x_shape, HH, WW, pad, stride", CASES)
def test_col2im_indices_is_the_adjoint(x_shape, HH, WW, pad, stride):
    # <im2col(x), y> == <x, col2im(y)> for every x and y.
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape)
    cols = im2col_indices(x, HH, WW, pad, stride)
    y = rng.standard_normal(cols.shape)
    back = col2im_indices(y, x_shape, HH, WW, pad, stride)
    assert back.shape == x_shape
    assert rel_error(np.sum(cols * y), np.sum(x * back)) < 1e-12


def test_im2col_indices_rejects_fields_that_do_not_tile():
    with pytest.raises(ValueError, match="= 5 must be a non-negative multiple of stride 3"):
        get_im2col_indices((1, 1, 6, 6), 3, 3, padding=1, stride=3)
    with pytest.raises(ValueError, match="needs"):
        col2im_indices(np.zeros((9, 5)), (1, 1, 4, 4), 3, 3, padding=1, stride=1)


@pytest.mark.parametrize("im2col, col2im", _kernels())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("x_shape, HH, WW, pad, stride", CASES)
def test_kernels_match_index_version_and_are_adjoint(im2col, col2im, dtype, x_shape, HH, WW, pad, stride):
    N, C, H, W = x_shape
    rng = np.random.default_rng(2)
    x = rng.standard_normal(x_shape).astype(dtype)
    K = C * HH * WW
    P = ((H + 2 * pad - HH) // stride + 1) * ((W + 2 * pad - WW) // stride + 1)
    cols = np.full((N, K, P), np.nan, dtype=dtype)  # every entry must be overwritten
    im2col(x, cols, HH, WW, pad, stride)
    # The index version has one (K, P * N) matrix with columns (i, j, n); the kernels one (K, P) per image.
    want = im2col_indices(x, HH, WW, pad, stride).reshape(K, P, N).transpose(2, 0, 1)
    assert np.array_equal(cols, want)
    y = rng.standard_normal((N, K, P)).astype(dtype)
    dx = np.full(x_shape, np.nan, dtype=dtype)
    col2im(y, dx, HH, WW, pad, stride)
    want_dx = col2im_indices(y.transpose(1, 2, 0).reshape(K, -1), x_shape, HH, WW, pad, stride)
    assert rel_error(dx, want_dx) < (1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("im2col, col2im", _kernels())
def test_kernels_write_into_the_first_rows_of_a_larger_buffer(im2col, col2im):
    # The fast forward pass keeps a row of ones under each image's columns for the bias.
    x = np.random.default_rng(3).standard_normal((3, 2, 5, 4))
    K, P = 2 * 3 * 3, 5 * 4
    cols_aug = np.full((3, K + 1, P), 7.0)
    im2col(x, cols_aug[:, :K], 3, 3, 1, 1)
    want = im2col_indices(x, 3, 3, 1, 1).reshape(K, P, 3).transpose(2, 0, 1)
    assert np.array_equal(cols_aug[:, :K], want)
    assert np.all(cols_aug[:, K] == 7.0)
    dx = np.empty_like(x)
    col2im(cols_aug[:, :K], dx, 3, 3, 1, 1)
    assert rel_error(dx, col2im_indices(want.transpose(1, 2, 0).reshape(K, -1), x.shape, 3, 3, 1, 1)) < 1e-12


def test_cython_kernels_check_buffer_shapes():
    if fast_layers.im2col_cython is None:
        pytest.skip("cs231n.im2col_cython is not built (run `make build`)")
    ext = fast_layers.im2col_cython
    x = np.zeros((2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"cols has shape \(2, 27, 24\) but needs \(2, 27, 25\)"):
        ext.im2col(x, np.zeros((2, 27, 24)), 3, 3, 1, 1)
    with pytest.raises(ValueError, match="does not fit"):
        ext.col2im(np.zeros((2, 27, 25)), x, 9, 3, 1, 1)
    with pytest.raises(ValueError, match="must be C-contiguous"):
        ext.im2col(x, np.zeros((2, 27, 50))[:, :, ::2], 3, 3, 1, 1)
    out, argmax = np.zeros((2, 3, 2, 2)), np.zeros((2, 3, 2, 2), dtype=np.int32)
    with pytest.raises(ValueError, match=r"out has shape \(2, 3, 2, 2\) but needs \(2, 3, 4, 4\)"):
        ext.max_pool_forward(x, out, argmax, 2, 2, 1)
    with pytest.raises(ValueError, match="do not fit together"):
        ext.max_pool_backward(out, argmax, np.zeros((2, 4, 5, 5)))
