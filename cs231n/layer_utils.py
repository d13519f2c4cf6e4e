"""Sandwich layers: common stacks of layers as one forward / backward pair, with nested caches."""

from .fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from .layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

NORMALIZATIONS = (None, "batchnorm", "layernorm")


def affine_relu_forward(x, w, b):
    """
    Convenience layer that performs an affine transform followed by a ReLU.

    Inputs:
    - x: Input to the affine layer, of shape (N, d_1, ..., d_k)
    - w, b: Weights of shape (D, M) and biases of shape (M,) for the affine layer

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, M)
    - cache: (fc_cache, relu_cache) to give to the backward pass
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """
    Backward pass for the affine-relu convenience layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, M)
    - cache: (fc_cache, relu_cache) from affine_relu_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def affine_norm_relu_forward(x, w, b, gamma, beta, bn_param, normalization):
    """
    Convenience layer: affine transform, optional batch or layer normalization, then ReLU.

    Inputs:
    - x: Input to the affine layer, of shape (N, d_1, ..., d_k)
    - w, b: Weights of shape (D, M) and biases of shape (M,) for the affine layer
    - gamma, beta: Scale and shift of shape (M,) for the normalization; ignored when
      normalization is None
    - bn_param: bn_param for batchnorm_forward, or ln_param for layernorm_forward
    - normalization: None, 'batchnorm' or 'layernorm'

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, M)
    - cache: (fc_cache, norm_cache, relu_cache, normalization) to give to the backward pass
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}; use one of {NORMALIZATIONS}")
    a, fc_cache = affine_forward(x, w, b)
    norm_cache = None
    if normalization == "batchnorm":
        a, norm_cache = batchnorm_forward(a, gamma, beta, bn_param)
    elif normalization == "layernorm":
        a, norm_cache = layernorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, norm_cache, relu_cache, normalization)


def affine_norm_relu_backward(dout, cache):
    """
    Backward pass for the affine-norm-relu convenience layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, M)
    - cache: (fc_cache, norm_cache, relu_cache, normalization) from affine_norm_relu_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    - dgamma, dbeta: Gradients with respect to gamma and beta, of shape (M,);
      None when normalization is None
    """
    fc_cache, norm_cache, relu_cache, normalization = cache
    da = relu_backward(dout, relu_cache)
    dgamma, dbeta = None, None
    if normalization == "batchnorm":
        da, dgamma, dbeta = batchnorm_backward_alt(da, norm_cache)
    elif normalization == "layernorm":
        da, dgamma, dbeta = layernorm_backward(da, norm_cache)
    dx, dw, db = affine_backward(da, fc_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_forward(x, w, b, conv_param):
    """
    A convenience layer that performs a convolution followed by a ReLU.

    Inputs:
    - x: Input to the convolutional layer, of shape (N, C, H, W)
    - w, b, conv_param: Filters of shape (F, C, HH, WW), biases of shape (F,) and the
      conv_param dict {'stride', 'pad'} for the convolutional layer

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, F, H', W')
    - cache: (conv_cache, relu_cache) to give to the backward pass
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """
    Backward pass for the conv-relu convenience layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: (conv_cache, relu_cache) from conv_relu_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    """
    conv_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return conv_backward_fast(da, conv_cache)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """
    A convenience layer: convolution, spatial batch normalization, then ReLU.

    Inputs:
    - x: Input to the convolutional layer, of shape (N, C, H, W)
    - w, b, conv_param: Filters of shape (F, C, HH, WW), biases of shape (F,) and the
      conv_param dict {'stride', 'pad'} for the convolutional layer
    - gamma, beta: Scale and shift of shape (F,) for spatial batch normalization
    - bn_param: bn_param dict for spatial_batchnorm_forward

    Returns a tuple of:
    - out: Output from the ReLU, of shape (N, F, H', W')
    - cache: (conv_cache, bn_cache, relu_cache) to give to the backward pass
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """
    Backward pass for the conv-bn-relu convenience layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: (conv_cache, bn_cache, relu_cache) from conv_bn_relu_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    - dgamma, dbeta: Gradients with respect to gamma and beta, of shape (F,)
    """
    conv_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = conv_backward_fast(da, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """
    Convenience layer that performs a convolution, a ReLU, and a max pool.

    Inputs:
    - x: Input to the convolutional layer, of shape (N, C, H, W)
    - w, b, conv_param: Filters of shape (F, C, HH, WW), biases of shape (F,) and the
      conv_param dict {'stride', 'pad'} for the convolutional layer
    - pool_param: Parameters {'pool_height', 'pool_width', 'stride'} for the pooling layer

    Returns a tuple of:
    - out: Output from the pooling layer, of shape (N, F, H'', W'')
    - cache: (conv_cache, relu_cache, pool_cache) to give to the backward pass
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """
    Backward pass for the conv-relu-pool convenience layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H'', W'')
    - cache: (conv_cache, relu_cache, pool_cache) from conv_relu_pool_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    """
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return conv_backward_fast(da, conv_cache)
