"""Measures of the TODO hidden_tests/convnet.py checks: ConvNet.loss."""

import numpy as np

from cs231n import layers as L
from cs231n.classifiers import cnn
from cs231n.fast_layers import max_pool_forward_fast

from ._common import F32, F64, case_rng, model_rows, randomise, rng_normal


def convnet_explicit_layers(model, X, y=None):
    """Honest: ConvNet.loss with every layer called on its own (no sandwiches), batchnorm_backward for the
    hidden layers' batch norm and the penalty summed per layer in float64."""
    from cs231n.fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast

    mode = "test" if y is None else "train"
    for param in [model.dropout_param, *model.bn_params]:
        if param:
            param["mode"] = mode
    p, out, caches = model.params, np.asarray(X, dtype=model.dtype), []
    for i, (kind, pool) in enumerate(model.layers, start=1):
        last, norm = i == model.num_layers, model.normalization is not None and i < model.num_layers
        steps = []
        if kind == "conv" and not last:
            out, c = conv_forward_fast(out, p[f"W{i}"], p[f"b{i}"], model.conv_param)
            steps.append(("conv", c))
            if norm:
                out, c = L.spatial_batchnorm_forward(out, p[f"gamma{i}"], p[f"beta{i}"], model.bn_params[i - 1])
                steps.append(("sbn", c))
        else:
            out, c = L.affine_forward(out, p[f"W{i}"], p[f"b{i}"])
            steps.append(("affine", c))
            if norm:
                out, c = L.batchnorm_forward(out, p[f"gamma{i}"], p[f"beta{i}"], model.bn_params[i - 1])
                steps.append(("bn", c))
        if not last:
            out, c = L.relu_forward(out)
            steps.append(("relu", c))
            if kind == "conv" and pool:
                out, c = max_pool_forward_fast(out, cnn.POOL_PARAM)
                steps.append(("pool", c))
            if kind == "affine" and model.use_dropout:
                out, c = L.dropout_forward(out, model.dropout_param)
                steps.append(("dropout", c))
        caches.append(steps)
    if y is None:
        return out
    loss, d = L.softmax_loss(out, y)
    grads = {}
    backward = {"conv": conv_backward_fast, "sbn": L.spatial_batchnorm_backward, "affine": L.affine_backward,
                "bn": L.batchnorm_backward, "relu": L.relu_backward, "pool": max_pool_backward_fast,
                "dropout": L.dropout_backward}
    for i in range(model.num_layers, 0, -1):
        for kind, c in reversed(caches[i - 1]):
            result = backward[kind](d, c)
            if kind in ("conv", "affine"):
                d, grads[f"W{i}"], grads[f"b{i}"] = result
            elif kind in ("sbn", "bn"):
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = result
            else:
                d = result
    for i in range(1, model.num_layers + 1):
        W = p[f"W{i}"]
        loss += 0.5 * model.reg * float(np.sum(W.astype(F64) ** 2))
        grads[f"W{i}"] = grads[f"W{i}"] + model.reg * W
    return loss, grads


def convnet_no_reg_grad(model, X, y=None):
    if y is None or not model.reg:
        return None
    loss, grads = cnn.ConvNet.loss(model, X, y)
    return loss, {k: (g - model.reg * model.params[k] if k.startswith("W") else g) for k, g in grads.items()}


def convnet_last_layer_unregularised(model, X, y=None):
    if y is None or not model.reg:
        return None
    loss, grads = cnn.ConvNet.loss(model, X, y)
    W = model.params[f"W{model.num_layers}"]
    return loss - 0.5 * model.reg * float(np.sum(W * W)), {**grads, f"W{model.num_layers}": grads[f"W{model.num_layers}"] - model.reg * W}


def measure_convnet():
    rng = case_rng(16)
    cases = []
    for input_dim, stages, hidden, norm, keep, reg, dtype, scale in (
            ((2, 8, 8), ((3,), (4, 2)), (5,), None, 1, 0.3, F64, 0.3),
            ((2, 8, 8), ((3,), (4,)), (5,), "batchnorm", 0.6, 0.1, F64, 0.3),
            ((1, 6, 10), ((2, 3),), (4, 3), "batchnorm", 1, 0.0, F64, 0.3),
            ((1, 12, 12), ((8,), (8,)), (16,), "batchnorm", 1, 0.01, F32, 0.05)):
        model = randomise(cnn.ConvNet(input_dim=input_dim, stages=stages, hidden_dims=hidden, num_classes=4,
                                       normalization=norm, dropout_keep_ratio=keep, reg=reg, dtype=dtype,
                                       weight_scale=scale, seed=5), rng, scale)
        X = rng_normal(rng, (3, *input_dim)).astype(dtype)
        cases += [(model, X, rng.integers(0, 4, size=3), {}), (model, X, None, {})]

    def reference(model, X, y):
        return cnn.ConvNet.loss(model, X, y)

    return {"cs231n/classifiers/cnn.py::ConvNet.loss": (model_rows(reference, [convnet_explicit_layers], cases),
                        model_rows(reference, [convnet_no_reg_grad, convnet_last_layer_unregularised], cases))}
