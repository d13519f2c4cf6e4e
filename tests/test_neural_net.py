"""Tests for the assignment-1 TwoLayerNet against the course's reference values."""

import numpy as np
import pytest

from cs231n.classifiers.neural_net import TwoLayerNet
from cs231n.gradient_check import eval_numerical_gradient, rel_error

CORRECT_SCORES = np.asarray([
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949],
])


def _toy_net_and_data():
    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


def test_init_shapes_and_zero_biases():
    np.random.seed(0)
    net = TwoLayerNet(6, 7, 3, std=1e-2)
    assert net.params["W1"].shape == (6, 7) and net.params["W2"].shape == (7, 3)
    assert np.all(net.params["b1"] == 0) and np.all(net.params["b2"] == 0)
    assert abs(net.params["W1"].std() - 1e-2) < 5e-3


def test_scores_match_course():
    net, X, y = _toy_net_and_data()
    scores = net.loss(X)
    assert np.sum(np.abs(scores - CORRECT_SCORES)) < 1e-7


def test_loss_matches_course():
    net, X, y = _toy_net_and_data()
    loss, _ = net.loss(X, y, reg=0.05)
    assert abs(loss - 1.30378789133) < 1e-10


@pytest.mark.parametrize("reg", [0.0, 0.05])
def test_gradients_match_numeric(reg):
    net, X, y = _toy_net_and_data()
    _, grads = net.loss(X, y, reg=reg)
    for name in ("W1", "b1", "W2", "b2"):
        f = lambda _: net.loss(X, y, reg=reg)[0]
        numeric = eval_numerical_gradient(f, net.params[name], verbose=False)
        # Measured on the gradient's scale: the course's elementwise relative error (about 4e-9 here) is the
        # finite difference's rounding, which a loss summed in another order changes. Bugs are off by 1e-3.
        assert np.max(np.abs(numeric - grads[name])) < 1e-7 * np.max(np.abs(grads[name])), name


def test_loss_does_not_mutate_inputs():
    net, X, y = _toy_net_and_data()
    X0, y0 = X.copy(), y.copy()
    params0 = {k: v.copy() for k, v in net.params.items()}
    net.loss(X, y, reg=0.05)
    assert np.array_equal(X, X0) and np.array_equal(y, y0)
    for k, v in params0.items():
        assert np.array_equal(net.params[k], v)


def test_train_reaches_low_loss():
    net, X, y = _toy_net_and_data()
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    assert stats["loss_history"][-1] < 0.2
    assert len(stats["loss_history"]) == 100
    assert stats["train_acc_history"] and stats["val_acc_history"]
    assert np.array_equal(net.predict(X), y)


def test_image_shaped_input_is_flattened():
    np.random.seed(0)
    net = TwoLayerNet(1 * 4 * 4, 5, 3, std=1e-1)
    X = np.random.randn(2, 1, 4, 4)
    assert rel_error(net.loss(X), net.loss(X.reshape(2, -1))) < 1e-12
    assert net.predict(X).shape == (2,)


def test_wrong_feature_count_raises():
    net, X, y = _toy_net_and_data()
    with pytest.raises(ValueError, match=r"\(5, 3\).*\(4, 10\).*reshape"):
        net.loss(X[:, :3])


@pytest.mark.parametrize("bad_y", [np.array([0, 1, 3, 2, 1]), np.array([0, -1, 2, 2, 1])])
def test_out_of_range_labels_raise(bad_y):
    net, X, _ = _toy_net_and_data()
    with pytest.raises(ValueError, match="labels must lie in"):
        net.loss(X, bad_y)


def test_float_labels_raise():
    net, X, y = _toy_net_and_data()
    with pytest.raises(ValueError, match="integer"):
        net.loss(X, y.astype(float))
