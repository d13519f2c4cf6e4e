"""Hidden checks of cs231n/layers.py, part 1: affine, ReLU, the two losses, batch / layer norm and dropout.

Each TODO is checked on the course's check inputs (those of the notebooks and tests/test_layers.py) and on
more: random shapes, batch size 1, float32. Expected values come from the reference in the grader. A
backward pass gets the cache of the student's own forward pass (`uses=`); when that forward fails, the
reference forward's cache stands in (see _support.forward_cache), so each pass is judged on its own.
"""

import copy

import _support as S
import numpy as np
from coursekit.hidden import check

F32, F64 = np.float32, np.float64

# Allowed normalised difference max|got - expected| / max|expected| per function, for float64 and float32
# inputs. Set from `python instructor/tools/measure_tolerances.py`, which runs honest variants of every
# function (other summation orders: loops, einsum, reversed axes; algebraically equal formulas; float32
# computed in float32 or through float64) and typical bugs against the reference on inputs like these
# checks', and fails unless each tolerance lies at least 30x above the largest honest difference and 30x
# below the smallest float64 bug. Figures of the run of 2026-11-26, next to each entry: largest honest
# difference float64 / float32; smallest float64 bug (the bug).
TOL = {
    "affine_forward": (1e-10, 1e-4),  # 5e-16 / 1e-7; 1 (x reshaped in Fortran order)
    "affine_backward": (1e-10, 1e-4),  # 3e-16 / 1e-7; 0.9 (db as a mean)
    "relu_forward": (1e-12, 1e-6),  # 0 / 0; 1e-2 (leaky ReLU)
    "relu_backward": (1e-12, 1e-6),  # 0 / 0; 0.9 (dout * relu(x))
    "svm_loss": (1e-10, 1e-4),  # 5e-16 / 1e-7; 1 (margin 0)
    "softmax_loss": (1e-10, 1e-4),  # 9e-16 / 1e-7; 2 (gradient sign)
    "batchnorm_forward": (1e-9, 1e-4),  # 4e-16 / 3e-7; 4e-6 (eps outside the square root)
    "batchnorm_backward": (1e-9, 1e-3),  # 9e-16 / 2e-7; 1 (N - 1 for N); also batchnorm_backward_alt
    "layernorm_forward": (1e-9, 1e-4),  # 3e-15 / 2e-7; 5e-6 (eps outside the square root)
    "layernorm_backward": (1e-9, 1e-3),  # 2e-16 / 8e-8; 0.5 (mean term missing)
    "dropout": (1e-12, 1e-5),  # 2e-16 / 9e-8 (x * mask vs x / p * keep); 0.8 (not divided by p)
}


def tol(name, dtype):
    return TOL[name][0 if dtype == F64 else 1]


def course_rng(seed):
    """The legacy generator the course seeds with np.random.seed (RandomState(s) draws the same numbers)."""
    return np.random.RandomState(seed)


# -- affine -------------------------------------------------------------------------------------------


def _affine_inputs(rng, shape, M, dtype):
    D = int(np.prod(shape[1:]))
    return S.normal(rng, shape, dtype), S.normal(rng, (D, M), dtype), S.normal(rng, (M,), dtype)


def _affine_forward_case(t, x, w, b, case):
    out, _ = S.returned(t.call("layers.affine_forward", x, w, b, returns=("data", "handle")), ("out", "cache"), "affine_forward")
    expected, _ = t.ref.layers.affine_forward(x, w, b)
    t.expect_close(out, expected, f"affine_forward: out ({case})", tol=tol("affine_forward", x.dtype))


@check("cs231n/layers.py::affine_forward")
def affine_forward_course_values(t):
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    _affine_forward_case(t, x, w, b, "the course's check inputs")


@check("cs231n/layers.py::affine_forward")
def affine_forward_shapes(t):
    rng = np.random.default_rng(101)
    for shape, M in (((1, 7), 3), ((3, 4), 1), ((2, 3, 5), 6), ((4, 2, 2, 2), 5)):
        x, w, b = _affine_inputs(rng, shape, M, F64)
        _affine_forward_case(t, x, w, b, f"x of shape {shape}, M = {M}")


@check("cs231n/layers.py::affine_forward")
def affine_forward_float32(t):
    rng = np.random.default_rng(102)
    for shape, M in (((5, 3, 4), 7), ((1, 6), 2)):
        x, w, b = _affine_inputs(rng, shape, M, F32)
        _affine_forward_case(t, x, w, b, f"float32 x of shape {shape}")


def _affine_backward_case(t, x, w, b, dout, case):
    ref_out, ref_cache = t.ref.layers.affine_forward(x, w, b)
    cache, note = S.forward_cache(t, "layers.affine_forward", (x, w, b), ref_out, ref_cache,
                                  tol=tol("affine_forward", x.dtype))
    got = t.call("layers.affine_backward", dout, cache)
    expected = t.ref.layers.affine_backward(dout, ref_cache)
    S.compare_grads(t, got, expected, ("dx", "dw", "db"), "affine_backward", case, tol("affine_backward", x.dtype), note)


AFFINE = "cs231n/layers.py::affine_forward"


@check("cs231n/layers.py::affine_backward", uses=[AFFINE])
def affine_backward_course_case(t):
    rng = course_rng(231)
    x, w, b = rng.randn(10, 2, 3), rng.randn(6, 5), rng.randn(5)
    dout = rng.randn(10, 5)
    _affine_backward_case(t, x, w, b, dout, "the course's check inputs")


@check("cs231n/layers.py::affine_backward", uses=[AFFINE])
def affine_backward_shapes(t):
    rng = np.random.default_rng(111)
    for shape, M in (((1, 4), 3), ((2, 3, 5), 1), ((4, 2, 2, 2), 6), ((7, 3), 2)):
        x, w, b = _affine_inputs(rng, shape, M, F64)
        _affine_backward_case(t, x, w, b, S.normal(rng, (shape[0], M)), f"x of shape {shape}, M = {M}")


@check("cs231n/layers.py::affine_backward", uses=[AFFINE])
def affine_backward_float32(t):
    rng = np.random.default_rng(112)
    x, w, b = _affine_inputs(rng, (6, 2, 4), 5, F32)
    _affine_backward_case(t, x, w, b, S.normal(rng, (6, 5), F32), "float32 x of shape (6, 2, 4)")


# -- relu ---------------------------------------------------------------------------------------------


def _relu_forward_case(t, x, case):
    out, _ = S.returned(t.call("layers.relu_forward", x, returns=("data", "handle")), ("out", "cache"), "relu_forward")
    t.expect_close(out, t.ref.layers.relu_forward(x)[0], f"relu_forward: out ({case})", tol=tol("relu_forward", x.dtype))


@check("cs231n/layers.py::relu_forward")
def relu_forward_course_values(t):
    _relu_forward_case(t, np.linspace(-0.5, 0.5, num=12).reshape(3, 4), "the course's check inputs")


@check("cs231n/layers.py::relu_forward")
def relu_forward_any_shape(t):
    rng = np.random.default_rng(121)
    for shape in ((5,), (1, 1), (2, 3, 4), (2, 3, 2, 5)):
        _relu_forward_case(t, S.normal(rng, shape), f"x of shape {shape}")
    _relu_forward_case(t, S.normal(rng, (4, 6), F32), "float32 x of shape (4, 6)")


RELU = "cs231n/layers.py::relu_forward"


def _relu_backward_case(t, x, dout, case):
    ref_out, ref_cache = t.ref.layers.relu_forward(x)
    cache, note = S.forward_cache(t, "layers.relu_forward", (x,), ref_out, ref_cache, tol=tol("relu_forward", x.dtype))
    got = t.call("layers.relu_backward", dout, cache)
    S.compare_grads(t, got, t.ref.layers.relu_backward(dout, ref_cache), ("dx",), "relu_backward", case,
                    tol("relu_backward", x.dtype), note)


@check("cs231n/layers.py::relu_backward", uses=[RELU])
def relu_backward_course_case(t):
    rng = course_rng(231)
    x, dout = rng.randn(10, 10), rng.randn(10, 10)
    _relu_backward_case(t, x, dout, "the course's check inputs")


@check("cs231n/layers.py::relu_backward", uses=[RELU])
def relu_backward_any_shape(t):
    rng = np.random.default_rng(131)
    for shape, dtype in (((7,), F64), ((1, 3), F64), ((2, 3, 4, 2), F64), ((5, 4), F32)):
        _relu_backward_case(t, S.normal(rng, shape, dtype), S.normal(rng, shape, dtype), f"x of shape {shape}, {np.dtype(dtype)}")


# -- losses -------------------------------------------------------------------------------------------


def _course_scores():
    rng = course_rng(231)
    x = 0.001 * rng.randn(50, 10)
    y = rng.randint(10, size=50)
    return x, y


def _loss_case(t, name, x, y, case):
    loss, dx = S.returned(t.call(f"layers.{name}", x, y), ("loss", "dx"), name)
    e_loss, e_dx = getattr(t.ref.layers, name)(x, y)
    tolerance = tol(name, x.dtype)
    t.expect_value(loss, e_loss, f"{name}: loss ({case})", tol=tolerance)
    t.expect_close(dx, e_dx, f"{name}: dx ({case})", tol=tolerance)


def _random_scores(rng, N, C, dtype=F64, scale=1.0):
    return S.normal(rng, (N, C), dtype, scale=scale), rng.integers(0, C, size=N)


@check("cs231n/layers.py::svm_loss")
def svm_loss_course_value(t):
    x, y = _course_scores()
    _loss_case(t, "svm_loss", x, y, "the course's check inputs")


@check("cs231n/layers.py::svm_loss")
def svm_loss_shapes(t):
    rng = np.random.default_rng(141)
    for N, C, scale in ((1, 4, 1.0), (6, 2, 0.5), (20, 7, 3.0), (3, 12, 0.2)):
        x, y = _random_scores(rng, N, C, scale=scale)
        _loss_case(t, "svm_loss", x, y, f"x of shape ({N}, {C})")


@check("cs231n/layers.py::svm_loss")
def svm_loss_float32(t):
    x, y = _random_scores(np.random.default_rng(142), 9, 5, F32)
    _loss_case(t, "svm_loss", x, y, "float32 x of shape (9, 5)")


@check("cs231n/layers.py::softmax_loss")
def softmax_loss_course_value(t):
    x, y = _course_scores()
    _loss_case(t, "softmax_loss", x, y, "the course's check inputs")


@check("cs231n/layers.py::softmax_loss")
def softmax_loss_shapes(t):
    rng = np.random.default_rng(151)
    for N, C, scale in ((1, 3, 1.0), (8, 2, 2.0), (25, 10, 5.0), (4, 11, 0.1)):
        x, y = _random_scores(rng, N, C, scale=scale)
        _loss_case(t, "softmax_loss", x, y, f"x of shape ({N}, {C})")
    x, y = _random_scores(rng, 7, 4, F32)
    _loss_case(t, "softmax_loss", x, y, "float32 x of shape (7, 4)")


@check("cs231n/layers.py::softmax_loss")
def softmax_loss_huge_scores(t):
    # Scores in the thousands: exp() overflows unless the scores are shifted by their row maximum first.
    x = np.array([[1000.0, 0.0, 999.0], [-1000.0, 0.0, 1.0], [3000.0, 2999.5, -5.0]])
    _loss_case(t, "softmax_loss", x, np.array([0, 2, 1]), "scores in the thousands (shift by the row maximum)")


# -- batch norm -----------------------------------------------------------------------------------------


def _bn_forward(t, x, gamma, beta, param):
    """The student's out for one call, with the bn_param dict kept in the worker; (out, bn_param after)."""
    handle = t.put(param)
    out, _ = S.returned(t.call("layers.batchnorm_forward", x, gamma, beta, handle, returns=("data", "handle")),
                        ("out", "cache"), "batchnorm_forward")
    return out, t.get(handle)


def _expect_running(t, got, expected, what, dtype):
    if not isinstance(got, dict):
        t.fail(f"{what}: bn_param is no longer a dict")
    for key in ("running_mean", "running_var"):
        if key not in got:
            t.fail(f"{what}: bn_param[{key!r}] is missing after the call")
        t.expect_close(got[key], expected[key], f"{what}: bn_param[{key!r}]", tol=tol("batchnorm_forward", dtype))


def _course_bn_batch(rng, N=200, D1=50, D2=60, D3=3):
    X = rng.randn(N, D1)
    W1, W2 = rng.randn(D1, D2), rng.randn(D2, D3)
    return np.maximum(0, X.dot(W1)).dot(W2)


@check("cs231n/layers.py::batchnorm_forward")
def batchnorm_forward_train(t):
    cases = [("the course's check inputs", _course_bn_batch(course_rng(231)), np.array([1.0, 2.0, 3.0]),
              np.array([11.0, 12.0, 13.0]))]
    rng = np.random.default_rng(161)
    for shape in ((1, 4), (2, 1), (16, 9)):
        cases.append((f"x of shape {shape}", S.normal(rng, shape, scale=3, shift=2), S.normal(rng, shape[1:]),
                      S.normal(rng, shape[1:])))
    for case, x, gamma, beta in cases:
        out, _ = _bn_forward(t, x, gamma, beta, {"mode": "train"})
        expected, _ = t.ref.layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        t.expect_close(out, expected, f"batchnorm_forward: out in train mode ({case})", tol=tol("batchnorm_forward", F64))


@check("cs231n/layers.py::batchnorm_forward")
def batchnorm_forward_running_averages(t):
    rng = np.random.default_rng(162)
    x = S.normal(rng, (8, 3), scale=2, shift=1)
    gamma, beta = np.ones(3), np.zeros(3)
    given = {"mode": "train", "momentum": 0.8, "running_mean": S.normal(rng, (3,)), "running_var": 1 + rng.random(3)}
    _, got = _bn_forward(t, x, gamma, beta, copy.deepcopy(given))
    expected = copy.deepcopy(given)
    t.ref.layers.batchnorm_forward(x, gamma, beta, expected)
    _expect_running(t, got, expected, "batchnorm_forward (momentum 0.8, running averages given)", F64)

    # Defaults: momentum 0.9, running averages starting at zero; several steps reuse the same bn_param.
    handle, expected = t.put({"mode": "train"}), {"mode": "train"}
    for step in range(3):
        x = S.normal(rng, (10, 4), scale=1 + step, shift=step)
        gamma, beta = S.normal(rng, (4,)), S.normal(rng, (4,))
        t.call("layers.batchnorm_forward", x, gamma, beta, handle, returns=("data", "handle"))
        t.ref.layers.batchnorm_forward(x, gamma, beta, expected)
    _expect_running(t, t.get(handle), expected, "batchnorm_forward (default momentum, after 3 training steps)", F64)


@check("cs231n/layers.py::batchnorm_forward")
def batchnorm_forward_test_mode(t):
    rng = course_rng(231)
    D1, D2, D3 = 50, 60, 3
    W1, W2 = rng.randn(D1, D2), rng.randn(D2, D3)
    gamma, beta = np.ones(D3), np.zeros(D3)
    handle, expected = t.put({"mode": "train"}), {"mode": "train"}
    for _ in range(20):
        a = np.maximum(0, rng.randn(200, D1).dot(W1)).dot(W2)
        t.call("layers.batchnorm_forward", a, gamma, beta, handle, returns=("data", "handle"))
        t.ref.layers.batchnorm_forward(a, gamma, beta, expected)
    state = t.get(handle)
    if not isinstance(state, dict):
        t.fail("batchnorm_forward: bn_param is no longer a dict")
    state["mode"], expected["mode"] = "test", "test"
    a = np.maximum(0, rng.randn(200, D1).dot(W1)).dot(W2)
    out, _ = _bn_forward(t, a, gamma, beta, state)
    t.expect_close(out, t.ref.layers.batchnorm_forward(a, gamma, beta, expected)[0],
                   "batchnorm_forward: out in test mode after 20 training steps", tol=tol("batchnorm_forward", F64))

    grng = np.random.default_rng(163)
    given = {"mode": "test", "eps": 1e-3, "running_mean": S.normal(grng, (5,)), "running_var": 0.5 + grng.random(5)}
    x, gamma, beta = S.normal(grng, (1, 5)), S.normal(grng, (5,)), S.normal(grng, (5,))
    out, _ = _bn_forward(t, x, gamma, beta, copy.deepcopy(given))
    t.expect_close(out, t.ref.layers.batchnorm_forward(x, gamma, beta, copy.deepcopy(given))[0],
                   "batchnorm_forward: out in test mode (running averages and eps given, batch size 1)",
                   tol=tol("batchnorm_forward", F64))


@check("cs231n/layers.py::batchnorm_forward")
def batchnorm_forward_float32(t):
    rng = np.random.default_rng(164)
    x = S.normal(rng, (12, 6), F32, scale=4, shift=3)
    gamma, beta = S.normal(rng, (6,), F32), S.normal(rng, (6,), F32)
    out, got = _bn_forward(t, x, gamma, beta, {"mode": "train"})
    expected = {"mode": "train"}
    e_out, _ = t.ref.layers.batchnorm_forward(x, gamma, beta, expected)
    t.expect_close(out, e_out, "batchnorm_forward: out in train mode (float32 x)", tol=tol("batchnorm_forward", F32))
    _expect_running(t, got, expected, "batchnorm_forward (float32 x)", F32)


BN = "cs231n/layers.py::batchnorm_forward"


def _bn_backward_case(t, name, x, gamma, beta, dout, case):
    args = (x, gamma, beta, {"mode": "train"})
    ref_out, ref_cache = t.ref.layers.batchnorm_forward(*copy.deepcopy(args))
    cache, note = S.forward_cache(t, "layers.batchnorm_forward", args, ref_out, ref_cache,
                                  tol=tol("batchnorm_forward", x.dtype))
    got = t.call(f"layers.{name}", dout, cache)
    expected = getattr(t.ref.layers, name)(dout, ref_cache)
    S.compare_grads(t, got, expected, ("dx", "dgamma", "dbeta"), name, case, tol("batchnorm_backward", x.dtype), note)


def _bn_course_case():
    rng = course_rng(231)
    N, D = 4, 5
    x = 5 * rng.randn(N, D) + 12
    return x, rng.randn(D), rng.randn(D), rng.randn(N, D)


def _bn_backward_shapes(t, name):
    rng = np.random.default_rng(171)
    # N >= 3: with two examples x_hat is +-1 and dx is a difference of nearly equal terms.
    for N, D in ((3, 3), (7, 1), (50, 20)):
        x = S.normal(rng, (N, D), scale=2, shift=-1)
        _bn_backward_case(t, name, x, S.normal(rng, (D,)), S.normal(rng, (D,)), S.normal(rng, (N, D)),
                          f"x of shape ({N}, {D})")


def _bn_backward_float32(t, name):
    rng = np.random.default_rng(172)
    x = S.normal(rng, (9, 4), F32, scale=3, shift=5)
    _bn_backward_case(t, name, x, S.normal(rng, (4,), F32), S.normal(rng, (4,), F32), S.normal(rng, (9, 4), F32),
                      "float32 x of shape (9, 4)")


@check("cs231n/layers.py::batchnorm_backward", uses=[BN])
def batchnorm_backward_course_case(t):
    _bn_backward_case(t, "batchnorm_backward", *_bn_course_case(), "the course's check inputs")


@check("cs231n/layers.py::batchnorm_backward", uses=[BN])
def batchnorm_backward_shapes(t):
    _bn_backward_shapes(t, "batchnorm_backward")


@check("cs231n/layers.py::batchnorm_backward", uses=[BN])
def batchnorm_backward_float32(t):
    _bn_backward_float32(t, "batchnorm_backward")


@check("cs231n/layers.py::batchnorm_backward_alt", uses=[BN])
def batchnorm_backward_alt_course_case(t):
    _bn_backward_case(t, "batchnorm_backward_alt", *_bn_course_case(), "the course's check inputs")


@check("cs231n/layers.py::batchnorm_backward_alt", uses=[BN])
def batchnorm_backward_alt_shapes(t):
    _bn_backward_shapes(t, "batchnorm_backward_alt")


@check("cs231n/layers.py::batchnorm_backward_alt", uses=[BN])
def batchnorm_backward_alt_float32(t):
    _bn_backward_float32(t, "batchnorm_backward_alt")


# -- layer norm ------------------------------------------------------------------------------------------


def _ln_forward_case(t, x, gamma, beta, param, case):
    out, _ = S.returned(t.call("layers.layernorm_forward", x, gamma, beta, param, returns=("data", "handle")),
                        ("out", "cache"), "layernorm_forward")
    expected, _ = t.ref.layers.layernorm_forward(x, gamma, beta, copy.deepcopy(param))
    t.expect_close(out, expected, f"layernorm_forward: out ({case})", tol=tol("layernorm_forward", x.dtype))


@check("cs231n/layers.py::layernorm_forward")
def layernorm_forward_course_case(t):
    x = 5 * course_rng(231).randn(4, 7) + 12
    _ln_forward_case(t, x, np.ones(7), np.zeros(7), {}, "the course's check inputs, gamma = 1, beta = 0")
    _ln_forward_case(t, x, np.arange(1.0, 8.0), np.arange(7.0), {}, "the course's check inputs")


@check("cs231n/layers.py::layernorm_forward")
def layernorm_forward_shapes(t):
    rng = np.random.default_rng(181)
    for shape, param in (((1, 5), {}), ((6, 2), {"eps": 1e-3}), ((3, 30), {})):
        x = S.normal(rng, shape, scale=2, shift=3)
        _ln_forward_case(t, x, S.normal(rng, shape[1:]), S.normal(rng, shape[1:]), param, f"x of shape {shape}")
    x = S.normal(rng, (5, 8), F32, scale=3, shift=-2)
    _ln_forward_case(t, x, S.normal(rng, (8,), F32), S.normal(rng, (8,), F32), {}, "float32 x of shape (5, 8)")


LN = "cs231n/layers.py::layernorm_forward"


def _ln_backward_case(t, x, gamma, beta, dout, case):
    args = (x, gamma, beta, {})
    ref_out, ref_cache = t.ref.layers.layernorm_forward(*copy.deepcopy(args))
    cache, note = S.forward_cache(t, "layers.layernorm_forward", args, ref_out, ref_cache,
                                  tol=tol("layernorm_forward", x.dtype))
    got = t.call("layers.layernorm_backward", dout, cache)
    expected = t.ref.layers.layernorm_backward(dout, ref_cache)
    S.compare_grads(t, got, expected, ("dx", "dgamma", "dbeta"), "layernorm_backward", case,
                    tol("layernorm_backward", x.dtype), note)


@check("cs231n/layers.py::layernorm_backward", uses=[LN])
def layernorm_backward_course_case(t):
    _ln_backward_case(t, *_bn_course_case(), "the course's check inputs")


@check("cs231n/layers.py::layernorm_backward", uses=[LN])
def layernorm_backward_shapes(t):
    rng = np.random.default_rng(191)
    # D >= 3: with two features x_hat is +-1 and dx is a difference of nearly equal terms.
    for N, D in ((1, 6), (3, 4), (20, 40)):
        x = S.normal(rng, (N, D), scale=2, shift=1)
        _ln_backward_case(t, x, S.normal(rng, (D,)), S.normal(rng, (D,)), S.normal(rng, (N, D)), f"x of shape ({N}, {D})")


@check("cs231n/layers.py::layernorm_backward", uses=[LN])
def layernorm_backward_float32(t):
    rng = np.random.default_rng(192)
    x = S.normal(rng, (6, 9), F32, scale=3, shift=4)
    _ln_backward_case(t, x, S.normal(rng, (9,), F32), S.normal(rng, (9,), F32), S.normal(rng, (6, 9), F32),
                      "float32 x of shape (6, 9)")


# -- dropout ------------------------------------------------------------------------------------------------


def _dropout_out(t, x, param):
    out, _ = S.returned(t.call("layers.dropout_forward", x, param, returns=("data", "handle")), ("out", "cache"),
                        "dropout_forward")
    return t.array(out, "dropout_forward: out", x.shape)


def _is_inverted_dropout(out, x, p, dtype):
    """Every entry of `out` is 0 or x / p (x has no zeros), and some of each occur when 0 < p < 1."""
    kept = out != 0
    target = x.astype(np.float64) / p
    return bool(np.all(np.abs(out[kept] - target[kept]) <= tol("dropout", dtype) * np.abs(target[kept])))


@check("cs231n/layers.py::dropout_forward")
def dropout_forward_train_statistics(t):
    rng = np.random.default_rng(201)
    for seed, p in ((1, 0.25), (2, 0.4), (3, 0.7)):
        x = S.normal(rng, (500, 500), shift=10)
        t.seed(seed)
        out = _dropout_out(t, x, {"mode": "train", "p": p})
        if not _is_inverted_dropout(out, x, p, F64):
            t.fail(f"dropout_forward: in train mode every output must be 0 or x / p (inverted dropout; p = {p})")
        dropped = float(np.mean(out == 0))
        # 250000 draws: the fraction dropped has a standard error below 0.001; 0.01 is 10 of them.
        if abs(dropped - (1 - p)) > 0.01:
            t.fail(f"dropout_forward: {dropped:.3f} of the outputs are dropped for p = {p}; p is the probability of "
                   f"keeping a unit, so about {1 - p:.2f} should be")


@check("cs231n/layers.py::dropout_forward")
def dropout_forward_test_mode(t):
    rng = np.random.default_rng(202)
    for shape, dtype, p in (((20, 30), F64, 0.3), ((2, 3, 4), F32, 0.8), ((1, 5), F64, 0.5)):
        x = S.normal(rng, shape, dtype, shift=1)
        out, _ = S.returned(t.call("layers.dropout_forward", x, {"mode": "test", "p": p}, returns=("data", "handle")),
                            ("out", "cache"), "dropout_forward")
        t.expect_close(out, x, f"dropout_forward: out in test mode (x of shape {shape}) must equal x", tol=tol("dropout", dtype))


@check("cs231n/layers.py::dropout_forward")
def dropout_forward_seed(t):
    rng = np.random.default_rng(203)
    for shape, dtype in (((20, 30), F64), ((3, 4, 5), F32)):
        x = S.normal(rng, shape, dtype, shift=2)
        first = _dropout_out(t, x, {"mode": "train", "p": 0.5, "seed": 7})
        if not _is_inverted_dropout(first, x, 0.5, dtype) or np.all(first != 0) or np.all(first == 0):
            t.fail(f"dropout_forward: in train mode with p = 0.5 some outputs must be 0 and the others x / p "
                   f"(x of shape {shape})")
        again = _dropout_out(t, x, {"mode": "train", "p": 0.5, "seed": 7})
        other = _dropout_out(t, x, {"mode": "train", "p": 0.5, "seed": 8})
        t.expect(np.array_equal(first, again), "dropout_forward: two calls with the same dropout_param['seed'] must give "
                                               "the same output (draw the mask with np.random, which the seed sets)")
        t.expect(not np.array_equal(first, other), "dropout_forward: different seeds must give different masks")


DROPOUT = "cs231n/layers.py::dropout_forward"


def _dropout_backward_case(t, x, dout, param, case):
    """With a valid student forward, the mask is out / x; otherwise the reference forward's cache is used."""
    function = "dropout_backward"
    dtype = x.dtype
    with S.reference_rng:
        ref_out, ref_cache = t.ref.layers.dropout_forward(x, copy.deepcopy(param))
    p = param["p"]

    def valid(out):
        if not isinstance(out, np.ndarray) or out.shape != x.shape or out.dtype.kind != "f":
            return False
        if param["mode"] == "test":
            return S.close(out, x, tol("dropout", dtype))
        return _is_inverted_dropout(out, x, p, dtype)

    outs = {}

    def accept(out):
        outs["out"] = out
        return valid(out)

    cache, note = S.forward_cache(t, "layers.dropout_forward", (x, param), ref_out, ref_cache, tol=0, accept=accept)
    if note:
        expected = t.ref.layers.dropout_backward(dout, ref_cache)
    else:
        mask = outs["out"].astype(np.float64) / x.astype(np.float64)
        expected = dout.astype(np.float64) * mask
    got = t.call(f"layers.{function}", dout, cache)
    S.compare_grads(t, got, expected, ("dx",), function, case, tol("dropout", dtype), note)


@check("cs231n/layers.py::dropout_backward", uses=[DROPOUT])
def dropout_backward_train(t):
    rng = course_rng(231)
    x, dout = rng.randn(10, 10) + 10, rng.randn(10, 10)
    _dropout_backward_case(t, x, dout, {"mode": "train", "p": 0.2, "seed": 123}, "the course's check inputs")
    grng = np.random.default_rng(211)
    for shape, dtype, p in (((1, 8), F64, 0.5), ((3, 4, 5), F64, 0.7), ((6, 7), F32, 0.4)):
        x = S.normal(grng, shape, dtype, shift=3)
        _dropout_backward_case(t, x, S.normal(grng, shape, dtype), {"mode": "train", "p": p, "seed": 5},
                               f"train mode, x of shape {shape}, {np.dtype(dtype)}")
