"""Hidden checks of the classifiers: neural_net.TwoLayerNet (assignment 1), fc_net and cnn (assignment 2).

Attribution: an `__init__` is checked on its own (names, shapes, dtypes, zero biases, gamma ones and beta
zeros, the normalization and dropout state the docstring describes, the weights' scale within a statistical
tolerance: on one construction for large layers, pooled over several constructions for small ones, so no
order of draws is assumed). `loss`, `train` and `predict` run on models whose state a reference model built
in the grader supplies (_support.rebuild: built by the reference __init__, then given that state), so an
__init__ bug never costs their points; the layers they call are the reference's (the grader's callbacks). A
method that fails is checked again on top of the student's own __init__ when that passes its checks
(grade.py), so a class whose methods share a flag of its own earns both. `loss` must leave X and self.params
as they were; a test-mode call (y=None) must not change the running averages in self.bn_params.
Random inputs are drawn per grading (t.rng).
"""

import copy

import _support as S
import numpy as np
from coursekit.grading.hidden import check
from coursekit.grading.session import StudentError

F32, F64 = np.float32, np.float64

# Allowed normalised difference of scores, losses and gradients (float64 model, float32 model), from
# instructor/tools/measure_tolerances.py: honest variants (assignment 1: per-example loops, the penalty with
# np.linalg.norm; assignment 2: explicit layer calls in place of the layer_utils sandwiches, batchnorm_backward
# in place of its _alt, the penalty per layer, added to the gradients in a separate loop) against typical
# bugs (a 0.5 missing or extra, no penalty in a gradient, the last layer not regularised, dropout skipped in
# the backward pass, a bias gradient missing). Gradients are measured as _support.expect_grads does. Figures of
# a run over 30 salts on 2026-12-05: largest honest difference float64 / float32; smallest float64 bug (the bug).
A1_LOSS_ID = "cs231n/classifiers/neural_net.py::TwoLayerNet.loss"
A1_TRAIN_ID = "cs231n/classifiers/neural_net.py::TwoLayerNet.train"
FC2_LOSS_ID = "cs231n/classifiers/fc_net.py::TwoLayerNet.loss"
FCN_LOSS_ID = "cs231n/classifiers/fc_net.py::FullyConnectedNet.loss"
CNN_LOSS_ID = "cs231n/classifiers/cnn.py::ThreeLayerConvNet.loss"
TOL = {
    A1_LOSS_ID: (1e-9, None),  # 6e-15 (no float32 check); 3e-2 (reg * W for 2 * reg * W in the gradients)
    # train's checks compare the loss history and the weights its steps reach, made of the loss's values and
    # gradients: the loss's tolerance, as measured there.
    A1_TRAIN_ID: S.SameAs(A1_LOSS_ID),
    FCN_LOSS_ID: (1e-9, 1e-3),  # 5e-13 / 1e-6; 4e-1 (dropout skipped in the backward pass)
    # The two-layer net is FullyConnectedNet's layers and penalty with one hidden layer: measured there.
    FC2_LOSS_ID: S.SameAs(FCN_LOSS_ID),
    CNN_LOSS_ID: (1e-9, 1e-4),  # 0 / 5e-8; 2e-1 (no penalty in the gradients)
}
tol = S.tolerances(TOL)


def _loss_case(t, cls, model, X, y, case, todo, function, **kwargs):
    """Run `loss` of the student's class `cls` on the reference model's state; compare with the reference, up
    to the tolerance of the TODO id `todo`.

    Returns the worker's model handle and the reference model after the same call."""
    handle = S.rebuild(t, cls, model)
    expected_model = copy.deepcopy(model)
    tolerance = tol(todo, getattr(model, "dtype", F64))
    x_handle = t.put(X)
    if y is None:
        got = t.method(handle, "loss", x_handle, **kwargs)
        with S.reference_rng:
            expected = expected_model.loss(X, **kwargs)
        t.expect_close(got, expected, f"{function}: scores (y=None, {case})", tol=tolerance)
    else:
        loss, grads = S.returned(t.method(handle, "loss", x_handle, y, **kwargs), ("loss", "grads"), function)
        with S.reference_rng:
            e_loss, e_grads = expected_model.loss(X, y, **kwargs)
        t.expect_value(loss, e_loss, f"{function}: loss ({case})", tol=tolerance)
        S.expect_grads(t, grads, e_grads, function, case, tolerance)
    _expect_inputs_kept(t, handle, x_handle, X, model, function, case)
    return handle, expected_model


def _expect_inputs_kept(t, handle, x_handle, X, model, function, case):
    """loss leaves X and self.params as they were (it returns gradients; the optimizer changes the weights)."""
    if not S._same(t.get(x_handle), X):
        t.fail(f"{function} changed its argument X ({case}): loss must leave its inputs as they were")
    params = t.getattr(handle, "params")
    if not isinstance(params, dict) or set(params) != set(model.params):
        t.fail(f"{function} changed the keys of self.params ({case}); loss must leave the parameters as they were")
    for name, value in model.params.items():
        if not S._same(params[name], value):
            t.fail(f"{function} changed self.params[{name!r}] ({case}): loss computes gradients and must leave the "
                   "parameters as they were")


# -- assignment 1: neural_net.TwoLayerNet -----------------------------------------------------------------

A1 = "classifiers.neural_net.TwoLayerNet"
A1_LOSS = "TwoLayerNet.loss"


def _a1_net(t, D, H, C, rng, std=0.5):
    net = S.new_reference(t.ref.classifiers.neural_net.TwoLayerNet, D, H, C, std=std)
    return S.set_params(net, rng, std)


def _a1_course_net_and_data(t):
    """The course's toy net and data: np.random.seed(0) before the net, seed(1) before X."""
    with S.reference_rng:
        np.random.seed(0)
        net = S.new_reference(t.ref.classifiers.neural_net.TwoLayerNet, 4, 10, 3, std=1e-1)
        np.random.seed(1)
        X = 10 * np.random.randn(5, 4)
    return net, X, np.array([0, 1, 2, 2, 1])


@check("cs231n/classifiers/neural_net.py::TwoLayerNet.loss")
def a1_loss_course_values(t):
    net, X, y = _a1_course_net_and_data(t)
    _loss_case(t, A1, net, X, None, "the course's toy net", A1_LOSS_ID, A1_LOSS)
    _loss_case(t, A1, net, X, y, "the course's toy net, reg = 0.05", A1_LOSS_ID, A1_LOSS, reg=0.05)
    _loss_case(t, A1, net, X, y, "the course's toy net, reg = 0", A1_LOSS_ID, A1_LOSS, reg=0.0)


@check("cs231n/classifiers/neural_net.py::TwoLayerNet.loss")
def a1_loss_shapes(t):
    rng = t.rng()
    for N, D, H, C, reg in ((1, 6, 5, 3, 0.1), (8, 3, 12, 2, 0.0), (30, 20, 16, 10, 1e-3)):
        net = _a1_net(t, D, H, C, rng)
        X, y = S.normal(rng, (N, D), scale=2), rng.integers(0, C, size=N)
        _loss_case(t, A1, net, X, y, f"X of shape ({N}, {D}), H = {H}, C = {C}, reg = {reg}", A1_LOSS_ID, A1_LOSS,
                   reg=reg)


@check("cs231n/classifiers/neural_net.py::TwoLayerNet.loss")
def a1_loss_scores_and_image_input(t):
    rng = t.rng()
    net = _a1_net(t, 12, 7, 4, rng)
    X = S.normal(rng, (6, 12))
    _loss_case(t, A1, net, X, None, "X of shape (6, 12)", A1_LOSS_ID, A1_LOSS)
    images = S.normal(rng, (5, 3, 2, 2))
    _loss_case(t, A1, net, images, None, "X of shape (5, 3, 2, 2), flattened", A1_LOSS_ID, A1_LOSS)
    _loss_case(t, A1, net, images, rng.integers(0, 4, size=5), "X of shape (5, 3, 2, 2), reg = 0.2", A1_LOSS_ID,
               A1_LOSS, reg=0.2)


def _sorted_clusters(rng, per_class=20, C=3, D=4):
    """Well separated clusters, sorted by class: a training loop that never samples sees one class only. The
    centres lie along random orthogonal directions, 4 apart from the origin, whatever the draw (the noise
    is 0.3), so every draw is as easy for a correct training loop."""
    centres = 4 * np.linalg.qr(rng.standard_normal((D, D)))[0][:C]
    y = np.repeat(np.arange(C), per_class)
    return centres[y] + 0.3 * rng.standard_normal((C * per_class, D)), y


def _a1_train_on_equal_examples(t, net, X, y, kwargs, case):
    """Train on examples that are all the same one: whatever minibatches are drawn, the gradient steps and so
    the weights after training are determined, and must be the reference's."""
    handle = S.rebuild(t, A1, net)
    t.seed(t.seed_value(1))
    try:
        stats = t.method(handle, "train", X, y, X[:2], y[:2], **kwargs)
    except StudentError as exc:
        t.fail(f"TwoLayerNet.train {exc} ({case})"[:600])
    expected = copy.deepcopy(net)
    with S.reference_rng:
        e_stats = expected.train(X, y, X[:2], y[:2], **kwargs)
    if not isinstance(stats, dict) or not isinstance(stats.get("loss_history"), list):
        t.fail("TwoLayerNet.train: must return the dict with loss_history (given code after the loop)")
    history = stats["loss_history"]
    t.expect(len(history) == kwargs["num_iters"],
             f"TwoLayerNet.train: loss_history holds {len(history)} losses, expected one per iteration")
    t.expect_close(np.array(history, dtype=np.float64), np.array(e_stats["loss_history"]),
                   f"TwoLayerNet.train: loss_history ({case}; all examples equal, so every minibatch is the same)",
                   tol=tol(A1_TRAIN_ID, F64))
    params = t.getattr(handle, "params")
    S.expect_grads(t, params, expected.params, "TwoLayerNet.train", f"self.params after training ({case}): each step "
                   "must be params -= learning_rate * grads", tol(A1_TRAIN_ID, F64))


@check("cs231n/classifiers/neural_net.py::TwoLayerNet.train")
def a1_train_follows_sgd(t):
    rng = t.rng()
    net = _a1_net(t, 5, 8, 3, rng, std=0.3)
    X = np.tile(S.normal(rng, (1, 5), scale=2), (24, 1))
    kwargs = {"learning_rate": 0.3, "learning_rate_decay": 0.8, "reg": 1e-2, "num_iters": 15, "batch_size": 6}
    _a1_train_on_equal_examples(t, net, X, np.full(24, 2), kwargs, "24 equal examples, batch_size 6")


@check("cs231n/classifiers/neural_net.py::TwoLayerNet.train")
def a1_train_batch_larger_than_the_data(t):
    # The docstring asks for minibatches sampled with replacement, so batch_size may exceed the examples.
    rng = t.rng()
    net = _a1_net(t, 4, 6, 3, rng, std=0.3)
    X = np.tile(S.normal(rng, (1, 4), scale=2), (5, 1))
    kwargs = {"learning_rate": 0.2, "learning_rate_decay": 0.9, "reg": 1e-2, "num_iters": 6, "batch_size": 12}
    _a1_train_on_equal_examples(t, net, X, np.full(5, 1), kwargs, "5 examples, batch_size 12: sample with replacement")


@check("cs231n/classifiers/neural_net.py::TwoLayerNet.train")
def a1_train_learns_clusters(t):
    rng = t.rng()
    X, y = _sorted_clusters(rng)
    net = _a1_net(t, 4, 10, 3, rng, std=0.1)
    handle = S.rebuild(t, A1, net)
    t.seed(t.seed_value(1))
    stats = t.method(handle, "train", X, y, X, y, learning_rate=0.1, learning_rate_decay=0.95, reg=1e-5,
                     num_iters=200, batch_size=10)
    if not isinstance(stats, dict) or not isinstance(stats.get("loss_history"), list) or not stats["loss_history"]:
        t.fail("TwoLayerNet.train: must return the dict with loss_history (given code after the loop)")
    trained = copy.deepcopy(net)
    params = t.getattr(handle, "params")
    if not isinstance(params, dict) or set(params) != set(net.params):
        t.fail("TwoLayerNet.train: self.params must keep the keys W1, b1, W2, b2")
    for name, value in params.items():
        trained.params[name] = t.array(value, f"TwoLayerNet.train: self.params[{name!r}]", net.params[name].shape)
    accuracy = float(np.mean(trained.predict(X) == y))
    # The reference reaches 1.0 on these clusters from any minibatch draws; sampling without shuffling
    # (the first batch_size examples, one class) or pairing X and y rows differently stays near 1/3.
    if accuracy < 0.9:
        t.fail(f"TwoLayerNet.train: after 200 iterations the net classifies {accuracy:.2f} of well separated training "
               "clusters correctly (expected above 0.9); sample each minibatch at random from all of X, with the "
               "same indices for X and y, and step against the gradient")


@check("cs231n/classifiers/neural_net.py::TwoLayerNet.predict")
def a1_predict(t):
    rng = t.rng()
    for X_shape, H, C in (((20, 6), 9, 4), ((1, 6), 5, 3), ((12, 2, 3), 7, 5)):
        D = int(np.prod(X_shape[1:]))
        net = _a1_net(t, D, H, C, rng, std=1.0)
        X = S.normal(rng, X_shape, scale=2)
        handle = S.rebuild(t, A1, net)
        got = t.array(t.method(handle, "predict", X), f"TwoLayerNet.predict: y_pred for X of shape {X_shape}",
                      (X_shape[0],))
        wrong = int(np.sum(got != net.predict(X)))
        if wrong:
            t.fail(f"TwoLayerNet.predict: {wrong} of {X_shape[0]} labels are not the class of the highest score "
                   f"(X of shape {X_shape})")


# -- assignment 2: fc_net.TwoLayerNet -----------------------------------------------------------------------

FC2 = "classifiers.fc_net.TwoLayerNet"
FC2_LOSS = "TwoLayerNet.loss"


def _pooled_init(t, cls, args, kwargs, shapes, function, constructions, dtype=None):
    """Build the student's `cls` several times (the worker's np.random seeded once, before the first) and
    return {weight name: [its array in each construction]}, each construction's params checked as well."""
    t.seed(t.seed_value(9))
    draws = {name: [] for name in shapes if name.startswith("W")}
    for _ in range(constructions):
        params = t.getattr(t.new(cls, *args, **kwargs), "params")
        S.expect_params(t, params, shapes, function, dtype=dtype)
        for name in draws:
            draws[name].append(params[name])
    return draws


def _expect_scales(t, draws, scale, function):
    for name, arrays in draws.items():
        S.expect_gaussian_pooled(t, arrays, scale, f"{function}: self.params[{name!r}] (pooled over "
                                 f"{len(arrays)} constructions)")


def _fc2_shapes(D, H, C):
    return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}


@check("cs231n/classifiers/fc_net.py::TwoLayerNet.__init__")
def fc_two_layer_init(t):
    for n, (D, H, C, scale) in enumerate(((5, 50, 7, 1e-3), (300, 200, 60, 0.1), (9, 4, 3, 0.5))):
        t.seed(t.seed_value(n))
        handle = t.new(FC2, input_dim=D, hidden_dim=H, num_classes=C, weight_scale=scale, reg=0.3)
        params = t.getattr(handle, "params")
        S.expect_params(t, params, _fc2_shapes(D, H, C), "TwoLayerNet.__init__")
        for name in ("b1", "b2"):
            S.expect_constant(t, params[name], 0, f"TwoLayerNet.__init__: self.params[{name!r}]")
        if D * H > 1000:
            for name in ("W1", "W2"):
                S.expect_gaussian(t, params[name], scale, f"TwoLayerNet.__init__: self.params[{name!r}]")


@check("cs231n/classifiers/fc_net.py::TwoLayerNet.__init__")
def fc_two_layer_init_weight_scale_of_small_layers(t):
    # 250 and 350 weights: pooled over 12 constructions, the standard deviation is within 8 % of weight_scale
    # at 6 standard errors.
    function = "TwoLayerNet.__init__ (input_dim=5, hidden_dim=50, num_classes=7, weight_scale=1e-3)"
    draws = _pooled_init(t, FC2, (), {"input_dim": 5, "hidden_dim": 50, "num_classes": 7, "weight_scale": 1e-3},
                         _fc2_shapes(5, 50, 7), function, 12)
    _expect_scales(t, draws, 1e-3, function)


def _fc2_course_model(t):
    N, D, H, C = 3, 5, 50, 7
    model = S.new_reference(t.ref.classifiers.fc_net.TwoLayerNet, input_dim=D, hidden_dim=H, num_classes=C,
                            weight_scale=1e-3)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    return model, X


@check("cs231n/classifiers/fc_net.py::TwoLayerNet.loss")
def fc_two_layer_loss_course_values(t):
    model, X = _fc2_course_model(t)
    y = np.asarray([0, 5, 1])
    _loss_case(t, FC2, model, X, None, "the course's linspace model", FC2_LOSS_ID, FC2_LOSS)
    for reg in (0.0, 1.0, 0.7):
        model.reg = reg
        _loss_case(t, FC2, model, X, y, f"the course's linspace model, reg = {reg}", FC2_LOSS_ID, FC2_LOSS)


@check("cs231n/classifiers/fc_net.py::TwoLayerNet.loss")
def fc_two_layer_loss_shapes(t):
    rng = t.rng()
    for X_shape, H, C, reg in (((1, 6), 4, 3, 0.3), ((9, 2, 3, 2), 10, 5, 0.0), ((16, 20), 8, 2, 0.05)):
        D = int(np.prod(X_shape[1:]))
        model = S.set_params(S.new_reference(t.ref.classifiers.fc_net.TwoLayerNet, input_dim=D, hidden_dim=H,
                                             num_classes=C, weight_scale=0.5, reg=reg), rng, 0.5)
        X, y = S.normal(rng, X_shape), rng.integers(0, C, size=X_shape[0])
        _loss_case(t, FC2, model, X, None, f"X of shape {X_shape}", FC2_LOSS_ID, FC2_LOSS)
        _loss_case(t, FC2, model, X, y, f"X of shape {X_shape}, reg = {reg}", FC2_LOSS_ID, FC2_LOSS)


# -- assignment 2: FullyConnectedNet -------------------------------------------------------------------------

FCN = "classifiers.fc_net.FullyConnectedNet"
FCN_INIT = "FullyConnectedNet.__init__"
FCN_LOSS = "FullyConnectedNet.loss"


def _fcn_expected_shapes(dims, normalization):
    shapes = {}
    for i in range(1, len(dims)):
        shapes[f"W{i}"], shapes[f"b{i}"] = (dims[i - 1], dims[i]), (dims[i],)
        if normalization is not None and i < len(dims) - 1:
            shapes[f"gamma{i}"], shapes[f"beta{i}"] = (dims[i],), (dims[i],)
    return shapes


def _fcn_init_case(t, n, hidden, D, C, **kwargs):
    t.seed(t.seed_value(n))
    handle = t.new(FCN, hidden, input_dim=D, num_classes=C, **kwargs)
    params = t.getattr(handle, "params")
    normalization = kwargs.get("normalization")
    dtype = kwargs.get("dtype", F32)
    case = f"hidden_dims={hidden}, normalization={normalization!r}, dtype={np.dtype(dtype).name}"
    function = f"{FCN_INIT} ({case})"
    S.expect_params(t, params, _fcn_expected_shapes([D, *hidden, C], normalization), function, dtype=dtype)
    for name, value in params.items():
        if name.startswith("b") or name.startswith("beta"):
            S.expect_constant(t, value, 0, f"{function}: self.params[{name!r}]")
        elif name.startswith("gamma"):
            S.expect_constant(t, value, 1, f"{function}: self.params[{name!r}]")
    return handle, params, case


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.__init__")
def fully_connected_init_names_shapes_dtypes(t):
    seed = t.seed_value(4)
    handle, _, case = _fcn_init_case(t, 0, [7, 6], 12, 4, normalization="batchnorm", dropout_keep_ratio=0.5, seed=seed)
    bn_params = t.getattr(handle, "bn_params")
    t.expect(isinstance(bn_params, list) and len(bn_params) == 2 and all(
        isinstance(p, dict) and p.get("mode") == "train" for p in bn_params),
        f"{FCN_INIT} ({case}): self.bn_params must hold one {{'mode': 'train'}} dict per hidden layer")
    dropout_param = t.getattr(handle, "dropout_param")
    t.expect(isinstance(dropout_param, dict) and dropout_param.get("mode") == "train" and dropout_param.get("p") == 0.5
             and dropout_param.get("seed") == seed,
             f"{FCN_INIT} ({case}): self.dropout_param must be {{'mode': 'train', 'p': keep ratio, 'seed': seed}}")
    _fcn_init_case(t, 1, [5], 3, 2, normalization="layernorm", dtype=F64)
    _fcn_init_case(t, 2, [9, 8, 7, 6], 10, 3)


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.__init__")
def fully_connected_init_weight_scale(t):
    # Every weight matrix, the last included, holds at least 3000 values: the sample standard deviation
    # is then within 8 % of weight_scale at 6 standard errors.
    for n, hidden, D, C, scale, normalization in ((0, [100, 80, 60], 200, 50, 0.05, None),
                                                  (1, [64], 50, 64, 2e-3, "batchnorm")):
        _, params, case = _fcn_init_case(t, n, hidden, D, C, weight_scale=scale, normalization=normalization,
                                         dtype=F64)
        for i in range(1, len(hidden) + 2):
            S.expect_gaussian(t, params[f"W{i}"], scale, f"{FCN_INIT} ({case}): self.params['W{i}']")


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.__init__")
def fully_connected_init_weight_scale_of_small_layers(t):
    # 600, 300 and 150 weights (the default float32), pooled over 20 constructions.
    hidden, D, C, scale = [20, 15], 30, 10, 0.02
    function = f"{FCN_INIT} (hidden_dims={hidden}, input_dim={D}, num_classes={C}, weight_scale={scale})"
    draws = _pooled_init(t, FCN, (hidden,), {"input_dim": D, "num_classes": C, "weight_scale": scale},
                         _fcn_expected_shapes([D, *hidden, C], None), function, 20, dtype=F32)
    _expect_scales(t, draws, scale, function)


def _fcn_model(t, rng, hidden, D, C, **kwargs):
    model = S.new_reference(t.ref.classifiers.fc_net.FullyConnectedNet, hidden, input_dim=D, num_classes=C, **kwargs)
    return S.set_params(model, rng, kwargs["weight_scale"])


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.loss")
def fully_connected_loss_course_values(t):
    ref = t.ref.classifiers.fc_net
    for normalization in (None, "batchnorm"):
        with S.reference_rng:
            np.random.seed(231)
            X, y = np.random.randn(2, 15), np.random.randint(10, size=(2,))
            models = [S.new_reference(ref.FullyConnectedNet, [20, 30], input_dim=15, num_classes=10, reg=reg,
                                      weight_scale=5e-2, dtype=np.float64, normalization=normalization)
                      for reg in (0, 3.14)]
        for model in models:
            _loss_case(t, FCN, model, X, y, f"the course's check, normalization={normalization!r}, reg = {model.reg}",
                       FCN_LOSS_ID, FCN_LOSS)


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.loss")
def fully_connected_loss_gradients(t):
    rng = t.rng()
    N, D, C = 8, 6, 4
    for normalization, keep, reg in ((None, 1, 0.0), (None, 0.6, 0.7), ("batchnorm", 1, 0.7), ("batchnorm", 0.6, 0.0),
                                     ("layernorm", 1, 0.0), ("layernorm", 0.6, 0.7)):
        model = _fcn_model(t, rng, [7, 5], D, C, reg=reg, weight_scale=0.5, dtype=F64, normalization=normalization,
                           dropout_keep_ratio=keep, seed=t.seed_value(1))
        X, y = S.normal(rng, (N, D)), rng.integers(0, C, size=N)
        _loss_case(t, FCN, model, X, y, f"normalization={normalization!r}, dropout keep {keep}, reg = {reg}",
                   FCN_LOSS_ID, FCN_LOSS)


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.loss")
def fully_connected_loss_test_mode_scores(t):
    rng = t.rng()
    for normalization in (None, "batchnorm", "layernorm"):
        model = _fcn_model(t, rng, [6, 5], 7, 3, weight_scale=0.5, dtype=F64, normalization=normalization,
                           dropout_keep_ratio=0.5, seed=t.seed_value(1))
        if normalization == "batchnorm":
            for i, bn_param in enumerate(model.bn_params, start=1):
                D = model.params[f"gamma{i}"].shape[0]
                bn_param.update(running_mean=S.normal(rng, (D,)), running_var=0.5 + rng.random(D))
        case = f"test mode: normalization={normalization!r}, dropout off"
        handle, expected = _loss_case(t, FCN, model, S.normal(rng, (5, 7)), None, case, FCN_LOSS_ID, FCN_LOSS)
        # A test-mode call reads the running averages and must not update them.
        got = t.getattr(handle, "bn_params")
        if not isinstance(got, list) or len(got) != len(expected.bn_params) or not all(
                S.same_state(mine, theirs) for mine, theirs in zip(got, expected.bn_params)):
            t.fail(f"{FCN_LOSS}: a test-mode call (y=None) changed self.bn_params ({case}); in test mode batch norm "
                   "reads the running averages and must not update them")
        if not S._same(t.getattr(handle, "dropout_param"), expected.dropout_param):
            t.fail(f"{FCN_LOSS}: a test-mode call (y=None) changed self.dropout_param beyond its mode ({case})")


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.loss")
def fully_connected_loss_updates_batchnorm_state(t):
    rng = t.rng()
    model = _fcn_model(t, rng, [6, 5, 4], 7, 3, weight_scale=0.5, dtype=F64, normalization="batchnorm")
    X, y = S.normal(rng, (10, 7), shift=1), rng.integers(0, 3, size=10)
    handle, expected = _loss_case(t, FCN, model, X, y, "batchnorm, three hidden layers", FCN_LOSS_ID, FCN_LOSS)
    got = t.getattr(handle, "bn_params")
    if not isinstance(got, list) or len(got) != len(expected.bn_params):
        t.fail(f"{FCN_LOSS}: self.bn_params must stay a list of {len(expected.bn_params)} dicts")
    for i, (mine, theirs) in enumerate(zip(got, expected.bn_params)):
        for key in ("running_mean", "running_var"):
            if not isinstance(mine, dict) or key not in mine:
                t.fail(f"{FCN_LOSS}: after a training step self.bn_params[{i}] has no {key!r}: pass self.bn_params[{i}] "
                       f"to the forward pass of batch norm layer {i + 1}")
            t.expect_close(mine[key], theirs[key], f"{FCN_LOSS}: self.bn_params[{i}][{key!r}] after a training step "
                           f"(pass self.bn_params[{i}] to batch norm layer {i + 1})", tol=tol(FCN_LOSS_ID, F64))


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.loss")
def fully_connected_loss_float32(t):
    rng = t.rng()
    for normalization in (None, "batchnorm"):
        model = _fcn_model(t, rng, [10, 8], 12, 5, weight_scale=0.3, reg=0.1, normalization=normalization)
        X, y = S.normal(rng, (6, 12)), rng.integers(0, 5, size=6)
        _loss_case(t, FCN, model, X, y, f"the default dtype float32, normalization={normalization!r}", FCN_LOSS_ID, FCN_LOSS)


@check("cs231n/classifiers/fc_net.py::FullyConnectedNet.loss")
def fully_connected_loss_shapes(t):
    rng = t.rng()
    model = _fcn_model(t, rng, [8, 7, 6, 5], 12, 4, weight_scale=0.4, reg=0.2, dtype=F64)
    _loss_case(t, FCN, model, S.normal(rng, (1, 12)), np.array([3]), "batch size 1, four hidden layers", FCN_LOSS_ID,
               FCN_LOSS)
    model = _fcn_model(t, rng, [9], 12, 6, weight_scale=0.4, dtype=F64, normalization="layernorm")
    _loss_case(t, FCN, model, S.normal(rng, (5, 3, 2, 2)), rng.integers(0, 6, size=5),
               "X of shape (5, 3, 2, 2), one hidden layer", FCN_LOSS_ID, FCN_LOSS)


# -- assignment 2: ThreeLayerConvNet --------------------------------------------------------------------------

CNN = "classifiers.cnn.ThreeLayerConvNet"
CNN_INIT = "ThreeLayerConvNet.__init__"
CNN_LOSS = "ThreeLayerConvNet.loss"


def _cnn_shapes(C, H, W, F, size, hidden, classes):
    # The 2x2 pool with stride 2 drops an odd last row or column (max_pool_forward_naive's docstring).
    return {"W1": (F, C, size, size), "b1": (F,), "W2": (F * (H // 2) * (W // 2), hidden), "b2": (hidden,),
            "W3": (hidden, classes), "b3": (classes,)}


def _cnn_case(kwargs):
    return ", ".join(f"{k}={v.__name__ if isinstance(v, type) else v}" for k, v in kwargs.items()) or "the defaults"


@check("cs231n/classifiers/cnn.py::ThreeLayerConvNet.__init__")
def three_layer_init(t):
    cases = (({}, (3, 32, 32), 32, 7, 100, 10),
             ({"input_dim": (1, 28, 28), "num_filters": 6, "filter_size": 5, "hidden_dim": 11, "dtype": F64,
               "weight_scale": 0.05}, (1, 28, 28), 6, 5, 11, 10),
             ({"input_dim": (2, 6, 10), "num_filters": 3, "filter_size": 3, "hidden_dim": 7, "num_classes": 4},
              (2, 6, 10), 3, 3, 7, 4),
             ({"input_dim": (3, 7, 9), "num_filters": 5, "filter_size": 3, "hidden_dim": 6, "num_classes": 3},
              (3, 7, 9), 5, 3, 6, 3))
    for n, (kwargs, (C, H, W), F, size, hidden, classes) in enumerate(cases):
        t.seed(t.seed_value(n))
        handle = t.new(CNN, **kwargs)
        params = t.getattr(handle, "params")
        dtype = kwargs.get("dtype", F32)
        function = f"{CNN_INIT} ({_cnn_case(kwargs)})"
        S.expect_params(t, params, _cnn_shapes(C, H, W, F, size, hidden, classes), function, dtype=dtype)
        for name in ("b1", "b2", "b3"):
            S.expect_constant(t, params[name], 0, f"{function}: self.params[{name!r}]")
        scale = kwargs.get("weight_scale", 1e-3)
        for name in ("W1", "W2", "W3"):
            if params[name].size >= 1000:
                S.expect_gaussian(t, params[name].astype(F64), scale, f"{function}: self.params[{name!r}]")


@check("cs231n/classifiers/cnn.py::ThreeLayerConvNet.__init__")
def three_layer_init_weight_scale_of_small_layers(t):
    # 162, 1440 and 200 weights (an odd-sized input), pooled over 20 constructions.
    kwargs = {"input_dim": (3, 7, 9), "num_filters": 6, "filter_size": 3, "hidden_dim": 20, "weight_scale": 0.03}
    function = f"{CNN_INIT} ({_cnn_case(kwargs)})"
    draws = _pooled_init(t, CNN, (), kwargs, _cnn_shapes(3, 7, 9, 6, 3, 20, 10), function, 20, dtype=F32)
    _expect_scales(t, draws, 0.03, function)


def _cnn_model(t, rng, **kwargs):
    return S.set_params(S.new_reference(t.ref.classifiers.cnn.ThreeLayerConvNet, **kwargs), rng, kwargs["weight_scale"])


@check("cs231n/classifiers/cnn.py::ThreeLayerConvNet.loss")
def three_layer_loss_gradients(t):
    rng = t.rng()
    for reg, N in ((0.0, 2), (0.5, 3), (0.1, 1)):
        model = _cnn_model(t, rng, input_dim=(3, 6, 6), num_filters=3, filter_size=3, hidden_dim=7, weight_scale=0.3,
                           dtype=F64, reg=reg)
        X, y = S.normal(rng, (N, 3, 6, 6)), rng.integers(0, 10, size=N)
        _loss_case(t, CNN, model, X, y, f"X of shape ({N}, 3, 6, 6), reg = {reg}", CNN_LOSS_ID, CNN_LOSS)


@check("cs231n/classifiers/cnn.py::ThreeLayerConvNet.loss")
def three_layer_loss_scores_and_shapes(t):
    rng = t.rng()
    model = _cnn_model(t, rng, input_dim=(2, 8, 10), num_filters=4, filter_size=5, hidden_dim=6, num_classes=3,
                       weight_scale=0.2, dtype=F64, reg=0.05)
    X = S.normal(rng, (4, 2, 8, 10))
    _loss_case(t, CNN, model, X, None, "X of shape (4, 2, 8, 10)", CNN_LOSS_ID, CNN_LOSS)
    _loss_case(t, CNN, model, X, rng.integers(0, 3, size=4), "X of shape (4, 2, 8, 10), 5x5 filters", CNN_LOSS_ID, CNN_LOSS)


@check("cs231n/classifiers/cnn.py::ThreeLayerConvNet.loss")
def three_layer_loss_float32(t):
    rng = t.rng()
    model = _cnn_model(t, rng, input_dim=(1, 28, 28), num_filters=8, hidden_dim=20, weight_scale=1e-2, reg=0.01)
    X = S.normal(rng, (4, 1, 28, 28))
    _loss_case(t, CNN, model, X, rng.integers(0, 10, size=4), "the default dtype float32, X of shape (4, 1, 28, 28)",
               CNN_LOSS_ID, CNN_LOSS)
