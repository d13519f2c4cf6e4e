"""Hidden checks of cs231n/layers.py, part 2: convolution, max pooling, spatial batch norm and group norm.

The geometries go beyond the course's: batch size 1, one channel or filter, non-square inputs and filters,
strides 1 to 3, padding 0 to 2, overlapping and edge-dropping pooling windows; float32 as well as float64.
Random values are drawn per grading (t.rng). Backward passes are judged as in layers.py
(_support.judge_backward), and every layer must leave its arguments as they were.
"""

import copy

import _support as S
import numpy as np
from coursekit.grading.hidden import check

F32, F64 = np.float32, np.float64

# Allowed normalised difference max|got - expected| / max|expected| (float64, float32), set from
# instructor/tools/measure_tolerances.py as in layers.py (honest variants: loops in any order, einsum, im2col
# products, spatial batch norm through the (N*H*W, C) transpose, group norm group by group or through the
# transpose; float32 in float32 or through float64). Figures of a run over 30 salts on 2026-12-05: largest
# honest difference float64 / float32; smallest float64 bug (the bug).
TOL = {
    "cs231n/layers.py::conv_forward_naive": (1e-10, 1e-4),  # 8e-16 / 3e-7; 2e-1 (no bias)
    "cs231n/layers.py::conv_backward_naive": (1e-10, 1e-4),  # 2e-15 / 4e-7; 8e-1 (dw divided by N)
    "cs231n/layers.py::max_pool_forward_naive": (1e-12, 1e-5),  # 0 / 0; 9e-1 (average pooling)
    "cs231n/layers.py::max_pool_backward_naive": (1e-12, 1e-5),  # 3e-16 / 2e-7; 7e-1 (= for += where windows overlap)
    "cs231n/layers.py::spatial_batchnorm_forward": (1e-9, 1e-4),  # 5e-16 / 2e-7; 7e-1 (statistics per pixel)
    "cs231n/layers.py::spatial_batchnorm_backward": (1e-9, 1e-3),  # 5e-15 / 5e-7; 2e-1 (variance term missing)
    "cs231n/layers.py::spatial_groupnorm_forward": (1e-9, 1e-4),  # 0 / 1e-7; 2e-1 (channels grouped interleaved)
    "cs231n/layers.py::spatial_groupnorm_backward": (1e-9, 1e-3),  # 8e-16 / 5e-7; 1e-1 (mean term missing)
}
tol = S.tolerances(TOL, prefix="cs231n/layers.py::")


def course_rng(seed):
    return np.random.RandomState(seed)


def _describe(x_shape, w_shape, conv_param, dtype):
    return (f"x of shape {x_shape}, w of shape {w_shape}, stride {conv_param['stride']}, pad {conv_param['pad']}"
            + (", float32" if dtype == F32 else ""))


# -- convolution ------------------------------------------------------------------------------------------

# (x shape, w shape, conv_param): square and non-square, batch size 1, one channel or filter, 1x1 and
# input-sized filters, strides 1-3, padding 0-2 (every one tiles the padded input, as the layer requires).
GEOMETRIES = [
    ((2, 3, 5, 5), (2, 3, 3, 3), {"stride": 1, "pad": 1}),
    ((1, 3, 7, 5), (2, 3, 3, 3), {"stride": 2, "pad": 1}),
    ((2, 1, 6, 6), (1, 1, 2, 2), {"stride": 2, "pad": 0}),
    ((1, 2, 5, 6), (3, 2, 3, 2), {"stride": 1, "pad": 1}),
    ((2, 2, 7, 7), (2, 2, 3, 3), {"stride": 3, "pad": 1}),
    ((1, 2, 4, 3), (2, 2, 4, 3), {"stride": 1, "pad": 0}),
    ((2, 3, 3, 4), (4, 3, 1, 1), {"stride": 1, "pad": 2}),
]


def _conv_inputs(rng, x_shape, w_shape, dtype):
    return S.normal(rng, x_shape, dtype), S.normal(rng, w_shape, dtype), S.normal(rng, w_shape[:1], dtype)


def _conv_forward_case(t, x, w, b, conv_param, case):
    out, _ = S.returned(t.call("layers.conv_forward_naive", x, w, b, conv_param, returns=("data", "handle")),
                        ("out", "cache"), "conv_forward_naive")
    expected, _ = t.ref.layers.conv_forward_naive(x, w, b, conv_param)
    t.expect_close(out, expected, f"conv_forward_naive: out ({case})", tol=tol("conv_forward_naive", x.dtype))


@check("cs231n/layers.py::conv_forward_naive")
def conv_forward_naive_course_values(t):
    x_shape, w_shape = (2, 3, 4, 4), (3, 3, 4, 4)
    x = np.linspace(-0.1, 0.5, num=np.prod(x_shape)).reshape(x_shape)
    w = np.linspace(-0.2, 0.3, num=np.prod(w_shape)).reshape(w_shape)
    b = np.linspace(-0.1, 0.2, num=3)
    _conv_forward_case(t, x, w, b, {"stride": 2, "pad": 1}, "the course's check inputs")
    rng = course_rng(0)
    x, w, b = rng.randn(2, 2, 5, 6), rng.randn(3, 2, 3, 2), rng.randn(3)
    _conv_forward_case(t, x, w, b, {"stride": 1, "pad": 1}, "a non-square filter, stride 1, pad 1")


@check("cs231n/layers.py::conv_forward_naive")
def conv_forward_naive_geometries(t):
    rng = t.rng()
    for x_shape, w_shape, conv_param in GEOMETRIES:
        x, w, b = _conv_inputs(rng, x_shape, w_shape, F64)
        _conv_forward_case(t, x, w, b, conv_param, _describe(x_shape, w_shape, conv_param, F64))


@check("cs231n/layers.py::conv_forward_naive")
def conv_forward_naive_float32(t):
    rng = t.rng()
    for x_shape, w_shape, conv_param in (GEOMETRIES[0], GEOMETRIES[1]):
        x, w, b = _conv_inputs(rng, x_shape, w_shape, F32)
        _conv_forward_case(t, x, w, b, conv_param, _describe(x_shape, w_shape, conv_param, F32))


CONV = "cs231n/layers.py::conv_forward_naive"


def _conv_backward_case(t, x, w, b, conv_param, rng, case):
    dout = S.normal(rng, t.ref.layers.conv_forward_naive(x, w, b, conv_param)[0].shape, x.dtype)
    S.backward_case(t, "conv_forward_naive", "conv_backward_naive", (x, w, b, conv_param), dout, ("dx", "dw", "db"), case,
                    tol("conv_forward_naive", x.dtype), tol("conv_backward_naive", x.dtype))


@check("cs231n/layers.py::conv_backward_naive", uses=[CONV])
def conv_backward_naive_course_cases(t):
    rng, drng = course_rng(231), t.rng(1)
    for x_shape, w_shape, conv_param in (((4, 3, 5, 5), (2, 3, 3, 3), {"stride": 1, "pad": 1}),
                                         ((2, 3, 7, 6), (2, 3, 3, 2), {"stride": 2, "pad": 0})):
        x, w, b = rng.randn(*x_shape), rng.randn(*w_shape), rng.randn(w_shape[0])
        _conv_backward_case(t, x, w, b, conv_param, drng, _describe(x_shape, w_shape, conv_param, F64))


@check("cs231n/layers.py::conv_backward_naive", uses=[CONV])
def conv_backward_naive_geometries(t):
    rng = t.rng()
    for x_shape, w_shape, conv_param in GEOMETRIES:
        x, w, b = _conv_inputs(rng, x_shape, w_shape, F64)
        _conv_backward_case(t, x, w, b, conv_param, rng, _describe(x_shape, w_shape, conv_param, F64))


@check("cs231n/layers.py::conv_backward_naive", uses=[CONV])
def conv_backward_naive_float32(t):
    rng = t.rng()
    for x_shape, w_shape, conv_param in (GEOMETRIES[0], GEOMETRIES[1]):
        x, w, b = _conv_inputs(rng, x_shape, w_shape, F32)
        _conv_backward_case(t, x, w, b, conv_param, rng, _describe(x_shape, w_shape, conv_param, F32))


# -- max pooling -----------------------------------------------------------------------------------------

# (x shape, pool_param): square and non-square windows, overlapping (stride < size), windows dropped at the
# bottom and right edges, a window the size of the input, batch size 1.
POOLS = [
    ((3, 2, 8, 8), {"pool_height": 2, "pool_width": 2, "stride": 2}),
    ((2, 2, 7, 9), {"pool_height": 3, "pool_width": 3, "stride": 2}),
    ((2, 2, 6, 5), {"pool_height": 2, "pool_width": 3, "stride": 1}),
    ((1, 3, 6, 5), {"pool_height": 2, "pool_width": 2, "stride": 2}),
    ((1, 1, 4, 3), {"pool_height": 4, "pool_width": 3, "stride": 1}),
    ((2, 1, 7, 7), {"pool_height": 3, "pool_width": 2, "stride": 3}),
]


def _pool_case_name(x_shape, pool_param, dtype=F64):
    p = pool_param
    return (f"x of shape {x_shape}, {p['pool_height']}x{p['pool_width']} pool, stride {p['stride']}"
            + (", float32" if dtype == F32 else ""))


def _pool_forward_case(t, x, pool_param, case):
    out, _ = S.returned(t.call("layers.max_pool_forward_naive", x, pool_param, returns=("data", "handle")),
                        ("out", "cache"), "max_pool_forward_naive")
    expected, _ = t.ref.layers.max_pool_forward_naive(x, pool_param)
    t.expect_close(out, expected, f"max_pool_forward_naive: out ({case})", tol=tol("max_pool_forward_naive", x.dtype))


@check("cs231n/layers.py::max_pool_forward_naive")
def max_pool_forward_naive_course_values(t):
    x_shape = (2, 3, 4, 4)
    x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
    _pool_forward_case(t, x, {"pool_width": 2, "pool_height": 2, "stride": 2}, "the course's check inputs")
    _pool_forward_case(t, np.arange(25.0).reshape(1, 1, 5, 5), {"pool_height": 3, "pool_width": 3, "stride": 2},
                       "overlapping 3x3 windows with stride 2")


@check("cs231n/layers.py::max_pool_forward_naive")
def max_pool_forward_naive_geometries(t):
    rng = t.rng()
    for x_shape, pool_param in POOLS:
        _pool_forward_case(t, S.normal(rng, x_shape), pool_param, _pool_case_name(x_shape, pool_param))
    for x_shape, pool_param in POOLS[1:3]:
        _pool_forward_case(t, S.normal(rng, x_shape, F32), pool_param, _pool_case_name(x_shape, pool_param, F32))


POOL = "cs231n/layers.py::max_pool_forward_naive"


def _pool_backward_case(t, x, dout, pool_param, case):
    S.backward_case(t, "max_pool_forward_naive", "max_pool_backward_naive", (x, pool_param), dout, ("dx",), case,
                    tol("max_pool_forward_naive", x.dtype), tol("max_pool_backward_naive", x.dtype))


@check("cs231n/layers.py::max_pool_backward_naive", uses=[POOL])
def max_pool_backward_naive_geometries(t):
    rng = t.rng()
    for x_shape, pool_param in POOLS:
        x = S.normal(rng, x_shape)
        out_shape = t.ref.layers.max_pool_forward_naive(x, pool_param)[0].shape
        _pool_backward_case(t, x, S.normal(rng, out_shape), pool_param, _pool_case_name(x_shape, pool_param))


@check("cs231n/layers.py::max_pool_backward_naive", uses=[POOL])
def max_pool_backward_naive_overlaps_and_ties(t):
    pool = {"pool_height": 3, "pool_width": 3, "stride": 2}
    _pool_backward_case(t, np.arange(25.0).reshape(1, 1, 5, 5), np.ones((1, 1, 2, 2)), pool,
                        "overlapping 3x3 windows with stride 2")
    rng = t.rng()
    x = S.normal(rng, (2, 2, 7, 7))
    _pool_backward_case(t, x, S.normal(rng, (2, 2, 3, 3)), pool, "overlapping windows sharing their maximum")
    _pool_backward_case(t, np.zeros((1, 1, 2, 2)), np.full((1, 1, 1, 1), 3.0),
                        {"pool_height": 2, "pool_width": 2, "stride": 2},
                        "a window of equal values: the gradient goes to the first in row-major order")
    x = S.normal(rng, (2, 3, 6, 6), F32)
    _pool_backward_case(t, x, S.normal(rng, (2, 3, 3, 3), F32), {"pool_height": 2, "pool_width": 2, "stride": 2},
                        "float32 x")


# -- spatial batch norm -------------------------------------------------------------------------------------


def _sbn_forward(t, x, gamma, beta, param):
    handle = t.put(param)
    out, _ = S.returned(t.call("layers.spatial_batchnorm_forward", x, gamma, beta, handle, returns=("data", "handle")),
                        ("out", "cache"), "spatial_batchnorm_forward")
    return out, t.get(handle)


@check("cs231n/layers.py::spatial_batchnorm_forward")
def spatial_batchnorm_forward_train(t):
    rng = course_rng(231)
    x = 4 * rng.randn(10, 3, 4, 5) + 10
    cases = [("the course's check inputs", x, np.array([3.0, 4.0, 5.0]), np.array([6.0, 7.0, 8.0]))]
    grng = t.rng(1)
    for shape in ((1, 2, 3, 3), (4, 5, 2, 3), (2, 1, 1, 6)):
        cases.append((f"x of shape {shape}", S.normal(grng, shape, scale=2, shift=-3), S.normal(grng, shape[1:2]),
                      S.normal(grng, shape[1:2])))
    for case, x, gamma, beta in cases:
        out, got = _sbn_forward(t, x, gamma, beta, {"mode": "train"})
        expected = {"mode": "train"}
        e_out, _ = t.ref.layers.spatial_batchnorm_forward(x, gamma, beta, expected)
        tolerance = tol("spatial_batchnorm_forward", F64)
        t.expect_close(out, e_out, f"spatial_batchnorm_forward: out in train mode ({case})", tol=tolerance)
        for key in ("running_mean", "running_var"):
            if not isinstance(got, dict) or key not in got:
                t.fail(f"spatial_batchnorm_forward: bn_param[{key!r}] is missing after a training step ({case})")
            t.expect_close(got[key], expected[key], f"spatial_batchnorm_forward: bn_param[{key!r}] ({case})", tol=tolerance)


@check("cs231n/layers.py::spatial_batchnorm_forward")
def spatial_batchnorm_forward_test_mode(t):
    rng = t.rng()
    gamma, beta = S.normal(rng, (3,)), S.normal(rng, (3,))
    handle, expected = t.put({"mode": "train", "momentum": 0.7}), {"mode": "train", "momentum": 0.7}
    for step in range(5):
        x = S.normal(rng, (4, 3, 3, 4), scale=1 + step, shift=2)
        t.call("layers.spatial_batchnorm_forward", x, gamma, beta, handle, returns=("data", "handle"))
        t.ref.layers.spatial_batchnorm_forward(x, gamma, beta, expected)
    state = t.get(handle)
    if not isinstance(state, dict):
        t.fail("spatial_batchnorm_forward: bn_param is no longer a dict")
    state["mode"], expected["mode"] = "test", "test"
    x = S.normal(rng, (2, 3, 3, 4), scale=2, shift=2)
    out, after = _sbn_forward(t, x, gamma, beta, copy.deepcopy(state))
    t.expect_close(out, t.ref.layers.spatial_batchnorm_forward(x, gamma, beta, expected)[0],
                   "spatial_batchnorm_forward: out in test mode after 5 training steps",
                   tol=tol("spatial_batchnorm_forward", F64))
    if not S.same_state(after, state):
        t.fail("spatial_batchnorm_forward: a call in test mode changed bn_param; test mode reads the running averages "
               "and must not update them (nor store anything else)")


@check("cs231n/layers.py::spatial_batchnorm_forward")
def spatial_batchnorm_forward_float32(t):
    rng = t.rng()
    x = S.normal(rng, (3, 4, 5, 2), F32, scale=3, shift=4)
    gamma, beta = S.normal(rng, (4,), F32), S.normal(rng, (4,), F32)
    out, _ = _sbn_forward(t, x, gamma, beta, {"mode": "train"})
    t.expect_close(out, t.ref.layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})[0],
                   "spatial_batchnorm_forward: out in train mode (float32 x)", tol=tol("spatial_batchnorm_forward", F32))


SBN = "cs231n/layers.py::spatial_batchnorm_forward"


def _sbn_backward_case(t, x, gamma, beta, dout, case):
    S.backward_case(t, "spatial_batchnorm_forward", "spatial_batchnorm_backward", (x, gamma, beta, {"mode": "train"}),
                    dout, ("dx", "dgamma", "dbeta"), case, tol("spatial_batchnorm_forward", x.dtype),
                    tol("spatial_batchnorm_backward", x.dtype))


@check("cs231n/layers.py::spatial_batchnorm_backward", uses=[SBN])
def spatial_batchnorm_backward_course_case(t):
    rng = course_rng(231)
    N, C, H, W = 2, 3, 4, 5
    x = 5 * rng.randn(N, C, H, W) + 12
    gamma, beta, dout = rng.randn(C), rng.randn(C), rng.randn(N, C, H, W)
    _sbn_backward_case(t, x, gamma, beta, dout, "the course's check inputs")


@check("cs231n/layers.py::spatial_batchnorm_backward", uses=[SBN])
def spatial_batchnorm_backward_shapes(t):
    rng = t.rng()
    for shape, dtype in (((1, 2, 3, 3), F64), ((5, 4, 2, 3), F64), ((3, 1, 4, 4), F64), ((2, 3, 3, 4), F32)):
        x = S.normal(rng, shape, dtype, scale=2, shift=1)
        C = shape[1]
        _sbn_backward_case(t, x, S.normal(rng, (C,), dtype), S.normal(rng, (C,), dtype), S.normal(rng, shape, dtype),
                           f"x of shape {shape}" + (", float32" if dtype == F32 else ""))


# -- spatial group norm ------------------------------------------------------------------------------------


def _gn_inputs(rng, shape, dtype=F64):
    C = shape[1]
    x = S.normal(rng, shape, dtype, scale=3, shift=2)
    return x, S.normal(rng, (1, C, 1, 1), dtype), S.normal(rng, (1, C, 1, 1), dtype)


def _gn_forward_case(t, x, gamma, beta, G, param, case):
    out, _ = S.returned(t.call("layers.spatial_groupnorm_forward", x, gamma, beta, G, param, returns=("data", "handle")),
                        ("out", "cache"), "spatial_groupnorm_forward")
    expected, _ = t.ref.layers.spatial_groupnorm_forward(x, gamma, beta, G, copy.deepcopy(param))
    t.expect_close(out, expected, f"spatial_groupnorm_forward: out ({case})", tol=tol("spatial_groupnorm_forward", x.dtype))


@check("cs231n/layers.py::spatial_groupnorm_forward")
def spatial_groupnorm_forward_course_case(t):
    rng = course_rng(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 4 * rng.randn(N, C, H, W) + 10
    _gn_forward_case(t, x, np.ones((1, C, 1, 1)), np.zeros((1, C, 1, 1)), G, {}, "the course's check inputs")
    grng = t.rng(1)
    _, gamma, beta = _gn_inputs(grng, x.shape)
    _gn_forward_case(t, x, gamma, beta, G, {}, "the course's x with random gamma and beta")


@check("cs231n/layers.py::spatial_groupnorm_forward")
def spatial_groupnorm_forward_groups(t):
    rng = t.rng()
    for shape, G, param in (((2, 6, 3, 3), 1, {}), ((2, 6, 3, 3), 6, {}), ((1, 8, 2, 5), 4, {"eps": 1e-3}),
                            ((3, 4, 1, 1), 2, {})):
        _gn_forward_case(t, *_gn_inputs(rng, shape), G, param, f"x of shape {shape}, G = {G}")
    _gn_forward_case(t, *_gn_inputs(rng, (2, 6, 3, 4), F32), 3, {}, "float32 x of shape (2, 6, 3, 4), G = 3")


GN = "cs231n/layers.py::spatial_groupnorm_forward"


def _gn_backward_case(t, x, gamma, beta, G, dout, case):
    S.backward_case(t, "spatial_groupnorm_forward", "spatial_groupnorm_backward", (x, gamma, beta, G, {}), dout,
                    ("dx", "dgamma", "dbeta"), case, tol("spatial_groupnorm_forward", x.dtype),
                    tol("spatial_groupnorm_backward", x.dtype))


@check("cs231n/layers.py::spatial_groupnorm_backward", uses=[GN])
def spatial_groupnorm_backward_course_case(t):
    rng = course_rng(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x = 5 * rng.randn(N, C, H, W) + 12
    gamma, beta = rng.randn(1, C, 1, 1), rng.randn(1, C, 1, 1)
    dout = rng.randn(N, C, H, W)
    _gn_backward_case(t, x, gamma, beta, G, dout, "the course's check inputs")


@check("cs231n/layers.py::spatial_groupnorm_backward", uses=[GN])
def spatial_groupnorm_backward_groups(t):
    rng = t.rng()
    # Every group holds at least 3 values: with 2 the normalised values are +-1 and dx is a difference of
    # nearly equal terms.
    for shape, G, dtype in (((2, 6, 3, 3), 1, F64), ((2, 6, 3, 3), 6, F64), ((1, 8, 2, 5), 4, F64),
                            ((2, 6, 3, 4), 3, F32)):
        x, gamma, beta = _gn_inputs(rng, shape, dtype)
        _gn_backward_case(t, x, gamma, beta, G, S.normal(rng, shape, dtype),
                          f"x of shape {shape}, G = {G}" + (", float32" if dtype == F32 else ""))


# -- every layer leaves its arguments as they were ----------------------------------------------------------


def _conv_unchanged_args(rng):
    return (*_conv_inputs(rng, (2, 2, 5, 5), (3, 2, 3, 3), F64), {"stride": 2, "pad": 1})


@check("cs231n/layers.py::conv_forward_naive")
def conv_forward_naive_leaves_inputs_unchanged(t):
    S.unchanged_forward(t, "conv_forward_naive", _conv_unchanged_args(t.rng()), ("x", "w", "b", "conv_param"),
                        tol("conv_forward_naive", F64))


@check("cs231n/layers.py::conv_backward_naive", uses=[CONV])
def conv_backward_naive_leaves_inputs_unchanged(t):
    rng = t.rng()
    S.unchanged_backward(t, "conv_forward_naive", "conv_backward_naive", _conv_unchanged_args(rng),
                         S.normal(rng, (2, 3, 3, 3)), ("dx", "dw", "db"), tol("conv_forward_naive", F64),
                         tol("conv_backward_naive", F64))


POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


@check("cs231n/layers.py::max_pool_forward_naive")
def max_pool_forward_naive_leaves_inputs_unchanged(t):
    S.unchanged_forward(t, "max_pool_forward_naive", (S.normal(t.rng(), (2, 3, 4, 6)), dict(POOL_PARAM)),
                        ("x", "pool_param"), tol("max_pool_forward_naive", F64))


@check("cs231n/layers.py::max_pool_backward_naive", uses=[POOL])
def max_pool_backward_naive_leaves_inputs_unchanged(t):
    rng = t.rng()
    S.unchanged_backward(t, "max_pool_forward_naive", "max_pool_backward_naive",
                         (S.normal(rng, (2, 3, 4, 6)), dict(POOL_PARAM)), S.normal(rng, (2, 3, 2, 3)), ("dx",),
                         tol("max_pool_forward_naive", F64), tol("max_pool_backward_naive", F64))


def _sbn_unchanged_inputs(rng):
    return S.normal(rng, (3, 2, 3, 4), scale=2, shift=1), S.normal(rng, (2,)), S.normal(rng, (2,))


@check("cs231n/layers.py::spatial_batchnorm_forward")
def spatial_batchnorm_forward_leaves_inputs_unchanged(t):
    rng = t.rng()
    x, gamma, beta = _sbn_unchanged_inputs(rng)
    running = {"running_mean": S.normal(rng, (2,)), "running_var": 1 + rng.random(2)}
    names, tolerance = ("x", "gamma", "beta", "bn_param"), tol("spatial_batchnorm_forward", F64)
    S.unchanged_forward(t, "spatial_batchnorm_forward", (x, gamma, beta, {"mode": "train", **running}), names,
                        tolerance, {"bn_param": ("running_mean", "running_var")})
    S.unchanged_forward(t, "spatial_batchnorm_forward", (x, gamma, beta, {"mode": "test", **running}), names,
                        tolerance)


@check("cs231n/layers.py::spatial_batchnorm_backward", uses=[SBN])
def spatial_batchnorm_backward_leaves_inputs_unchanged(t):
    rng = t.rng()
    S.unchanged_backward(t, "spatial_batchnorm_forward", "spatial_batchnorm_backward",
                         (*_sbn_unchanged_inputs(rng), {"mode": "train"}), S.normal(rng, (3, 2, 3, 4)),
                         ("dx", "dgamma", "dbeta"), tol("spatial_batchnorm_forward", F64),
                         tol("spatial_batchnorm_backward", F64))


@check("cs231n/layers.py::spatial_groupnorm_forward")
def spatial_groupnorm_forward_leaves_inputs_unchanged(t):
    S.unchanged_forward(t, "spatial_groupnorm_forward", (*_gn_inputs(t.rng(), (2, 4, 3, 3)), 2, {"eps": 1e-4}),
                        ("x", "gamma", "beta", "G", "gn_param"), tol("spatial_groupnorm_forward", F64))


@check("cs231n/layers.py::spatial_groupnorm_backward", uses=[GN])
def spatial_groupnorm_backward_leaves_inputs_unchanged(t):
    rng = t.rng()
    S.unchanged_backward(t, "spatial_groupnorm_forward", "spatial_groupnorm_backward",
                         (*_gn_inputs(rng, (2, 4, 3, 3)), 2, {}), S.normal(rng, (2, 4, 3, 3)), ("dx", "dgamma", "dbeta"),
                         tol("spatial_groupnorm_forward", F64), tol("spatial_groupnorm_backward", F64))
