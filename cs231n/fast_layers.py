"""
Fast convolution and max-pooling layers, with the interface of the naive ones in cs231n.layers.

Two backends compute the same results:
- "cython": the kernels of cs231n.im2col_cython (`pip install -e .` builds them; it needs a C compiler);
- "numpy": sliding-window views and matrix products, used when the extension is
  not built (with one RuntimeWarning at import) or when CS231N_NO_CYTHON=1 is set.

In both, a batch is split into one part per thread (as many threads as numpy's
BLAS uses), and each thread walks its part in chunks of a few images: an im2col
writes a chunk's (n, C * HH * WW, H' * W') columns into a small buffer that stays
in cache, and per-image matrix products, single-threaded, do the rest. The
backward pass rebuilds the columns instead of keeping them, so a conv cache is
(x, w, b, conv_param) as for the naive layer. The backends share their cache
layouts: set_backend() or use_backend() may switch between a forward pass and its
backward pass. set_num_threads() changes the number of threads.
"""

import contextlib
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import ThreadpoolController

from .im2col import col2im_indices, im2col_indices
from .validation import conv_shapes, pool_output_size

BACKENDS = ("cython", "numpy")

_CYTHON_DISABLED = os.environ.get("CS231N_NO_CYTHON", "0") not in ("", "0")

im2col_cython = None
if not _CYTHON_DISABLED:
    try:
        from . import im2col_cython
    except ImportError:
        warnings.warn(
            "cs231n.im2col_cython is not built, so the fast layers use their numpy fallback: same results, slower "
            "convolutions. Building it needs a C compiler (Debian/Ubuntu: sudo apt-get install build-essential "
            "python3-dev; macOS: xcode-select --install); then run `pip install -e .` in the folder holding "
            "setup.py and restart Python",
            RuntimeWarning,
            stacklevel=2,
        )

_backend = "numpy" if im2col_cython is None else "cython"

# A chunk of images whose columns take about this many bytes stays in the L2/L3 cache between the
# im2col that writes it and the matrix products that read it.
_CHUNK_BYTES = 4 << 20
# Below this much work per thread, handing a part to another thread costs more than it saves: waking
# a sleeping thread and collecting its result takes ~0.25 ms on a 2-vCPU virtual machine. The units are
# multiply-adds for a convolution (~50 GFLOP/s per core) and input numbers for a pool (~2 ns each
# forward, ~0.3 ns backward).
_MIN_CONV_WORK = 1 << 23
_MIN_POOL_FORWARD_WORK = 1 << 19
_MIN_POOL_BACKWARD_WORK = 1 << 22

_blas = ThreadpoolController()
_num_threads = max([pool["num_threads"] for pool in _blas.select(user_api="blas").info()] or [1])
_executor = None  # (pid, number of workers, ThreadPoolExecutor), made on first use
_executor_lock = threading.Lock()
_scratch_space = threading.local()


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
            else "cs231n.im2col_cython is not built; install a C compiler and run `pip install -e .`"
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


def get_num_threads():
    """Return how many threads the fast layers use: numpy's BLAS thread count unless set_num_threads changed it."""
    return _num_threads


def set_num_threads(n):
    """
    Choose how many threads the fast layers split a batch over.

    Inputs:
    - n: A positive int; 1 runs everything on the calling thread

    Returns:
    - previous: The number of threads in use before the call
    """
    global _num_threads, _executor
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of threads must be a positive int, got {n!r}")
    with _executor_lock:
        previous, _num_threads = _num_threads, n
        if _executor is not None and _executor[1] != n - 1:
            _executor[2].shutdown(wait=False)
            _executor = None
    return previous


def _get_executor():
    """The worker threads (one fewer than get_num_threads: the caller runs a part too), made per process."""
    global _executor
    with _executor_lock:
        # A forked child inherits the executor object but not its threads, so it builds its own.
        if _executor is None or _executor[0] != os.getpid():
            workers = _num_threads - 1
            _executor = (os.getpid(), workers, ThreadPoolExecutor(workers, thread_name_prefix="cs231n-fast"))
        return _executor[2]


def _run_parts(fn, N, work, min_work):
    """
    Call fn(start, stop) on contiguous parts of range(N), one part per thread.

    Inputs:
    - fn: Function of a batch range; it must release the GIL for most of its time
    - N: Batch size
    - work, min_work: The whole batch's work and the least work worth a thread of its own

    Returns:
    - results: The list of fn's return values, in batch order
    """
    parts = max(1, min(_num_threads, N, work // min_work))
    if parts == 1:
        return [fn(0, N)]
    bounds = [N * i // parts for i in range(parts + 1)]
    # Each thread calls BLAS on its own part: a multi-threaded BLAS underneath would oversubscribe the cores.
    with _blas.limit(limits=1, user_api="blas"):
        executor = _get_executor()
        futures = [executor.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, parts)]
        try:
            first = fn(bounds[0], bounds[1])
        finally:
            wait(futures)
    return [first] + [future.result() for future in futures]


def _scratch(slot, n, dtype):
    """
    A scratch array of n elements of dtype, reused by every call on this thread with this slot.

    Fresh multi-megabyte arrays on every call cost page faults that take longer than the im2col
    writing them; a few chunk-sized buffers per thread stay allocated instead.
    """
    nbytes = n * np.dtype(dtype).itemsize
    buffers = _scratch_space.__dict__.setdefault("buffers", {})
    if slot not in buffers or buffers[slot].nbytes < nbytes:
        buffers[slot] = np.empty(nbytes, dtype=np.uint8)
    return buffers[slot][:nbytes].view(dtype)


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
    return (PH, PW, stride) + pool_output_size(H, W, PH, PW, stride)


def _im2col_numpy(x, cols, HH, WW, pad, stride):
    """numpy twin of im2col_cython.im2col: fill cols (N, C * HH * WW, H' * W') from x (N, C, H, W)."""
    N, C, _, _ = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
    H_out, W_out = windows.shape[2:4]
    # copy=False: cols may be a view into a larger buffer, and a silent copy would drop the result.
    np.copyto(cols.reshape(N, C, HH, WW, H_out, W_out, copy=False), windows.transpose(0, 1, 4, 5, 2, 3))


def _col2im_numpy(cols, dx, HH, WW, pad, stride):
    """numpy twin of im2col_cython.col2im: one strided add per filter offset instead of np.add.at."""
    N, C, H, W = dx.shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    dx_pad = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dx.dtype)
    cols6 = cols.reshape(N, C, HH, WW, H_out, W_out)
    for kh in range(HH):
        for kw in range(WW):
            rows = slice(kh, kh + stride * (H_out - 1) + 1, stride)
            columns = slice(kw, kw + stride * (W_out - 1) + 1, stride)
            dx_pad[:, :, rows, columns] += cols6[:, :, kh, kw]
    dx[...] = dx_pad[:, :, pad : pad + H, pad : pad + W]


def _max_pool_forward_numpy(x, out, argmax, PH, PW, stride):
    """numpy twin of im2col_cython.max_pool_forward: fill out and the int32 argmax within each plane."""
    N, C, H, W = x.shape
    H_out, W_out = out.shape[2:]
    windows = sliding_window_view(x, (PH, PW), axis=(2, 3))[:, :, ::stride, ::stride][:, :, :H_out, :W_out]
    windows = windows.reshape(N, C, H_out, W_out, PH * PW)
    k = windows.argmax(axis=-1)
    out[...] = np.take_along_axis(windows, k[..., None], axis=-1)[..., 0]
    corner = (np.arange(H_out) * stride * W)[:, None] + np.arange(W_out) * stride
    argmax[...] = corner + (k // PW) * W + k % PW


def _max_pool_backward_numpy(dout, argmax, dx, PH, PW, stride):
    """numpy twin of im2col_cython.max_pool_backward: one strided add per window offset."""
    _, _, H_out, W_out = dout.shape
    W = dx.shape[3]
    corner = (np.arange(H_out) * stride * W)[:, None] + np.arange(W_out) * stride
    offset = argmax - corner  # ph * W + pw of each window's maximum
    dx[...] = 0
    for ph in range(PH):
        for pw in range(PW):
            rows = slice(ph, ph + stride * (H_out - 1) + 1, stride)
            columns = slice(pw, pw + stride * (W_out - 1) + 1, stride)
            dx[:, :, rows, columns] += np.where(offset == ph * W + pw, dout, 0)


def _chunk_size(N, KP, itemsize):
    """Images per chunk, so that a chunk's columns (KP numbers per image) take about _CHUNK_BYTES."""
    return max(1, min(N, _CHUNK_BYTES // max(1, KP * itemsize)))


def _conv_forward_chunks(x, w, b, conv_param, im2col):
    """Forward of conv_forward_fast / conv_forward_strides with the given im2col kernel."""
    stride, pad, H_out, W_out = conv_shapes(x, w, b, conv_param)
    N = x.shape[0]
    F, _, HH, WW = w.shape
    dtype = _float_dtype(x, w, b)
    x_c = np.ascontiguousarray(x, dtype=dtype)
    # The bias rides along in the matrix product as an extra column of w against a row of ones
    # under each image's columns: cheaper than a separate pass over the output.
    w_aug = np.concatenate([w.reshape(F, -1), b.reshape(F, 1)], axis=1).astype(dtype, copy=False)  # (F, K + 1)
    K, P = w_aug.shape[1] - 1, H_out * W_out
    out = np.empty((N, F, P), dtype=dtype)

    def forward_part(start, stop):
        step = _chunk_size(stop - start, (K + 1) * P, x_c.itemsize)
        cols_buf = _scratch("cols", step * (K + 1) * P, dtype)
        for first in range(start, stop, step):
            m = min(step, stop - first)
            cols = cols_buf[: m * (K + 1) * P].reshape(m, K + 1, P)
            cols[:, K] = 1
            im2col(x_c[first : first + m], cols[:, :K], HH, WW, pad, stride)
            np.matmul(w_aug, cols, out=out[first : first + m])  # (m, F, P): image by image

    _run_parts(forward_part, N, N * F * K * P, _MIN_CONV_WORK)
    return out.reshape(N, F, H_out, W_out), (x, w, b, conv_param)


def _conv_backward_chunks(dout, cache, im2col, col2im):
    """Backward of conv_backward_fast / conv_backward_strides with the given kernels."""
    x, w, b, conv_param = cache
    stride, pad, H_out, W_out = conv_shapes(x, w, b, conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    if dout.shape != (N, F, H_out, W_out):
        raise ValueError(
            f"dout has shape {dout.shape} but the forward output had {(N, F, H_out, W_out)}; pass the "
            "gradient of the out that the forward pass returned with this cache"
        )
    dtype = _float_dtype(x, w, b)
    x_c = np.ascontiguousarray(x, dtype=dtype)
    w_t = w.reshape(F, -1).astype(dtype, copy=False).T  # (K, F)
    K, P = w_t.shape[0], H_out * W_out
    dout3 = np.ascontiguousarray(dout, dtype=dtype).reshape(N, F, P)
    dx = np.empty((N, C, H, W), dtype=dtype)

    def backward_part(start, stop):
        step = _chunk_size(stop - start, K * P, x_c.itemsize)
        # The columns are rebuilt chunk by chunk instead of kept from the forward pass: an im2col into
        # a cache-resident block costs less than storing (N, K, P) in memory and reading it back.
        cols_buf = _scratch("cols", step * K * P, dtype)
        dcols_buf = _scratch("dcols", step * K * P, dtype)
        dw_buf = _scratch("dw", step * F * K, dtype)
        dw = np.zeros((F, K), dtype=dtype)
        for first in range(start, stop, step):
            m = min(step, stop - first)
            cols = cols_buf[: m * K * P].reshape(m, K, P)
            d = dout3[first : first + m]  # (m, F, P)
            im2col(x_c[first : first + m], cols, HH, WW, pad, stride)
            dw += np.matmul(d, cols.transpose(0, 2, 1), out=dw_buf[: m * F * K].reshape(m, F, K)).sum(axis=0)
            dcols = np.matmul(w_t, d, out=dcols_buf[: m * K * P].reshape(m, K, P))
            col2im(dcols, dx[first : first + m], HH, WW, pad, stride)
        return dw

    dw = sum(_run_parts(backward_part, N, 2 * N * F * K * P, _MIN_CONV_WORK))
    db = dout3.sum(axis=(0, 2))
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
    stride, pad, H_out, W_out = conv_shapes(x, w, b, conv_param)
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
    PH, PW, stride, H_out, W_out = _pool_shapes(x, pool_param)
    N, C, H, W = x.shape
    x_c = np.ascontiguousarray(x, dtype=_float_dtype(x))
    out = np.empty((N, C, H_out, W_out), dtype=x_c.dtype)
    argmax = np.empty((N, C, H_out, W_out), dtype=np.int32)
    kernel = im2col_cython.max_pool_forward if _backend == "cython" else _max_pool_forward_numpy

    def forward_part(start, stop):
        kernel(x_c[start:stop], out[start:stop], argmax[start:stop], PH, PW, stride)

    _run_parts(forward_part, N, x_c.size, _MIN_POOL_FORWARD_WORK)
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
    if dout.shape != argmax.shape:
        raise ValueError(
            f"dout has shape {dout.shape} but the pooled output had {argmax.shape}; pass the gradient of "
            "the out that max_pool_forward_fast returned with this cache"
        )
    dout_c = np.ascontiguousarray(dout, dtype=_float_dtype(x))
    dx = np.empty(x.shape, dtype=dout_c.dtype)
    PH, PW, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]

    def backward_part(start, stop):
        if _backend == "cython":
            im2col_cython.max_pool_backward(dout_c[start:stop], argmax[start:stop], dx[start:stop])
        else:  # the numpy kernel needs the window geometry that the Cython one reads off argmax
            _max_pool_backward_numpy(dout_c[start:stop], argmax[start:stop], dx[start:stop], PH, PW, stride)

    _run_parts(backward_part, dx.shape[0], dx.size, _MIN_POOL_BACKWARD_WORK)
    return dx
