"""Input checks shared by the naive layers (cs231n.layers) and the fast ones (cs231n.fast_layers).

Given code: the layers call these before and after the student regions, so a wrong shape fails with a
message naming the fix. It lives apart from layers.py so that the fast layers never depend on a file
the students edit.
"""

import numpy as np


def check_scores_labels(x, y):
    """Validate class scores x of shape (N, C) and integer labels y of shape (N,) in [0, C)."""
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D scores of shape (N, C), got shape {x.shape}; reshape it first")
    N, C = x.shape
    y = np.asarray(y)
    if y.shape != (N,):
        raise ValueError(f"y must have shape ({N},) to match x of shape {x.shape}, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}; cast with y.astype(int)")
    bad = (y < 0) | (y >= C)
    if np.any(bad):
        raise ValueError(
            f"label {y[bad][0]} is out of range for C = {C} classes; labels must lie in [0, {C})"
        )


def conv_output_size(H, W, HH, WW, stride, pad):
    """Return (H_out, W_out) of a convolution, or raise if the filter does not tile the padded input."""
    if stride < 1 or pad < 0:
        raise ValueError(f"need stride >= 1 and pad >= 0, got stride = {stride}, pad = {pad}")
    for name, size, filt in (("height", H, HH), ("width", W, WW)):
        span = size + 2 * pad - filt
        if span < 0:
            raise ValueError(
                f"filter {name} {filt} exceeds the padded input {name} {size} + 2*{pad}; "
                "use a smaller filter or more padding"
            )
        if span % stride != 0:
            raise ValueError(
                f"(input {name} {size} + 2*pad {pad} - filter {name} {filt}) = {span} is not divisible "
                f"by stride {stride}; change the padding or the stride"
            )
    return 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride


def conv_shapes(x, w, b, conv_param):
    """Validate a convolution's inputs and return (stride, pad, H', W'); the naive and fast layers share it."""
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(
            f"x must be (N, C, H, W) and w (F, C, HH, WW), got shapes {x.shape} and {w.shape}; "
            "reshape them to 4-D"
        )
    N, C, H, W = x.shape
    F, C_w, HH, WW = w.shape
    if C_w != C:
        raise ValueError(f"x has {C} channels but w has {C_w}; w must have shape (F, {C}, HH, WW)")
    if b.shape != (F,):
        raise ValueError(f"b must have shape ({F},) to match w of shape {w.shape}, got {b.shape}")
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_out, W_out = conv_output_size(H, W, HH, WW, stride, pad)
    return stride, pad, H_out, W_out


def pool_output_size(H, W, pool_height, pool_width, stride):
    """Return (H_out, W_out) of a max pool; windows that would run past the edge are dropped."""
    if stride < 1 or pool_height < 1 or pool_width < 1:
        raise ValueError(
            f"pool sizes and stride must be >= 1, got {pool_height}x{pool_width}, stride {stride}"
        )
    if pool_height > H or pool_width > W:
        raise ValueError(
            f"pool window {pool_height}x{pool_width} is larger than the input {H}x{W}; use a smaller pool"
        )
    return 1 + (H - pool_height) // stride, 1 + (W - pool_width) // stride


def check_mode(param, name):
    """Return param['mode'], raising unless it is 'train' or 'test'."""
    mode = param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f"{name}['mode'] must be 'train' or 'test', got {mode!r}")
    return mode
