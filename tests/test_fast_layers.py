"""Tests for cs231n.fast_layers: fast == naive on both backends, dtypes, purity, bad input, the fallback."""

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from cs231n import fast_layers
from cs231n.fast_layers import (
    conv_backward_fast,
    conv_backward_im2col,
    conv_backward_strides,
    conv_forward_fast,
    conv_forward_im2col,
    conv_forward_strides,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from cs231n.gradient_check import rel_error
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

REPO = Path(__file__).resolve().parent.parent
TOL = {np.float64: 1e-9, np.float32: 1e-4}


def _conv_cases(count, seed):
    """Random valid (x shape, w shape, stride, pad): stride 1-3, pad 0-3, non-square filters, odd sizes."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 4))
        HH, WW = int(rng.integers(1, 6)), int(rng.integers(1, 6))
        H_out, W_out = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        H, W = (H_out - 1) * stride + HH - 2 * pad, (W_out - 1) * stride + WW - 2 * pad
        if H >= 1 and W >= 1:
            N, C, F = (int(v) for v in rng.integers(1, 4, size=3))
            cases.append(((N, C, H, W), (F, C, HH, WW), stride, pad))
    return cases


CONV_CASES = [
    ((1, 1, 5, 5), (1, 1, 3, 3), 1, 1),  # batch 1, one channel
    ((2, 3, 7, 9), (4, 3, 3, 5), 2, 2),  # non-square input and filter
    ((3, 2, 8, 8), (5, 2, 2, 2), 2, 0),  # stride = filter: no overlap
    ((2, 3, 4, 4), (2, 3, 7, 7), 1, 3),  # filter larger than the input, all padding
    ((2, 2, 9, 7), (3, 2, 3, 1), 3, 0),  # stride 3, 3x1 filter
    *_conv_cases(10, seed=231),
]
POOL_CASES = [
    ((2, 3, 8, 8), 2, 2, 2),  # tiling 2x2/2
    ((2, 3, 9, 7), 3, 3, 2),  # overlapping 3x3/2 that drops the last row and column
    ((1, 2, 16, 16), 3, 3, 2),  # the 3x3/2 pool of the benchmark, on even sizes
    ((2, 2, 7, 10), 2, 3, 1),  # non-square, stride 1
    ((3, 1, 8, 9), 2, 2, 3),  # stride > pool: gaps between windows
    ((2, 2, 5, 6), 5, 6, 1),  # one window covering everything
    ((1, 1, 4, 4), 1, 1, 1),  # identity
]


@pytest.fixture(params=fast_layers.BACKENDS)
def backend(request):
    """Run the test once per backend; the cython one is skipped when the extension is not built."""
    if request.param == "cython" and fast_layers.im2col_cython is None:
        pytest.skip("cs231n.im2col_cython is not built (run `make build`)")
    with fast_layers.use_backend(request.param):
        yield request.param


@pytest.fixture(params=["serial", "split"])
def threads(request, monkeypatch):
    """Run the test on one thread, then with every batch of two or more images split over three threads."""
    if request.param == "split":
        monkeypatch.setattr(fast_layers, "_MIN_CONV_WORK", 1)
        monkeypatch.setattr(fast_layers, "_MIN_POOL_FORWARD_WORK", 1)
        monkeypatch.setattr(fast_layers, "_MIN_POOL_BACKWARD_WORK", 1)
    previous = fast_layers.set_num_threads(1 if request.param == "serial" else 3)
    yield request.param
    fast_layers.set_num_threads(previous)


def _draw(shape, dtype, rng):
    """Random array; in float32 multiples of 1/8, so that every conv sum is exact and a sum that
    cancels to nearly zero cannot blow up the elementwise relative error of a correct result."""
    values = rng.standard_normal(shape) if dtype == np.float64 else rng.integers(-8, 9, shape) / 8
    return values.astype(dtype)


def _conv_data(x_shape, w_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(_draw(shape, dtype, rng) for shape in (x_shape, w_shape, (w_shape[0],)))


def _check_conv(forward, backward, case, dtype):
    """Assert that forward/backward agree with the naive layer on one case, in dtype."""
    x_shape, w_shape, stride, pad = case
    x, w, b = _conv_data(x_shape, w_shape, dtype)
    conv_param = {"stride": stride, "pad": pad}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    dout = _draw(out_naive.shape, dtype, np.random.default_rng(1))
    grads_naive = conv_backward_naive(dout, cache_naive)

    out, cache = forward(x, w, b, conv_param)
    grads = backward(dout, cache)
    assert out.shape == out_naive.shape
    assert rel_error(out, out_naive) < TOL[dtype]
    for name, got, want in zip(("dx", "dw", "db"), grads, grads_naive):
        assert got.shape == want.shape, name
        assert got.dtype == dtype, name
        assert rel_error(got, want) < TOL[dtype], name
    assert out.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv_fast_matches_naive(backend, threads, case, dtype):
    _check_conv(conv_forward_fast, conv_backward_fast, case, dtype)


@pytest.mark.parametrize("case", CONV_CASES[:5], ids=str)
def test_conv_strides_and_im2col_match_naive(case):
    _check_conv(conv_forward_strides, conv_backward_strides, case, np.float64)
    _check_conv(conv_forward_im2col, conv_backward_im2col, case, np.float64)


@pytest.mark.parametrize("chunk_bytes", [1, 2000])
def test_conv_chunks_match_naive(backend, threads, monkeypatch, chunk_bytes):
    # Chunks of one image, and of a few with a shorter last chunk, must add up to the same result.
    monkeypatch.setattr(fast_layers, "_CHUNK_BYTES", chunk_bytes)
    _check_conv(conv_forward_fast, conv_backward_fast, ((7, 2, 6, 5), (3, 2, 3, 2), 1, 1), np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", POOL_CASES, ids=str)
def test_max_pool_fast_matches_naive(backend, threads, case, dtype):
    x_shape, pool_height, pool_width, stride = case
    x = np.random.default_rng(2).standard_normal(x_shape).astype(dtype)
    pool_param = {"pool_height": pool_height, "pool_width": pool_width, "stride": stride}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    dout = np.random.default_rng(3).standard_normal(out_naive.shape).astype(dtype)
    dx_naive = max_pool_backward_naive(dout, cache_naive)

    out, cache = max_pool_forward_fast(x, pool_param)
    dx = max_pool_backward_fast(dout, cache)
    assert out.shape == out_naive.shape and out.dtype == dtype
    assert dx.shape == x.shape and dx.dtype == dtype
    assert rel_error(out, out_naive) < TOL[dtype]
    assert rel_error(dx, dx_naive) < TOL[dtype]


@pytest.mark.parametrize("pool", [(2, 2, 2), (3, 3, 2), (2, 2, 1)])
def test_max_pool_ties_go_to_first_maximum(backend, pool):
    # Integer-valued data ties often; the gradient must go where np.argmax (and the naive layer) sends it.
    x = np.random.default_rng(4).integers(0, 3, size=(2, 3, 9, 9)).astype(np.float64)
    pool_param = dict(zip(("pool_height", "pool_width", "stride"), pool))
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    dout = np.random.default_rng(5).standard_normal(out_naive.shape)
    out, cache = max_pool_forward_fast(x, pool_param)
    assert np.array_equal(out, out_naive)
    assert rel_error(max_pool_backward_fast(dout, cache), max_pool_backward_naive(dout, cache_naive)) < 1e-12


def test_layers_do_not_mutate_inputs(backend):
    x, w, b = _conv_data((2, 3, 6, 6), (4, 3, 3, 3), np.float64)
    dout = np.random.default_rng(6).standard_normal((2, 4, 6, 6))
    copies = [a.copy() for a in (x, w, b, dout)]
    _, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    conv_backward_fast(dout, cache)
    _, cache = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    max_pool_backward_fast(dout[:, :3, :3, :3], cache)
    for before, after in zip(copies, (x, w, b, dout)):
        assert np.array_equal(before, after)


def test_non_contiguous_input(backend):
    x, w, b = _conv_data((3, 2, 5, 6), (2, 2, 3, 3), np.float64)
    x_view = np.asfortranarray(x)[:, :, :, ::-1]  # neither C- nor F-contiguous
    conv_param = {"stride": 1, "pad": 1}
    out_naive, _ = conv_forward_naive(x_view, w, b, conv_param)
    assert rel_error(conv_forward_fast(x_view, w, b, conv_param)[0], out_naive) < 1e-9
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    assert rel_error(max_pool_forward_fast(x_view, pool_param)[0], max_pool_forward_naive(x_view, pool_param)[0]) < 1e-12


def test_caches_work_across_backends_and_with_naive():
    if fast_layers.im2col_cython is None:
        pytest.skip("needs both backends")
    x, w, b = _conv_data((2, 3, 7, 7), (4, 3, 3, 3), np.float64)
    conv_param = {"stride": 2, "pad": 1}
    out, cache_naive = conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(7).standard_normal(out.shape)
    want = conv_backward_naive(dout, cache_naive)
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    pool_out, pool_cache_naive = max_pool_forward_naive(x, pool_param)
    with fast_layers.use_backend("cython"):
        _, cache = conv_forward_fast(x, w, b, conv_param)
        _, pool_cache = max_pool_forward_fast(x, pool_param)
    with fast_layers.use_backend("numpy"):
        got = conv_backward_fast(dout, cache)
        dx_pool = max_pool_backward_fast(np.ones_like(pool_out), pool_cache)
    for g, v in zip(got, want):
        assert rel_error(g, v) < 1e-9
    for g, v in zip(conv_backward_fast(dout, cache_naive), want):
        assert rel_error(g, v) < 1e-9
    assert rel_error(dx_pool, max_pool_backward_naive(np.ones_like(pool_out), pool_cache_naive)) < 1e-12


@pytest.mark.parametrize(
    "x_shape, w_shape, conv_param, message",
    [
        ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 2, "pad": 0}, "= 5 is not divisible by stride 2"),
        ((2, 3, 8, 8), (4, 2, 3, 3), {"stride": 1, "pad": 1}, "x has 3 channels but w has 2"),
        ((2, 3, 4, 4), (4, 3, 7, 7), {"stride": 1, "pad": 0}, "filter height 7 exceeds"),
        ((2, 3, 8, 8), (4, 3, 3, 3), {"stride": 0, "pad": 1}, "stride = 0"),
        ((3, 8, 8), (4, 3, 3, 3), {"stride": 1, "pad": 1}, "x must be (N, C, H, W)"),
    ],
)
def test_conv_bad_input_raises(backend, x_shape, w_shape, conv_param, message):
    x, w, b = np.zeros(x_shape), np.zeros(w_shape), np.zeros(w_shape[0])
    for forward in (conv_forward_fast, conv_forward_im2col):
        with pytest.raises(ValueError) as err:
            forward(x, w, b, conv_param)
        assert message in str(err.value)


def test_bad_shapes_in_backward_and_pool_raise(backend):
    with pytest.raises(ValueError, match="pool window 5x2 is larger than the input 4x4"):
        max_pool_forward_fast(np.zeros((1, 1, 4, 4)), {"pool_height": 5, "pool_width": 2, "stride": 1})
    x, w, b = _conv_data((2, 3, 6, 6), (4, 3, 3, 3), np.float64)
    _, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4, 5, 6\)"):
        conv_backward_fast(np.zeros((2, 4, 5, 6)), cache)
    _, cache = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 2, 3\)"):
        max_pool_backward_fast(np.zeros((2, 3, 2, 3)), cache)


def test_backend_switch():
    previous = fast_layers.get_backend()
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        fast_layers.set_backend("fortran")
    with fast_layers.use_backend("numpy"):
        assert fast_layers.get_backend() == "numpy"
    assert fast_layers.get_backend() == previous


def test_run_parts_covers_the_batch_on_separate_threads_with_single_threaded_blas():
    from threadpoolctl import threadpool_info

    previous = fast_layers.set_num_threads(3)
    calls = []
    # Three parts must run at the same time: each waits here until all three arrived.
    barrier = threading.Barrier(3, timeout=30)

    def part(start, stop):
        blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        calls.append((start, stop, threading.get_ident(), blas))
        if stop - start < 7:
            barrier.wait()
        return start

    blas_before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    try:
        assert fast_layers._run_parts(part, 7, 100, 1) == [0, 2, 4]
        assert fast_layers._run_parts(part, 7, 100, 60) == [0]  # too little work for a second thread
    finally:
        fast_layers.set_num_threads(previous)
    split = sorted(calls[:3])
    assert [(start, stop) for start, stop, _, _ in split] == [(0, 2), (2, 4), (4, 7)]
    assert len({ident for _, _, ident, _ in split}) == 3
    assert [ident for start, _, ident, _ in split if start == 0] == [threading.get_ident()]
    assert all(blas == [1] * len(blas_before) for _, _, _, blas in split)
    assert calls[3][:2] == (0, 7)
    assert [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"] == blas_before


def test_run_parts_raises_a_worker_error_after_every_part_ended():
    previous = fast_layers.set_num_threads(2)
    finished = []

    def part(start, stop):
        if start > 0:
            raise RuntimeError(f"part {start}:{stop} failed")
        finished.append(start)

    try:
        with pytest.raises(RuntimeError, match="part 2:4 failed"):
            fast_layers._run_parts(part, 4, 10, 1)
    finally:
        fast_layers.set_num_threads(previous)
    assert finished == [0]


def test_set_num_threads_rejects_bad_values():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="must be a positive int"):
            fast_layers.set_num_threads(bad)
    previous = fast_layers.set_num_threads(2)
    assert fast_layers.get_num_threads() == 2
    assert fast_layers.set_num_threads(previous) == 2


def _conv_in_child(queue):
    x, w, b = _conv_data((4, 2, 6, 6), (3, 2, 3, 3), np.float64)
    queue.put(conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})[0])


def test_forked_child_runs_split_layers(monkeypatch):
    # A forked child inherits the parent's thread pool object but none of its threads.
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    monkeypatch.setattr(fast_layers, "_MIN_CONV_WORK", 1)
    previous = fast_layers.set_num_threads(2)
    try:
        x, w, b = _conv_data((4, 2, 6, 6), (3, 2, 3, 3), np.float64)
        want, _ = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
        assert rel_error(conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})[0], want) < 1e-9
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_conv_in_child, args=(queue,))
        child.start()
        got = queue.get(timeout=60)
        child.join(timeout=60)
    finally:
        fast_layers.set_num_threads(previous)
    assert child.exitcode == 0
    assert rel_error(got, want) < 1e-9


def _run_python(snippets, **env):
    """Run the snippets in a fresh interpreter at the repository root; return the completed process."""
    full_env = {k: v for k, v in os.environ.items() if k != "CS231N_NO_CYTHON"}
    full_env.update(PYTHONPATH=str(REPO), **env)
    code = "\n".join(textwrap.dedent(snippet) for snippet in snippets)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=120
    )


SMOKE = """
    import numpy as np
    from cs231n import fast_layers as fl
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    w, b = np.ones((2, 3, 3, 3)), np.zeros(2)
    for fwd, bwd in [(fl.conv_forward_fast, fl.conv_backward_fast), (fl.conv_forward_strides, fl.conv_backward_strides),
                     (fl.conv_forward_im2col, fl.conv_backward_im2col)]:
        out, cache = fwd(x, w, b, {"stride": 1, "pad": 1})
        bwd(out, cache)
    out, cache = fl.max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    fl.max_pool_backward_fast(out, cache)
"""


def test_missing_extension_warns_once_and_falls_back():
    # A None entry in sys.modules makes `from cs231n import im2col_cython` raise ImportError.
    code = """
        import sys, warnings
        sys.modules["cs231n.im2col_cython"] = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from cs231n import fast_layers
            import cs231n.layer_utils
    """
    check = """
        runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
        assert len(runtime) == 1, [str(w.message) for w in runtime]
        # The command must exist in a student kit too (no Makefile there), and the cost must be said.
        assert "`pip install -e .`" in str(runtime[0].message) and "numpy fallback" in str(runtime[0].message)
        assert fast_layers.get_backend() == "numpy"
        try:
            fast_layers.set_backend("cython")
        except ValueError as err:
            assert "not built" in str(err)
        else:
            raise AssertionError("set_backend('cython') must fail without the extension")
    """
    proc = _run_python([code, SMOKE, check])
    assert proc.returncode == 0, proc.stderr


def test_env_var_forces_numpy_backend_without_warning():
    code = """
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            from cs231n import fast_layers
        assert fast_layers.get_backend() == "numpy", fast_layers.get_backend()
        assert fast_layers.im2col_cython is None
    """
    proc = _run_python([code, SMOKE], CS231N_NO_CYTHON="1")
    assert proc.returncode == 0, proc.stderr


def test_conv_and_pool_match_torch():
    torch = pytest.importorskip("torch")
    x, w, b = _conv_data((2, 3, 9, 8), (4, 3, 3, 2), np.float32)
    out, _ = conv_forward_fast(x, w, b, {"stride": 2, "pad": 1})
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride=2, padding=1)
    assert rel_error(out, want.numpy()) < 1e-4
    pooled, _ = max_pool_forward_fast(x, {"pool_height": 3, "pool_width": 3, "stride": 2})
    assert rel_error(pooled, torch.nn.functional.max_pool2d(torch.from_numpy(x), 3, 2).numpy()) < 1e-6
