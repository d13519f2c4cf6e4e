"""Tests for `python -m benchmarks.bench_accuracy` on a tiny two-class dataset (no accuracy targets asserted)."""

import numpy as np
import pytest

from benchmarks import bench_accuracy


def _tiny(n=400, seed=0):
    """Two classes of 1x8x8 images on the 0..255 scale: dark with noise and bright with noise."""
    rng = np.random.RandomState(seed)
    y = rng.randint(2, size=n + 200)
    X = (100 * (2 * y - 1)[:, None, None, None] + 30 * rng.randn(n + 200, 1, 8, 8)).astype(np.float32)
    return {"X_train": X[:n], "y_train": y[:n], "X_val": X[n:n + 100], "y_val": y[n:n + 100],
            "X_test": X[n + 100:], "y_test": y[n + 100:], "dataset": "tiny", "class_names": ["dark", "bright"]}


def test_one_epoch_learns_and_repeats_with_its_seed():
    data = _tiny()
    first = bench_accuracy.one_epoch(data, 5, "linear")
    again = bench_accuracy.one_epoch(data, 5, "linear")
    assert set(first) == {"train", "val", "test", "seconds"}
    assert all(first[split] == again[split] for split in ("train", "val", "test"))
    assert min(first["train"], first["val"], first["test"]) > 0.95


def test_main_prints_a_row_per_run_and_the_target(capsys, monkeypatch):
    monkeypatch.setattr(bench_accuracy, "get_data", lambda *args, **kwargs: _tiny())
    assert bench_accuracy.main(["--seeds", "1", "2", "--schedules", "step", "linear"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("step ", "linear "))]
    assert [(row[0], row[1]) for row in rows] == [("step", "1"), ("step", "2"), ("linear", "1"), ("linear", "2")]
    assert "on 400 tiny images" in out
    targets = [line for line in out.splitlines() if "] lr_schedule=" in line]
    assert len(targets) == 4 and all(line.lstrip().startswith(("[met]", "[NOT met]")) for line in targets)


def test_unknown_schedule_is_a_usage_error():
    with pytest.raises(SystemExit):
        bench_accuracy.main(["--schedules", "cosine"])
