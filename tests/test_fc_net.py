"""Tests for cs231n.classifiers.fc_net: course reference values, gradients, options and overfitting."""

import numpy as np
import pytest

from cs231n.classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from cs231n.gradient_check import eval_numerical_gradient, rel_error
from cs231n.solver import Solver

# Analytic gradients against numerical ones, on the gradient's scale: the finite difference rounds to about
# 1e-16 * loss / h, which an elementwise relative error turns into anything for entries near zero (and a
# correct loss summed in another order changes); a wrong gradient is off by 1e-3 or more.
GRAD_TOL = 1e-6


def scaled_error(a, b):
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


def _course_two_layer_net():
    """The course's TwoLayerNet check: fixed linspace weights and inputs."""
    N, D, H, C = 3, 5, 50, 7
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    return model, X


def test_two_layer_net_init():
    np.random.seed(231)
    std = 1e-3
    models = [TwoLayerNet(input_dim=5, hidden_dim=50, num_classes=7, weight_scale=std) for _ in range(20)]
    for model in models:
        assert model.params["W1"].shape == (5, 50) and model.params["W2"].shape == (50, 7)
        assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0)
    # The weights may be drawn in any order: their statistics are checked over 20 models (5000 and 7000
    # values, a standard error of 1 % for the standard deviation), not against one seeded draw.
    for name in ("W1", "W2"):
        values = np.concatenate([model.params[name].ravel() for model in models])
        assert abs(values.std() - std) < std / 10 and abs(values.mean()) < std / 10, name


def test_two_layer_net_course_scores_and_losses():
    model, X = _course_two_layer_net()
    correct_scores = np.asarray([
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319],
    ])
    assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    loss, _ = model.loss(X, y)
    assert abs(loss - 3.4702243556) < 1e-10
    model.reg = 1.0
    loss, _ = model.loss(X, y)
    assert abs(loss - 26.5948426952) < 1e-10


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_gradients(reg):
    # The course checks gradients on its linspace model; the worst error there is about 2.5e-7.
    model, X = _course_two_layer_net()
    y = np.asarray([0, 5, 1])
    model.reg = reg
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params), "TwoLayerNet.loss must return a gradient for every parameter"
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]
        numeric = eval_numerical_gradient(f, model.params[name], verbose=False)
        assert scaled_error(grads[name], numeric) < GRAD_TOL, f"TwoLayerNet.loss: gradient of {name}"


def _course_fc_data():
    np.random.seed(231)
    N, D, C = 2, 15, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    return X, y


@pytest.mark.parametrize(
    "normalization, expected",
    [(None, (2.3004790897684924, 7.052114776533016)), ("batchnorm", (2.2611955101340957, 6.996533220108303))],
)
def test_fully_connected_net_course_losses(normalization, expected):
    X, y = _course_fc_data()
    dims = [15, 20, 30, 10]
    for reg, expected_loss in zip([0, 3.14], expected):
        state = np.random.get_state()
        model = FullyConnectedNet(
            [20, 30], input_dim=15, num_classes=10, reg=reg, weight_scale=5e-2, dtype=np.float64,
            normalization=normalization,
        )
        # The course's values come from its order of draws (W1, W2, W3 in turn, from the same stream); the
        # docstring leaves __init__ the order, so the weights are redrawn here in the course's.
        np.random.set_state(state)
        for i in range(1, len(dims)):
            model.params[f"W{i}"] = 5e-2 * np.random.randn(dims[i - 1], dims[i])
        loss, _ = model.loss(X, y)
        assert rel_error(loss, expected_loss) < 1e-12


def test_fully_connected_net_params_and_state():
    np.random.seed(0)
    model = FullyConnectedNet([7, 6], input_dim=12, num_classes=4, normalization="batchnorm",
                              dropout_keep_ratio=0.5, seed=3)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {
        "W1": (12, 7), "b1": (7,), "gamma1": (7,), "beta1": (7,),
        "W2": (7, 6), "b2": (6,), "gamma2": (6,), "beta2": (6,),
        "W3": (6, 4), "b3": (4,),
    }
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert np.all(model.params["gamma1"] == 1) and np.all(model.params["beta2"] == 0)
    assert model.bn_params == [{"mode": "train"}, {"mode": "train"}]
    assert model.dropout_param == {"mode": "train", "p": 0.5, "seed": 3}

    X = np.random.randn(5, 3, 2, 2)
    assert model.loss(X).shape == (5, 4)
    assert all(bn["mode"] == "test" for bn in model.bn_params)
    assert model.dropout_param["mode"] == "test"
    loss, grads = model.loss(X, np.arange(5) % 4)
    assert set(grads) == set(model.params)
    # (7,) as documented; a (1, 7) running mean is accepted too (layers.py).
    assert model.bn_params[0]["running_mean"].shape in ((7,), (1, 7))


def test_without_normalization_or_dropout_there_is_no_state():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3)
    assert set(model.params) == {"W1", "b1", "W2", "b2"}
    assert model.bn_params == [] and model.dropout_param == {}


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
@pytest.mark.parametrize("keep", [1, 0.6])
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_fully_connected_net_loss_gradients(normalization, keep, reg):
    np.random.seed(0)
    N, D, C = 8, 6, 4
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    model = FullyConnectedNet([7, 5], input_dim=D, num_classes=C, reg=reg, weight_scale=0.5,
                              dtype=np.float64, normalization=normalization, dropout_keep_ratio=keep, seed=123)
    # Nonzero biases keep pre-activations off the ReLU kink when dropout zeroes a whole row.
    for i in range(1, 4):
        model.params[f"b{i}"] = 0.1 * np.random.randn(*model.params[f"b{i}"].shape)
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params), "FullyConnectedNet.loss must return a gradient for every parameter"
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]
        numeric = eval_numerical_gradient(f, model.params[name], verbose=False)
        if normalization == "batchnorm" and name in ("b1", "b2"):
            # Batchnorm subtracts the batch mean, so a bias in front of it has no effect at all.
            assert np.max(np.abs(grads[name])) < 1e-12 and np.max(np.abs(numeric)) < 1e-8
        else:
            assert scaled_error(grads[name], numeric) < GRAD_TOL, f"FullyConnectedNet.loss: gradient of {name}"


def test_regularization_excludes_gamma_and_beta():
    X, y = _course_fc_data()
    model = FullyConnectedNet([20, 30], input_dim=15, num_classes=10, weight_scale=5e-2,
                              dtype=np.float64, normalization="layernorm")
    base, _ = model.loss(X, y)
    model.reg = 2.0
    loss, grads = model.loss(X, y)
    penalty = sum(np.sum(model.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    assert rel_error(loss - base, penalty) < 1e-10
    model.reg = 0.0
    _, grads0 = model.loss(X, y)
    assert rel_error(grads["W2"] - grads0["W2"], 2.0 * model.params["W2"]) < 1e-10
    assert rel_error(grads["gamma1"], grads0["gamma1"]) < 1e-12


def test_loss_does_not_mutate_inputs():
    X, y = _course_fc_data()
    X0 = X.copy()
    model = FullyConnectedNet([20], input_dim=15, num_classes=10, dtype=np.float64,
                              normalization="batchnorm", dropout_keep_ratio=0.5, seed=1)
    params0 = {k: v.copy() for k, v in model.params.items()}
    model.loss(X, y)
    assert np.array_equal(X, X0)
    assert all(np.array_equal(model.params[k], v) for k, v in params0.items())


def test_unknown_normalization_lists_valid_ones():
    with pytest.raises(ValueError, match=r"groupnorm.*batchnorm.*layernorm"):
        FullyConnectedNet([10], normalization="groupnorm")


def test_bad_keep_ratio():
    with pytest.raises(ValueError, match="dropout_keep_ratio"):
        FullyConnectedNet([10], dropout_keep_ratio=0)


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_three_layer_net_overfits_50_examples(normalization):
    rng = np.random.RandomState(0)
    X = rng.randn(50, 3, 8, 8)
    y = rng.randint(10, size=50)
    data = {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}
    np.random.seed(0)
    model = FullyConnectedNet([100, 100], input_dim=3 * 8 * 8, weight_scale=5e-2, normalization=normalization)
    solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                    num_epochs=30, batch_size=25, verbose=False)
    solver.train()
    assert max(solver.train_acc_history) == 1.0


def test_star_import_brings_the_layers_like_the_course_fc_net():
    namespace = {}
    exec("from cs231n.classifiers.fc_net import *", namespace)
    from cs231n import layer_utils, layers

    for name in ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
                 "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward", "dropout_forward",
                 "svm_loss", "softmax_loss", "conv_forward_naive", "spatial_groupnorm_forward"):
        assert namespace[name] is getattr(layers, name), name
    for name in ("affine_relu_forward", "affine_relu_backward", "conv_relu_pool_forward", "conv_bn_relu_backward"):
        assert namespace[name] is getattr(layer_utils, name), name
    assert namespace["FullyConnectedNet"] is FullyConnectedNet and namespace["TwoLayerNet"] is TwoLayerNet
    assert namespace["np"] is np


def test_course_dropout_keyword_means_the_keep_ratio_and_warns():
    with pytest.warns(DeprecationWarning, match=r"dropout_keep_ratio=0\.25"):
        old = FullyConnectedNet([20], input_dim=15, dropout=0.25, seed=123)
    new = FullyConnectedNet([20], input_dim=15, dropout_keep_ratio=0.25, seed=123)
    assert old.use_dropout and old.dropout_param == new.dropout_param == {"mode": "train", "p": 0.25, "seed": 123}
    with pytest.warns(DeprecationWarning):
        assert not FullyConnectedNet([20], input_dim=15, dropout=1).use_dropout


def test_course_dropout_keyword_gives_the_same_losses_as_the_new_one():
    np.random.seed(231)
    X, y = np.random.randn(4, 15), np.random.randint(10, size=4)
    losses = []
    for kwargs in ({"dropout": 0.5}, {"dropout_keep_ratio": 0.5}):
        np.random.seed(0)
        with pytest.warns(DeprecationWarning) if "dropout" in kwargs else _no_warning():
            model = FullyConnectedNet([20, 30], input_dim=15, dtype=np.float64, seed=123, **kwargs)
        losses.append(model.loss(X, y)[0])
    assert losses[0] == losses[1]


def _no_warning():
    import contextlib
    import warnings

    @contextlib.contextmanager
    def forbid():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield

    return forbid()


def test_dropout_and_its_new_name_together_are_refused():
    with pytest.raises(ValueError, match="pass only dropout_keep_ratio"):
        FullyConnectedNet([10], dropout=0.5, dropout_keep_ratio=0.5)
    with pytest.raises(ValueError, match="dropout_keep_ratio"), pytest.warns(DeprecationWarning):
        FullyConnectedNet([10], dropout=0)
