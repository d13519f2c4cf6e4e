"""
im2col with index arrays, in plain numpy: the readable version of what
cs231n.im2col_cython does fast. Used by conv_forward_im2col / conv_backward_im2col.

Columns are ordered (i, j, n): column (i * W' + j) * N + n of the matrix holds
the receptive field of output position (i, j) of data point n, and row
(c, kh, kw) its entry x_pad[n, c, i * stride + kh, j * stride + kw].
"""

import numpy as np


def _output_size(x_shape, field_height, field_width, padding, stride):
    """Return (H', W') for a (N, C, H, W) input, raising ValueError if the fields do not tile it."""
    if len(x_shape) != 4:
        raise ValueError(f"x_shape must be (N, C, H, W), got {tuple(x_shape)}")
    if stride < 1 or padding < 0:
        raise ValueError(f"need stride >= 1 and padding >= 0, got stride = {stride}, padding = {padding}")
    _, _, H, W = x_shape
    sizes = []
    for name, size, field in (("height", H, field_height), ("width", W, field_width)):
        span = size + 2 * padding - field
        if span < 0 or span % stride != 0:
            raise ValueError(
                f"(input {name} {size} + 2*padding {padding} - field {name} {field}) = {span} must be a "
                f"non-negative multiple of stride {stride}; change the padding, the stride or the field size"
            )
        sizes.append(span // stride + 1)
    return tuple(sizes)


def get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1):
    """
    Compute the fancy indices that gather every receptive field of a padded input.

    Inputs:
    - x_shape: Shape (N, C, H, W) of the unpadded input
    - field_height, field_width: Size of a receptive field
    - padding: Zero padding on each side
    - stride: Step between receptive fields

    Returns a tuple of:
    - k: Channel indices, of shape (C * field_height * field_width, 1)
    - i: Row indices into the padded input, of shape (C * field_height * field_width, H' * W')
    - j: Column indices into the padded input, of the same shape as i
    """
    C = x_shape[1]
    out_height, out_width = _output_size(x_shape, field_height, field_width, padding, stride)

    i0 = np.tile(np.repeat(np.arange(field_height), field_width), C)
    i1 = stride * np.repeat(np.arange(out_height), out_width)
    j0 = np.tile(np.arange(field_width), field_height * C)
    j1 = stride * np.tile(np.arange(out_width), out_height)
    i = i0.reshape(-1, 1) + i1.reshape(1, -1)
    j = j0.reshape(-1, 1) + j1.reshape(1, -1)
    k = np.repeat(np.arange(C), field_height * field_width).reshape(-1, 1)
    return k, i, j


def im2col_indices(x, field_height, field_width, padding=1, stride=1):
    """
    Gather the receptive fields of x into the columns of a matrix.

    Inputs:
    - x: Input data of shape (N, C, H, W)
    - field_height, field_width, padding, stride: As in get_im2col_indices

    Returns:
    - cols: Array of shape (C * field_height * field_width, H' * W' * N), the
      dtype of x, columns ordered (i, j, n) as described in the module docstring
    """
    p = padding
    x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    k, i, j = get_im2col_indices(x.shape, field_height, field_width, padding, stride)
    cols = x_padded[:, k, i, j]  # (N, C * field_height * field_width, H' * W')
    return cols.transpose(1, 2, 0).reshape(k.shape[0], -1)


def col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1):
    """
    Sum the columns of a matrix back onto the input: the adjoint of im2col_indices.

    Inputs:
    - cols: Array of shape (C * field_height * field_width, H' * W' * N)
    - x_shape: Shape (N, C, H, W) of the unpadded input
    - field_height, field_width, padding, stride: As in get_im2col_indices

    Returns:
    - x: Array of shape (N, C, H, W) and the dtype of cols; a position covered by
      several receptive fields gets the sum of their entries
    """
    N, C, H, W = x_shape
    k, i, j = get_im2col_indices(x_shape, field_height, field_width, padding, stride)
    if cols.shape != (k.shape[0], i.shape[1] * N):
        raise ValueError(
            f"cols has shape {cols.shape} but x_shape {tuple(x_shape)} with these fields needs "
            f"({k.shape[0]}, {i.shape[1] * N}); pass the arguments im2col_indices was called with"
        )
    H_padded, W_padded = H + 2 * padding, W + 2 * padding
    # One flat index per (n, row, column); np.bincount sums the repeats in a single vectorised pass.
    flat = (k * H_padded + i) * W_padded + j  # (K, H' * W')
    flat = flat[None] + (np.arange(N) * C * H_padded * W_padded)[:, None, None]  # (N, K, H' * W')
    values = cols.reshape(k.shape[0], -1, N).transpose(2, 0, 1)  # (N, K, H' * W')
    x_padded = np.bincount(flat.ravel(), weights=values.ravel(), minlength=N * C * H_padded * W_padded)
    x_padded = x_padded.reshape(N, C, H_padded, W_padded).astype(cols.dtype, copy=False)
    return x_padded[:, :, padding : padding + H, padding : padding + W].copy()
