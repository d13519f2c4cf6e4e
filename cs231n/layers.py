"""Naive layers: pure functions `*_forward -> (out, cache)` and `*_backward(dout, cache) -> grads`.

What every layer promises (the public tests and the grader check exactly this):
- It never modifies its arguments (x, the parameters, dout, the param dicts): it returns new arrays.
  Batch norm's running averages, stored back into bn_param in train mode, are the one exception.
- A cache only carries values from a forward pass to its own backward pass. The layouts in the docstrings
  are the kit's (the given first line of each backward pass unpacks them); you may store something else,
  a dict or an object of your own, if your backward pass reads it: a forward and backward pair is judged by
  its outputs and gradients, never by the cache itself.
- Arrays have the documented shapes; one with extra leading axes of length 1 (a (1, D) running mean for a
  documented (D,)) is accepted. Their dtype is free: float32 inputs may give float32 or float64 results.
"""

import numpy as np

from .validation import check_mode, check_scores_labels, conv_shapes, pool_output_size


def affine_forward(x, w, b):
    """
    Compute the forward pass for an affine (fully connected) layer.

    The input x has shape (N, d_1, ..., d_k): a minibatch of N examples, each of which is
    reshaped into a vector of dimension D = d_1 * ... * d_k.

    Inputs:
    - x: A numpy array containing input data, of shape (N, d_1, ..., d_k)
    - w: A numpy array of weights, of shape (D, M)
    - b: A numpy array of biases, of shape (M,)

    Returns a tuple of:
    - out: output, of shape (N, M)
    - cache: (x, w, b)
    """
    N = x.shape[0]
    D, M = w.shape
    if int(np.prod(x.shape[1:])) != D:
        raise ValueError(
            f"x has {int(np.prod(x.shape[1:]))} features per example (shape {x.shape}) but w expects "
            f"w.shape[0] = {D}; make w of shape ({int(np.prod(x.shape[1:]))}, {M})"
        )
    out = None
    ###########################################################################
    # TODO: Implement the affine forward pass. Store the result in out. You   #
    # will need to reshape the input into rows.                               #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    out = x.reshape(N, D) @ w + b

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Compute the backward pass for an affine (fully connected) layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: Tuple of:
      - x: Input data, of shape (N, d_1, ... d_k)
      - w: Weights, of shape (D, M)
      - b: Biases, of shape (M,)

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w, b = cache
    N = x.shape[0]
    D, M = w.shape
    dx, dw, db = None, None, None
    ###########################################################################
    # TODO: Implement the affine backward pass.                               #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(N, D).T @ dout
    db = dout.sum(axis=0)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx, dw, db


def relu_forward(x):
    """
    Compute the forward pass for a layer of rectified linear units (ReLUs).

    Inputs:
    - x: Inputs, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x
    - cache: (x,)
    """
    out = None
    ###########################################################################
    # TODO: Implement the ReLU forward pass.                                  #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    out = np.maximum(x, 0)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    cache = (x,)
    return out, cache


def relu_backward(dout, cache):
    """
    Compute the backward pass for a layer of rectified linear units (ReLUs).

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: (x,), the input x of the same shape as dout

    Returns:
    - dx: Gradient with respect to x, of the same shape as dout
    """
    (x,) = cache
    dx = None
    ###########################################################################
    # TODO: Implement the ReLU backward pass.                                 #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dx = dout * (x > 0)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx


def svm_loss(x, y):
    """
    Compute the loss and gradient for multiclass SVM classification.

    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth
      class for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C

    Returns a tuple of:
    - loss: Scalar giving the loss, averaged over the N examples
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    check_scores_labels(x, y)
    N, C = x.shape
    loss, dx = None, None
    ###########################################################################
    # TODO: Implement the multiclass SVM loss (margin 1) and its gradient,    #
    # both averaged over the minibatch.                                       #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = float(margins.sum() / N)
    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] -= dx.sum(axis=1)
    dx /= N

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return loss, dx


def softmax_loss(x, y):
    """
    Compute the loss and gradient for softmax classification.

    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth
      class for the ith input.
    - y: Vector of labels, of shape (N,) where y[i] is the label for x[i] and
      0 <= y[i] < C

    Returns a tuple of:
    - loss: Scalar giving the loss, averaged over the N examples
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    check_scores_labels(x, y)
    N, C = x.shape
    loss, dx = None, None
    ###########################################################################
    # TODO: Implement the softmax loss and its gradient, both averaged over   #
    # the minibatch. Shift the scores by their row maximum first so           #
    # that np.exp cannot overflow.                                            #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[rows, y].sum() / N)
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return loss, dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization.

    During training the sample mean and (uncorrected) sample variance are
    computed from minibatch statistics and used to normalize the incoming data.
    We also keep an exponentially decaying running mean of the mean and
    variance of each feature, and these averages are used to normalize data
    at test time:

    running_mean = momentum * running_mean + (1 - momentum) * sample_mean
    running_var = momentum * running_var + (1 - momentum) * sample_var

    The running averages are stored back into bn_param, the one documented
    exception to these layers never modifying their arguments. In test mode
    they are only read: bn_param stays as it was.

    Inputs:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift parameter of shape (D,)
    - bn_param: Dictionary with the following keys:
      - mode: 'train' or 'test'; required
      - eps: Constant for numeric stability, default 1e-5
      - momentum: Constant for running mean / variance, default 0.9
      - running_mean: Array of shape (D,) giving running mean of features
      - running_var: Array of shape (D,) giving running variance of features

    Returns a tuple of:
    - out: Output of shape (N, D)
    - cache: (x, x_hat, mu, std, gamma) in train mode, where x_hat is the normalized
      x and mu, std of shape (D,) are the minibatch mean and sqrt(var + eps); not used
      in test mode (the backward pass only follows a train-mode forward pass)
    """
    mode = check_mode(bn_param, "bn_param")
    N, D = x.shape
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        ###########################################################################
        # TODO: Implement the training-time forward pass for batch norm.          #
        # Use minibatch statistics to compute the mean and variance,              #
        # normalize the incoming data, then scale and shift it by gamma           #
        # and beta. Store the output in out and what the backward pass            #
        # needs in cache. Update running_mean and running_var with                #
        # the momentum formula in the docstring.                                  #
        ###########################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        mu = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x, x_hat, mu, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ###########################################################################
        #                             END OF YOUR CODE                            #
        ###########################################################################
    else:
        ###########################################################################
        # TODO: Implement the test-time forward pass for batch norm: normalize    #
        # with the running mean and variance, then scale and shift by             #
        # gamma and beta. Store the result in out.                                #
        ###########################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ###########################################################################
        #                             END OF YOUR CODE                            #
        ###########################################################################

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization, following its computation graph.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: (x, x_hat, mu, std, gamma) from batchnorm_forward in train mode

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    x, x_hat, mu, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = None, None, None
    ###########################################################################
    # TODO: Implement the backward pass for batch normalization by walking    #
    # the computation graph of the forward pass node by node.                 #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    x_mu = x - mu
    dstd = -(dx_hat * x_mu).sum(axis=0) / std**2
    dvar = dstd / (2 * std)
    dx_mu = dx_hat / std + 2 * x_mu * dvar / N
    dmu = -dx_mu.sum(axis=0)
    dx = dx_mu + dmu / N

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """
    Alternative backward pass for batch normalization, in one simplified expression.

    Work the derivative of the normalized output with respect to x out on paper
    and simplify it as much as you can.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: (x, x_hat, mu, std, gamma) from batchnorm_forward in train mode

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    x, x_hat, mu, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = None, None, None
    ###########################################################################
    # TODO: Implement the backward pass for batch normalization with the      #
    # gradient simplified on paper into a single expression for dx.           #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Forward pass for layer normalization.

    Each data point is normalized over its own features, so training and test
    time behave the same and no running averages are kept.

    Inputs:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift parameter of shape (D,)
    - ln_param: Dictionary with the following keys:
      - eps: Constant for numeric stability, default 1e-5

    Returns a tuple of:
    - out: Output of shape (N, D)
    - cache: (x_hat, std, gamma), where x_hat of shape (N, D) is the normalized x
      and std of shape (N, 1) is each row's sqrt(var + eps)
    """
    N, D = x.shape
    eps = ln_param.get("eps", 1e-5)
    out, cache = None, None
    ###########################################################################
    # TODO: Implement the forward pass for layer norm: normalize each row of  #
    # x by its own mean and variance, then scale and shift by gamma           #
    # and beta. Store the output in out and what the backward pass            #
    # needs in cache.                                                         #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    mu = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    x_hat = (x - mu) / std
    out = gamma * x_hat + beta
    cache = (x_hat, std, gamma)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return out, cache


def layernorm_backward(dout, cache):
    """
    Backward pass for layer normalization.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: (x_hat, std, gamma) from layernorm_forward

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    x_hat, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = None, None, None
    ###########################################################################
    # TODO: Implement the backward pass for layer norm. It is batch norm's    #
    # with the roles of the two axes swapped for dx.                          #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = (
        D * dx_hat
        - dx_hat.sum(axis=1, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True)
    ) / (D * std)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Forward pass for inverted dropout.

    Here p is the probability of KEEPING each neuron output, as opposed to
    dropping it. Kept activations are divided by p in training so that
    nothing needs to change at test time.

    Inputs:
    - x: Input data, of any shape
    - dropout_param: A dictionary with the following keys:
      - p: Dropout parameter. We keep each neuron output with probability p.
      - mode: 'test' or 'train'. If the mode is train, then perform dropout;
        if the mode is test, then just return the input.
      - seed: Seed for the random number generator. Passing seed makes this
        function deterministic, which is needed for gradient checking: the given
        code seeds np.random with it, so draw the mask from np.random (any of its
        functions: rand, random_sample, binomial, ...).

    Returns a tuple of:
    - out: Array of the same shape as x
    - cache: tuple (dropout_param, mask). In training mode, mask is the dropout
      mask that was used to multiply the input; in test mode, mask is None.
    """
    mode = check_mode(dropout_param, "dropout_param")
    p = dropout_param.get("p")
    if p is None or not 0 < p <= 1:
        raise ValueError(f"dropout_param['p'] is the keep probability and must lie in (0, 1], got {p!r}")
    if dropout_param.get("seed") is not None:
        # The course seeds the global generator so the notebook's checks reproduce.
        np.random.seed(dropout_param["seed"])

    mask, out = None, None
    if mode == "train":
        ###########################################################################
        # TODO: Implement training phase forward pass for inverted dropout.       #
        # Store the dropout mask in the mask variable.                            #
        ###########################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        mask = ((np.random.rand(*x.shape) < p) / p).astype(x.dtype, copy=False)
        out = x * mask

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ###########################################################################
        #                             END OF YOUR CODE                            #
        ###########################################################################
    else:
        ###########################################################################
        # TODO: Implement the test phase forward pass for inverted dropout.       #
        ###########################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        out = x.copy()

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ###########################################################################
        #                             END OF YOUR CODE                            #
        ###########################################################################

    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """
    Backward pass for inverted dropout.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: (dropout_param, mask) from dropout_forward.

    Returns:
    - dx: Gradient with respect to x, of the same shape as dout
    """
    dropout_param, mask = cache
    mode = dropout_param["mode"]

    dx = None
    if mode == "train":
        ###########################################################################
        # TODO: Implement training phase backward pass for inverted dropout.      #
        ###########################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        dx = dout * mask

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ###########################################################################
        #                             END OF YOUR CODE                            #
        ###########################################################################
    else:
        dx = dout.copy()
    return dx


def conv_forward_naive(x, w, b, conv_param):
    """
    A naive implementation of the forward pass for a convolutional layer.

    The input consists of N data points, each with C channels, height H and
    width W. We convolve each input with F different filters, where each filter
    spans all C channels and has height HH and width WW.

    Inputs:
    - x: Input data of shape (N, C, H, W)
    - w: Filter weights of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: A dictionary with the following keys:
      - 'stride': The number of pixels between adjacent receptive fields in the
        horizontal and vertical directions.
      - 'pad': The number of pixels that will be used to zero-pad the input.

    During padding, 'pad' zeros are placed symmetrically (i.e. equally on both
    sides) along the height and width axes of the input. Be careful not to
    modify the original input x directly.

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W') where H' and W' are given by
      H' = 1 + (H + 2 * pad - HH) / stride
      W' = 1 + (W + 2 * pad - WW) / stride
    - cache: (x, w, b, conv_param)
    """
    stride, pad, H_out, W_out = conv_shapes(x, w, b, conv_param)
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape

    out = None
    ###########################################################################
    # TODO: Implement the convolutional forward pass. Loop over the output    #
    # positions, and compute each one for all N inputs and F filters          #
    # at once with np.tensordot (or np.sum) over (C, HH, WW).                 #
    # Hint: you can use the function np.pad for padding.                      #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, H_out, W_out), dtype=np.result_type(x, w))
    for i in range(H_out):
        for j in range(W_out):
            window = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    out += b.reshape(1, F, 1, 1)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a convolutional layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: A tuple of (x, w, b, conv_param) as in conv_forward_naive

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    """
    x, w, b, conv_param = cache
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    stride, pad = conv_param["stride"], conv_param["pad"]

    dx, dw, db = None, None, None
    ###########################################################################
    # TODO: Implement the convolutional backward pass. Every output position  #
    # sends gradient back to the window it was computed from.                 #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            d = dout[:, :, i, j]
            dx_pad[:, :, rows, cols] += np.tensordot(d, w, axes=([1], [0]))
            dw += np.tensordot(d, x_pad[:, :, rows, cols], axes=([0], [0]))
    dx = dx_pad[:, :, pad : pad + H, pad : pad + W].copy()
    db = dout.sum(axis=(0, 2, 3))

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """
    A naive implementation of the forward pass for a max-pooling layer.

    No padding is applied. Windows may overlap (stride < pool size); a window
    that would run past the bottom or right edge is dropped, so
    H' = 1 + (H - pool_height) // stride and W' = 1 + (W - pool_width) // stride.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: dictionary with the following keys:
      - 'pool_height': The height of each pooling region
      - 'pool_width': The width of each pooling region
      - 'stride': The distance between adjacent pooling regions

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W')
    - cache: (x, pool_param)
    """
    N, C, H, W = x.shape
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]
    H_out, W_out = pool_output_size(H, W, pool_height, pool_width, stride)

    out = None
    ###########################################################################
    # TODO: Implement the max-pooling forward pass. Loop over the output      #
    # positions and take each window's maximum for all N and C at once.       #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    out = np.empty((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]
            out[:, :, i, j] = window.max(axis=(2, 3))

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    cache = (x, pool_param)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """
    A naive implementation of the backward pass for a max-pooling layer.

    Each window's gradient goes to the position of its maximum; when several
    entries tie, it goes to the first in row-major order, as np.argmax picks.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: A tuple of (x, pool_param) as in the forward pass.

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    """
    x, pool_param = cache
    N, C, H, W = x.shape
    _, _, H_out, W_out = dout.shape
    pool_height, pool_width = pool_param["pool_height"], pool_param["pool_width"]
    stride = pool_param["stride"]

    dx = None
    ###########################################################################
    # TODO: Implement the max-pooling backward pass.                          #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dx = np.zeros_like(x, dtype=dout.dtype)
    n_idx, c_idx = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]
            r, c = np.divmod(window.reshape(N, C, -1).argmax(axis=2), pool_width)
            # Within one window every (n, c) is hit once, so fancy-index += does not lose updates.
            dx[n_idx, c_idx, i * stride + r, j * stride + c] += dout[:, :, i, j]

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """
    Compute the forward pass for spatial batch normalization.

    Inputs:
    - x: Input data of shape (N, C, H, W)
    - gamma: Scale parameter, of shape (C,)
    - beta: Shift parameter, of shape (C,)
    - bn_param: Dictionary with the following keys:
      - mode: 'train' or 'test'; required
      - eps: Constant for numeric stability, default 1e-5
      - momentum: Constant for running mean / variance, default 0.9
      - running_mean: Array of shape (C,) giving running mean of features
      - running_var: Array of shape (C,) giving running variance of features

    As in batchnorm_forward, the running averages are stored back into bn_param
    in train mode and only read in test mode.

    Returns a tuple of:
    - out: Output data, of shape (N, C, H, W)
    - cache: (x, x_hat, mu, std, gamma) in train mode, as batchnorm_forward's but
      with x and x_hat of shape (N, C, H, W), where x_hat is the normalized x, and
      mu, std of shape (C,) the per-channel mean and sqrt(var + eps); not used in
      test mode
    """
    N, C, H, W = x.shape
    out, cache = None, None
    ###########################################################################
    # TODO: Implement the forward pass for spatial batch normalization by     #
    # reshaping x and calling the vanilla batchnorm_forward above.            #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    # Every pixel is one sample of C features. Reducing over axes (0, 2, 3) in place of
    # transposing to (N*H*W, C) saves two copies of the activations in each direction.
    mode = check_mode(bn_param, "bn_param")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(C, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(C, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=(0, 2, 3))
        x_hat = x - mu[:, None, None]
        # einsum sums the squares without materialising them.
        var = np.einsum("nchw,nchw->c", x_hat, x_hat) / (N * H * W)
        std = np.sqrt(var + eps)
        x_hat *= (1 / std)[:, None, None]
        out = x_hat * gamma[:, None, None]
        out += beta[:, None, None]
        cache = (x, x_hat, mu, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        scale = gamma / np.sqrt(running_var + eps)
        out = x * scale[:, None, None]
        out += (beta - running_mean * scale)[:, None, None]
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return out, cache


def spatial_batchnorm_backward(dout, cache):
    """
    Compute the backward pass for spatial batch normalization.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H, W)
    - cache: (x, x_hat, mu, std, gamma) from spatial_batchnorm_forward in train mode

    Returns a tuple of:
    - dx: Gradient with respect to inputs, of shape (N, C, H, W)
    - dgamma: Gradient with respect to scale parameter, of shape (C,)
    - dbeta: Gradient with respect to shift parameter, of shape (C,)
    """
    x, x_hat, mu, std, gamma = cache
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = None, None, None
    ###########################################################################
    # TODO: Implement the backward pass for spatial batch normalization by    #
    # reshaping dout and calling the vanilla batchnorm backward above.        #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    # batchnorm_backward_alt's expression with M = N*H*W samples per channel, computed as
    # k * dout - k / M * (dbeta + x_hat * dgamma) with k = gamma / std to keep to two full-size arrays.
    M = N * H * W
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = np.einsum("nchw,nchw->c", dout, x_hat)
    k = gamma / std
    dx = x_hat * (-k * dgamma / M)[:, None, None]
    dx += dout * k[:, None, None]
    dx -= (k * dbeta / M)[:, None, None]

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx, dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """
    Compute the forward pass for spatial group normalization.

    The C channels are split into G groups of C // G consecutive channels, and
    each data point is normalized over each group's channels and pixels. This
    does not depend on the batch, so train and test time behave the same.

    Inputs:
    - x: Input data of shape (N, C, H, W)
    - gamma: Scale parameter, of shape (1, C, 1, 1)
    - beta: Shift parameter, of shape (1, C, 1, 1)
    - G: Integer number of groups to split into, should be a divisor of C
    - gn_param: Dictionary with the following keys:
      - eps: Constant for numeric stability, default 1e-5

    Returns a tuple of:
    - out: Output data, of shape (N, C, H, W)
    - cache: (x_hat, std, gamma, G), where x_hat of shape (N, C, H, W) is the
      normalized x and std of shape (N, G, 1) is each group's sqrt(var + eps)
    """
    N, C, H, W = x.shape
    if G < 1 or C % G != 0:
        raise ValueError(f"G = {G} groups must be a positive divisor of C = {C} channels; pick another G")
    eps = gn_param.get("eps", 1e-5)
    out, cache = None, None
    ###########################################################################
    # TODO: Implement the forward pass for spatial group normalization.       #
    # Reshape x so that each group of each data point is one row, and         #
    # normalize the rows as layer norm does.                                  #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    # (N, C, H, W) -> (N, G, C // G * H * W): one row per (data point, group).
    x_group = x.reshape(N, G, -1)
    mu = x_group.mean(axis=2, keepdims=True)
    std = np.sqrt(x_group.var(axis=2, keepdims=True) + eps)
    x_hat = ((x_group - mu) / std).reshape(N, C, H, W)
    out = gamma * x_hat + beta
    cache = (x_hat, std, gamma, G)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return out, cache


def spatial_groupnorm_backward(dout, cache):
    """
    Compute the backward pass for spatial group normalization.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H, W)
    - cache: (x_hat, std, gamma, G) from spatial_groupnorm_forward

    Returns a tuple of:
    - dx: Gradient with respect to inputs, of shape (N, C, H, W)
    - dgamma: Gradient with respect to scale parameter, of shape (1, C, 1, 1)
    - dbeta: Gradient with respect to shift parameter, of shape (1, C, 1, 1)
    """
    x_hat, std, gamma, G = cache
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = None, None, None
    ###########################################################################
    # TODO: Implement the backward pass for spatial group normalization.      #
    ###########################################################################
    # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
    # (N, C, H, W) -> (N, G, M) with M = C // G * H * W, the layer-norm backward on each row.
    dx_hat = (dout * gamma).reshape(N, G, -1)
    x_hat = x_hat.reshape(N, G, -1)
    M = dx_hat.shape[2]
    dx = (
        M * dx_hat
        - dx_hat.sum(axis=2, keepdims=True)
        - x_hat * (dx_hat * x_hat).sum(axis=2, keepdims=True)
    ) / (M * std)
    dx = dx.reshape(N, C, H, W)

    # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
    ###########################################################################
    #                             END OF YOUR CODE                            #
    ###########################################################################
    return dx, dgamma, dbeta
