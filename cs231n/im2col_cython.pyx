# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""
Cython kernels behind cs231n.fast_layers: im2col / col2im for convolutions and
max pooling with recorded argmax positions, in float32 and float64 (fused types):
every buffer has the dtype of the input.

Every kernel fills caller-provided, C-contiguous buffers and releases the GIL, so
cs231n.fast_layers can run them on cache-sized chunks of a batch, one part of the
batch per thread, each beside its own single-threaded matrix products.
"""

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


cdef void _im2col_image(const floating *x, floating *cols, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride, Py_ssize_t Ho,
                        Py_ssize_t Wo) noexcept nogil:
    """Fill one image's (C * HH * WW, Ho * Wo) column matrix at cols."""
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, lo, hi, shift
    cdef const floating *src
    cdef floating *dst
    for c in range(C):
        for kh in range(HH):
            for kw in range(WW):
                dst = cols + ((c * HH + kh) * WW + kw) * Ho * Wo
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
    """Raise ValueError unless the conv parameters fit and cols has shape (N, C * HH * WW, H' * W')."""
    if stride < 1 or pad < 0 or H + 2 * pad < HH or W + 2 * pad < WW:
        raise ValueError(
            f"filter {HH}x{WW} with pad {pad} and stride {stride} does not fit an input of {H}x{W}; "
            "check the conv parameters"
        )
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    expected = (N, C * HH * WW, Ho * Wo)
    if tuple(cols.shape)[:3] != expected:
        raise ValueError(f"cols has shape {tuple(cols.shape)[:3]} but needs {expected}; allocate it with that shape")
    if cols.size and (cols.strides[2] != cols.itemsize or cols.strides[1] != Ho * Wo * cols.itemsize):
        raise ValueError("each image's block of cols must be C-contiguous: pass a C-contiguous array, or "
                         "cols_aug[:, :K] of one")


def im2col(const floating[:, :, :, ::1] x, floating[:, :, :] cols, Py_ssize_t HH, Py_ssize_t WW,
           Py_ssize_t pad, Py_ssize_t stride):
    """
    Gather every receptive field of a zero-padded input into the columns of one matrix per image.

    Inputs:
    - x: Input data of shape (N, C, H, W), C-contiguous float32 or float64
    - cols: Output buffer of shape (N, C * HH * WW, H' * W') and the dtype of x,
      overwritten: cols[n, (c, kh, kw), (i, j)] receives
      x_pad[n, c, i * stride + kh, j * stride + kw], so w.reshape(F, -1) @ cols[n]
      is image n's convolution output (F, H' * W'); cols may be the view cols_aug[:, :K]
      of a C-contiguous (N, K + extra, H' * W') buffer, whose extra rows stay untouched
    - HH, WW: Filter height and width
    - pad: Zero padding on each side; the padding is never materialised
    - stride: Step between receptive fields
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t Wo = (W + 2 * pad - WW) // stride + 1
    cdef Py_ssize_t n
    _check_cols(cols, N, C, H, W, HH, WW, pad, stride)
    if cols.size == 0 or x.size == 0:
        cols[...] = 0
        return
    cdef const floating *xp = &x[0, 0, 0, 0]
    with nogil:
        for n in range(N):
            _im2col_image(xp + n * C * H * W, &cols[n, 0, 0], C, H, W, HH, WW, pad, stride, Ho, Wo)


cdef void _col2im_image(const floating *cols, floating *dx, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t pad, Py_ssize_t stride, Py_ssize_t Ho,
                        Py_ssize_t Wo) noexcept nogil:
    """Sum one image's (C * HH * WW, Ho * Wo) column matrix onto its (C, H, W) gradient."""
    cdef Py_ssize_t c, kh, kw, oh, ow, ih, lo, hi, shift
    cdef const floating *src
    cdef floating *dst
    memset(dx, 0, C * H * W * sizeof(floating))
    for c in range(C):
        for kh in range(HH):
            for kw in range(WW):
                src = cols + ((c * HH + kh) * WW + kw) * Ho * Wo
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


def col2im(const floating[:, :, :] cols, floating[:, :, :, ::1] dx, Py_ssize_t HH, Py_ssize_t WW,
           Py_ssize_t pad, Py_ssize_t stride):
    """
    Scatter-add column matrices back onto the unpadded input: the adjoint of im2col.

    Inputs:
    - cols: Array of shape (N, C * HH * WW, H' * W'), in the layout im2col writes
    - dx: Output buffer of shape (N, C, H, W) and the dtype of cols, overwritten
      with the sums; entries that only the padding saw are dropped
    - HH, WW, pad, stride: As given to im2col
    """
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t n, Ho, Wo
    _check_cols(cols, N, C, H, W, HH, WW, pad, stride)
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    if cols.size == 0 or dx.size == 0:
        dx[...] = 0
        return
    cdef floating *dp = &dx[0, 0, 0, 0]
    with nogil:
        for n in range(N):
            _col2im_image(&cols[n, 0, 0], dp + n * C * H * W, C, H, W, HH, WW, pad, stride, Ho, Wo)


cdef void _max_pool_plane(const floating *x, floating *out, int *argmax, Py_ssize_t H, Py_ssize_t W,
                          Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t stride, Py_ssize_t Ho,
                          Py_ssize_t Wo) noexcept nogil:
    cdef Py_ssize_t oh, ow, ph, pw, start, pos, best_pos
    cdef floating best, v
    cdef bint take
    for oh in range(Ho):
        for ow in range(Wo):
            start = oh * stride * W + ow * stride
            best, best_pos = x[start], start
            if PH == 2 and PW == 2:
                # The common 2x2 window unrolled into selects instead of branches: on real activations
                # the winner is unpredictable and mispredicted branches cost more than the compares.
                v = x[start + 1]
                take = v > best
                best = v if take else best
                best_pos = start + 1 if take else best_pos
                v = x[start + W]
                take = v > best
                best = v if take else best
                best_pos = start + W if take else best_pos
                v = x[start + W + 1]
                take = v > best
                best = v if take else best
                best_pos = start + W + 1 if take else best_pos
            else:
                for ph in range(PH):
                    for pw in range(PW):
                        pos = start + ph * W + pw
                        v = x[pos]
                        take = v > best  # strict '>' keeps the first maximum in row-major order
                        best = v if take else best
                        best_pos = pos if take else best_pos
            out[oh * Wo + ow] = best
            argmax[oh * Wo + ow] = <int>best_pos


def max_pool_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] out, int[:, :, :, ::1] argmax,
                     Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t stride):
    """
    Max-pool every (n, c) plane and record where each maximum came from.

    Inputs:
    - x: Input data of shape (N, C, H, W), C-contiguous float32 or float64
    - out: Output buffer of shape (N, C, H', W') and the dtype of x, overwritten with the maxima;
      H' = (H - PH) // stride + 1 and W' = (W - PW) // stride + 1: windows running past the
      edge are dropped
    - argmax: int32 output buffer of shape (N, C, H', W'), overwritten with the flat index
      h * W + w, within its plane, of the first maximum of each window in row-major order
    - PH, PW: Pool height and width (at most H and W)
    - stride: Step between windows
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t Ho = (H - PH) // stride + 1
    cdef Py_ssize_t Wo = (W - PW) // stride + 1
    cdef Py_ssize_t p
    expected = (N, C, Ho, Wo)
    for name, buf in (("out", out), ("argmax", argmax)):
        if tuple(buf.shape)[:4] != expected:
            raise ValueError(f"{name} has shape {tuple(buf.shape)[:4]} but needs {expected}; allocate it with that shape")
    if out.size == 0:
        return
    cdef const floating *xp = &x[0, 0, 0, 0]
    cdef floating *op = &out[0, 0, 0, 0]
    cdef int *ap = &argmax[0, 0, 0, 0]
    with nogil:
        for p in range(N * C):
            _max_pool_plane(xp + p * H * W, op + p * Ho * Wo, ap + p * Ho * Wo, H, W, PH, PW, stride, Ho, Wo)


def max_pool_backward(const floating[:, :, :, ::1] dout, const int[:, :, :, ::1] argmax,
                      floating[:, :, :, ::1] dx):
    """
    Route each window's upstream gradient to the input position of its maximum.

    Inputs:
    - dout: Upstream derivatives of shape (N, C, H', W'), C-contiguous
    - argmax: int32 array of shape (N, C, H', W') from max_pool_forward
    - dx: Output buffer of shape (N, C, H, W) and the dtype of dout, overwritten with the gradient
    """
    cdef Py_ssize_t N = dout.shape[0], C = dout.shape[1], Ho = dout.shape[2], Wo = dout.shape[3]
    cdef Py_ssize_t H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t p, o
    cdef Py_ssize_t HW = H * W, P = Ho * Wo
    if tuple(argmax.shape)[:4] != tuple(dout.shape)[:4] or tuple(dx.shape)[:2] != (N, C):
        raise ValueError(
            f"argmax {tuple(argmax.shape)[:4]}, dout {tuple(dout.shape)[:4]} and dx {tuple(dx.shape)[:4]} "
            "do not fit together; pass the argmax that max_pool_forward returned for this dout"
        )
    if dx.size == 0:
        return
    cdef const floating *gp = &dout[0, 0, 0, 0]
    cdef const int *ap = &argmax[0, 0, 0, 0]
    cdef floating *dp = &dx[0, 0, 0, 0]
    with nogil:
        memset(dp, 0, N * C * HW * sizeof(floating))
        for p in range(N * C):
            for o in range(P):
                dp[p * HW + ap[p * P + o]] += gp[p * P + o]
