"""Hidden checks of cnn.ConvNet, the deeper network of assignment 2 (its __init__ and loss are TODOs).

As for the other classifiers (classifiers.py): `__init__` is checked on its own (names, shapes and dtypes of
every parameter for several architectures, zero biases, gamma ones and beta zeros, the weights' scale, the
normalization and dropout state), and `loss` on models whose state a reference model supplies
(_support.rebuild), with the layers it calls answered by the reference.
"""

import copy

import _support as S
import numpy as np
from coursekit.grading.hidden import check

F32, F64 = np.float32, np.float64
NET = "classifiers.cnn.ConvNet"
INIT, LOSS = "ConvNet.__init__", "ConvNet.loss"
# Allowed normalised difference of scores, losses and gradients (float64 model, float32 model), from
# instructor/tools/measure_tolerances.py: every layer called on its own (no sandwiches), batchnorm_backward in
# place of its _alt, the penalty summed per layer in float64, against no penalty in the gradients and the last
# layer left unregularised.
TOL = {"cs231n/classifiers/cnn.py::ConvNet.loss": (1e-9, 1e-3)}
tol = S.tolerances(TOL, prefix="cs231n/classifiers/cnn.py::")


def _expected_shapes(input_dim, stages, hidden_dims, num_classes, filter_size, normalization):
    C, H, W = input_dim
    shapes, channels, layer = {}, C, 0
    for stage in stages:
        for filters in stage:
            layer += 1
            shapes[f"W{layer}"], shapes[f"b{layer}"] = (filters, channels, filter_size, filter_size), (filters,)
            channels = filters
        H, W = H // 2, W // 2
    dims = [channels * H * W, *hidden_dims, num_classes]
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layer += 1
        shapes[f"W{layer}"], shapes[f"b{layer}"] = (d_in, d_out), (d_out,)
    if normalization is not None:
        for i in range(1, layer):
            shapes[f"gamma{i}"] = shapes[f"beta{i}"] = shapes[f"b{i}"]
    return shapes


def _init_case(t, worker_seed, **kwargs):
    t.seed(t.seed_value(worker_seed))
    handle = t.new(NET, **kwargs)
    params = t.getattr(handle, "params")
    args = {"input_dim": (3, 32, 32), "stages": ((32, 32), (64, 64)), "hidden_dims": (256,), "num_classes": 10,
            "filter_size": 3, "normalization": None, **kwargs}
    case = ", ".join(f"{k}={v.__name__ if isinstance(v, type) else v}" for k, v in kwargs.items())
    function = f"{INIT} ({case})"
    shapes = _expected_shapes(args["input_dim"], args["stages"], args["hidden_dims"], args["num_classes"],
                              args["filter_size"], args["normalization"])
    S.expect_params(t, params, shapes, function, dtype=kwargs.get("dtype", F32))
    for name, value in params.items():
        if name.startswith(("b", "beta")):
            S.expect_constant(t, value, 0, f"{function}: self.params[{name!r}]")
        elif name.startswith("gamma"):
            S.expect_constant(t, value, 1, f"{function}: self.params[{name!r}]")
    return handle, params, function


@check("cs231n/classifiers/cnn.py::ConvNet.__init__")
def convnet_init_names_shapes_dtypes(t):
    handle, _, function = _init_case(t, 611, input_dim=(2, 8, 12), stages=((3,), (4, 5)), hidden_dims=(6,),
                                     num_classes=4, normalization="batchnorm", dropout_keep_ratio=0.5, seed=3)
    bn_params = t.getattr(handle, "bn_params")
    t.expect(isinstance(bn_params, list) and len(bn_params) == 4
             and all(isinstance(p, dict) and p.get("mode") == "train" for p in bn_params),
             f"{function}: self.bn_params must hold one {{'mode': 'train'}} dict per layer but the last")
    dropout_param = t.getattr(handle, "dropout_param")
    t.expect(isinstance(dropout_param, dict) and dropout_param.get("p") == 0.5 and dropout_param.get("seed") == 3,
             f"{function}: self.dropout_param must be {{'mode': 'train', 'p': keep ratio, 'seed': seed}}")
    _init_case(t, 612, input_dim=(1, 9, 7), stages=((2,),), hidden_dims=(), num_classes=3, filter_size=5, dtype=F64)
    _init_case(t, 613, input_dim=(3, 10, 14), stages=((4, 4), (3,)), hidden_dims=(5, 7), num_classes=2)


@check("cs231n/classifiers/cnn.py::ConvNet.__init__")
def convnet_init_weight_scale(t):
    # Layers of 4,608 values and more: a sample standard deviation within 6 standard errors of the expected.
    _, params, function = _init_case(t, 621, input_dim=(16, 16, 16), stages=((32,), (32,)), hidden_dims=(64,),
                                     num_classes=64, dtype=F64)
    fan_ins = {"W1": 16 * 9, "W2": 32 * 9, "W3": 32 * 4 * 4, "W4": 64}
    for name, fan_in in fan_ins.items():
        std = np.sqrt((1.0 if name == "W4" else 2.0) / fan_in)
        S.expect_gaussian(t, params[name], std, f"{function}: self.params[{name!r}] (He: sqrt(gain / fan_in))")
    _, params, function = _init_case(t, 622, input_dim=(16, 16, 16), stages=((32,),), hidden_dims=(64,),
                                     num_classes=64, weight_scale=0.02, dtype=F64)
    for name in ("W1", "W2", "W3"):
        S.expect_gaussian(t, params[name], 0.02, f"{function}: self.params[{name!r}]")


def _model(t, rng, weight_scale=0.3, **kwargs):
    model = S.new_reference(t.ref.classifiers.cnn.ConvNet, weight_scale=weight_scale, **kwargs)
    return S.set_params(model, rng, weight_scale)


def _loss_case(t, model, X, y, case):
    handle = S.rebuild(t, NET, model)
    expected_model = copy.deepcopy(model)
    tolerance = tol(LOSS, model.dtype)
    if y is None:
        got = t.method(handle, "loss", X)
        with S.reference_rng:
            expected = expected_model.loss(X)
        t.expect_close(got, expected, f"{LOSS}: scores (y=None, {case})", tol=tolerance)
        return handle, expected_model
    loss, grads = S.returned(t.method(handle, "loss", X, y), ("loss", "grads"), LOSS)
    with S.reference_rng:
        e_loss, e_grads = expected_model.loss(X, y)
    t.expect_value(loss, e_loss, f"{LOSS}: loss ({case})", tol=tolerance)
    S.expect_grads(t, grads, e_grads, LOSS, case, tolerance)
    return handle, expected_model


@check("cs231n/classifiers/cnn.py::ConvNet.loss")
def convnet_loss_gradients(t):
    rng = t.rng(31)
    for normalization, keep, reg in ((None, 1, 0.0), ("batchnorm", 1, 0.3), (None, 0.7, 0.1), ("batchnorm", 0.6, 0.0)):
        model = _model(t, rng, input_dim=(2, 8, 8), stages=((3,), (4, 2)), hidden_dims=(5,), num_classes=4,
                       normalization=normalization, dropout_keep_ratio=keep, reg=reg, dtype=F64, seed=5)
        X, y = S.normal(rng, (3, 2, 8, 8)), rng.integers(0, 4, size=3)
        _loss_case(t, model, X, y, f"normalization={normalization!r}, dropout keep {keep}, reg = {reg}")


@check("cs231n/classifiers/cnn.py::ConvNet.loss")
def convnet_loss_test_mode_scores(t):
    rng = t.rng(32)
    for normalization in (None, "batchnorm"):
        model = _model(t, rng, input_dim=(1, 6, 10), stages=((2, 3),), hidden_dims=(4, 3), num_classes=5,
                       filter_size=5, normalization=normalization, dropout_keep_ratio=0.5, dtype=F64)
        for i, bn_param in enumerate(model.bn_params, start=1):
            D = model.params[f"gamma{i}"].shape[0]
            bn_param.update(running_mean=S.normal(rng, (D,)), running_var=0.5 + rng.random(D))
        handle, expected = _loss_case(t, model, S.normal(rng, (4, 1, 6, 10)), None,
                                      f"test mode, normalization={normalization!r}, dropout off")
        if normalization is not None:
            got = t.getattr(handle, "bn_params")
            for i, (mine, theirs) in enumerate(zip(got, expected.bn_params)):
                t.expect_close(mine.get("running_mean"), theirs["running_mean"],
                               f"{LOSS}: self.bn_params[{i}]['running_mean'] after a test-mode call (it must not "
                               "change)", tol=tol(LOSS, F64))


@check("cs231n/classifiers/cnn.py::ConvNet.loss")
def convnet_loss_updates_batchnorm_state(t):
    rng = t.rng(33)
    model = _model(t, rng, input_dim=(2, 6, 6), stages=((3,), (2,)), hidden_dims=(4,), num_classes=3,
                   normalization="batchnorm", dtype=F64)
    handle, expected = _loss_case(t, model, S.normal(rng, (5, 2, 6, 6), shift=1), rng.integers(0, 3, size=5),
                                  "batchnorm, two stages")
    got = t.getattr(handle, "bn_params")
    if not isinstance(got, list) or len(got) != len(expected.bn_params):
        t.fail(f"{LOSS}: self.bn_params must stay a list of {len(expected.bn_params)} dicts")
    for i, (mine, theirs) in enumerate(zip(got, expected.bn_params)):
        for key in ("running_mean", "running_var"):
            if not isinstance(mine, dict) or key not in mine:
                t.fail(f"{LOSS}: after a training step self.bn_params[{i}] has no {key!r}: pass self.bn_params[{i}] "
                       f"to the batch norm of layer {i + 1}")
            t.expect_close(mine[key], theirs[key], f"{LOSS}: self.bn_params[{i}][{key!r}] after a training step",
                           tol=tol(LOSS, F64))


@check("cs231n/classifiers/cnn.py::ConvNet.loss")
def convnet_loss_float32(t):
    rng = t.rng(34)
    model = _model(t, rng, 0.05, input_dim=(1, 12, 12), stages=((8,), (8,)), hidden_dims=(16,),
                   normalization="batchnorm", reg=0.01)
    X, y = S.normal(rng, (6, 1, 12, 12), F32), rng.integers(0, 10, size=6)
    _loss_case(t, model, X, y, "the default dtype float32, batchnorm")
