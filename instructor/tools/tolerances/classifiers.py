"""Measures of the TODOs hidden_tests/classifiers.py checks: the two-layer nets, FullyConnectedNet,
ThreeLayerConvNet."""

import copy

import numpy as np

from cs231n import layers as L
from cs231n.classifiers import cnn, fc_net, neural_net
from cs231n.fast_layers import max_pool_forward_fast
from cs231n.layer_utils import affine_relu_backward, affine_relu_forward, conv_relu_forward

from ._common import F32, F64, case_rng, model_rows, randomise, rng_normal

# -- models -------------------------------------------------------------------------------------------------------


def a1_loss_loops(net, X, y=None, reg=0.0):
    """Per-example forward and backward passes of the assignment-1 net, the penalty via np.linalg.norm."""
    W1, b1, W2, b2 = (net.params[k] for k in ("W1", "b1", "W2", "b2"))
    X = X.reshape(X.shape[0], -1)
    N = X.shape[0]
    grads = {k: np.zeros_like(v) for k, v in net.params.items()}
    scores, loss = [], 0.0
    for i in range(N):
        h = np.maximum(0, X[i] @ W1 + b1)
        s = h @ W2 + b2
        scores.append(s)
        if y is None:
            continue
        p = np.exp(s - s.max())
        p /= p.sum()
        loss -= np.log(p[y[i]]) / N
        p[y[i]] -= 1
        p /= N
        grads["W2"] += np.outer(h, p)
        grads["b2"] += p
        dh = (W2 @ p) * (h > 0)
        grads["W1"] += np.outer(X[i], dh)
        grads["b1"] += dh
    if y is None:
        return np.array(scores)
    loss += reg * (np.linalg.norm(W1) ** 2 + np.linalg.norm(W2) ** 2)
    grads["W1"] += 2 * reg * W1
    grads["W2"] += 2 * reg * W2
    return loss, grads


def a1_half_reg(net, X, y=None, reg=0.0):
    out = neural_net.TwoLayerNet.loss(net, X, y, reg=reg)
    if y is None:
        return out
    loss, grads = out
    W1, W2 = net.params["W1"], net.params["W2"]
    loss -= 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    return loss, {**grads, "W1": grads["W1"] - reg * W1, "W2": grads["W2"] - reg * W2}


def a1_grad_reg_once(net, X, y=None, reg=0.0):
    out = neural_net.TwoLayerNet.loss(net, X, y, reg=reg)
    if y is None:
        return out
    loss, grads = out
    return loss, {**grads, "W1": grads["W1"] - reg * net.params["W1"], "W2": grads["W2"] - reg * net.params["W2"]}


def a1_no_hidden_bias_grad(net, X, y=None, reg=0.0):
    out = neural_net.TwoLayerNet.loss(net, X, y, reg=reg)
    if y is None:
        return out + net.params["b2"]
    loss, grads = out
    return loss, {**grads, "b1": np.zeros_like(grads["b1"])}


def measure_a1():
    rng = case_rng(13)
    cases = []
    for N, D, H, C, reg in ((5, 4, 10, 3, 0.05), (1, 6, 5, 3, 0.1), (8, 3, 12, 2, 0.0), (30, 20, 16, 10, 1e-3)):
        net = randomise(neural_net.TwoLayerNet(D, H, C, std=0.5), rng, 0.5)
        X = rng_normal(rng, (N, D), scale=2)
        cases += [(net, X, rng.integers(0, C, size=N), {"reg": reg}), (net, X, None, {})]

    def reference(net, X, y, **kwargs):
        return neural_net.TwoLayerNet.loss(net, X, y, **kwargs)

    return {"cs231n/classifiers/neural_net.py::TwoLayerNet.loss": (model_rows(reference, [a1_loss_loops], cases),
                           model_rows(reference, [a1_half_reg, a1_grad_reg_once, a1_no_hidden_bias_grad], cases))}


def fcn_loss_variant(model, X, y=None):
    """FullyConnectedNet.loss written with explicit layer calls, the penalty per layer via np.linalg.norm,
    the gradients' penalty added in a separate loop at the end."""
    X = np.asarray(X, dtype=model.dtype)
    mode = "test" if y is None else "train"
    for bn in model.bn_params:
        bn["mode"] = mode
    if model.use_dropout:
        model.dropout_param["mode"] = mode
    caches, out = [], X
    for i in range(1, model.num_layers):
        out, fc = L.affine_forward(out, model.params[f"W{i}"], model.params[f"b{i}"])
        norm = None
        if model.normalization == "batchnorm":
            out, norm = L.batchnorm_forward(out, model.params[f"gamma{i}"], model.params[f"beta{i}"], model.bn_params[i - 1])
        elif model.normalization == "layernorm":
            out, norm = L.layernorm_forward(out, model.params[f"gamma{i}"], model.params[f"beta{i}"], model.bn_params[i - 1])
        out, relu = L.relu_forward(out)
        drop = None
        if model.use_dropout:
            out, drop = L.dropout_forward(out, model.dropout_param)
        caches.append((fc, norm, relu, drop))
    Lyr = model.num_layers
    scores, last = L.affine_forward(out, model.params[f"W{Lyr}"], model.params[f"b{Lyr}"])
    if y is None:
        return scores
    loss, d = L.softmax_loss(scores, y)
    loss += 0.5 * model.reg * sum(np.linalg.norm(model.params[f"W{i}"]) ** 2 for i in range(1, Lyr + 1))
    grads = {}
    d, grads[f"W{Lyr}"], grads[f"b{Lyr}"] = L.affine_backward(d, last)
    for i in reversed(range(1, Lyr)):
        fc, norm, relu, drop = caches[i - 1]
        if drop is not None:
            d = L.dropout_backward(d, drop)
        d = L.relu_backward(d, relu)
        if model.normalization == "batchnorm":
            d, grads[f"gamma{i}"], grads[f"beta{i}"] = L.batchnorm_backward(d, norm)
        elif model.normalization == "layernorm":
            d, grads[f"gamma{i}"], grads[f"beta{i}"] = L.layernorm_backward(d, norm)
        d, grads[f"W{i}"], grads[f"b{i}"] = L.affine_backward(d, fc)
    for i in range(1, Lyr + 1):
        grads[f"W{i}"] = grads[f"W{i}"] + model.reg * model.params[f"W{i}"]
    return loss, grads


def fcn_no_half(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = fc_net.FullyConnectedNet.loss(model, X, y)
    loss, grads = out
    loss += 0.5 * model.reg * sum(np.sum(model.params[f"W{i}"] ** 2) for i in range(1, model.num_layers + 1))
    return loss, {k: (g + model.reg * model.params[k] if k.startswith("W") else g) for k, g in grads.items()}


def fcn_last_unregularised(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = fc_net.FullyConnectedNet.loss(model, X, y)
    loss, grads = out
    Wl = model.params[f"W{model.num_layers}"]
    return loss - 0.5 * model.reg * np.sum(Wl * Wl), {**grads, f"W{model.num_layers}": grads[f"W{model.num_layers}"]
                                                       - model.reg * Wl}


def fcn_no_dropout_in_backward(model, X, y=None):
    if y is None or not model.use_dropout:
        return None
    loss, grads = fc_net.FullyConnectedNet.loss(copy.deepcopy(model), X, y)
    saved = model.use_dropout
    model.use_dropout = False
    _, g_nodrop = fc_net.FullyConnectedNet.loss(model, X, y)
    model.use_dropout = saved
    return loss, {**grads, "W1": g_nodrop["W1"]}


def measure_fc_net():
    rng = case_rng(14)
    cases = []
    for normalization, keep, reg, dtype in ((None, 1, 0.0, F64), (None, 0.6, 0.7, F64), ("batchnorm", 1, 0.7, F64),
                                            ("batchnorm", 0.6, 0.0, F64), ("layernorm", 0.6, 0.7, F64),
                                            (None, 1, 0.1, F32), ("batchnorm", 1, 0.1, F32)):
        model = randomise(fc_net.FullyConnectedNet([7, 5], input_dim=6, num_classes=4, reg=reg, weight_scale=0.5,
                                                    dtype=dtype, normalization=normalization, dropout_keep_ratio=keep,
                                                    seed=123), rng, 0.5)
        X = rng_normal(rng, (8, 6))
        cases += [(model, X, rng.integers(0, 4, size=8), {}), (model, X, None, {})]

    def reference(model, X, y):
        return fc_net.FullyConnectedNet.loss(model, X, y)

    return {"cs231n/classifiers/fc_net.py::FullyConnectedNet.loss": (model_rows(reference, [fcn_loss_variant], cases),
                       model_rows(reference, [fcn_no_half, fcn_last_unregularised, fcn_no_dropout_in_backward],
                                  cases))}


def cnn_loss_variant(model, X, y=None):
    """ThreeLayerConvNet.loss with the conv-relu and pool layers called separately and one penalty sum."""
    X = X.astype(model.dtype)
    W1, b1, W2, b2, W3, b3 = (model.params[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    conv_param = {"stride": 1, "pad": (W1.shape[2] - 1) // 2}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    a, conv_cache = conv_relu_forward(X, W1, b1, conv_param)
    pooled, pool_cache = max_pool_forward_fast(a, pool_param)
    hidden, hidden_cache = affine_relu_forward(pooled, W2, b2)
    scores, scores_cache = L.affine_forward(hidden, W3, b3)
    if y is None:
        return scores
    loss, d = L.softmax_loss(scores, y)
    loss += 0.5 * model.reg * sum(float(np.sum(W.astype(F64) ** 2)) for W in (W1, W2, W3))
    from cs231n.fast_layers import max_pool_backward_fast
    from cs231n.layer_utils import conv_relu_backward

    grads = {}
    d, grads["W3"], grads["b3"] = L.affine_backward(d, scores_cache)
    d, grads["W2"], grads["b2"] = affine_relu_backward(d, hidden_cache)
    d = max_pool_backward_fast(d, pool_cache)
    _, grads["W1"], grads["b1"] = conv_relu_backward(d, conv_cache)
    for k, W in (("W1", W1), ("W2", W2), ("W3", W3)):
        grads[k] = grads[k] + model.reg * W
    return loss, grads


def cnn_no_reg_grad(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = cnn.ThreeLayerConvNet.loss(model, X, y)
    loss, grads = out
    return loss, {k: (g - model.reg * model.params[k] if k.startswith("W") else g) for k, g in grads.items()}


def cnn_no_half(model, X, y=None):
    if y is None or not model.reg:
        return None
    out = cnn.ThreeLayerConvNet.loss(model, X, y)
    loss, grads = out
    return loss + 0.5 * model.reg * sum(np.sum(model.params[k] ** 2) for k in ("W1", "W2", "W3")), grads


def measure_cnn():
    rng = case_rng(15)
    cases = []
    for input_dim, F, size, hidden, reg, N, dtype, scale in (((3, 6, 6), 3, 3, 7, 0.5, 2, F64, 0.3),
                                                             ((2, 8, 10), 4, 5, 6, 0.05, 4, F64, 0.2),
                                                             ((1, 28, 28), 8, 7, 20, 0.01, 4, F32, 1e-2)):
        model = randomise(cnn.ThreeLayerConvNet(input_dim=input_dim, num_filters=F, filter_size=size, hidden_dim=hidden,
                                                 weight_scale=scale, dtype=dtype, reg=reg), rng, scale)
        X = rng_normal(rng, (N, *input_dim))
        cases += [(model, X, rng.integers(0, 10, size=N), {}), (model, X, None, {})]

    def reference(model, X, y):
        return cnn.ThreeLayerConvNet.loss(model, X, y)

    return {"cs231n/classifiers/cnn.py::ThreeLayerConvNet.loss": (model_rows(reference, [cnn_loss_variant], cases),
                    model_rows(reference, [cnn_no_reg_grad, cnn_no_half], cases))}
