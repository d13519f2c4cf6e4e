"""Hidden checks of cs231n/layers.py, part 1: affine, ReLU and the two losses (norms.py: part 2, conv.py: 3).

Each TODO is checked on the course's check inputs (those of the notebooks and tests/test_layers.py) and on
more: random shapes drawn per grading (t.rng), batch size 1, float32. Expected values come from the
reference in the grader. A backward pass gets the cache of the student's own forward pass (`uses=`), whatever
its layout; when that forward fails or its output is wrong, the reference forward's cache is tried too (see
_support.judge_backward), so each pass is judged on its own. Every layer must leave its arguments as they
were (the docstrings' rule).
"""


import _support as S
import numpy as np
from coursekit.grading.hidden import check

F32, F64 = np.float32, np.float64

# Allowed normalised difference max|got - expected| / max|expected| per TODO, for float64 and float32
# inputs. Set from `python instructor/tools/measure_tolerances.py`, which runs honest variants of every
# function (other summation orders: loops, einsum, reversed axes; algebraically equal formulas; float32
# computed in float32 or through float64) and typical bugs against the reference on inputs like these
# checks' drawn from several random salts (the checks draw theirs afresh per grading), and fails unless each
# tolerance lies at least 30x above the largest honest difference and 30x below the smallest float64 bug.
# Figures of a run over 30 salts on 2026-12-05, next to each entry: largest honest difference float64 /
# float32; smallest float64 bug (the bug).
TOL = {
    "cs231n/layers.py::affine_forward": (1e-10, 1e-4),  # 5e-16 / 2e-7; 1e-1 (no bias)
    "cs231n/layers.py::affine_backward": (1e-10, 1e-4),  # 8e-16 / 2e-7; 9e-1 (dw divided by N)
    "cs231n/layers.py::relu_forward": (1e-12, 1e-6),  # 0 / 0; 1e-2 (leaky ReLU)
    "cs231n/layers.py::relu_backward": (1e-12, 1e-6),  # 0 / 0; 7e-1 (dout * relu(x))
    "cs231n/layers.py::svm_loss": (1e-10, 1e-4),  # 7e-16 / 3e-7; 6e-1 (the correct class counted)
    "cs231n/layers.py::softmax_loss": (1e-10, 1e-4),  # 1e-15 / 2e-7; 2 (gradient sign)
}
tol = S.tolerances(TOL, prefix="cs231n/layers.py::")


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
    rng = t.rng()
    for shape, M in (((1, 7), 3), ((3, 4), 1), ((2, 3, 5), 6), ((4, 2, 2, 2), 5)):
        x, w, b = _affine_inputs(rng, shape, M, F64)
        _affine_forward_case(t, x, w, b, f"x of shape {shape}, M = {M}")


@check("cs231n/layers.py::affine_forward")
def affine_forward_float32(t):
    rng = t.rng()
    for shape, M in (((5, 3, 4), 7), ((1, 6), 2)):
        x, w, b = _affine_inputs(rng, shape, M, F32)
        _affine_forward_case(t, x, w, b, f"float32 x of shape {shape}")


def _affine_backward_case(t, x, w, b, dout, case):
    S.backward_case(t, "affine_forward", "affine_backward", (x, w, b), dout, ("dx", "dw", "db"), case,
                    tol("affine_forward", x.dtype), tol("affine_backward", x.dtype))


AFFINE = "cs231n/layers.py::affine_forward"


@check("cs231n/layers.py::affine_backward", uses=[AFFINE])
def affine_backward_course_case(t):
    rng = course_rng(231)
    x, w, b = rng.randn(10, 2, 3), rng.randn(6, 5), rng.randn(5)
    dout = rng.randn(10, 5)
    _affine_backward_case(t, x, w, b, dout, "the course's check inputs")


@check("cs231n/layers.py::affine_backward", uses=[AFFINE])
def affine_backward_shapes(t):
    rng = t.rng()
    for shape, M in (((1, 4), 3), ((2, 3, 5), 1), ((4, 2, 2, 2), 6), ((7, 3), 2)):
        x, w, b = _affine_inputs(rng, shape, M, F64)
        _affine_backward_case(t, x, w, b, S.normal(rng, (shape[0], M)), f"x of shape {shape}, M = {M}")


@check("cs231n/layers.py::affine_backward", uses=[AFFINE])
def affine_backward_float32(t):
    rng = t.rng()
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
    rng = t.rng()
    for shape in ((5,), (1, 1), (2, 3, 4), (2, 3, 2, 5)):
        _relu_forward_case(t, S.normal(rng, shape), f"x of shape {shape}")
    _relu_forward_case(t, S.normal(rng, (4, 6), F32), "float32 x of shape (4, 6)")


RELU = "cs231n/layers.py::relu_forward"


def _relu_backward_case(t, x, dout, case):
    S.backward_case(t, "relu_forward", "relu_backward", (x,), dout, ("dx",), case, tol("relu_forward", x.dtype),
                    tol("relu_backward", x.dtype))


@check("cs231n/layers.py::relu_backward", uses=[RELU])
def relu_backward_course_case(t):
    rng = course_rng(231)
    x, dout = rng.randn(10, 10), rng.randn(10, 10)
    _relu_backward_case(t, x, dout, "the course's check inputs")


@check("cs231n/layers.py::relu_backward", uses=[RELU])
def relu_backward_any_shape(t):
    rng = t.rng()
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
    rng = t.rng()
    for N, C, scale in ((1, 4, 1.0), (6, 2, 0.5), (20, 7, 3.0), (3, 12, 0.2)):
        x, y = _random_scores(rng, N, C, scale=scale)
        _loss_case(t, "svm_loss", x, y, f"x of shape ({N}, {C})")


@check("cs231n/layers.py::svm_loss")
def svm_loss_float32(t):
    x, y = _random_scores(t.rng(), 9, 5, F32)
    _loss_case(t, "svm_loss", x, y, "float32 x of shape (9, 5)")


@check("cs231n/layers.py::softmax_loss")
def softmax_loss_course_value(t):
    x, y = _course_scores()
    _loss_case(t, "softmax_loss", x, y, "the course's check inputs")


@check("cs231n/layers.py::softmax_loss")
def softmax_loss_shapes(t):
    rng = t.rng()
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


# -- every layer leaves its arguments as they were ----------------------------------------------------------
# The docstrings' rule: layers never modify their arguments (x, the parameters, dout).

@check("cs231n/layers.py::affine_forward")
def affine_forward_leaves_inputs_unchanged(t):
    S.unchanged_forward(t, "affine_forward", _affine_inputs(t.rng(), (3, 2, 4), 5, F64), ("x", "w", "b"),
                        tol("affine_forward", F64))


@check("cs231n/layers.py::affine_backward", uses=[AFFINE])
def affine_backward_leaves_inputs_unchanged(t):
    rng = t.rng()
    S.unchanged_backward(t, "affine_forward", "affine_backward", _affine_inputs(rng, (3, 2, 4), 5, F64),
                         S.normal(rng, (3, 5)), ("dx", "dw", "db"), tol("affine_forward", F64),
                         tol("affine_backward", F64))


@check("cs231n/layers.py::relu_forward")
def relu_forward_leaves_inputs_unchanged(t):
    S.unchanged_forward(t, "relu_forward", (S.normal(t.rng(), (4, 5)),), ("x",), tol("relu_forward", F64))


@check("cs231n/layers.py::relu_backward", uses=[RELU])
def relu_backward_leaves_inputs_unchanged(t):
    rng = t.rng()
    S.unchanged_backward(t, "relu_forward", "relu_backward", (S.normal(rng, (4, 5)),), S.normal(rng, (4, 5)), ("dx",),
                         tol("relu_forward", F64), tol("relu_backward", F64))


def _loss_unchanged(t, name):
    x, y = _random_scores(t.rng(), 6, 4)
    loss, dx = S.returned(S.call_unchanged(t, f"layers.{name}", (x, y), ("x", "y"), name), ("loss", "dx"), name)
    e_loss, e_dx = getattr(t.ref.layers, name)(x, y)
    t.expect_value(loss, e_loss, f"{name}: loss (its arguments kept to be compared after the call)", tol=tol(name, F64))
    t.expect_close(dx, e_dx, f"{name}: dx (its arguments kept to be compared after the call)", tol=tol(name, F64))


@check("cs231n/layers.py::svm_loss")
def svm_loss_leaves_inputs_unchanged(t):
    _loss_unchanged(t, "svm_loss")


@check("cs231n/layers.py::softmax_loss")
def softmax_loss_leaves_inputs_unchanged(t):
    _loss_unchanged(t, "softmax_loss")
