"""
Fast convolution and max-pooling layers, with the interface of the naive ones in cs231n.layers.

Two backends compute the same results:
- "cython": the kernels of cs231n.im2col_cython (build them with `make build`);
- "numpy": sliding-window views and matrix products, used when the extension is
  not built (with one RuntimeWarning at import) or when CS231N_NO_CYTHON=1 is set.

In both, a convolution runs over chunks of a few images: an im2col writes the
chunk's (C * HH * WW, n * H' * W') column matrix into a small buffer that stays
in cache, and one matrix product per chunk and per gradient does the rest, so
BLAS does most of the work. The backward pass rebuilds the columns instead of
keeping them, so a conv cache is (x, w, b, conv_param) as for the naive layer.
The backends share their cache layouts: set_backend() or use_backend() may
switch between a forward pass and its backward pass.
"""

import contextlib
import os
import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cs231n.im2col import col2im_indices, im2col_indices
from cs231n.layers import _conv_shapes, _pool_output_size

BACKENDS = ("cython", "numpy")

_CYTHON_DISABLED = os.environ.get("CS231N_NO_CYTHON", "0") not in ("", "0")

im2col_cython = None
if not _CYTHON_DISABLED:
    try:
        from cs231n import im2col_cython
    except ImportError:
        warnings.warn(
            "cs231n.im2col_cython is not built; run `make build` (or python setup.py build_ext --inplace) "
            "for fast convolutions - using the numpy fallback",
            RuntimeWarning,
            stacklevel=2,
        )

_backend = "numpy" if im2col_cython is None else "cython"

# A chunk of images whose columns take about this many bytes stays in the L2/L3 cache between the
# im2col that writes it and the matrix products that read it.
_CHUNK_BYTES = 4 << 20


def get_backend():
    """Return the backend the fast layers use now: "cython" or "numpy"."""
    return _backend


def set_backend(name):
    """
    Choose the backend of the fast layers.

    Inputs:
    - name: "cython" or "numpy"

    Returns:
    - previous: The name of the backend in use before the call
    """
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "cython" and im2col_cython is None:
        reason = (
            "CS231N_NO_CYTHON is set in the environment; unset it"
            if _CYTHON_DISABLED
            else "cs231n.im2col_cython is not built; run `make build`"
        )
        raise ValueError(f"the cython backend is unavailable: {reason}, then restart Python")
    previous, _backend = _backend, name
    return previous


@contextlib.contextmanager
def use_backend(name):
    """Context manager running its block with the given backend, then restoring the previous one."""
    previous = set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def _float_dtype(*arrays):
    """The common dtype of the arrays, promoted to float64 unless it is float32 or float64."""
    dtype = np.result_type(*arrays)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _pool_shapes(x, pool_param):
    """Validate a max pool's input and return (pool_height, pool_width, stride, H', W')."""
    if x.ndim != 4:
        raise ValueError(f"x must be (N, C, H, W), got shape {x.shape}; reshape it to 4-D")
    _, _, H, W = x.shape
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return (PH, PW, stride) + _pool_output_size(H, W, PH, PW, stride)


def _im2col_numpy(x, cols, HH, WW, pad, stride):
    """numpy twin of im2col_cython.im2col: fill cols (C * HH * WW, N * H' * W') from x (N, C, H, W)."""
    N, C, _, _ = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out, W_out = windows.shape[2:4]
    np.copyto(cols.reshape(C, HH, WW, N, H_out, W_out), windows.transpose(1, 4, 5, 0, 2, 3))


def _col2im_numpy(cols, dx, HH, WW, pad, stride):
    """numpy twin of im2col_cython.col2im: one strided add per filter offset instead of np.add.at."""
    N, C, H, W = dx.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dx.dtype)
    cols6 = cols.reshape(C, HH, WW, N, H_out, W_out)
    for kh in range(HH):
        for kw in range(WW):
            rows = slice(kh, kh + stride * (H_out - 1) + 1, stride)
            columns = slice(kw, kw + stride * (W_out - 1) + 1, stride)
            dx_pad[:, :, rows, columns] += cols6[:, kh, kw].transpose(1, 0, 2, 3)
    dx[...] = dx_pad[:, :, pad : pad + H, pad : pad + W]


def _max_pool_forward_numpy(x, PH, PW, stride):
    """numpy twin of im2col_cython.max_pool_forward: returns (out, int32 argmax within each plane)."""
    N, C, H, W = x.shape
    H_out, W_out = 1 + (H - PH) // stride, 1 + (W - PW) // stride
    windows = sliding_window_view(x, (PH, PW), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :H_out, :W_out]
    windows = windows.reshape(N, C, H_out, W_out, PH * PW)
    k = windows.argmax(axis=-1)
    out = np.take_along_axis(windows, k[..., None], axis=-1)[..., 0]
    corner = (np.arange(H_out) * stride * W)[:, None] + np.arange(W_out) * stride
    argmax = corner + (k // PW) * W + k % PW
    return out, argmax.astype(np.int32)


def _max_pool_backward_numpy(dout, argmax, H, W, PH, PW, stride):
    """numpy twin of im2col_cython.max_pool_backward: one strided add per window offset."""
    N, C, H_out, W_out = dout.shape
    corner = (np.arange(H_out) * stride * W)[:, None] + np.arange(W_out) * stride
    offset = argmax - corner  # ph * W + pw of each window's maximum
    dx = np.zeros((N, C, H, W), dtype=dout.dtype)
    for ph in range(PH):
        for pw in range(PW):
            rows = slice(ph, ph + stride * (H_out - 1) + 1, stride)
            columns = slice(pw, pw + stride * (W_out - 1) + 1, stride)
            dx[:, :, rows, columns] += np.where(offset == ph * W + pw, dout, 0)
    return dx


def _chunk_size(N, K, P, itemsize):
    """Images per chunk, so that a chunk's columns (K by P per image) take about _CHUNK_BYTES."""
    return max(1, min(N, _CHUNK_BYTES // max(1, K * P * itemsize)))


def _conv_forward_chunks(x, w, b, conv_param, im2col):
    """Forward of conv_forward_fast / conv_forward_strides with the given im2col kernel."""
    stride, pad, H_out, W_out = _conv_shapes(x, w, b, conv_param)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    dtype = _float_dtype(x, w, b)
    x_c = np.ascontiguousarray(x, dtype=dtype)
    w_mat = w.reshape(F, -1).astype(dtype, copy=False)
    b_col = b.reshape(F, 1).astype(dtype, copy=False)
    K, P = w_mat.shape[1], H_out * W_out
    step = _chunk_size(N, K, P, x_c.itemsize)
    out = np.empty((N, F, P), dtype=dtype)
    cols_buf = np.empty(K * step * P, dtype=dtype)
    res_buf = np.empty(F * step * P, dtype=dtype)
    for start in range(0, N, step):
        m = min(step, N - start)
        cols = cols_buf[: K * m * P].reshape(K, m * P)
        im2col(x_c[start : start + m], cols, HH, WW, pad, stride)
        # One GEMM per chunk: few large BLAS calls keep all BLAS threads busy between synchronisations.
        res = np.matmul(w_mat, cols, out=res_buf[: F * m * P].reshape(F, m * P))
        np.add(res.reshape(F, m, P).transpose(1, 0, 2), b_col, out=out[start : start + m])
    return out.reshape(N, F, H_out, W_out), (x, w, b, conv_param)


def _conv_backward_chunks(dout, cache, im2col, col2im):
    """Backward of conv_backward_fast / conv_backward_strides with the given kernels."""
    x, w, b, conv_param = cache
    stride, pad, H_out, W_out = _conv_shapes(x, w, b, conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    if dout.shape != (N, F, H_out, W_out):
        raise ValueError(
            f"dout has shape {dout.shape} but the forward output had {(N, F, H_out, W_out)}; pass the "
            "gradient of the out that the forward pass returned with this cache"
        )
    dtype = _float_dtype(x, w, b)
    x_c = np.ascontiguousarray(x, dtype=dtype)
    w_mat = w.reshape(F, -1).astype(dtype, copy=False)
    K, P = w_mat.shape[1], H_out * W_out
    dout3 = np.ascontiguousarray(dout, dtype=dtype).reshape(N, F, P)
    db = dout3.sum(axis=(0, 2))
    dw = np.zeros((F, K), dtype=dtype)
    dx = np.empty((N, C, H, W), dtype=dtype)
    step = _chunk_size(N, K, P, x_c.itemsize)
    # The columns are rebuilt chunk by chunk instead of kept from the forward pass: an im2col into
    # a cache-resident block costs less than storing (N, K, P) in memory and reading it back.
    cols_buf = np.empty(K * step * P, dtype=dtype)
    dcols_buf = np.empty(K * step * P, dtype=dtype)
    d_buf = np.empty(F * step * P, dtype=dtype)
    for start in range(0, N, step):
        m = min(step, N - start)
        cols = cols_buf[: K * m * P].reshape(K, m * P)
        d = d_buf[: F * m * P].reshape(F, m * P)
        np.copyto(d.reshape(F, m, P), dout3[start : start + m].transpose(1, 0, 2))
        im2col(x_c[start : start + m], cols, HH, WW, pad, stride)
        dw += d @ cols.T
        dcols = np.matmul(w_mat.T, d, out=dcols_buf[: K * m * P].reshape(K, m * P))
        col2im(dcols, dx[start : start + m], HH, WW, pad, stride)
    return dx, dw.reshape(w.shape), db


def conv_forward_fast(x, w, b, conv_param):
    """
    A fast implementation of the forward pass for a convolutional layer.

    Uses the Cython im2col when it is built and selected, else conv_forward_strides.

    Inputs:
    - x: Input data of shape (N, C, H, W)
    - w: Filter weights of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: A dictionary with keys 'stride' and 'pad', as in conv_forward_naive

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W'), H' = 1 + (H + 2 * pad - HH) / stride
      and W' = 1 + (W + 2 * pad - WW) / stride; float32 if x, w and b are float32
    - cache: (x, w, b, conv_param), as in conv_forward_naive
    """
    if _backend == "cython":
        return _conv_forward_chunks(x, w, b, conv_param, im2col_cython.im2col)
    return conv_forward_strides(x, w, b, conv_param)


def conv_backward_fast(dout, cache):
    """
    A fast implementation of the backward pass for a convolutional layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: A tuple (x, w, b, conv_param) from conv_forward_fast, conv_forward_strides
      or conv_forward_naive

    Returns a tuple of (in the dtype of the forward output):
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    """
    if _backend == "cython":
        return _conv_backward_chunks(dout, cache, im2col_cython.im2col, im2col_cython.col2im)
    return conv_backward_strides(dout, cache)


def conv_forward_strides(x, w, b, conv_param):
    """
    Forward pass for a convolutional layer in numpy: im2col by a strided view, then one matrix product.

    Inputs and returns as conv_forward_fast, whose cache it shares.
    """
    return _conv_forward_chunks(x, w, b, conv_param, _im2col_numpy)


def conv_backward_strides(dout, cache):
    """
    Backward pass for conv_forward_strides (or conv_forward_fast) in numpy.

    Inputs and returns as conv_backward_fast.
    """
    return _conv_backward_chunks(dout, cache, _im2col_numpy, _col2im_numpy)


def conv_forward_im2col(x, w, b, conv_param):
    """
    Forward pass for a convolutional layer with the index-array im2col of cs231n.im2col.

    Inputs:
    - x: Input data of shape (N, C, H, W)
    - w: Filter weights of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: A dictionary with keys 'stride' and 'pad'

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W')
    - cache: (x, w, b, conv_param, x_cols) with x_cols as im2col_indices returns it
    """
    stride, pad, H_out, W_out = _conv_shapes(x, w, b, conv_param)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    dtype = _float_dtype(x, w, b)
    x_cols = im2col_indices(x.astype(dtype, copy=False), HH, WW, pad, stride)
    res = w.reshape(F, -1).astype(dtype, copy=False) @ x_cols + b.reshape(-1, 1)  # (F, H' * W' * N)
    out = np.ascontiguousarray(res.reshape(F, H_out, W_out, N).transpose(3, 0, 1, 2))
    return out, (x, w, b, conv_param, x_cols)


def conv_backward_im2col(dout, cache):
    """
    Backward pass for conv_forward_im2col.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: A tuple (x, w, b, conv_param, x_cols) from conv_forward_im2col

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    """
    x, w, b, conv_param, x_cols = cache
    F, _, HH, WW = w.shape
    stride, pad = conv_param["stride"], conv_param["pad"]
    dtype = x_cols.dtype
    dout_mat = dout.transpose(1, 2, 3, 0).reshape(F, -1).astype(dtype, copy=False)  # (F, H' * W' * N)
    db = dout_mat.sum(axis=1)
    dw = (dout_mat @ x_cols.T).reshape(w.shape)
    dx_cols = w.reshape(F, -1).astype(dtype, copy=False).T @ dout_mat
    dx = col2im_indices(dx_cols, x.shape, HH, WW, pad, stride)
    return dx, dw, db


def max_pool_forward_fast(x, pool_param):
    """
    A fast implementation of the forward pass for a max-pooling layer.

    As max_pool_forward_naive: no padding, windows past the bottom or right edge
    are dropped, and each window remembers the first maximum in row-major order.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: dictionary with keys 'pool_height', 'pool_width' and 'stride'

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W') and the dtype of x, where
      H' = 1 + (H - pool_height) // stride and W' = 1 + (W - pool_width) // stride
    - cache: (x, pool_param, argmax) with argmax an int32 array of shape
      (N, C, H', W'): the flat index h * W + w of each maximum within its plane
    """
    PH, PW, stride, _, _ = _pool_shapes(x, pool_param)
    dtype = _float_dtype(x)
    x_c = np.ascontiguousarray(x, dtype=dtype)
    if _backend == "cython":
        out, argmax = im2col_cython.max_pool_forward(x_c, PH, PW, stride)
    else:
        out, argmax = _max_pool_forward_numpy(x_c, PH, PW, stride)
    return out, (x, pool_param, argmax)


def max_pool_backward_fast(dout, cache):
    """
    A fast implementation of the backward pass for a max-pooling layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: A tuple (x, pool_param, argmax) from max_pool_forward_fast

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    """
    x, pool_param, argmax = cache
    _, _, H, W = x.shape
    if dout.shape != argmax.shape:
        raise ValueError(
            f"dout has shape {dout.shape} but the pooled output had {argmax.shape}; pass the gradient of "
            "the out that max_pool_forward_fast returned with this cache"
        )
    dout_c = np.ascontiguousarray(dout, dtype=_float_dtype(x))
    if _backend == "cython":
        return im2col_cython.max_pool_backward(dout_c, argmax, H, W)
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return _max_pool_backward_numpy(dout_c, argmax, H, W, PH, PW, stride)
