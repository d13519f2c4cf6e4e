"""Hidden checks of cs231n/layers.py, part 2: batch norm, layer norm and dropout.

As in layers.py: the course's check inputs and more (random shapes drawn per grading, batch size 1, float32),
backward passes judged on their own forward's cache (_support.judge_backward), arguments left as they were.
Batch norm stores its running averages back into bn_param in train mode, the one exception to that rule,
and only reads them in test mode: a test-mode call must leave bn_param as it was.
"""

import copy

import _support as S
import numpy as np
from coursekit.grading.hidden import check

F32, F64 = np.float32, np.float64

# Allowed normalised difference max|got - expected| / max|expected| (float64, float32), set from
# instructor/tools/measure_tolerances.py as in layers.py.
TOL = {
    "cs231n/layers.py::batchnorm_forward": (1e-9, 1e-4),  # 2e-15 / 9e-7; 3e-6 (eps outside the square root)
    "cs231n/layers.py::batchnorm_backward": (1e-9, 1e-3),  # 5e-15 / 3e-7; 2e-1 (N - 1 for N)
    "cs231n/layers.py::batchnorm_backward_alt": (1e-9, 1e-3),  # 5e-15 / 3e-7; 2e-1 (N - 1 for N)
    "cs231n/layers.py::layernorm_forward": (1e-9, 1e-4),  # 3e-15 / 5e-7; 3e-6 (eps outside the square root)
    "cs231n/layers.py::layernorm_backward": (1e-9, 1e-3),  # 7e-16 / 2e-7; 2e-1 (mean term missing)
    "cs231n/layers.py::dropout_forward": (1e-12, 1e-5),  # 2e-16 / 1e-7 (x * mask vs x / p * keep); 8e-1 (not divided by p)
    # The backward's dx = dout * mask / p is the product the forward's kept values are: one measure for both.
    "cs231n/layers.py::dropout_backward": S.SameAs("cs231n/layers.py::dropout_forward"),
}
tol = S.tolerances(TOL, prefix="cs231n/layers.py::")


def course_rng(seed):
    """The legacy generator the course seeds with np.random.seed (RandomState(s) draws the same numbers)."""
    return np.random.RandomState(seed)


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
    rng = t.rng()
    for shape in ((1, 4), (2, 1), (16, 9)):
        cases.append((f"x of shape {shape}", S.normal(rng, shape, scale=3, shift=2), S.normal(rng, shape[1:]),
                      S.normal(rng, shape[1:])))
    for case, x, gamma, beta in cases:
        out, _ = _bn_forward(t, x, gamma, beta, {"mode": "train"})
        expected, _ = t.ref.layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        t.expect_close(out, expected, f"batchnorm_forward: out in train mode ({case})", tol=tol("batchnorm_forward", F64))


@check("cs231n/layers.py::batchnorm_forward")
def batchnorm_forward_running_averages(t):
    rng = t.rng()
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
    out, after = _bn_forward(t, a, gamma, beta, copy.deepcopy(state))
    t.expect_close(out, t.ref.layers.batchnorm_forward(a, gamma, beta, expected)[0],
                   "batchnorm_forward: out in test mode after 20 training steps", tol=tol("batchnorm_forward", F64))
    _expect_test_mode_kept(t, "batchnorm_forward", after, state)

    grng = t.rng(1)
    given = {"mode": "test", "eps": 1e-3, "running_mean": S.normal(grng, (5,)), "running_var": 0.5 + grng.random(5)}
    x, gamma, beta = S.normal(grng, (1, 5)), S.normal(grng, (5,)), S.normal(grng, (5,))
    out, after = _bn_forward(t, x, gamma, beta, copy.deepcopy(given))
    t.expect_close(out, t.ref.layers.batchnorm_forward(x, gamma, beta, copy.deepcopy(given))[0],
                   "batchnorm_forward: out in test mode (running averages and eps given, batch size 1)",
                   tol=tol("batchnorm_forward", F64))
    _expect_test_mode_kept(t, "batchnorm_forward", after, given)


def _expect_test_mode_kept(t, function, after, before):
    """A test-mode call leaves bn_param as it was: the running averages are read, never updated."""
    if not S.same_state(after, before):
        t.fail(f"{function}: a call in test mode changed bn_param; test mode reads the running averages and must not "
               "update them (nor store anything else)")


@check("cs231n/layers.py::batchnorm_forward")
def batchnorm_forward_float32(t):
    rng = t.rng()
    x = S.normal(rng, (12, 6), F32, scale=4, shift=3)
    gamma, beta = S.normal(rng, (6,), F32), S.normal(rng, (6,), F32)
    out, got = _bn_forward(t, x, gamma, beta, {"mode": "train"})
    expected = {"mode": "train"}
    e_out, _ = t.ref.layers.batchnorm_forward(x, gamma, beta, expected)
    t.expect_close(out, e_out, "batchnorm_forward: out in train mode (float32 x)", tol=tol("batchnorm_forward", F32))
    _expect_running(t, got, expected, "batchnorm_forward (float32 x)", F32)


BN = "cs231n/layers.py::batchnorm_forward"


def _bn_backward_case(t, name, x, gamma, beta, dout, case):
    S.backward_case(t, "batchnorm_forward", name, (x, gamma, beta, {"mode": "train"}), dout, ("dx", "dgamma", "dbeta"),
                    case, tol("batchnorm_forward", x.dtype), tol(name, x.dtype))


def _bn_course_case():
    rng = course_rng(231)
    N, D = 4, 5
    x = 5 * rng.randn(N, D) + 12
    return x, rng.randn(D), rng.randn(D), rng.randn(N, D)


def _bn_backward_shapes(t, name):
    rng = t.rng()
    # N >= 3: with two examples x_hat is +-1 and dx is a difference of nearly equal terms.
    for N, D in ((3, 3), (7, 1), (50, 20)):
        x = S.normal(rng, (N, D), scale=2, shift=-1)
        _bn_backward_case(t, name, x, S.normal(rng, (D,)), S.normal(rng, (D,)), S.normal(rng, (N, D)),
                          f"x of shape ({N}, {D})")


def _bn_backward_float32(t, name):
    rng = t.rng()
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
    rng = t.rng()
    for shape, param in (((1, 5), {}), ((6, 2), {"eps": 1e-3}), ((3, 30), {})):
        x = S.normal(rng, shape, scale=2, shift=3)
        _ln_forward_case(t, x, S.normal(rng, shape[1:]), S.normal(rng, shape[1:]), param, f"x of shape {shape}")
    x = S.normal(rng, (5, 8), F32, scale=3, shift=-2)
    _ln_forward_case(t, x, S.normal(rng, (8,), F32), S.normal(rng, (8,), F32), {}, "float32 x of shape (5, 8)")


LN = "cs231n/layers.py::layernorm_forward"


def _ln_backward_case(t, x, gamma, beta, dout, case):
    S.backward_case(t, "layernorm_forward", "layernorm_backward", (x, gamma, beta, {}), dout, ("dx", "dgamma", "dbeta"),
                    case, tol("layernorm_forward", x.dtype), tol("layernorm_backward", x.dtype))


@check("cs231n/layers.py::layernorm_backward", uses=[LN])
def layernorm_backward_course_case(t):
    _ln_backward_case(t, *_bn_course_case(), "the course's check inputs")


@check("cs231n/layers.py::layernorm_backward", uses=[LN])
def layernorm_backward_shapes(t):
    rng = t.rng()
    # D >= 3: with two features x_hat is +-1 and dx is a difference of nearly equal terms.
    for N, D in ((1, 6), (3, 4), (20, 40)):
        x = S.normal(rng, (N, D), scale=2, shift=1)
        _ln_backward_case(t, x, S.normal(rng, (D,)), S.normal(rng, (D,)), S.normal(rng, (N, D)), f"x of shape ({N}, {D})")


@check("cs231n/layers.py::layernorm_backward", uses=[LN])
def layernorm_backward_float32(t):
    rng = t.rng()
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
    return bool(np.all(np.abs(out[kept] - target[kept]) <= tol("dropout_forward", dtype) * np.abs(target[kept])))


@check("cs231n/layers.py::dropout_forward")
def dropout_forward_train_statistics(t):
    rng = t.rng()
    for n, p in ((1, 0.25), (2, 0.4), (3, 0.7)):
        x = S.normal(rng, (500, 500), shift=10)
        t.seed(t.seed_value(n))
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
    rng = t.rng()
    for shape, dtype, p in (((20, 30), F64, 0.3), ((2, 3, 4), F32, 0.8), ((1, 5), F64, 0.5)):
        x = S.normal(rng, shape, dtype, shift=1)
        out, _ = S.returned(t.call("layers.dropout_forward", x, {"mode": "test", "p": p}, returns=("data", "handle")),
                            ("out", "cache"), "dropout_forward")
        t.expect_close(out, x, f"dropout_forward: out in test mode (x of shape {shape}) must equal x", tol=tol("dropout_forward", dtype))


@check("cs231n/layers.py::dropout_forward")
def dropout_forward_seed(t):
    rng = t.rng()
    seed = t.seed_value(1)
    for shape, dtype in (((20, 30), F64), ((3, 4, 5), F32)):
        x = S.normal(rng, shape, dtype, shift=2)
        first = _dropout_out(t, x, {"mode": "train", "p": 0.5, "seed": seed})
        if not _is_inverted_dropout(first, x, 0.5, dtype) or np.all(first != 0) or np.all(first == 0):
            t.fail(f"dropout_forward: in train mode with p = 0.5 some outputs must be 0 and the others x / p "
                   f"(x of shape {shape})")
        again = _dropout_out(t, x, {"mode": "train", "p": 0.5, "seed": seed})
        other = _dropout_out(t, x, {"mode": "train", "p": 0.5, "seed": seed + 1})
        t.expect(np.array_equal(first, again), "dropout_forward: two calls with the same dropout_param['seed'] must give "
                                               "the same output (draw the mask with np.random, which the seed sets)")
        t.expect(not np.array_equal(first, other), "dropout_forward: different seeds must give different masks")


DROPOUT = "cs231n/layers.py::dropout_forward"


def _dropout_backward_case(t, x, dout, param, case, unchanged=False):
    """The expected dx follows the mask the student's own forward drew: out / x when that forward is right; the
    kept units (out != 0) over p when its output is wrong; the reference's on the reference forward's cache."""
    function = "dropout_backward"
    dtype = x.dtype
    with S.reference_rng:
        ref_out, ref_cache = t.ref.layers.dropout_forward(x, copy.deepcopy(param))
    p = param["p"]
    x64, dout64 = x.astype(np.float64), dout.astype(np.float64)

    def valid(out):
        return (isinstance(out, np.ndarray) and out.shape == x.shape and out.dtype.kind == "f"
                and _is_inverted_dropout(out, x, p, dtype))

    def judge(cache, own_out):
        if own_out is None:
            expected = t.ref.layers.dropout_backward(dout, ref_cache)
        elif valid(own_out):
            expected = dout64 * (own_out.astype(np.float64) / x64)
        elif isinstance(own_out, np.ndarray) and own_out.shape == x.shape:
            expected = dout64 * (own_out != 0) / p
        else:
            t.fail(f"{function}: your dropout_forward returns no usable output, so its mask is unknown ({case})")
        if unchanged:
            got = S.call_unchanged(t, f"layers.{function}", (dout, cache), ("dout", "cache"), function)
        else:
            got = t.call(f"layers.{function}", dout, cache)
        S.compare_grads(t, got, expected, ("dx",), function, case, tol("dropout_backward", dtype))

    S.judge_backward(t, "layers.dropout_forward", (x, param), ref_out, ref_cache, judge, tol=0, accept=valid)


@check("cs231n/layers.py::dropout_backward", uses=[DROPOUT])
def dropout_backward_train(t):
    rng = course_rng(231)
    x, dout = rng.randn(10, 10) + 10, rng.randn(10, 10)
    _dropout_backward_case(t, x, dout, {"mode": "train", "p": 0.2, "seed": 123}, "the course's check inputs")
    grng = t.rng(1)
    for n, (shape, dtype, p) in enumerate((((1, 8), F64, 0.5), ((3, 4, 5), F64, 0.7), ((6, 7), F32, 0.4))):
        x = S.normal(grng, shape, dtype, shift=3)
        _dropout_backward_case(t, x, S.normal(grng, shape, dtype), {"mode": "train", "p": p, "seed": t.seed_value(2 + n)},
                               f"train mode, x of shape {shape}, {np.dtype(dtype)}")


# -- every layer leaves its arguments as they were ----------------------------------------------------------
# Batch norm's running averages stored back into bn_param in train mode are the one exception.

BN_RUNNING = {"bn_param": ("running_mean", "running_var")}


def _bn_unchanged_inputs(rng, N=6, D=4):
    x = S.normal(rng, (N, D), scale=2, shift=1)
    return x, S.normal(rng, (D,)), S.normal(rng, (D,))


@check("cs231n/layers.py::batchnorm_forward")
def batchnorm_forward_leaves_inputs_unchanged(t):
    rng = t.rng()
    x, gamma, beta = _bn_unchanged_inputs(rng)
    running = {"running_mean": S.normal(rng, (4,)), "running_var": 1 + rng.random(4)}
    names, tolerance = ("x", "gamma", "beta", "bn_param"), tol("batchnorm_forward", F64)
    S.unchanged_forward(t, "batchnorm_forward", (x, gamma, beta, {"mode": "train", "momentum": 0.8, **running}), names,
                        tolerance, BN_RUNNING)
    S.unchanged_forward(t, "batchnorm_forward", (x, gamma, beta, {"mode": "test", **running}), names, tolerance)


def _bn_unchanged_backward(t, name):
    rng = t.rng()
    S.unchanged_backward(t, "batchnorm_forward", name, (*_bn_unchanged_inputs(rng), {"mode": "train"}),
                         S.normal(rng, (6, 4)), ("dx", "dgamma", "dbeta"), tol("batchnorm_forward", F64),
                         tol(name, F64))


@check("cs231n/layers.py::batchnorm_backward", uses=[BN])
def batchnorm_backward_leaves_inputs_unchanged(t):
    _bn_unchanged_backward(t, "batchnorm_backward")


@check("cs231n/layers.py::batchnorm_backward_alt", uses=[BN])
def batchnorm_backward_alt_leaves_inputs_unchanged(t):
    _bn_unchanged_backward(t, "batchnorm_backward_alt")


@check("cs231n/layers.py::layernorm_forward")
def layernorm_forward_leaves_inputs_unchanged(t):
    S.unchanged_forward(t, "layernorm_forward", (*_bn_unchanged_inputs(t.rng()), {"eps": 1e-4}),
                        ("x", "gamma", "beta", "ln_param"), tol("layernorm_forward", F64))


@check("cs231n/layers.py::layernorm_backward", uses=[LN])
def layernorm_backward_leaves_inputs_unchanged(t):
    rng = t.rng()
    S.unchanged_backward(t, "layernorm_forward", "layernorm_backward", (*_bn_unchanged_inputs(rng), {}),
                         S.normal(rng, (6, 4)), ("dx", "dgamma", "dbeta"), tol("layernorm_forward", F64),
                         tol("layernorm_backward", F64))


@check("cs231n/layers.py::dropout_forward")
def dropout_forward_leaves_inputs_unchanged(t):
    x, p = S.normal(t.rng(), (5, 6), shift=3), 0.6

    def valid(out):
        out = t.array(out, "dropout_forward: out", x.shape)
        if not _is_inverted_dropout(out, x, p, F64) or np.all(out == 0):
            t.fail(f"dropout_forward: in train mode every output must be 0 or x / p (inverted dropout; p = {p})")

    names = ("x", "dropout_param")
    S.unchanged_forward(t, "dropout_forward", (x, {"mode": "train", "p": p, "seed": t.seed_value(1)}), names, 0,
                        valid=valid)
    S.unchanged_forward(t, "dropout_forward", (x, {"mode": "test", "p": p}), names, tol("dropout_forward", F64))


@check("cs231n/layers.py::dropout_backward", uses=[DROPOUT])
def dropout_backward_leaves_inputs_unchanged(t):
    rng = t.rng()
    x = S.normal(rng, (5, 6), shift=3)
    _dropout_backward_case(t, x, S.normal(rng, (5, 6)), {"mode": "train", "p": 0.6, "seed": t.seed_value(1)},
                           "dout kept to be compared after the call", unchanged=True)
