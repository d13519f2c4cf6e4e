"""Convolutional networks: the three-layer net of the assignment and a deeper configurable one."""

import numpy as np

from ..fast_layers import max_pool_backward_fast, max_pool_forward_fast
from ..layer_utils import (
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
from ..layers import affine_backward, affine_forward, dropout_backward, dropout_forward, softmax_loss

POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def _check_input_dim(input_dim, filter_size):
    """Validate a (C, H, W) input_dim and an odd filter size, so padded convolutions keep H and W."""
    if len(input_dim) != 3:
        raise ValueError(f"input_dim must be (C, H, W), got {input_dim}; e.g. (1, 28, 28) or (3, 32, 32)")
    if filter_size < 1 or filter_size % 2 == 0:
        raise ValueError(
            f"filter_size must be odd so that padding (filter_size - 1) // 2 keeps the image size, "
            f"got {filter_size}; use 3, 5 or 7"
        )


def _as_model_input(X, input_dim, dtype):
    """Return X cast to dtype, raising ValueError unless its shape is (N, *input_dim)."""
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[1:] != tuple(input_dim):
        raise ValueError(
            f"X has shape {X.shape} but the model expects (N, {', '.join(map(str, input_dim))}); "
            f"build the model with input_dim={tuple(X.shape[1:])} or reshape X to (N, C, H, W)"
        )
    return X.astype(dtype, copy=False)


class ThreeLayerConvNet:
    """
    A three-layer convolutional network with the following architecture:

    conv - relu - 2x2 max pool - affine - relu - affine - softmax

    The network operates on minibatches of data that have shape (N, C, H, W)
    consisting of N images, each with height H and width W and with C input
    channels.
    """

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        """
        Initialize a new network.

        Inputs:
        - input_dim: Tuple (C, H, W) giving size of input data
        - num_filters: Number of filters to use in the convolutional layer
        - filter_size: Width/height of filters to use in the convolutional layer (odd)
        - hidden_dim: Number of units to use in the fully-connected hidden layer
        - num_classes: Number of scores to produce from the final affine layer.
        - weight_scale: Scalar giving standard deviation for random initialization
          of weights (drawn from np.random in any order).
        - reg: Scalar giving L2 regularization strength
        - dtype: numpy datatype to use for computation.
        """
        _check_input_dim(input_dim, filter_size)
        self.input_dim = tuple(input_dim)
        self.params = {}
        self.reg = reg
        self.dtype = dtype

        ############################################################################
        # TODO: Initialize weights and biases for the three-layer convolutional    #
        # network. Weights should be initialized from a Gaussian centered at 0.0   #
        # with standard deviation equal to weight_scale; biases should be          #
        # initialized to zero. All weights and biases should be stored in the      #
        #  dictionary self.params. Store weights and biases for the convolutional  #
        # layer using the keys 'W1' and 'b1'; use keys 'W2' and 'b2' for the       #
        # weights and biases of the hidden affine layer, and keys 'W3' and 'b3'    #
        # for the weights and biases of the output affine layer.                   #
        #                                                                          #
        # IMPORTANT: For this assignment, you can assume that the padding          #
        # and stride of the first convolutional layer are chosen so that           #
        # **the width and height of the input are preserved**. Take a look at      #
        # the start of the loss() function to see how that happens.                #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        C, H, W = input_dim
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2), hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ############################################################################
        #                             END OF YOUR CODE                             #
        ############################################################################

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """
        Evaluate loss and gradient for the three-layer convolutional network.

        Input / output: Same API as TwoLayerNet in fc_net.py; X has shape
        (N, C, H, W) matching input_dim and is cast to the model's dtype. loss
        leaves X and self.params as they were.
        """
        X = _as_model_input(X, self.input_dim, self.dtype)
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]

        # pass conv_param to the forward pass for the convolutional layer
        # Padding and stride chosen to preserve the input spatial size
        filter_size = W1.shape[2]
        conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}

        # pass pool_param to the forward pass for the max-pooling layer
        pool_param = POOL_PARAM

        scores = None
        ############################################################################
        # TODO: Implement the forward pass for the three-layer convolutional net,  #
        # computing the class scores for X and storing them in the scores          #
        # variable.                                                                #
        #                                                                          #
        # Remember you can use the functions defined in cs231n/fast_layers.py and  #
        # cs231n/layer_utils.py in your implementation (already imported).        #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        pooled, conv_cache = conv_relu_pool_forward(X, W1, b1, conv_param, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        scores, scores_cache = affine_forward(hidden, W3, b3)

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ############################################################################
        #                             END OF YOUR CODE                             #
        ############################################################################

        if y is None:
            return scores

        loss, grads = 0, {}
        ############################################################################
        # TODO: Implement the backward pass for the three-layer convolutional net, #
        # storing the loss and gradients in the loss and grads variables. Compute  #
        # data loss using softmax, and make sure that grads[k] holds the gradients #
        # for self.params[k]. Don't forget to add L2 regularization!               #
        #                                                                          #
        # NOTE: To ensure that your implementation matches ours and you pass the   #
        # automated tests, make sure that your L2 regularization includes a factor #
        # of 0.5 to simplify the expression for the gradient.                      #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        dhidden, dW3, grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, dW2, grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, dW1, grads["b1"] = conv_relu_pool_backward(dpooled, conv_cache)
        grads["W1"] = dW1 + self.reg * W1
        grads["W2"] = dW2 + self.reg * W2
        grads["W3"] = dW3 + self.reg * W3

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ############################################################################
        #                             END OF YOUR CODE                             #
        ############################################################################

        return loss, grads


class ConvNet:
    """
    A deeper convolutional network with the architecture

    ([conv - (bn) - relu] x N - 2x2 max pool) x M - (affine - (bn) - relu - (dropout)) x K - affine - softmax

    where stages gives the M stages, each a tuple of the N conv layers' filter
    counts, and hidden_dims the K hidden affine layers. Every conv is 'same'
    (stride 1, pad (filter_size - 1) // 2), so each stage only halves the image
    size, in its pool.

    Layers are numbered 1..L in order: params W{i}, b{i} for every layer, and
    gamma{i}, beta{i} for layers 1..L-1 when normalization is 'batchnorm', whose
    running statistics live in self.bn_params[i - 1].
    """

    NORMALIZATIONS = (None, "batchnorm")

    def __init__(
        self,
        input_dim=(3, 32, 32),
        stages=((32, 32), (64, 64)),
        hidden_dims=(256,),
        num_classes=10,
        filter_size=3,
        normalization=None,
        dropout_keep_ratio=1,
        weight_scale="he",
        reg=0.0,
        dtype=np.float32,
        seed=None,
    ):
        """
        Initialize a new ConvNet.

        Inputs:
        - input_dim: Tuple (C, H, W) giving the size of the input images.
        - stages: Tuple of stages, each a tuple of filter counts, one per conv layer;
          every stage ends with a 2x2 max pool.
        - hidden_dims: Tuple of the sizes of the hidden affine layers.
        - num_classes: Number of scores produced by the last affine layer.
        - filter_size: Odd width and height of every conv filter.
        - normalization: 'batchnorm' (spatial batchnorm after each conv, batchnorm
          after each hidden affine) or None.
        - dropout_keep_ratio: Probability of keeping a hidden affine unit; 1 means no dropout.
        - weight_scale: 'he' for He initialization (std sqrt(2 / fan_in); sqrt(1 / fan_in)
          for the output layer), or a float used as the standard deviation of every weight.
        - reg: Scalar giving the L2 regularization strength (0.5 * reg * sum(W ** 2)).
        - dtype: numpy datatype used for all parameters and computation; use float64
          for gradient checks.
        - seed: If not None, seed the dropout layers, making them deterministic for
          gradient checks. Dropout then reseeds np.random on every forward pass, so
          leave it None when training.
        """
        _check_input_dim(input_dim, filter_size)
        if normalization not in self.NORMALIZATIONS:
            raise ValueError(f"unknown normalization {normalization!r}; use one of {self.NORMALIZATIONS}")
        if not 0 < dropout_keep_ratio <= 1:
            raise ValueError(
                f"dropout_keep_ratio is the probability of keeping a unit and must lie in (0, 1], "
                f"got {dropout_keep_ratio}; use 1 for no dropout"
            )
        if not (weight_scale == "he" or isinstance(weight_scale, (int, float))):
            raise ValueError(f"weight_scale must be 'he' or a number, got {weight_scale!r}")
        C, H, W = input_dim
        if not stages or any(len(stage) == 0 for stage in stages):
            raise ValueError(f"stages must be non-empty tuples of filter counts, got {stages}")
        if H >> len(stages) == 0 or W >> len(stages) == 0:
            raise ValueError(
                f"{len(stages)} stages halve a {H}x{W} image {len(stages)} times, to nothing; "
                "use fewer stages or larger images"
            )

        self.input_dim = tuple(input_dim)
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.dtype = dtype
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.params = {}

        # (kind, pool after it) per layer: "conv" for each conv layer (True after the last of its stage),
        # "affine" for each hidden affine layer and for the output layer, which comes last.
        self.layers = [("conv", j == len(stage) - 1) for stage in stages for j in range(len(stage))]
        self.layers += [("affine", False)] * (len(hidden_dims) + 1)
        self.num_layers = len(self.layers)

        ############################################################################
        # TODO: Initialize the parameters of every layer i = 1..L (L = num_layers) #
        # and store them in self.params:                                           #
        # - W{i}: conv layers (F, C, filter_size, filter_size), where C is the     #
        #   previous layer's filter count (the image channels for the first);      #
        #   affine layers (D_in, D_out), where the first one's D_in counts the     #
        #   values of the last pooled feature map (every stage halves H and W:     #
        #   H // 2 per stage) and the output layer's D_out is num_classes;         #
        # - W{i} drawn from a Gaussian centred at 0. Its standard deviation is     #
        #   weight_scale when that is a number; with 'he' it is sqrt(2 / fan_in)   #
        #   for layers followed by a ReLU and sqrt(1 / fan_in) for the output      #
        #   layer, with fan_in = C * filter_size**2 (conv) or D_in (affine);       #
        # - b{i} zeros of shape (F,) or (D_out,);                                  #
        # - when normalization is 'batchnorm', gamma{i} ones and beta{i} zeros of  #
        #   the same shape as b{i} for every layer but the output layer.           #
        # Every parameter has the model's dtype.                                   #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        shapes, fan_ins = [], []
        channels = C
        for stage in stages:
            for num_filters in stage:
                shapes.append((num_filters, channels, filter_size, filter_size))
                fan_ins.append(channels * filter_size * filter_size)
                channels = num_filters
            H, W = H // 2, W // 2
        dims = [channels * H * W, *hidden_dims, num_classes]
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            shapes.append((d_in, d_out))
            fan_ins.append(d_in)
        for i, (shape, fan_in) in enumerate(zip(shapes, fan_ins), start=1):
            # He's factor 2 makes up for the ReLU zeroing half the units; no ReLU follows the scores.
            gain = 2.0 if i < self.num_layers else 1.0
            std = np.sqrt(gain / fan_in) if weight_scale == "he" else weight_scale
            self.params[f"W{i}"] = (std * np.random.randn(*shape)).astype(dtype)
            self.params[f"b{i}"] = np.zeros(shape[0] if len(shape) == 4 else shape[1], dtype=dtype)
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones_like(self.params[f"b{i}"])
                self.params[f"beta{i}"] = np.zeros_like(self.params[f"b{i}"])

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ############################################################################
        #                             END OF YOUR CODE                             #
        ############################################################################

        self.bn_params = []
        if normalization is not None:
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

    def loss(self, X, y=None):
        """
        Evaluate loss and gradient for the network.

        Inputs:
        - X: Array of input data of shape (N, C, H, W) matching input_dim; cast to the model's dtype.
        - y: Array of labels, of shape (N,), or None.

        Returns:
        If y is None, run a test-time forward pass and return:
        - scores: Array of shape (N, num_classes) of classification scores.

        If y is not None, run a training-time forward and backward pass and return a tuple of:
        - loss: Scalar value giving the loss
        - grads: Dictionary with the same keys as self.params, mapping parameter
          names to gradients of the loss with respect to those parameters.
        """
        mode = "test" if y is None else "train"
        for layer_param in [self.dropout_param, *self.bn_params]:
            if layer_param:
                layer_param["mode"] = mode
        X = _as_model_input(X, self.input_dim, self.dtype)

        scores = None
        ############################################################################
        # TODO: Implement the forward pass, layer by layer, storing the class      #
        # scores for X in the scores variable. Layer i (self.layers[i - 1]):       #
        # - a conv layer: conv (self.conv_param) - [spatial batchnorm with         #
        #   gamma{i}, beta{i}, self.bn_params[i - 1]] - relu, then a 2x2 max pool  #
        #   (POOL_PARAM) when it ends its stage;                                   #
        # - a hidden affine layer: affine - [batchnorm] - relu - [dropout with     #
        #   self.dropout_param when self.use_dropout];                             #
        # - the output layer: affine.                                              #
        # The sandwich layers of cs231n/layer_utils.py and the fast layers are     #
        # imported above. Keep what the backward pass will need.                   #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        p = self.params
        out, caches = X, []
        for i, (kind, pool) in enumerate(self.layers, start=1):
            bn_param = self.bn_params[i - 1] if self.bn_params and i < self.num_layers else None
            after = None
            if i == self.num_layers:
                out, cache = affine_forward(out, p[f"W{i}"], p[f"b{i}"])
            elif kind == "conv":
                if bn_param is None:
                    out, cache = conv_relu_forward(out, p[f"W{i}"], p[f"b{i}"], self.conv_param)
                else:
                    out, cache = conv_bn_relu_forward(out, p[f"W{i}"], p[f"b{i}"], p[f"gamma{i}"], p[f"beta{i}"],
                                                      self.conv_param, bn_param)
                if pool:
                    out, after = max_pool_forward_fast(out, POOL_PARAM)
            else:
                out, cache = affine_norm_relu_forward(out, p[f"W{i}"], p[f"b{i}"], p.get(f"gamma{i}"),
                                                      p.get(f"beta{i}"), bn_param, self.normalization)
                if self.use_dropout:
                    out, after = dropout_forward(out, self.dropout_param)
            caches.append((cache, after))
        scores = out

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ############################################################################
        #                             END OF YOUR CODE                             #
        ############################################################################

        if y is None:
            return scores

        loss, grads = 0.0, {}
        ############################################################################
        # TODO: Implement the backward pass: the softmax loss of the scores plus   #
        # 0.5 * reg * (sum of the squares of every W{i}), and in grads the         #
        # gradient of that loss for every entry of self.params (the weights'       #
        # including the regularization; no regularization of b, gamma or beta).    #
        ############################################################################
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        loss, dout = softmax_loss(scores, y)
        for i in range(self.num_layers, 0, -1):
            (cache, after), (kind, _) = caches[i - 1], self.layers[i - 1]
            norm = self.normalization is not None and i < self.num_layers
            if i == self.num_layers:
                dout, dW, grads[f"b{i}"] = affine_backward(dout, cache)
            elif kind == "conv":
                if after is not None:
                    dout = max_pool_backward_fast(dout, after)
                if norm:
                    dout, dW, grads[f"b{i}"], grads[f"gamma{i}"], grads[f"beta{i}"] = conv_bn_relu_backward(dout, cache)
                else:
                    dout, dW, grads[f"b{i}"] = conv_relu_backward(dout, cache)
            else:
                if after is not None:
                    dout = dropout_backward(dout, after)
                dout, dW, grads[f"b{i}"], dgamma, dbeta = affine_norm_relu_backward(dout, cache)
                if norm:
                    grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * float(np.vdot(W, W))
            grads[f"W{i}"] = dW + self.reg * W

        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        ############################################################################
        #                             END OF YOUR CODE                             #
        ############################################################################

        return loss, grads
