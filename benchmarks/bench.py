"""
Speed table of the fast layers: `python -m benchmarks.bench` (or `make bench`).

For each convolution and max-pool shape, in float32 and float64, it prints the
median time of the forward and backward passes of
- the naive layers of cs231n.layers (a single run: they are slow),
- the fast layers of cs231n.fast_layers (Cython backend if built, else numpy),
- PyTorch on the CPU (torch.nn.functional with autograd), if installed,
and the ratios between them, all measured in the same run. A second table sets
the convolutions' rate (three GEMM-sized products per forward + backward) beside
the rate of numpy's matmul on the equivalent GEMM (F, C*HH*WW) x (C*HH*WW, N*H'*W').
With --epoch it also trains ThreeLayerConvNet for one epoch on Fashion-MNIST beside
the same model in PyTorch, each in its own child process so peak memory is per run.

Flags: --quick (few repeats), --no-torch, --repeat N, --epoch, --shapes {default,tiny}, --threads N.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cs231n import fast_layers
from cs231n.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

# (x shape, w shape, stride, pad) and (x shape, pool size, stride), from the issue that set the targets.
CONV_SHAPES = {
    "default": [
        ((100, 3, 31, 31), (25, 3, 3, 3), 2, 1),
        ((50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
        ((64, 16, 32, 32), (32, 16, 3, 3), 1, 1),
    ],
    "tiny": [((2, 3, 8, 8), (4, 3, 3, 3), 1, 1), ((2, 2, 7, 9), (3, 2, 3, 5), 2, 2)],
}
POOL_SHAPES = {
    "default": [((100, 3, 32, 32), 2, 2), ((64, 32, 16, 16), 3, 2)],
    "tiny": [((2, 3, 8, 8), 2, 2), ((2, 2, 9, 9), 3, 2)],
}
# The two convolutions of a training run that the float32 torch targets are about.
TRAINING_CONVS = ((32, 3, 7, 7), (32, 16, 3, 3))
DTYPES = (np.float32, np.float64)
EPOCH_SIZE = 59000


def median_time(fn, repeat):
    """Median wall time in seconds of repeat calls of fn, after one untimed warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def single_time(fn):
    """Wall time in seconds of one call of fn (for the slow naive layers)."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _load_torch(no_torch, threads):
    """Return (torch module or None, reason shown in the torch columns when it is None)."""
    if no_torch:
        return None, "n/a (--no-torch)"
    try:
        import torch
    except ImportError:
        return None, "n/a (torch not installed)"
    torch.set_num_threads(threads)
    return torch, ""


def _conv_flops(x_shape, w_shape, stride, pad):
    """FLOPs of the GEMM equivalent to one pass, and that GEMM's (M, K, N)."""
    N, C, H, W = x_shape
    F, _, HH, WW = w_shape
    H_out = (H + 2 * pad - HH) // stride + 1
    W_out = (W + 2 * pad - WW) // stride + 1
    M, K, P = F, C * HH * WW, N * H_out * W_out
    return 2 * M * K * P, (M, K, P)


def _conv_case(x_shape, w_shape, stride, dtype, seed):
    """Inputs of one convolution case; the same seed gives the same arrays in both phases."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


def bench_conv(x_shape, w_shape, stride, pad, dtype, repeat, seed):
    """Time the naive and fast layers and the equivalent GEMM on one convolution; returns seconds."""
    x, w, b = _conv_case(x_shape, w_shape, stride, dtype, seed)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = fast_layers.conv_forward_fast(x, w, b, conv_param)
    dout = np.ones_like(out)
    _, naive_cache = conv_forward_naive(x, w, b, conv_param)
    flops, (M, K, P) = _conv_flops(x_shape, w_shape, stride, pad)
    w_mat = w.reshape(M, K)
    cols = np.random.default_rng(seed).standard_normal((K, P)).astype(dtype)
    product = np.empty((M, P), dtype=dtype)
    return {
        "naive fwd": single_time(lambda: conv_forward_naive(x, w, b, conv_param)),
        "naive bwd": single_time(lambda: conv_backward_naive(dout, naive_cache)),
        "fast fwd": median_time(lambda: fast_layers.conv_forward_fast(x, w, b, conv_param), repeat),
        "fast bwd": median_time(lambda: fast_layers.conv_backward_fast(dout, cache), repeat),
        "gemm": median_time(lambda: np.matmul(w_mat, cols, out=product), repeat),
        "flops": flops,
    }


def torch_conv(torch, x_shape, w_shape, stride, pad, dtype, repeat, seed):
    """Time torch.nn.functional.conv2d forward (no autograd) and its autograd backward; returns seconds."""
    F = torch.nn.functional
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in _conv_case(x_shape, w_shape, stride, dtype, seed))
    graph = F.conv2d(xt, wt, bt, stride=stride, padding=pad)
    dout = torch.ones_like(graph)

    def forward():
        with torch.no_grad():
            F.conv2d(xt, wt, bt, stride=stride, padding=pad)

    return {
        "torch fwd": median_time(forward, repeat),
        "torch bwd": median_time(lambda: torch.autograd.grad(graph, (xt, wt, bt), dout, retain_graph=True), repeat),
    }


def bench_pool(x_shape, size, stride, dtype, repeat, seed):
    """Time the naive and fast max-pool layers on one shape; returns seconds."""
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(dtype)
    pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
    out, cache = fast_layers.max_pool_forward_fast(x, pool_param)
    dout = np.ones_like(out)
    _, naive_cache = max_pool_forward_naive(x, pool_param)
    return {
        "naive fwd": single_time(lambda: max_pool_forward_naive(x, pool_param)),
        "naive bwd": single_time(lambda: max_pool_backward_naive(dout, naive_cache)),
        "fast fwd": median_time(lambda: fast_layers.max_pool_forward_fast(x, pool_param), repeat),
        "fast bwd": median_time(lambda: fast_layers.max_pool_backward_fast(dout, cache), repeat),
    }


def torch_pool(torch, x_shape, size, stride, dtype, repeat, seed):
    """Time torch.nn.functional.max_pool2d forward (no autograd) and its autograd backward; returns seconds."""
    F = torch.nn.functional
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_()
    graph = F.max_pool2d(xt, size, stride)
    dout = torch.ones_like(graph)

    def forward():
        with torch.no_grad():
            F.max_pool2d(xt, size, stride)

    return {
        "torch fwd": median_time(forward, repeat),
        "torch bwd": median_time(lambda: torch.autograd.grad(graph, xt, dout, retain_graph=True), repeat),
    }


def _shape(shape):
    return "(" + ",".join(map(str, shape)) + ")"


def _ms(seconds):
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}"


def _ratio(a, b):
    return f"{a / b:.2f}x"


def _print_table(header, rows):
    """Print rows of strings as a left-aligned first column and right-aligned others."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        cells = [str(row[0]).ljust(widths[0])] + [str(c).rjust(w) for c, w in zip(row[1:], widths[1:])]
        print("  ".join(cells))


def _speed_rows(name, dtype, res, no_torch_reason):
    rows = []
    for which in ("fwd", "bwd"):
        naive, fast, tor = res[f"naive {which}"], res[f"fast {which}"], res[f"torch {which}"]
        torch_cells = [no_torch_reason, ""] if tor is None else [_ms(tor), _ratio(fast, tor)]
        rows.append([name, np.dtype(dtype).name, which, _ms(naive), _ms(fast), _ratio(naive, fast), *torch_cells])
    return rows


def target_line(label, values, limit, higher_is_better=False, fmt=".2f"):
    """One 'target' line: met when every value is within its limit; n/a when there is nothing to check."""
    if not values:
        return f"  [n/a] {label}"
    ok = all((v >= limit) if higher_is_better else (v <= limit) for v in values)
    shown = ", ".join(f"{v:{fmt}}" for v in values)
    return f"  [{'met' if ok else 'NOT met'}] {label}: {shown}"


def run_epoch(threads, no_torch_reason):
    """Run the numpy and (if no_torch_reason is empty) PyTorch epochs in child processes; print and return them."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    results = {}
    frameworks = ["numpy", "torch"] if not no_torch_reason else ["numpy"]
    for framework in frameworks:
        cmd = [sys.executable, "-m", "benchmarks.bench", "--epoch-worker", framework, "--threads", str(threads)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            results[framework] = {"error": tail[0]}
        else:
            results[framework] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nOne epoch of ThreeLayerConvNet (conv 32x7x7 - relu - pool 2 - 100 - 10, Adam 1e-3, batch 50, "
          f"float32) on {EPOCH_SIZE} Fashion-MNIST images:")
    for framework, res in results.items():
        if "error" in res:
            print(f"  {framework:6s} failed: {res['error']}")
        else:
            print(f"  {framework:6s} {res['seconds']:7.1f} s   peak RSS {res['peak_rss_mb']:6.0f} MB   "
                  f"train acc {res['train_acc']:.3f}   val acc {res['val_acc']:.3f}")
    if all("seconds" in results.get(f, {}) for f in ("numpy", "torch")):
        print(f"  numpy / torch: {results['numpy']['seconds'] / results['torch']['seconds']:.2f}x")
    elif no_torch_reason:
        print(f"  torch: {no_torch_reason}")
    return results


def _peak_rss_mb():
    # ru_maxrss is in KiB on Linux and in bytes on macOS.
    scale = 1 / 2**20 if platform.system() == "Darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _epoch_worker_numpy():
    from cs231n.classifiers.cnn import ThreeLayerConvNet
    from cs231n.data_utils import get_data
    from cs231n.solver import Solver

    data = get_data("fashion_mnist", num_training=EPOCH_SIZE, dtype=np.float32)
    np.random.seed(0)
    model = ThreeLayerConvNet(
        input_dim=(1, 28, 28), num_filters=32, filter_size=7, hidden_dim=100, dtype=np.float32
    )
    solver = Solver(
        model, data, update_rule="adam", optim_config={"learning_rate": 1e-3}, batch_size=50, num_epochs=1,
        verbose=False,
    )
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "train_acc": float(solver.train_acc_history[-1]),
        "val_acc": float(solver.val_acc_history[-1]),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _epoch_worker_torch(threads):
    import torch

    from cs231n.data_utils import get_data

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = get_data("fashion_mnist", num_training=EPOCH_SIZE, dtype=np.float32)
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
    X_val, y_val = torch.from_numpy(data["X_val"]), torch.from_numpy(data["y_val"])
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 7, padding=3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(32 * 14 * 14, 100), nn.ReLU(), nn.Linear(100, 10),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    start = time.perf_counter()
    # As the Solver: N / batch_size iterations on random minibatches, then accuracy checks.
    for _ in range(X.shape[0] // 50):
        idx = torch.randint(X.shape[0], (50,))
        loss = nn.functional.cross_entropy(model(X[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        sample = torch.randint(X.shape[0], (1000,))
        train_acc = (model(X[sample]).argmax(1) == y[sample]).float().mean().item()
        val_acc = (model(X_val).argmax(1) == y_val).float().mean().item()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "train_acc": train_acc, "val_acc": val_acc, "peak_rss_mb": _peak_rss_mb()}


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 15")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch columns")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (median)")
    parser.add_argument("--epoch", action="store_true", help="add the one-epoch ThreeLayerConvNet line")
    parser.add_argument("--shapes", choices=sorted(CONV_SHAPES), default="default", help="shape set")
    parser.add_argument("--epoch-worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=None, help="threads for the fast layers and torch "
                        "(default: as many as numpy's BLAS uses)")
    args = parser.parse_args(argv)
    for flag, value in (("--repeat", args.repeat), ("--threads", args.threads)):
        if value is not None and value < 1:
            parser.error(f"{flag} must be >= 1, got {value}")
    return args


def main(argv=None):
    """Run the benchmark with command-line arguments argv (default sys.argv[1:]); return the exit code."""
    args = _parse(argv)
    if args.threads:
        fast_layers.set_num_threads(args.threads)
    # The fast layers split each batch over as many threads as numpy's BLAS uses; torch gets as many.
    threads = fast_layers.get_num_threads()
    if args.epoch_worker:
        worker = _epoch_worker_numpy() if args.epoch_worker == "numpy" else _epoch_worker_torch(threads)
        print(json.dumps(worker))
        return 0

    repeat = args.repeat or (3 if args.quick else 15)
    torch, no_torch_reason = _load_torch(args.no_torch, threads)
    torch_version = "not used" if torch is None else f"{torch.__version__}, {torch.get_num_threads()} threads"
    print(f"benchmarks.bench: fast backend '{fast_layers.get_backend()}', numpy {np.__version__} "
          f"({threads} threads), torch {torch_version}; median of {repeat} runs, naive: 1 run, "
          f"{os.cpu_count()} CPUs")

    cases = [("conv", dtype, shape) for dtype in DTYPES for shape in CONV_SHAPES[args.shapes]]
    cases += [("pool", dtype, shape) for dtype in DTYPES for shape in POOL_SHAPES[args.shapes]]
    # numpy first, then torch: the two thread pools busy-wait between calls, so interleaving
    # them would make each slow down the other.
    results = []
    for seed, (kind, dtype, shape) in enumerate(cases):
        bench = bench_conv if kind == "conv" else bench_pool
        results.append(bench(*shape, dtype, repeat, seed))
    if torch is not None:
        for seed, (kind, dtype, shape) in enumerate(cases):
            bench = torch_conv if kind == "conv" else torch_pool
            results[seed].update(bench(torch, *shape, dtype, repeat, seed))

    speed_rows, gemm_rows = [], []
    torch_ratios, pool_ratios, gemm_fractions = [], [], []
    for (kind, dtype, shape), res in zip(cases, results):
        res.setdefault("torch fwd", None)
        res.setdefault("torch bwd", None)
        if kind == "pool":
            x_shape, size, stride = shape
            name = f"pool {size}x{size}/{stride} x{_shape(x_shape)}"
            if torch is not None:
                pool_ratios += [res["fast fwd"] / res["torch fwd"], res["fast bwd"] / res["torch bwd"]]
        else:
            x_shape, w_shape, stride, pad = shape
            name = f"conv x{_shape(x_shape)} w{_shape(w_shape)} s{stride} p{pad}"
            total = res["fast fwd"] + res["fast bwd"]
            conv_rate, gemm_rate = 3 * res["flops"] / total / 1e9, res["flops"] / res["gemm"] / 1e9
            gemm_rows.append([name, np.dtype(dtype).name, _ms(total), f"{conv_rate:.1f}", _ms(res["gemm"]),
                              f"{gemm_rate:.1f}", f"{100 * conv_rate / gemm_rate:.0f}%"])
            if w_shape in TRAINING_CONVS:
                gemm_fractions.append(conv_rate / gemm_rate)
                if torch is not None and dtype == np.float32:
                    torch_ratios += [res["fast fwd"] / res["torch fwd"], res["fast bwd"] / res["torch bwd"]]
        speed_rows += _speed_rows(name, dtype, res, no_torch_reason)

    print()
    _print_table(["layer", "dtype", "pass", "naive ms", "fast ms", "naive/fast", "torch ms", "fast/torch"],
                 speed_rows)
    print("\nConvolution forward + backward (3 GEMM-sized products) against numpy matmul on the same GEMM:")
    _print_table(["layer", "dtype", "fwd+bwd ms", "conv GFLOP/s", "GEMM ms", "GEMM GFLOP/s", "conv/GEMM"],
                 gemm_rows)
    print("\nTargets:")
    print(target_line("conv float32 fwd and bwd <= 2x torch (7x7 and 16->32 3x3 shapes)", torch_ratios, 2.0))
    print(target_line("conv fwd+bwd >= 50% of the GEMM rate (7x7 and 16->32 3x3, f32 and f64)", gemm_fractions, 0.5, True))
    print(target_line("max-pool fwd and bwd <= 2x torch", pool_ratios, 2.0))
    if args.epoch:
        results = run_epoch(threads, no_torch_reason)
        numpy_res, torch_res = results.get("numpy", {}), results.get("torch", {})
        if "seconds" in numpy_res:
            print(target_line("epoch peak RSS <= 2 GB (MB)", [numpy_res["peak_rss_mb"]], 2048))
        if "seconds" in numpy_res and "seconds" in torch_res:
            print(target_line("epoch <= 2x torch", [numpy_res["seconds"] / torch_res["seconds"]], 2.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
