"""Tests for cs231n.optim: the course's reference values, defaults, purity and convergence."""

import numpy as np
import pytest

from cs231n import optim
from cs231n.gradient_check import rel_error

N, D = 4, 5


def _w_dw():
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    return w, dw


def _matches_quoted(actual, quoted):
    """The course quotes its arrays to 8 decimals, so compare within that rounding."""
    return np.max(np.abs(actual - quoted)) < 6e-9


def test_sgd():
    w, dw = _w_dw()
    next_w, config = optim.sgd(w, dw, {"learning_rate": 0.1})
    assert rel_error(next_w, w - 0.1 * dw) < 1e-12
    assert config["learning_rate"] == 0.1


def test_sgd_momentum_course_values():
    w, dw = _w_dw()
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, config = optim.sgd_momentum(w, dw, config={"learning_rate": 1e-3, "velocity": v})
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
    ])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
    ])
    assert _matches_quoted(next_w, expected_next_w)
    assert _matches_quoted(config["velocity"], expected_velocity)


def test_rmsprop_course_values():
    w, dw = _w_dw()
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    next_w, config = optim.rmsprop(w, dw, config={"learning_rate": 1e-2, "cache": cache})
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
    ])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
    ])
    assert _matches_quoted(next_w, expected_next_w)
    assert _matches_quoted(config["cache"], expected_cache)


def test_adam_course_values():
    w, dw = _w_dw()
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    next_w, config = optim.adam(w, dw, config={"learning_rate": 1e-2, "m": m, "v": v, "t": 5})
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
    ])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
    ])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
    ])
    assert _matches_quoted(next_w, expected_next_w)
    assert _matches_quoted(config["v"], expected_v)
    assert _matches_quoted(config["m"], expected_m)
    assert config["t"] == 6


def test_adam_matches_written_out_formula_over_several_steps():
    rng = np.random.RandomState(0)
    w = rng.randn(3, 4)
    grads = [rng.randn(3, 4) for _ in range(3)]
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    expected = w.copy()
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        expected = expected - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    config = {"learning_rate": lr}
    for g in grads:
        w, config = optim.adam(w, g, config)
    # The paper's efficient form (the bias corrections folded into the step size, epsilon then meeting
    # sqrt(v) instead of sqrt(v_hat)) is Adam too: it moves w by a relative 1e-7 of a step here.
    assert np.max(np.abs(w - expected)) < 1e-6 * np.max(np.abs(expected))
    assert config["t"] == 3


@pytest.mark.parametrize(
    "rule, defaults",
    [
        (optim.sgd, {"learning_rate": 1e-2}),
        (optim.sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9}),
        (optim.rmsprop, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
        (optim.adam, {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1}),
    ],
)
def test_defaults(rule, defaults):
    w, dw = _w_dw()
    w0 = w.copy()
    next_w, config = rule(w, dw)
    assert next_w.shape == w.shape
    assert not np.array_equal(next_w, w0)
    for key, value in defaults.items():
        assert config[key] == value


@pytest.mark.parametrize("rule", [optim.sgd, optim.sgd_momentum, optim.rmsprop, optim.adam])
def test_the_gradient_is_not_mutated(rule):
    # A rule may update w and its config's arrays in place (the module docstring), never dw.
    w, dw = _w_dw()
    dw0 = dw.copy()
    rule(w, dw, {"learning_rate": 1e-2})
    assert np.array_equal(dw, dw0)


def test_sgd_leaves_w_alone():
    w, dw = _w_dw()
    w0 = w.copy()
    optim.sgd(w, dw, {"learning_rate": 0.1})
    assert np.array_equal(w, w0)


@pytest.mark.parametrize("rule", [optim.sgd, optim.sgd_momentum, optim.rmsprop, optim.adam])
def test_rules_minimise_a_quadratic(rule):
    target = np.array([1.0, -2.0, 3.0])
    w = np.zeros(3)
    config = {"learning_rate": 5e-2}
    for _ in range(500):
        w, config = rule(w, 2 * (w - target), config)
    assert np.max(np.abs(w - target)) < 5e-2
