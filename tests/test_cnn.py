"""Tests for cs231n.classifiers.cnn: initial loss, shapes, gradients, input checks and overfitting."""

import numpy as np
import pytest

from cs231n.classifiers.cnn import ConvNet, ThreeLayerConvNet
from cs231n.gradient_check import eval_numerical_gradient, rel_error
from cs231n.solver import Solver


def _has_shape(a, shape):
    """The parameter's shape, or that shape with extra leading axes of length 1 (the layers allow both)."""
    extra = a.ndim - len(shape)
    return extra >= 0 and a.shape[extra:] == tuple(shape) and all(n == 1 for n in a.shape[:extra])


def _randomize_biases(model):
    """Nonzero biases keep pre-activations off the ReLU kink, where numeric gradients are meaningless."""
    for name, value in model.params.items():
        if name.startswith("b") and not name.startswith("beta"):
            model.params[name] = 0.1 * np.random.randn(*value.shape)


def _check_gradients(model, X, y, skip=()):
    assert model.params, "the model has no parameters: its __init__ is not implemented yet"
    _, grads = model.loss(X, y)
    assert set(grads) == set(model.params)
    for name in sorted(grads):
        f = lambda _: model.loss(X, y)[0]
        numeric = eval_numerical_gradient(f, model.params[name], verbose=False)
        if name in skip:
            # Biases in front of batchnorm are cancelled by its mean subtraction: both gradients vanish.
            assert np.max(np.abs(grads[name])) < 1e-12 and np.max(np.abs(numeric)) < 1e-8
        else:
            # atol: where the true gradient is zero (a channel the ReLUs cut off) the numeric one is
            # finite-difference noise, about eps * loss / h = 4e-11, and a relative error means nothing.
            assert np.allclose(numeric, grads[name], rtol=1e-6, atol=1e-9), name


def _tiny_data(shape=(1, 8, 8), n=50, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, *shape)
    y = rng.randint(10, size=n)
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


@pytest.mark.parametrize("input_dim", [(3, 32, 32), (1, 28, 28)])
def test_three_layer_initial_loss_is_log_num_classes(input_dim):
    np.random.seed(231)
    model = ThreeLayerConvNet(input_dim=input_dim, num_filters=8, hidden_dim=20)
    X = np.random.randn(4, *input_dim)
    y = np.random.randint(10, size=4)
    loss, _ = model.loss(X, y)
    assert abs(loss - np.log(10)) < 1e-3
    model.reg = 0.5
    loss_reg, _ = model.loss(X, y)
    assert loss_reg > loss


def test_three_layer_shapes_and_dtype():
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 28, 28), num_filters=6, filter_size=5, hidden_dim=11)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"W1": (6, 1, 5, 5), "b1": (6,), "W2": (6 * 14 * 14, 11), "b2": (11,),
                      "W3": (11, 10), "b3": (10,)}
    assert all(v.dtype == np.float32 for v in model.params.values())
    scores = model.loss(np.random.randn(3, 1, 28, 28))  # float64 data, cast by the model
    assert scores.shape == (3, 10)
    _, grads = model.loss(np.random.randn(3, 1, 28, 28), np.array([0, 1, 2]))
    assert all(_has_shape(grads[k], v.shape) for k, v in model.params.items())


@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_three_layer_gradients(reg):
    np.random.seed(0)
    X = np.random.randn(2, 3, 6, 6)
    y = np.random.randint(10, size=2)
    model = ThreeLayerConvNet(input_dim=(3, 6, 6), num_filters=3, filter_size=3, hidden_dim=7,
                              weight_scale=0.3, dtype=np.float64, reg=reg)
    _randomize_biases(model)
    _check_gradients(model, X, y)


def test_three_layer_overfits_small_data():
    data = _tiny_data()
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=8, filter_size=3, hidden_dim=50, weight_scale=1e-1)
    solver = Solver(model, data, num_epochs=30, batch_size=25, update_rule="adam",
                    optim_config={"learning_rate": 1e-2}, verbose=False)
    solver.train()
    assert max(solver.train_acc_history) == 1.0


@pytest.mark.parametrize("model_class", [ThreeLayerConvNet, ConvNet])
def test_input_shape_mismatch_names_both(model_class):
    model = model_class(input_dim=(3, 32, 32))
    with pytest.raises(ValueError, match=r"\(2, 1, 28, 28\).*\(N, 3, 32, 32\).*input_dim=\(1, 28, 28\)"):
        model.loss(np.zeros((2, 1, 28, 28)))


@pytest.mark.parametrize("model_class", [ThreeLayerConvNet, ConvNet])
def test_even_filter_size_rejected(model_class):
    with pytest.raises(ValueError, match="filter_size must be odd"):
        model_class(filter_size=4)


@pytest.mark.parametrize("input_dim", [(3, 32, 32), (1, 28, 28)])
@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_convnet_shapes(input_dim, normalization):
    np.random.seed(0)
    model = ConvNet(input_dim=input_dim, stages=((4, 4), (8,)), hidden_dims=(16, 12),
                    normalization=normalization)
    C, H, W = input_dim
    expected = {
        "W1": (4, C, 3, 3), "W2": (4, 4, 3, 3), "W3": (8, 4, 3, 3),
        "W4": (8 * (H // 4) * (W // 4), 16), "W5": (16, 12), "W6": (12, 10),
    }
    for name, shape in expected.items():
        assert model.params[name].shape == shape
        assert model.params[f"b{name[1:]}"].shape == (shape[0] if len(shape) == 4 else shape[1],)
    has_norm = normalization is not None
    assert all((f"gamma{i}" in model.params) == has_norm for i in range(1, 6))
    assert "gamma6" not in model.params
    assert len(model.bn_params) == (5 if has_norm else 0)
    assert all(v.dtype == np.float32 for v in model.params.values())

    X = np.random.randn(3, *input_dim)
    scores = model.loss(X)
    assert scores.shape == (3, 10)
    loss, grads = model.loss(X, np.array([1, 2, 3]))
    assert np.isfinite(loss)
    # The parameters are float32; results may be float64 where a layer computes in float64 (layers.py).
    assert all(_has_shape(grads[k], v.shape) for k, v in model.params.items())


def test_convnet_he_init_and_initial_loss():
    np.random.seed(0)
    model = ConvNet(input_dim=(1, 28, 28), stages=((16,), (32,)), hidden_dims=(64,))
    assert abs(model.params["W2"].std() - np.sqrt(2 / (16 * 9))) < 0.05 * np.sqrt(2 / (16 * 9))
    assert abs(model.params["W4"].std() - np.sqrt(1 / 64)) < 0.1 * np.sqrt(1 / 64)
    small = ConvNet(input_dim=(1, 28, 28), stages=((16,), (32,)), hidden_dims=(64,), weight_scale=1e-3)
    X = np.random.randn(8, 1, 28, 28)
    loss, _ = small.loss(X, np.arange(8))
    assert abs(loss - np.log(10)) < 1e-3


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
@pytest.mark.parametrize("keep", [1, 0.8])
def test_convnet_gradients(normalization, keep):
    np.random.seed(0)
    X = np.random.randn(3, 2, 8, 8)
    y = np.random.randint(10, size=3)
    model = ConvNet(input_dim=(2, 8, 8), stages=((3,), (4,)), hidden_dims=(5,), normalization=normalization,
                    dropout_keep_ratio=keep, reg=0.1, dtype=np.float64, seed=1)
    _randomize_biases(model)
    skip = ("b1", "b2", "b3") if normalization else ()
    _check_gradients(model, X, y, skip=skip)


@pytest.mark.parametrize("normalization", [None, "batchnorm"])
def test_convnet_overfits_small_data(normalization):
    data = _tiny_data()
    np.random.seed(0)
    model = ConvNet(input_dim=(1, 8, 8), stages=((8,), (8,)), hidden_dims=(32,), normalization=normalization)
    solver = Solver(model, data, num_epochs=40, batch_size=25, update_rule="adam",
                    optim_config={"learning_rate": 1e-2}, verbose=False)
    solver.train()
    assert max(solver.train_acc_history) == 1.0


def test_convnet_batchnorm_checkpoint_round_trip(tmp_path):
    data = _tiny_data(n=20)
    np.random.seed(0)
    model = ConvNet(input_dim=(1, 8, 8), stages=((4,),), hidden_dims=(8,), normalization="batchnorm")
    solver = Solver(model, data, num_epochs=2, batch_size=10, update_rule="adam",
                    checkpoint_name=str(tmp_path / "cnn"), verbose=False)
    solver.train()
    solver.save_checkpoint(str(tmp_path / "final.npz"))

    other = ConvNet(input_dim=(1, 8, 8), stages=((4,),), hidden_dims=(8,), normalization="batchnorm")
    Solver(other, data, resume=str(tmp_path / "final.npz"), verbose=False)
    assert rel_error(other.loss(data["X_val"]), model.loss(data["X_val"])) < 1e-12
    for mine, theirs in zip(model.bn_params, other.bn_params):
        assert np.array_equal(mine["running_var"], theirs["running_var"])


def test_convnet_bad_options():
    with pytest.raises(ValueError, match=r"layernorm.*None.*batchnorm"):
        ConvNet(normalization="layernorm")
    with pytest.raises(ValueError, match="stages halve"):
        ConvNet(input_dim=(1, 4, 4), stages=((2,), (2,), (2,)))
    with pytest.raises(ValueError, match="weight_scale"):
        ConvNet(weight_scale="xavier")
