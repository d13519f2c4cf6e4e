# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""
Cython kernels behind cs231n.fast_layers: im2col / col2im for convolutions and
max pooling with recorded argmax positions. float32 and float64 (fused types);
the result has the dtype of the input.

The conv kernels fill caller-provided buffers, so cs231n.fast_layers can run them
chunk by chunk on small, cache-resident blocks. Callers pass C-contiguous arrays.
The loops release the GIL but stay single-threaded: BLAS already keeps every core
busy in the matrix products around them, and a second thread pool spinning
between those calls slows both down.
"""

import numpy as np

from cython cimport floating
from libc.string cimport memcpy, memset


cdef inline Py_ssize_t _first_valid(Py_ssize_t k, Py_ssize_t pad, Py_ssize_t stride,
                                    Py_ssize_t n_out) noexcept nogil:
    """Smallest output index o with o * stride + k - pad >= 0, clipped to [0, n_out]."""
    if k >= pad:
        return 0
    return min((pad - k + stride - 1) // stride, n_out)


cdef inline Py_ssize_t _end_valid(Py_ssize_t k, Py_ssize_t pad, Py_ssize_t stride, Py_ssize_t size,
                                  Py_ssize_t n_out) noexcept nogil:
    """One past the largest output index o with o * stride + k - pad <= size - 1, clipped to [0, n_out]."""
    cdef Py_ssize_t last = size - 1 + pad - k
    if last < 0:  # C division truncates towards zero, so a negative numerator needs its own branch
        return 0
    return min(last // stride + 1, n_out)


cdef void _im2col_image(const floating *x, floating *cols, Py_ssize_t row_len, Py_ssize_t C, Py_ssize_t H,
                        Py_ssize_t W, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride,
                        Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """Fill one image's Ho * Wo columns of a (C * HH * WW, row_len) matrix, starting at cols."""
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, lo, hi, shift
    cdef const floating *src
    cdef floating *dst
    for c in range(C):
        for kh in range(HH):
            for kw in range(WW):
                dst = cols + ((c * HH + kh) * WW + kw) * row_len
                lo = _first_valid(kw, pad, stride, Wo)
                hi = max(lo, _end_valid(kw, pad, stride, W, Wo))
                shift = kw - pad
                for oh in range(Ho):
                    ih = oh * stride + kh - pad
                    if ih < 0 or ih >= H:
                        memset(dst, 0, Wo * sizeof(floating))
                    else:
                        src = x + (c * H + ih) * W
                        for ow in range(lo):
                            dst[ow] = 0
                        if stride == 1:
                            # Contiguous run of the input row: one memcpy.
                            memcpy(dst + lo, src + lo + shift, (hi - lo) * sizeof(floating))
                        else:
                            for ow in range(lo, hi):
                                dst[ow] = src[ow * stride + shift]
                        for ow in range(hi, Wo):
                            dst[ow] = 0
                    dst += Wo


def _check_cols(cols, Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t HH, Py_ssize_t WW,
                Py_ssize_t pad, Py_ssize_t stride):
    """Raise ValueError unless the conv parameters fit and cols has shape (C * HH * WW, N * H' * W')."""
    if stride < 1 or pad < 0 or H + 2 * pad < HH or W + 2 * pad < WW:
        raise ValueError(
            f"filter {HH}x{WW} with pad {pad} and stride {stride} does not fit an input of {H}x{W}; "
            "check the conv parameters"
        )
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    expected = (C * HH * WW, N * Ho * Wo)
    if tuple(cols.shape)[:2] != expected:
        raise ValueError(f"cols has shape {tuple(cols.shape)[:2]} but needs {expected}; allocate it with that shape")


def im2col(const floating[:, :, :, ::1] x, floating[:, ::1] cols, Py_ssize_t HH, Py_ssize_t WW,
           Py_ssize_t pad, Py_ssize_t stride):
    """
    Gather every receptive field of a zero-padded input into the columns of a matrix.

    Inputs:
    - x: Input data of shape (N, C, H, W), C-contiguous float32 or float64
    - cols: Output buffer of shape (C * HH * WW, N * H' * W') and the dtype of x,
      overwritten: row (c, kh, kw) and column (n, i, j) of cols receive
      x_pad[n, c, i * stride + kh, j * stride + kw]
    - HH, WW: Filter height and width
    - pad: Zero padding on each side; the padding is never materialised
    - stride: Step between receptive fields
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    cdef Py_ssize_t n, P = Ho * Wo
    _check_cols(cols, N, C, H, W, HH, WW, pad, stride)
    if cols.size == 0 or x.size == 0:
        cols[...] = 0
        return
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *cp = &cols[0, 0]
    with nogil:
        for n in range(N):
            _im2col_image(xp + n * C * H * W, cp + n * P, N * P, C, H, W, HH, WW, pad, stride, Ho, Wo)


cdef void _col2im_image(const floating *cols, floating *dx, Py_ssize_t row_len, Py_ssize_t C, Py_ssize_t H,
                        Py_ssize_t W, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride,
                        Py_ssize_t Ho, Py_ssize_t Wo) noexcept nogil:
    """Sum one image's Ho * Wo columns of a (C * HH * WW, row_len) matrix onto its (C, H, W) gradient."""
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, lo, hi, shift
    cdef const floating *src
    cdef floating *dst
    memset(dx, 0, C * H * W * sizeof(floating))
    for c in range(C):
        for kh in range(HH):
            for kw in range(WW):
                src = cols + ((c * HH + kh) * WW + kw) * row_len
                lo = _first_valid(kw, pad, stride, Wo)
                hi = _end_valid(kw, pad, stride, W, Wo)
                shift = kw - pad
                for oh in range(Ho):
                    ih = oh * stride + kh - pad
                    if 0 <= ih < H:
                        dst = dx + (c * H + ih) * W
                        if stride == 1:  # unit stride lets the compiler vectorise the sum
                            for ow in range(lo, hi):
                                dst[ow + shift] += src[ow]
                        else:
                            for ow in range(lo, hi):
                                dst[ow * stride + shift] += src[ow]
                    src += Wo


def col2im(const floating[:, ::1] cols, floating[:, :, :, ::1] dx, Py_ssize_t HH, Py_ssize_t WW,
           Py_ssize_t pad, Py_ssize_t stride):
    """
    Scatter-add a column matrix back onto the unpadded input: the adjoint of im2col.

    Inputs:
    - cols: Array of shape (C * HH * WW, N * H' * W'), in the layout im2col writes
    - dx: Output buffer of shape (N, C, H, W) and the dtype of cols, overwritten
      with the sums; entries that only the padding saw are dropped
    - HH, WW, pad, stride: As given to im2col
    """
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t n, Ho, Wo, P
    _check_cols(cols, N, C, H, W, HH, WW, pad, stride)
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    P = Ho * Wo
    if cols.size == 0 or dx.size == 0:
        dx[...] = 0
        return
    cdef const floating *cp = &cols[0, 0]
    cdef floating *dp = &dx[0, 0, 0, 0]
    with nogil:
        for n in range(N):
            _col2im_image(cp + n * P, dp + n * C * H * W, N * P, C, H, W, HH, WW, pad, stride, Ho, Wo)


cdef void _max_pool_plane(const floating *x, floating *out, int *argmax, Py_ssize_t H, Py_ssize_t W,
                          Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t stride, Py_ssize_t Ho,
                          Py_ssize_t Wo) noexcept nogil:
    cdef Py_ssize_t oh, ow, ph, pw, start, pos, best_pos
    cdef floating best, v, a, b
    for oh in range(Ho):
        for ow in range(Wo):
            start = oh * stride * W + ow * stride
            if PH == 2 and PW == 2:
                # The common 2x2 window unrolled; strict '>' keeps the first maximum in row-major order.
                best, best_pos = x[start], start
                a = x[start + 1]
                if a > best:
                    best, best_pos = a, start + 1
                a = x[start + W]
                b = x[start + W + 1]
                if a > best:
                    best, best_pos = a, start + W
                if b > best:
                    best, best_pos = b, start + W + 1
            else:
                best, best_pos = x[start], start
                for ph in range(PH):
                    for pw in range(PW):
                        pos = start + ph * W + pw
                        v = x[pos]
                        if v > best:
                            best, best_pos = v, pos
            out[oh * Wo + ow] = best
            argmax[oh * Wo + ow] = <int>best_pos


def max_pool_forward(const floating[:, :, :, ::1] x, Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t stride):
    """
    Max-pool every (n, c) plane and record where each maximum came from.

    Inputs:
    - x: Input data of shape (N, C, H, W), C-contiguous float32 or float64
    - PH, PW: Pool height and width (at most H and W)
    - stride: Step between windows; windows running past the edge are dropped

    Returns a tuple of:
    - out: Array of shape (N, C, H', W') and the dtype of x
    - argmax: int32 array of shape (N, C, H', W'): the flat index h * W + w,
      within its plane, of the first maximum of each window in row-major order
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = (H - PH) // stride + 1
    cdef Py_ssize_t Wo = (W - PW) // stride + 1
    cdef Py_ssize_t p
    dtype = np.float32 if floating is float else np.float64
    out_arr = np.empty((N, C, Ho, Wo), dtype=dtype)
    argmax_arr = np.empty((N, C, Ho, Wo), dtype=np.int32)
    if out_arr.size == 0:
        return out_arr, argmax_arr
    cdef floating[:, :, :, ::1] out = out_arr
    cdef int[:, :, :, ::1] argmax = argmax_arr
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *op = &out[0, 0, 0, 0]
    cdef int *ap = &argmax[0, 0, 0, 0]
    with nogil:
        for p in range(N * C):
            _max_pool_plane(xp + p * H * W, op + p * Ho * Wo, ap + p * Ho * Wo, H, W, PH, PW, stride, Ho, Wo)
    return out_arr, argmax_arr


def max_pool_backward(const floating[:, :, :, ::1] dout, const int[:, :, :, ::1] argmax, Py_ssize_t H,
                      Py_ssize_t W):
    """
    Route each window's upstream gradient to the input position of its maximum.

    Inputs:
    - dout: Upstream derivatives of shape (N, C, H', W'), C-contiguous
    - argmax: int32 array of shape (N, C, H', W') from max_pool_forward
    - H, W: Height and width of the pooled input

    Returns:
    - dx: Array of shape (N, C, H, W) and the dtype of dout
    """
    cdef Py_ssize_t N = dout.shape[0], C = dout.shape[1], Ho = dout.shape[2], Wo = dout.shape[3]
    cdef Py_ssize_t p, o
    cdef Py_ssize_t HW = H * W, P = Ho * Wo
    dtype = np.float32 if floating is float else np.float64
    if tuple(argmax.shape)[:4] != tuple(dout.shape)[:4]:
        raise ValueError(
            f"argmax has shape {tuple(argmax.shape)[:4]} but dout has {tuple(dout.shape)[:4]}; "
            "pass the argmax that max_pool_forward returned for this dout"
        )
    dx_arr = np.zeros((N, C, H, W), dtype=dtype)
    if dout.size == 0 or dx_arr.size == 0:
        return dx_arr
    cdef floating[:, :, :, ::1] dx = dx_arr
    cdef const floating *gp = &dout[0, 0, 0, 0]
    cdef const int *ap = &argmax[0, 0, 0, 0]
    cdef floating *dp = &dx[0, 0, 0, 0]
    with nogil:
        for p in range(N * C):
            for o in range(P):
                dp[p * HW + ap[p * P + o]] += gp[p * P + o]
    return dx_arr
