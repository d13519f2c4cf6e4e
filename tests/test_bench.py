"""Tests for the `python -m benchmarks.bench` entry point, in-process on tiny shapes (no timing asserts)."""

import sys

import pytest

from benchmarks import bench
from cs231n import fast_layers


def test_quick_tiny_run_prints_both_tables(capsys):
    assert bench.main(["--quick", "--no-torch", "--shapes", "tiny", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "naive/fast" in out and "conv/GEMM" in out
    assert "conv x(2,3,8,8) w(4,3,3,3) s1 p1" in out and "pool 3x3/2 x(2,2,9,9)" in out
    assert "float32" in out and "float64" in out
    assert "n/a (--no-torch)" in out


def test_missing_torch_is_reported(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    assert bench.main(["--shapes", "tiny", "--repeat", "1"]) == 0
    assert "n/a (torch not installed)" in capsys.readouterr().out


def test_threads_flag_sets_the_fast_layers_threads(capsys):
    previous = fast_layers.get_num_threads()
    try:
        assert bench.main(["--quick", "--no-torch", "--shapes", "tiny", "--repeat", "1", "--threads", "3"]) == 0
        assert fast_layers.get_num_threads() == 3
    finally:
        fast_layers.set_num_threads(previous)
    assert "(3 threads)" in capsys.readouterr().out


def test_bad_repeat_is_a_usage_error():
    with pytest.raises(SystemExit):
        bench.main(["--repeat", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--threads", "0"])
