"""Correct code written differently from the reference must earn full points (issues 10 and 19, honest variants).

Each variant is a submission graded by the real Grader as root in the namespaces mode; several styles of
different TODOs share one submission to keep the grades few. The styles (69, one or more per TODO):

- submission A: caches as dicts, objects of the student's own class and namedtuples (the given lines that
  build and unpack them changed to match); einsum and np.lib.stride_tricks (sliding_window_view, as_strided)
  for convolution and pooling; float64 results for float32 inputs (softmax, dropout); (1, D) statistics and
  running averages; losses summed example by example in reverse order; the course's transposes
  for layer and spatial batch norm (spatial batch norm through the vanilla layers, its cache theirs); group
  norm in loops with its own std layout; dropout masks from np.random.binomial; momentum and RMSProp updating
  w and their state in place; Adam's efficient form; weights drawn with np.random.normal in other orders;
  models calling the layers one by one, penalties via np.linalg.norm, np.vdot and per-layer sums;
- submission B: row loops and float64 backward passes; np.clip and copy-and-zero ReLUs; E[x^2] - E[x]^2;
  a namedtuple cache in the kit's field order; test-mode batch norm through one scale and shift; per-feature
  and per-channel loops; boolean dropout masks from random_sample; six-loop and im2col convolutions;
  first-maximum masks with put_along_axis; the course's transpose for group norm; optimizer terms in other
  orders, v_hat ** 0.5; every weight drawn before the biases;
- assignment 1: per-example scores, loss and gradients; np.random.randint minibatches; in-place updates;
  predict written out;
- FullyConnectedNet keeping flags of its own (self.use_batchnorm set in __init__, read in loss);
- and the earlier ones: (1, D) shaped statistics, a TODO calling another, conv_backward_naive in another
  order, a helper added to layer_utils.py, the course's own layers.py layout, a file that does not import
  (costs only its own TODOs), a graded notebook cell deleted and re-created.

Submissions A, B and assignment 1 also pass the kit's public tests (run in a copy of the kit with the
submission's files): the public tests state the docstrings' contract, never a stricter one. The tolerances
the checks use must sit between the noise of honest variants and the smallest bug over random salts
(instructor/tools/measure_tolerances.py, run here).
"""

import ast
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from grading_support import (
    A1,
    A2,
    REPO,
    bases,
    code_todos,
    graded,
    grader,
    points,
    set_region,
    submission,
)
from variants import CNN, FC_NET, LAYERS, NEURAL_NET, OPTIM, apply

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Submission A: caches as dicts, objects and namedtuples; einsum and stride tricks; float64 results for float32
# inputs; (1, D) statistics and running averages; the course's transposes; Adam's efficient form; in-place optimizer updates;
# other orders of draws and of sums in the models.
HONEST_A = [
    # affine: einsum, the cache a dict (the given lines that build and unpack it changed to match)
    (LAYERS, "affine_forward", 0, 'out = np.einsum("nd,dm->nm", x.reshape(N, D), w) + b'),
    (LAYERS, "affine_forward", None, ("cache = (x, w, b)", 'cache = {"x": x, "w": w, "b": b}')),
    (LAYERS, "affine_backward", None, ("x, w, b = cache", 'x, w, b = cache["x"], cache["w"], cache["b"]')),
    (LAYERS, "affine_backward", 0, """
        dx = np.einsum("nm,dm->nd", dout, w).reshape(x.shape)
        dw = np.einsum("nd,nm->dm", x.reshape(N, D), dout)
        db = np.einsum("nm->m", dout)
    """),
    (LAYERS, "relu_forward", 0, "out = x * (x > 0)"),
    (LAYERS, "relu_backward", 0, "dx = np.where(x > 0, dout, 0.0)"),
    # svm: loops, the loss summed example by example from the last
    (LAYERS, "svm_loss", 0, """
        loss = 0.0
        dx = np.zeros_like(x)
        for i in reversed(range(N)):
            for j in range(C):
                if j == y[i]:
                    continue
                margin = x[i, j] - x[i, y[i]] + 1
                if margin > 0:
                    loss += margin
                    dx[i, j] += 1
                    dx[i, y[i]] -= 1
        loss /= N
        dx /= N
    """),
    # softmax: computed in float64 whatever the input's dtype, the loss summed in reverse order
    (LAYERS, "softmax_loss", 0, """
        z = x.astype(np.float64)
        z = z - z.max(axis=1, keepdims=True)
        logsum = np.log(np.exp(z).sum(axis=1))
        loss = 0.0
        for i in range(N - 1, -1, -1):
            loss += logsum[i] - z[i, y[i]]
        loss /= N
        dx = np.exp(z - logsum[:, None])
        dx[np.arange(N), y] -= 1
        dx /= N
    """),
    # batch norm: a dict cache, (1, D) statistics and running averages, the graph walk in terms of x_hat (the
    # gradients keep their documented shapes: the kit's Solver refuses a (1, D) gradient for a (D,) parameter)
    (LAYERS, "batchnorm_forward", 0, """
        mu = x.mean(axis=0, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=0, keepdims=True)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = {"x_hat": x_hat, "std": std, "gamma": gamma}
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    """),
    (LAYERS, "batchnorm_backward", None, ("x, x_hat, mu, std, gamma = cache",
                                          'x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]')),
    (LAYERS, "batchnorm_backward", 0, """
        dbeta = dout.sum(axis=0)
        dgamma = (dout * x_hat).sum(axis=0)
        dx_hat = dout * gamma
        dvar = (dx_hat * x_hat).sum(axis=0, keepdims=True) * -0.5 / std**2
        dmu = -(dx_hat / std).sum(axis=0, keepdims=True)
        dx = dx_hat / std + dvar * 2 * x_hat * std / N + dmu / N
    """),
    (LAYERS, "batchnorm_backward_alt", None, ("x, x_hat, mu, std, gamma = cache",
                                              'x_hat, std, gamma = cache["x_hat"], cache["std"], cache["gamma"]')),
    (LAYERS, "batchnorm_backward_alt", 0, """
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(dout * x_hat, axis=0)
        dx = (gamma / (N * std)) * (N * dout - dbeta - x_hat * dgamma)
    """),
    # layer norm: the course's transpose, the cache an object of the student's own class
    (LAYERS, None, None, """
        class LayerNormCache:
            def __init__(self, x_hat, std, gamma):
                self.x_hat, self.std, self.gamma = x_hat, std, gamma
    """),
    (LAYERS, "layernorm_forward", 0, """
        xt = x.T
        std = np.sqrt(xt.var(axis=0) + eps)
        x_hat = ((xt - xt.mean(axis=0)) / std).T
        out = gamma * x_hat + beta
        cache = LayerNormCache(x_hat, std, gamma)
    """),
    (LAYERS, "layernorm_backward", None, ("x_hat, std, gamma = cache",
                                          "x_hat, std, gamma = cache.x_hat, cache.std, cache.gamma")),
    (LAYERS, "layernorm_backward", 0, """
        dbeta = dout.sum(axis=0)
        dgamma = (dout * x_hat).sum(axis=0)
        g, xh = (dout * gamma).T, x_hat.T
        dx = ((D * g - g.sum(axis=0) - xh * (g * xh).sum(axis=0)) / (D * std)).T
    """),
    # dropout: the mask from np.random.binomial, kept in float64
    (LAYERS, "dropout_forward", 0, """
        mask = np.random.binomial(1, p, size=x.shape) / p
        out = (x * mask).astype(x.dtype)
    """),
    (LAYERS, "dropout_backward", 0, "dx = dout * mask"),
    # conv: sliding windows and einsum, the cache a namedtuple
    (LAYERS, None, None, """
        from collections import namedtuple

        ConvCache = namedtuple("ConvCache", "x w b conv_param")
    """),
    (LAYERS, "conv_forward_naive", 0, """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        windows = np.lib.stride_tricks.sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
        out = np.einsum("ncijhw,fchw->nfij", windows, w) + b[None, :, None, None]
    """),
    (LAYERS, "conv_forward_naive", None, ("cache = (x, w, b, conv_param)", "cache = ConvCache(x, w, b, conv_param)")),
    (LAYERS, "conv_backward_naive", 0, """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        windows = np.lib.stride_tricks.sliding_window_view(x_pad, (HH, WW), axis=(2, 3))[:, :, ::stride, ::stride]
        dw = np.einsum("nfij,ncijhw->fchw", dout, windows)
        db = np.einsum("nfij->f", dout)
        dx_pad = np.zeros_like(x_pad)
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    patch = dx_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                    patch += dout[:, f, i, j][:, None, None, None] * w[f]
        dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
    """),
    # max pool: as_strided windows; the backward pass one window at a time through np.unravel_index
    (LAYERS, "max_pool_forward_naive", 0, """
        sN, sC, sH, sW = x.strides
        windows = np.lib.stride_tricks.as_strided(
            x, shape=(N, C, H_out, W_out, pool_height, pool_width),
            strides=(sN, sC, sH * stride, sW * stride, sH, sW), writeable=False)
        out = windows.max(axis=(4, 5))
    """),
    (LAYERS, "max_pool_backward_naive", 0, """
        dx = np.zeros(x.shape, dtype=np.result_type(x, dout))
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x[n, c, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]
                        r, q = np.unravel_index(np.argmax(window), window.shape)
                        dx[n, c, i * stride + r, j * stride + q] += dout[n, c, i, j]
    """),
    # spatial batch norm: the course's way, (N*H*W, C) rows through the vanilla layers; the cache theirs
    (LAYERS, "spatial_batchnorm_forward", 0, """
        rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
        out_rows, cache = batchnorm_forward(rows, gamma, beta, bn_param)
        out = out_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    """),
    (LAYERS, "spatial_batchnorm_backward", None, ("x, x_hat, mu, std, gamma = cache\n    ", "")),
    (LAYERS, "spatial_batchnorm_backward", 0, """
        drows, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
        dx = drows.reshape(N, H, W, C).transpose(0, 3, 1, 2)
    """),
    # group norm: group by group in loops, std kept as (N, G)
    (LAYERS, "spatial_groupnorm_forward", 0, """
        size = C // G
        x_hat = np.empty_like(x)
        std = np.empty((N, G), dtype=x.dtype)
        for n in range(N):
            for g in range(G):
                block = x[n, g * size : (g + 1) * size]
                std[n, g] = np.sqrt(block.var() + eps)
                x_hat[n, g * size : (g + 1) * size] = (block - block.mean()) / std[n, g]
        out = gamma * x_hat + beta
        cache = (x_hat, std, gamma, G)
    """),
    (LAYERS, "spatial_groupnorm_backward", 0, """
        dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
        dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
        dx_hat = dout * gamma
        size = C // G
        M = size * H * W
        dx = np.empty_like(dx_hat)
        for n in range(N):
            for g in range(G):
                part = (n, slice(g * size, (g + 1) * size))
                d, xh = dx_hat[part], x_hat[part]
                dx[part] = (M * d - d.sum() - xh * (d * xh).sum()) / (M * std[n, g])
    """),
    # optimizers: momentum and RMSProp update w and their state in place (next_w is w); Adam's efficient form
    (OPTIM, "sgd_momentum", 0, """
        v *= config["momentum"]
        v -= config["learning_rate"] * dw
        w += v
        next_w = w
    """),
    (OPTIM, "rmsprop", 0, """
        cache = config["cache"]
        cache *= config["decay_rate"]
        cache += (1 - config["decay_rate"]) * dw**2
        w -= config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
        next_w = w
    """),
    (OPTIM, "adam", 0, """
        beta1, beta2 = config["beta1"], config["beta2"]
        config["t"] += 1
        t = config["t"]
        config["m"] = beta1 * config["m"] + (1 - beta1) * dw
        config["v"] = beta2 * config["v"] + (1 - beta2) * (dw * dw)
        step = config["learning_rate"] * np.sqrt(1 - beta2**t) / (1 - beta1**t)
        next_w = w - step * config["m"] / (np.sqrt(config["v"]) + config["epsilon"])
    """),
    # fc_net: np.random.normal drawing W2 before W1; explicit layer calls, the penalty via np.linalg.norm
    (FC_NET, "TwoLayerNet.__init__", 0, """
        self.params["W2"] = np.random.normal(0.0, weight_scale, (hidden_dim, num_classes))
        self.params["W1"] = np.random.normal(0.0, weight_scale, (input_dim, hidden_dim))
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["b2"] = np.zeros(num_classes)
    """),
    (FC_NET, "TwoLayerNet.loss", 0, """
        h, fc1 = affine_forward(X, self.params["W1"], self.params["b1"])
        a, relu_cache = relu_forward(h)
        scores, fc2 = affine_forward(a, self.params["W2"], self.params["b2"])
    """),
    (FC_NET, "TwoLayerNet.loss", 1, """
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.linalg.norm(self.params[k]) ** 2 for k in ("W2", "W1"))
        da, grads["W2"], grads["b2"] = affine_backward(dscores, fc2)
        _, grads["W1"], grads["b1"] = affine_backward(relu_backward(da, relu_cache), fc1)
        for k in ("W1", "W2"):
            grads[k] += self.reg * self.params[k]
    """),
    # FullyConnectedNet: weights drawn from the last layer to the first; the layers called one by one
    (FC_NET, "FullyConnectedNet.__init__", 0, """
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(self.num_layers, 0, -1):
            self.params[f"W{i}"] = np.random.normal(0.0, weight_scale, size=(dims[i - 1], dims[i]))
            self.params[f"b{i}"] = np.zeros(dims[i])
            if self.normalization and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
    """),
    (FC_NET, "FullyConnectedNet.loss", 0, """
        out = X
        for i in range(1, self.num_layers):
            out, fc = affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            norm = None
            if self.normalization == "batchnorm":
                out, norm = batchnorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                              self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                out, norm = layernorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                              self.bn_params[i - 1])
            out, relu = relu_forward(out)
            drop = None
            if self.use_dropout:
                out, drop = dropout_forward(out, self.dropout_param)
            caches.append((fc, norm, relu, drop))
        last = self.num_layers
        scores, last_cache = affine_forward(out, self.params[f"W{last}"], self.params[f"b{last}"])
    """),
    (FC_NET, "FullyConnectedNet.loss", 1, """
        loss, d = softmax_loss(scores, y)
        penalty = 0.0
        for i in range(last, 0, -1):
            penalty += np.sum(self.params[f"W{i}"] ** 2)
        loss += 0.5 * self.reg * penalty
        d, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(d, last_cache)
        for i in range(last - 1, 0, -1):
            fc, norm, relu, drop = caches[i - 1]
            if drop is not None:
                d = dropout_backward(d, drop)
            d = relu_backward(d, relu)
            if self.normalization == "batchnorm":
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(d, norm)
            elif self.normalization == "layernorm":
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(d, norm)
            d, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(d, fc)
        for i in range(1, last + 1):
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
    """),
    # ThreeLayerConvNet: W3 drawn first; conv-relu, pool and the affine layers called separately
    (CNN, "ThreeLayerConvNet.__init__", 0, """
        C, H, W = input_dim
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * (H // 2) * (W // 2), hidden_dim)
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        for k, n in (("b1", num_filters), ("b2", hidden_dim), ("b3", num_classes)):
            self.params[k] = np.zeros(n)
    """),
    (CNN, "ThreeLayerConvNet.loss", 0, """
        a, conv_cache = conv_relu_forward(X, W1, b1, conv_param)
        pooled, pool_cache = max_pool_forward_fast(a, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
        scores, scores_cache = affine_forward(hidden, W3, b3)
    """),
    (CNN, "ThreeLayerConvNet.loss", 1, """
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(float(np.vdot(W, W)) for W in (W3, W2, W1))
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_backward(max_pool_backward_fast(dpooled, pool_cache), conv_cache)
        for k, W in (("W1", W1), ("W2", W2), ("W3", W3)):
            grads[k] = grads[k] + self.reg * W
    """),
]


# Submission B: loops where A vectorised and the other way round; E[x^2] - E[x]^2; namedtuple batch-norm cache in
# the kit's field order; boolean dropout masks; im2col products; first-maximum masks; per-channel loops; the
# course's transposes for group norm; other orders of terms in the optimizers.
HONEST_B = [
    (LAYERS, "affine_forward", 0, "out = np.stack([row.ravel() @ w for row in x]) + b"),
    # affine_backward computed in float64 whatever the input's dtype
    (LAYERS, "affine_backward", 0, """
        x64, w64, dout64 = x.reshape(N, D).astype(np.float64), w.astype(np.float64), dout.astype(np.float64)
        dx = (dout64 @ w64.T).reshape(x.shape)
        dw = x64.T @ dout64
        db = dout64.sum(axis=0)
    """),
    (LAYERS, "relu_forward", 0, "out = np.clip(x, 0, None)"),
    (LAYERS, "relu_backward", 0, """
        dx = dout.copy()
        dx[x <= 0] = 0
    """),
    (LAYERS, "svm_loss", 0, """
        correct = x[np.arange(N), y][:, None]
        margins = np.maximum(0, x - correct + 1)
        margins[np.arange(N), y] = 0
        loss = margins.sum(axis=1).mean()
        positive = (margins > 0).astype(x.dtype)
        positive[np.arange(N), y] = -positive.sum(axis=1)
        dx = positive / N
    """),
    (LAYERS, "softmax_loss", 0, """
        loss, dx = 0.0, np.zeros_like(x)
        for i in range(N):
            scores = x[i] - np.max(x[i])
            p = np.exp(scores) / np.sum(np.exp(scores))
            loss -= np.log(p[y[i]])
            p[y[i]] -= 1
            dx[i] = p / N
        loss /= N
    """),
    (LAYERS, None, None, """
        from collections import namedtuple

        BatchNormCache = namedtuple("BatchNormCache", "x x_hat mu std gamma")
    """),
    # batch norm: the variance as E[x^2] - E[x]^2, a namedtuple cache; test mode through one scale and shift
    (LAYERS, "batchnorm_forward", 0, """
        mu = x.mean(axis=0)
        var = (x * x).mean(axis=0) - mu * mu
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = BatchNormCache(x, x_hat, mu, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    """),
    (LAYERS, "batchnorm_forward", 1, """
        scale = gamma / np.sqrt(running_var + eps)
        out = x * scale + (beta - running_mean * scale)
    """),
    (LAYERS, "batchnorm_backward", 0, """
        dx, dgamma, dbeta = np.zeros_like(dout), np.zeros(D, dout.dtype), np.zeros(D, dout.dtype)
        for d in reversed(range(D)):
            g, xh = dout[::-1, d], x_hat[::-1, d]
            dbeta[d] = g.sum()
            dgamma[d] = (g * xh).sum()
            dx[::-1, d] = gamma[d] / (N * std[d]) * (N * g - dbeta[d] - xh * dgamma[d])
    """),
    (LAYERS, "batchnorm_backward_alt", 0, """
        dxhat = dout * gamma
        dx = (1.0 / N) / std * (N * dxhat - dxhat.sum(axis=0) - x_hat * (dxhat * x_hat).sum(axis=0))
        dgamma, dbeta = np.einsum("nd,nd->d", dout, x_hat), np.einsum("nd->d", dout)
    """),
    (LAYERS, "layernorm_backward", 0, """
        dxhat = dout * gamma
        dvar = np.sum(dxhat * x_hat, axis=1, keepdims=True) * -0.5 / std**2
        dmu = -np.sum(dxhat / std, axis=1, keepdims=True)
        dx = dxhat / std + dvar * 2 * x_hat * std / D + dmu / D
        dgamma, dbeta = np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)
    """),
    # dropout: a boolean mask from random_sample, the division by p in the backward pass
    (LAYERS, "dropout_forward", 0, """
        mask = np.random.random_sample(x.shape) < p
        out = np.where(mask, x / p, 0).astype(x.dtype)
    """),
    (LAYERS, "dropout_backward", 0, 'dx = dout * mask / dropout_param["p"]'),
    (LAYERS, "conv_forward_naive", 0, """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
        for n in range(N):
            for f in range(F):
                for i in range(H_out):
                    for j in range(W_out):
                        window = x_pad[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                        out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    """),
    (LAYERS, "conv_backward_naive", 0, """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        positions = [(i, j) for i in range(H_out) for j in range(W_out)]
        cols = np.stack([x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW].reshape(N, -1)
                         for i, j in positions], axis=2)
        d = dout.reshape(N, F, -1)
        dw = np.einsum("nfp,nkp->fk", d, cols).reshape(w.shape)
        dcols = np.einsum("fk,nfp->nkp", w.reshape(F, -1), d)
        dx_pad = np.zeros_like(x_pad)
        for k, (i, j) in enumerate(positions):
            dx_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW] += dcols[:, :, k].reshape(N, C, HH, WW)
        dx = dx_pad[:, :, pad : pad + H, pad : pad + W].copy()
        db = d.sum(axis=(0, 2))
    """),
    (LAYERS, "max_pool_forward_naive", 0, """
        out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
        for n in range(N):
            for c in range(C):
                for i in range(H_out):
                    for j in range(W_out):
                        out[n, c, i, j] = np.max(x[n, c, i * stride : i * stride + pool_height,
                                                   j * stride : j * stride + pool_width])
    """),
    (LAYERS, "max_pool_backward_naive", 0, """
        dx = np.zeros_like(x)
        for j in reversed(range(W_out)):
            for i in reversed(range(H_out)):
                window = x[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width]
                flat = window.reshape(N, C, -1)
                mask = np.zeros_like(flat)
                np.put_along_axis(mask, flat.argmax(axis=2)[..., None], 1, axis=2)
                dx[:, :, i * stride : i * stride + pool_height, j * stride : j * stride + pool_width] += (
                    mask.reshape(window.shape) * dout[:, :, i, j][..., None, None])
    """),
    # spatial batch norm: channel by channel, the kit's cache layout
    (LAYERS, "spatial_batchnorm_forward", 0, """
        mode = bn_param["mode"]
        eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
        running_mean = bn_param.get("running_mean", np.zeros(C, dtype=x.dtype))
        running_var = bn_param.get("running_var", np.zeros(C, dtype=x.dtype))
        out = np.empty_like(x)
        if mode == "train":
            mu, std, x_hat = np.empty(C, x.dtype), np.empty(C, x.dtype), np.empty_like(x)
            var = np.empty(C, x.dtype)
            for c in range(C):
                mu[c], var[c] = x[:, c].mean(), x[:, c].var()
                std[c] = np.sqrt(var[c] + eps)
                x_hat[:, c] = (x[:, c] - mu[c]) / std[c]
                out[:, c] = gamma[c] * x_hat[:, c] + beta[c]
            cache = (x, x_hat, mu, std, gamma)
            bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
            bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
        else:
            for c in range(C):
                out[:, c] = gamma[c] * (x[:, c] - running_mean[c]) / np.sqrt(running_var[c] + eps) + beta[c]
            bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    """),
    (LAYERS, "spatial_batchnorm_backward", 0, """
        M = N * H * W
        dx, dgamma, dbeta = np.empty_like(dout), np.empty(C, dout.dtype), np.empty(C, dout.dtype)
        for c in range(C):
            d, xh = dout[:, c], x_hat[:, c]
            dbeta[c], dgamma[c] = d.sum(), (d * xh).sum()
            dx[:, c] = gamma[c] / (M * std[c]) * (M * d - dbeta[c] - xh * dgamma[c])
    """),
    # group norm: the course's hint, layer norm of the (N*G, C//G*H*W) rows
    (LAYERS, "spatial_groupnorm_forward", 0, """
        rows = x.reshape(N * G, -1)
        mu = rows.mean(axis=1, keepdims=True)
        std = np.sqrt(rows.var(axis=1, keepdims=True) + eps)
        x_hat = ((rows - mu) / std).reshape(N, C, H, W)
        out = gamma * x_hat + beta
        cache = (x_hat, std.reshape(N, G, 1), gamma, G)
    """),
    (LAYERS, "spatial_groupnorm_backward", 0, """
        dxhat = (dout * gamma).reshape(N, G, -1)
        xh = x_hat.reshape(N, G, -1)
        M = dxhat.shape[2]
        dvar = np.sum(dxhat * xh, axis=2, keepdims=True) * -0.5 / std**2
        dmu = -np.sum(dxhat / std, axis=2, keepdims=True)
        dx = (dxhat / std + dvar * 2 * xh * std / M + dmu / M).reshape(N, C, H, W)
        dgamma = np.einsum("nchw,nchw->c", dout, x_hat).reshape(1, C, 1, 1)
        dbeta = np.einsum("nchw->c", dout).reshape(1, C, 1, 1)
    """),
    (OPTIM, "sgd_momentum", 0, """
        v = -config["learning_rate"] * dw + config["momentum"] * v
        next_w = v + w
    """),
    (OPTIM, "rmsprop", 0, """
        config["cache"] = (1 - config["decay_rate"]) * (dw * dw) + config["decay_rate"] * config["cache"]
        next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    """),
    (OPTIM, "adam", 0, """
        config["t"] = t = config["t"] + 1
        config["m"] = (1 - config["beta1"]) * dw + config["beta1"] * config["m"]
        config["v"] = (1 - config["beta2"]) * dw**2 + config["beta2"] * config["v"]
        m_hat, v_hat = config["m"] / (1 - config["beta1"] ** t), config["v"] / (1 - config["beta2"] ** t)
        next_w = w + -config["learning_rate"] * m_hat / (v_hat**0.5 + config["epsilon"])
    """),
    # FullyConnectedNet: every weight drawn first, then the biases and normalization parameters
    (FC_NET, "FullyConnectedNet.__init__", 0, """
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = np.random.randn(dims[i - 1], dims[i]) * weight_scale
        for i in range(1, self.num_layers + 1):
            self.params[f"b{i}"] = np.zeros(dims[i])
            if self.normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"], self.params[f"beta{i}"] = np.ones(dims[i]), np.zeros(dims[i])
    """),
]


# Assignment 1: the scores example by example, the loss and gradients in per-example loops with the penalty
# via np.linalg.norm, minibatches drawn with np.random.randint (with replacement), the weights updated in
# place, predict written out without loss().
HONEST_A1 = [
    (NEURAL_NET, "TwoLayerNet.loss", 0, "scores = np.array([np.maximum(0, row @ W1 + b1) @ W2 + b2 for row in X])"),
    (NEURAL_NET, "TwoLayerNet.loss", 1, """
        loss = 0.0
        for i in range(N):
            s = scores[i] - scores[i].max()
            loss += np.log(np.exp(s).sum()) - s[y[i]]
        loss = loss / N + reg * (np.linalg.norm(W1) ** 2 + np.linalg.norm(W2) ** 2)
    """),
    (NEURAL_NET, "TwoLayerNet.loss", 2, """
        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        for i in range(N):
            h = np.maximum(0, X[i] @ W1 + b1)
            p = np.exp(scores[i] - scores[i].max())
            p /= p.sum()
            p[y[i]] -= 1
            p /= N
            grads["W2"] += np.outer(h, p)
            grads["b2"] += p
            dh = (W2 @ p) * (h > 0)
            grads["W1"] += np.outer(X[i], dh)
            grads["b1"] += dh
        grads["W1"] += 2 * reg * W1
        grads["W2"] += 2 * reg * W2
    """),
    (NEURAL_NET, "TwoLayerNet.train", 0, """
        idx = np.random.randint(0, num_train, size=batch_size)
        X_batch, y_batch = X[idx], y[idx]
    """),
    (NEURAL_NET, "TwoLayerNet.train", 1, """
        for name in self.params:
            self.params[name] -= learning_rate * grads[name]
    """),
    (NEURAL_NET, "TwoLayerNet.predict", 0, """
        hidden = np.maximum(0, X @ self.params["W1"] + self.params["b1"])
        y_pred = np.argmax(hidden @ self.params["W2"] + self.params["b2"], axis=1)
    """),
]

# FullyConnectedNet keeping flags of its own: __init__ sets them, loss reads them.
OWN_FLAGS = [
    (FC_NET, "FullyConnectedNet.__init__", 0, """
        self.use_batchnorm = self.normalization == "batchnorm"
        self.use_layernorm = self.normalization == "layernorm"
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if (self.use_batchnorm or self.use_layernorm) and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
    """),
    (FC_NET, "FullyConnectedNet.loss", 0, """
        out = X
        for i in range(1, self.num_layers):
            out, fc = affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            norm = None
            if self.use_batchnorm:
                out, norm = batchnorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                              self.bn_params[i - 1])
            elif self.use_layernorm:
                out, norm = layernorm_forward(out, self.params[f"gamma{i}"], self.params[f"beta{i}"],
                                              self.bn_params[i - 1])
            out, relu = relu_forward(out)
            drop = None
            if self.use_dropout:
                out, drop = dropout_forward(out, self.dropout_param)
            caches.append((fc, norm, relu, drop))
        last = self.num_layers
        scores, last_cache = affine_forward(out, self.params[f"W{last}"], self.params[f"b{last}"])
    """),
    (FC_NET, "FullyConnectedNet.loss", 1, """
        loss, d = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(self.params[f"W{i}"] ** 2) for i in range(1, last + 1))
        d, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(d, last_cache)
        for i in range(last - 1, 0, -1):
            fc, norm, relu, drop = caches[i - 1]
            if drop is not None:
                d = dropout_backward(d, drop)
            d = relu_backward(d, relu)
            if self.use_batchnorm:
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(d, norm)
            elif self.use_layernorm:
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(d, norm)
            d, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(d, fc)
            grads[f"W{i}"] = grads[f"W{i}"] + self.reg * self.params[f"W{i}"]
        grads[f"W{last}"] = grads[f"W{last}"] + self.reg * self.params[f"W{last}"]
    """),
]


@pytest.fixture(scope="module")
def a2():
    with grader(A2) as g:
        yield g


def full():
    return {t.id: points(A2, [t.id]) for t in code_todos(A2)}


def failures(results):
    """The outputs of the TODOs that lost points, for an assertion message."""
    return "\n".join(t["output"] for t in results["tests"] if t["score"] < t["max_score"] and "ipynb" not in t["name"])


def public_tests(sub, assignment, tmp_path):
    """Run the kit's public tests on a copy of the kit holding the submission's .py files; assert they pass."""
    kit = tmp_path / "kit"
    shutil.copytree(bases()[assignment], kit)
    for path in Path(sub).rglob("*.py"):
        target = kit / path.relative_to(sub)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=kit, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("styles", [HONEST_A, HONEST_B], ids=["a", "b"])
def test_styles_score_full_and_pass_the_public_tests(a2, tmp_path, styles):
    sub = submission(tmp_path / "sub", A2)
    apply(sub, styles)
    code, results = graded(a2, sub)
    assert code == full(), failures(results)
    public_tests(sub, A2, tmp_path)


def test_a_net_that_keeps_flags_of_its_own_scores_full(a2, tmp_path):
    # loss reads self.use_batchnorm, which only the student's __init__ sets.
    sub = submission(tmp_path / "sub", A2)
    apply(sub, OWN_FLAGS)
    code, results = graded(a2, sub)
    assert code == full(), failures(results)


def test_assignment1_styles_score_full_and_pass_the_public_tests(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1)
    apply(sub, HONEST_A1)
    code, results = graded(a1, sub)
    assert code == {t.id: points(A1, [t.id]) for t in code_todos(A1)}, failures(results)
    public_tests(sub, A1, tmp_path)


def test_statistics_and_gradients_of_shape_1_by_d_score_full(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    layers = sub / "cs231n/layers.py"
    set_region(layers, "batchnorm_forward", """
        mu = x.mean(axis=0, keepdims=True)
        var = x.var(axis=0, keepdims=True)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x, x_hat, mu, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    """, 0)
    for name in ("batchnorm_backward", "batchnorm_backward_alt"):
        set_region(layers, name, """
            dbeta = dout.sum(axis=0, keepdims=True)
            dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
            dx = gamma / (N * std) * (N * dout - dbeta - x_hat * dgamma)
        """)
    set_region(layers, "layernorm_backward", """
        dbeta = dout.sum(axis=0, keepdims=True)
        dgamma = (dout * x_hat).sum(axis=0, keepdims=True)
        dx_hat = dout * gamma
        dx = (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)
              - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True)) / (D * std)
    """)
    code, _ = graded(a2, sub)
    assert code == full()


def test_a_todo_that_calls_another_scores_full(a2, tmp_path):
    # batchnorm_backward_alt reuses the student's own batchnorm_backward: no cycle, graded as usual.
    sub = submission(tmp_path / "sub", A2)
    set_region(sub / "cs231n/layers.py", "batchnorm_backward_alt", "dx, dgamma, dbeta = batchnorm_backward(dout, cache)")
    code, results = graded(a2, sub)
    assert code == full()
    assert "call each other" not in results["output"]


def test_a_class_built_on_another_working_todo_scores_full(a2, tmp_path):
    # fc_net.TwoLayerNet as a one-hidden-layer FullyConnectedNet: the student's own, which works.
    from test_cheats import FC_NET, delegate_two_layer_net

    sub = submission(tmp_path / "sub", A2)
    delegate_two_layer_net(sub / FC_NET)
    code, _ = graded(a2, sub)
    assert code == full()


def test_methods_sharing_a_flag_of_their_own_score_full(a2, tmp_path):
    # FullyConnectedNet.__init__ keeps the older course's flags and loss reads them: loss is right on top of the
    # student's own __init__ (which passes its checks), not on the reference's, which sets no such flag.
    sub = submission(tmp_path / "sub", A2)
    fc_net = sub / "cs231n/classifiers/fc_net.py"
    text = fc_net.read_text()
    flags = ('self.use_batchnorm = normalization == "batchnorm"\n'
             '        self.use_layernorm = normalization == "layernorm"\n')
    text = text.replace("        dims = [input_dim, *hidden_dims, num_classes]\n", "        " + flags
                        + "        dims = [input_dim, *hidden_dims, num_classes]\n", 1)
    text = text.replace("                self.normalization,\n            )",
                        '                "batchnorm" if self.use_batchnorm else "layernorm" if self.use_layernorm else None,\n'
                        "            )", 1)
    fc_net.write_text(text)
    assert "self.use_batchnorm else" in text and text.count("self.use_batchnorm") == 2
    code, results = graded(a2, sub)
    assert code == full()
    assert "FullyConnectedNet.loss was checked with your own FullyConnectedNet.__init__" in results["output"]


def test_conv_backward_summing_in_another_order_scores_full(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    set_region(sub / "cs231n/layers.py", "conv_backward_naive", """
        x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dx_pad = np.zeros_like(x_pad)
        dw = np.zeros_like(w)
        for j in reversed(range(W_out)):
            for i in reversed(range(H_out)):
                window = x_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW]
                d = dout[:, :, i, j]
                dx_pad[:, :, i * stride : i * stride + HH, j * stride : j * stride + WW] += np.einsum("nf,fchw->nchw", d, w)
                dw += np.einsum("nf,nchw->fchw", d, window)
        dx = dx_pad[:, :, pad : pad + H, pad : pad + W]
        db = np.einsum("nfij->f", dout)
    """)
    code, _ = graded(a2, sub)
    assert code == full()


HELPER = '''

def affine_norm_relu_dropout_forward(x, w, b, gamma, beta, bn_param, normalization, dropout_param):
    """The student's own sandwich: affine - [norm] - relu - [dropout] (dropout_param None: no dropout)."""
    from .layers import dropout_forward

    out, cache = affine_norm_relu_forward(x, w, b, gamma, beta, bn_param, normalization)
    dropout_cache = None
    if dropout_param is not None:
        out, dropout_cache = dropout_forward(out, dropout_param)
    return out, (cache, dropout_cache)


def affine_norm_relu_dropout_backward(dout, cache):
    from .layers import dropout_backward

    cache, dropout_cache = cache
    if dropout_cache is not None:
        dout = dropout_backward(dout, dropout_cache)
    return affine_norm_relu_backward(dout, cache)
'''


def test_a_helper_added_to_layer_utils_scores_full(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    utils = sub / "cs231n/layer_utils.py"
    utils.write_text((REPO / "cs231n/layer_utils.py").read_text() + HELPER)
    fc_net = sub / "cs231n/classifiers/fc_net.py"
    fc_net.write_text(fc_net.read_text().replace(
        "from ..layer_utils import (\n", "from ..layer_utils import (\n    affine_norm_relu_dropout_backward,\n"
        "    affine_norm_relu_dropout_forward,\n", 1))
    set_region(fc_net, "FullyConnectedNet.loss", """
        out = X
        for i in range(1, self.num_layers):
            out, layer_cache = affine_norm_relu_dropout_forward(
                out, self.params[f"W{i}"], self.params[f"b{i}"], self.params.get(f"gamma{i}"),
                self.params.get(f"beta{i}"), self.bn_params[i - 1] if self.bn_params else None,
                self.normalization, self.dropout_param if self.use_dropout else None)
            caches.append(layer_cache)
        L = self.num_layers
        scores, scores_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])
    """, 0)
    set_region(fc_net, "FullyConnectedNet.loss", """
        loss, dout = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.sum(self.params[f"W{i}"] ** 2) for i in range(1, L + 1))
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, scores_cache)
        for i in range(L - 1, 0, -1):
            dout, grads[f"W{i}"], grads[f"b{i}"], dgamma, dbeta = affine_norm_relu_dropout_backward(dout, caches[i - 1])
            if self.normalization is not None:
                grads[f"gamma{i}"], grads[f"beta{i}"] = dgamma, dbeta
        for i in range(1, L + 1):
            grads[f"W{i}"] += self.reg * self.params[f"W{i}"]
    """, 1)
    code, _ = graded(a2, sub)
    assert code == full()


def test_a_layers_file_in_the_course_layout_without_kit_helpers_scores_full(a2, tmp_path):
    """Every TODO of layers.py that the course-layout fixture defines earns its points. A layers.py TODO it
    leaves out is not its concern: it tests the course's layout where that differs from the kit's (caches,
    no kit helpers, loops), so a new TODO need not be added to it. It leaves a forward out only with its
    backward, which is judged on its own forward's cache (the course's layout, not the kit's)."""
    sub = submission(tmp_path / "sub", A2)
    shutil.copyfile(FIXTURES / "course_layers.py", sub / "cs231n/layers.py")
    source = (sub / "cs231n/layers.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import", "from"))]
    assert imports == ["import numpy as np"]
    defined = {f"cs231n/layers.py::{node.name}" for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)}
    assert defined <= set(full()), f"the fixture defines functions that are no TODO: {defined - set(full())}"
    code, results = graded(a2, sub)
    assert {t: code[t] for t in defined} == {t: full()[t] for t in defined}, failures(results)


def test_a_file_that_does_not_import_costs_only_its_own_todos(a2, tmp_path):
    sub = submission(tmp_path / "sub", A2)
    cnn = sub / "cs231n/classifiers/cnn.py"
    cnn.write_text(cnn.read_text() + "\ndef broken(:\n    pass\n")
    code, results = graded(a2, sub)
    cnn_todos = [t.id for t in code_todos(A2) if t.path == "cs231n/classifiers/cnn.py"]
    assert cnn_todos and {t: code[t] for t in cnn_todos} == {t: 0 for t in cnn_todos}
    assert {t: s for t, s in code.items() if t not in cnn_todos} == {t: p for t, p in full().items() if t not in cnn_todos}
    for test in results["tests"]:
        if test["name"].endswith("(cs231n/classifiers/cnn.py)"):
            assert "SyntaxError" in test["output"] and "cnn.py" in test["output"]


@pytest.fixture(scope="module")
def a1():
    with grader(A1) as g:
        yield g


def _train_two_layer_net(path):
    """The model the graded cell of two_layer_net.ipynb saves, trained briefly with the reference code (three
    epochs reach about 0.88 validation accuracy on Fashion-MNIST; the threshold is 0.86)."""
    from cs231n.classifiers.neural_net import TwoLayerNet
    from cs231n.data_utils import get_data
    from cs231n.model_io import save_model

    data = get_data("fashion_mnist", dtype=np.float32)
    np.random.seed(0)
    net = TwoLayerNet(int(np.prod(data["X_train"].shape[1:])), 100, 10)
    for epoch in range(3):
        net.train(data["X_train"], data["y_train"], data["X_val"], data["y_val"], learning_rate=3e-3 * 0.85**epoch,
                  learning_rate_decay=1.0, reg=0.01, num_iters=data["X_train"].shape[0] // 200, batch_size=200)
    save_model(net, path, dataset=data["dataset"])


def test_a_graded_cell_deleted_and_re_created_scores_full(a1, tmp_path):
    sub = submission(tmp_path / "sub", A1)
    path = sub / "two_layer_net.ipynb"
    nb = nbformat.read(path, as_version=4)
    (index,) = [i for i, c in enumerate(nb.cells) if "# GRADED: two_layer_net_tuning" in c.source]
    source = nb.cells.pop(index).source
    recreated = nbformat.v4.new_code_cell(source, execution_count=99)
    assert recreated.id not in {c.get("id") for c in nb.cells}
    nb.cells.append(recreated)
    nbformat.write(nb, path)
    _train_two_layer_net(sub / "two_layer_net_tuning.npz")
    results = a1.grade(sub)
    assert results["score"] == points(A1, [t.id for t in code_todos(A1)]) + 5, results["output"]
    assert "the cell `# GRADED: two_layer_net_tuning` in two_layer_net.ipynb ran" in results["output"]


def test_tolerances_sit_between_honest_noise_and_bugs(capsys):
    spec = importlib.util.spec_from_file_location("measure_tolerances", REPO / "instructor/tools/measure_tolerances.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Fixed salts: the tool draws fresh ones by default, and a test must not depend on the draw.
    assert module.main(["--salt", "1", "--salt", "2", "--salt", "3", "--salt", "4"]) == 0, capsys.readouterr().out
