"""Hidden checks of cs231n.classifiers: other sizes and seeds than the public tests.

Instructor-only; the submission is imported inside each test, never at module level (see the grader's design).
Gradients are checked against numerical gradients of the submission's own loss, so these checks hold for
any correct implementation.
"""

import importlib

import numpy as np


def module(name):
    return importlib.import_module(f"cs231n.classifiers.{name}")


def rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return np.inf
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def num_grad(f, x, h=1e-5):
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = f()
        x[ix] = old - h
        neg = f()
        x[ix] = old
        grad[ix] = (pos - neg) / (2 * h)
        it.iternext()
    return grad


def check_model_gradients(model, X, y, name, tol=1e-5, **loss_kwargs):
    assert model.params, f"{name}: the model has no parameters (its __init__ must create them)"
    loss, grads = model.loss(X, y, **loss_kwargs)
    assert loss is not None and np.isfinite(loss), f"{name}: the loss is missing or not finite"
    for key, param in model.params.items():
        assert grads.get(key) is not None, f"{name}: no gradient for {key}"
        numeric = num_grad(lambda: model.loss(X, y, **loss_kwargs)[0], param)
        assert rel(grads[key], numeric) < tol, f"{name}: the gradient of {key} is wrong"


def softmax_data_loss(scores, y):
    shifted = scores - scores.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


# -- assignment 1: neural_net.TwoLayerNet ------------------------------------------------------------


def _a1_net(seed=40, d=5, h=7, c=4):
    np.random.seed(seed)
    return module("neural_net").TwoLayerNet(d, h, c, std=0.5)


def test_a1_two_layer_loss_value_and_gradients():
    net = _a1_net()
    rng = np.random.default_rng(41)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 4, size=6)
    p = net.params
    scores = np.maximum(0, X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    got = net.loss(X)
    assert got is not None and rel(got, scores) < 1e-8, "TwoLayerNet.loss: the scores (y=None) are wrong"
    loss, _ = net.loss(X, y, reg=0.0)
    assert loss is not None and abs(loss - softmax_data_loss(scores, y)) < 1e-8, "TwoLayerNet.loss: the data loss is wrong"
    check_model_gradients(net, X, y, "TwoLayerNet.loss", reg=0.07)


def test_a1_two_layer_train_lowers_the_loss():
    net = _a1_net(seed=42, d=4, h=10, c=3)
    rng = np.random.default_rng(43)
    centers = 3 * rng.standard_normal((3, 4))
    y = rng.integers(0, 3, size=60)
    X = centers[y] + 0.3 * rng.standard_normal((60, 4))
    stats = net.train(X, y, X, y, learning_rate=0.1, reg=1e-5, num_iters=150, batch_size=30)
    history = stats["loss_history"]
    assert len(history) == 150, "TwoLayerNet.train: record the loss of every iteration in loss_history"
    assert np.mean(history[-10:]) < 0.5 * np.mean(history[:10]), "TwoLayerNet.train: the loss does not go down"


def test_a1_two_layer_predict_is_argmax_of_scores():
    net = _a1_net(seed=44)
    X = np.random.default_rng(45).standard_normal((9, 5))
    p = net.params
    expected = np.argmax(np.maximum(0, X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"], axis=1)
    pred = net.predict(X)
    assert pred is not None and np.array_equal(np.asarray(pred), expected), "TwoLayerNet.predict: must return the argmax of the scores"


# -- assignment 2: fc_net and cnn --------------------------------------------------------------------


def test_fc_two_layer_init_shapes_and_scale():
    np.random.seed(46)
    net = module("fc_net").TwoLayerNet(input_dim=30, hidden_dim=40, num_classes=5, weight_scale=0.1)
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {"W1": (30, 40), "b1": (40,), "W2": (40, 5), "b2": (5,)}, f"TwoLayerNet.__init__: params have shapes {shapes}"
    assert 0.07 < net.params["W1"].std() < 0.13 and not net.params["b1"].any(), "TwoLayerNet.__init__: W ~ N(0, weight_scale^2), b = 0"


def test_fc_two_layer_loss_gradients():
    np.random.seed(47)
    net = module("fc_net").TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=3, weight_scale=0.3, reg=0.2)
    for k, v in net.params.items():
        net.params[k] = v.astype(np.float64)
    rng = np.random.default_rng(48)
    X, y = rng.standard_normal((4, 6)), rng.integers(0, 3, size=4)
    scores = net.loss(X)
    assert scores is not None and scores.shape == (4, 3), "TwoLayerNet.loss: with y=None return scores of shape (N, C)"
    check_model_gradients(net, X, y, "TwoLayerNet.loss")


def test_fully_connected_net_init_shapes():
    net = module("fc_net").FullyConnectedNet([7, 6], input_dim=5, num_classes=4, normalization="batchnorm", seed=49)
    shapes = {k: v.shape for k, v in net.params.items()}
    expected = {"W1": (5, 7), "b1": (7,), "gamma1": (7,), "beta1": (7,), "W2": (7, 6), "b2": (6,), "gamma2": (6,),
                "beta2": (6,), "W3": (6, 4), "b3": (4,)}
    assert shapes == expected, f"FullyConnectedNet.__init__: params have shapes {shapes}, expected {expected}"


def test_fully_connected_net_loss_gradients():
    fc = module("fc_net")
    np.random.seed(50)  # the weights come from np.random; unseeded they depend on which tests ran before
    rng = np.random.default_rng(50)
    X, y = rng.standard_normal((3, 5)), rng.integers(0, 4, size=3)
    for normalization in (None, "layernorm"):
        net = fc.FullyConnectedNet([6, 5], input_dim=5, num_classes=4, normalization=normalization, reg=0.1,
                                   weight_scale=0.5, dtype=np.float64, seed=51)
        check_model_gradients(net, X, y, f"FullyConnectedNet.loss (normalization={normalization})")


def test_three_layer_convnet_init_and_loss_gradients():
    np.random.seed(52)
    net = module("cnn").ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=5,
                                          num_classes=3, weight_scale=0.1, reg=0.05, dtype=np.float64)
    shapes = {k: v.shape for k, v in net.params.items()}
    expected = {"W1": (3, 2, 3, 3), "b1": (3,), "W2": (27, 5), "b2": (5,), "W3": (5, 3), "b3": (3,)}
    assert shapes == expected, f"ThreeLayerConvNet.__init__: params have shapes {shapes}, expected {expected}"
    rng = np.random.default_rng(53)
    X, y = rng.standard_normal((2, 2, 6, 6)), rng.integers(0, 3, size=2)
    check_model_gradients(net, X, y, "ThreeLayerConvNet.loss", tol=1e-4)
