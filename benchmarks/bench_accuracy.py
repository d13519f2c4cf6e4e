"""
One-epoch accuracy of ThreeLayerConvNet over seeds: `python -m benchmarks.bench_accuracy` (or `make bench-accuracy`).

Trains the model of the ConvolutionalNetworks notebook's "Train the net" cell with the course's settings
(weight scale 1e-3, hidden 500, reg 1e-3, Adam 1e-3, batch 50, one epoch) once per seed and learning-rate
schedule, then prints its accuracy on the whole training, validation and test sets. One seed says little:
at a constant rate one epoch ends wherever its last minibatches left it.

Flags: --seeds S [S ...], --schedules {step,linear} [...], --dataset NAME, --num-training N.
"""

import argparse
import sys
import time

import numpy as np

from benchmarks.bench import target_line
from cs231n.classifiers.cnn import ThreeLayerConvNet
from cs231n.data_utils import get_data
from cs231n.solver import LR_SCHEDULES, Solver

TARGET = 0.88


def one_epoch(data, seed, lr_schedule):
    """
    Train ThreeLayerConvNet for one epoch with the course's settings and measure it.

    Inputs:
    - data: Dict from get_data: X_train (N, C, H, W), y_train (N,), X_val, y_val, X_test, y_test
    - seed: Seed of np.random, which draws the initial weights and the minibatches
    - lr_schedule: The Solver's lr_schedule, 'step' (a constant rate here) or 'linear'

    Returns a dict of train, val and test accuracy (each on the whole split) and seconds of training.
    """
    np.random.seed(seed)
    model = ThreeLayerConvNet(input_dim=data["X_train"].shape[1:], num_classes=len(data["class_names"]),
                              weight_scale=1e-3, hidden_dim=500, reg=1e-3)
    solver = Solver(model, data, num_epochs=1, batch_size=50, update_rule="adam",
                    optim_config={"learning_rate": 1e-3}, lr_schedule=lr_schedule, verbose=False)
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    result = {split: solver.check_accuracy(data[f"X_{split}"], data[f"y_{split}"])
              for split in ("train", "val", "test")}
    result["seconds"] = seconds
    return result


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_accuracy",
                                     description=__doc__.strip().splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 231], help="seeds to train with")
    parser.add_argument("--schedules", nargs="+", choices=LR_SCHEDULES, default=list(LR_SCHEDULES),
                        help="Solver lr_schedule values to compare")
    parser.add_argument("--dataset", default="fashion_mnist", help="dataset for get_data (default fashion_mnist)")
    parser.add_argument("--num-training", type=int, default=None,
                        help="training images (default: the dataset's split); fewer for a quick look")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the accuracy benchmark with command-line arguments argv (default sys.argv[1:]); return the exit code."""
    args = _parse(argv)
    data = get_data(args.dataset, num_training=args.num_training, dtype=np.float32)
    print(f"benchmarks.bench_accuracy: ThreeLayerConvNet, one epoch on {len(data['X_train'])} {data['dataset']} "
          f"images (weight scale 1e-3, hidden 500, reg 1e-3, Adam 1e-3, batch 50); accuracy on whole splits")
    print(f"{'lr_schedule':12s} {'seed':>5s} {'train':>7s} {'val':>7s} {'test':>7s} {'seconds':>8s}")
    results = {}
    for schedule in args.schedules:
        for seed in args.seeds:
            res = one_epoch(data, seed, schedule)
            results.setdefault(schedule, []).append(res)
            print(f"{schedule:12s} {seed:5d} {res['train']:7.3f} {res['val']:7.3f} {res['test']:7.3f} "
                  f"{res['seconds']:8.1f}", flush=True)
    print(f"\nTarget: one epoch >= {TARGET:.0%} (every seed):")
    for schedule, runs in results.items():
        for split in ("train", "test"):
            print(target_line(f"lr_schedule={schedule} {split}", [r[split] for r in runs], TARGET,
                              higher_is_better=True, fmt=".3f"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
